"""``--sysctl``: per-namespace TCP settings in a run's own namespace, refused when global."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.kernel.sysctls import (
    check_settings,
    parse_setting,
    parse_settings,
    read_settings,
)


def test_a_setting_is_name_equals_value() -> None:
    assert parse_setting("net.ipv4.tcp_fin_timeout=2") == ("net.ipv4.tcp_fin_timeout", "2")
    assert parse_setting(" net/ipv4/tcp_rmem = 4096 87380 6291456") == (
        "net.ipv4.tcp_rmem", "4096 87380 6291456")
    with pytest.raises(BadInputError, match="expected NAME=VALUE"):
        parse_setting("net.ipv4.tcp_fin_timeout")
    with pytest.raises(BadInputError, match=r"kernel\.panic: only per-namespace network"):
        parse_setting("kernel.panic=1")
    with pytest.raises(BadInputError, match="only per-namespace"):
        parse_setting("net.ipv4.../../../etc=1")


@pytest.mark.root
def test_unknown_and_global_settings_are_refused_in_one_sentence() -> None:
    check_settings({"net.ipv4.tcp_fin_timeout": "2", "net.ipv4.tcp_rfc1337": "1"})
    with pytest.raises(BadInputError, match="tcp_no_such_thing: this kernel has no such"):
        check_settings({"net.ipv4.tcp_no_such_thing": "1"})
    with pytest.raises(BadInputError, match="tcp_mem: not a per-namespace setting"):
        check_settings({"net.ipv4.tcp_fin_timeout": "2", "net.ipv4.tcp_mem": "1 2 3"})
    with pytest.raises(BadInputError, match=r"tcp_fin_timeout=abc: the kernel refuses this "
                                            r"value \(Invalid argument\)"):
        check_settings({"net.ipv4.tcp_fin_timeout": "abc"})
    with pytest.raises(BadInputError, match="given twice"):
        parse_settings(["net.ipv4.tcp_fin_timeout=2", "net.ipv4.tcp_fin_timeout=3"])
    assert parse_settings(["net.ipv4.tcp_sack=0", "net.ipv4.tcp_sack=0"]) == {
        "net.ipv4.tcp_sack": "0"}


@pytest.mark.root
def test_a_setting_changes_the_runs_namespace_and_only_that(tmp_path: Path) -> None:
    """tcp_timestamps=0 inside the run: its SYN carries no timestamp option, the Trace says
    what was set, and the machine keeps its own value."""
    host = read_settings(["net.ipv4.tcp_timestamps"])["net.ipv4.tcp_timestamps"]
    done = subprocess.run(
        [sys.executable, "-m", "tcptrace_viz", "capture", "-s", "close-then-write", "--sysctl",
         "net.ipv4.tcp_timestamps=0"], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "settings: net.ipv4.tcp_timestamps=0 (in the run's namespace only)" in done.stdout
    assert read_settings(["net.ipv4.tcp_timestamps"])["net.ipv4.tcp_timestamps"] == host
    from tcptrace_viz.store import read_capture

    folder = next((tmp_path / "captures" / "close-then-write").iterdir())
    trace = read_capture(folder)
    assert trace.meta.sysctls_set == {"net.ipv4.tcp_timestamps": "0"}
    assert trace.meta.sysctls["net.ipv4.tcp_timestamps"] == "0"
    syn = trace.packets[trace.packets["flags"] == "S"].iloc[0]
    assert "TS" not in str(syn["options"]) and "MSS" in str(syn["options"]).upper()
    html = (tmp_path / "reports" / "close-then-write.html").read_text()
    assert "set by the scenario or --sysctl, in this run&#39;s namespace only" in html
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "net.ipv4.tcp_timestamps=0" in index


def test_a_global_setting_stops_the_command_before_any_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tcptrace_viz", "check", "-s", "linger0", "--sysctl",
         "net.ipv4.tcp_mem=1 2 3" if os.geteuid() == 0 else "kernel.panic=1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "capturing" not in done.stderr


def test_the_settings_line_names_parameters_and_sysctls() -> None:
    from factory import make_trace

    from tcptrace_viz.render import render
    from tcptrace_viz.render.wording import settings_text

    trace = make_trace(parameters={"bytes": 65536}, sysctls_set={"net.ipv4.tcp_sack": "0"})
    assert settings_text(trace.meta) == "bytes=65536, net.ipv4.tcp_sack=0"
    assert ("Settings: bytes=65536, net.ipv4.tcp_sack=0 (in the run's namespace only)"
            in render(trace, "txt"))
    assert "parameters (--set)" in render(trace, "html")
    assert settings_text(make_trace().meta) == ""
