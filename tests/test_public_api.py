"""The package root's public API: ``tcptrace_viz.read_capture`` and ``tcptrace_viz.Trace``."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from builders import TS0, captured_trace, pcap_file, syn, unmeasured_env
from factory import make_trace

import tcptrace_viz
from tcptrace_viz.errors import BadInputError, TcptraceVizError
from tcptrace_viz.model import PACKET_COLUMNS, STATE_COLUMNS, SYSCALL_COLUMNS


def test_all_names_what_the_package_offers() -> None:
    from tcptrace_viz.scenarios import api

    assert sorted(tcptrace_viz.__all__) == sorted(
        ["Trace", "__version__", "read_capture", "load_scenario_file", "unload_scenario_file",
         *api.__all__])
    for name in tcptrace_viz.__all__:
        assert getattr(tcptrace_viz, name) is not None
    namespace: dict[str, object] = {}
    exec("from tcptrace_viz import *", namespace)
    assert {"Trace", "read_capture", "__version__"} <= set(namespace)


def test_trace_is_the_models_with_the_notebook_conveniences() -> None:
    from tcptrace_viz.model import Trace

    assert issubclass(tcptrace_viz.Trace, Trace)
    from tcptrace_viz import Trace as imported

    assert imported is tcptrace_viz.Trace


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        tcptrace_viz.no_such_thing  # noqa: B018
    assert not hasattr(tcptrace_viz, "no_such_thing")


def test_the_version_is_the_installed_distributions() -> None:
    assert tcptrace_viz.__version__ == importlib.metadata.version("tcptrace-viz")


def test_importing_the_package_imports_nothing_heavy() -> None:
    """``import tcptrace_viz`` stays instant: pandas, numpy and scapy load on first use."""
    code = ("import sys, tcptrace_viz\n"
            "tcptrace_viz.read_capture\n"
            "heavy = {'pandas', 'numpy', 'scapy', 'matplotlib', 'click', 'typing'}\n"
            "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
            "tcptrace_viz.Trace\n"
            "print('pandas' in sys.modules)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=unmeasured_env())  # coverage itself imports typing
    assert run.stdout.splitlines() == ["[]", "True"]


# --- read_capture ---------------------------------------------------------------------------------

def test_read_capture_gives_back_a_saved_capture(tmp_path: Path) -> None:
    from tcptrace_viz.store import pcapng_bytes, save_capture

    trace, frames, times = captured_trace()
    folder = save_capture(trace, pcapng_bytes(trace, frames, times), tmp_path)
    for target in (folder, str(folder), folder / "trace.json", folder / "trace.pcapng"):
        loaded = tcptrace_viz.read_capture(target)
        assert isinstance(loaded, tcptrace_viz.Trace)
        assert loaded.packets.equals(trace.packets)
        assert loaded.states.equals(trace.states)
        assert loaded.syscalls.equals(trace.syscalls)
        assert loaded.meta == trace.meta


def test_read_capture_reads_a_plain_pcap(tmp_path: Path) -> None:
    path = tmp_path / "ticket-42.pcap"
    path.write_bytes(pcap_file([syn(40000), syn(40001, seq=7)], [TS0, TS0 + 1000]))
    trace = tcptrace_viz.read_capture(str(path))
    assert isinstance(trace, tcptrace_viz.Trace)
    assert trace.packets["sport"].tolist() == [40000, 40001]
    assert trace.packets["flags"].tolist() == ["S", "S"]
    assert trace.packets["conn"].tolist() == [0, 1]
    assert trace.packets["ts_ns"].tolist() == [TS0 // 1000 * 1000, TS0 // 1000 * 1000 + 1000]
    assert trace.meta.source == "file" and trace.meta.file_format == "pcap"
    assert trace.meta.tool_version == tcptrace_viz.__version__
    assert trace.syscalls.empty
    assert set(trace.states["source"]) <= {"inferred"}
    _assert_contract(trace)


@pytest.mark.parametrize("make", [
    lambda tmp: tmp / "missing.pcapng",
    lambda tmp: (tmp / "empty").mkdir() or tmp / "empty",
    lambda tmp: (tmp / "text.pcap").write_text("hello\n") and tmp / "text.pcap",
], ids=["missing", "empty-folder", "not-a-capture"])
def test_read_capture_refuses_in_one_sentence_naming_the_path(tmp_path: Path, make) -> None:
    path = make(tmp_path)
    with pytest.raises(BadInputError) as caught:
        tcptrace_viz.read_capture(path)
    error = caught.value
    assert isinstance(error, TcptraceVizError) and error.exit_code == 2
    assert str(path) in error.message
    assert "\n" not in error.message and "Traceback" not in error.message
    assert str(error) == error.message


# --- Trace.build: the column contract -------------------------------------------------------------

def _assert_contract(trace: tcptrace_viz.Trace) -> None:
    for frame, columns in ((trace.packets, PACKET_COLUMNS), (trace.states, STATE_COLUMNS),
                           (trace.syscalls, SYSCALL_COLUMNS)):
        assert list(frame.columns) == list(columns)
        assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == columns
        assert frame["ts_ns"].is_monotonic_increasing
        assert (frame["t"] >= 0).all()


def test_build_of_partial_frames_keeps_the_contract() -> None:
    trace = tcptrace_viz.Trace.build(
        packets=pd.DataFrame({"ts_ns": [TS0 + 2, TS0 + 1], "flags": ["S.", "S"],
                              "sport": [5555, 40000], "unknown": ["dropped", "dropped"]}),
        syscalls=pd.DataFrame({"ts_ns": [TS0], "call": ["connect"], "errno": [None]}),
        meta={"scenario": "partial"})
    _assert_contract(trace)
    assert trace.packets["flags"].tolist() == ["S", "S."]
    assert trace.packets["dir"].tolist() == ["", ""] and trace.packets["len"].tolist() == [0, 0]
    assert trace.states.empty
    assert trace.syscalls["errno"].tolist() == [""]
    assert trace.packets["t"].tolist() == [1e-9, 2e-9]
    assert trace.meta.scenario == "partial"


def test_a_factory_trace_keeps_the_contract_and_builds_again_unchanged() -> None:
    trace = make_trace()
    _assert_contract(trace)
    again = tcptrace_viz.Trace.build(trace.packets, trace.states, trace.syscalls, trace.meta)
    assert again.equals(trace)
