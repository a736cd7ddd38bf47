"""Capture folders on disk: written atomically, read back equal; a user's own pcap file read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from builders import TS0, captured_trace, pcap_file, syn, wire_bytes
from builders import close_then_write as close_then_write_wire

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.meta import TraceMeta
from tcptrace_viz.store import (
    FORMAT_TAG,
    JSON_NAME,
    PCAPNG_NAME,
    capture_folder_of,
    capture_json,
    new_capture_folder,
    pcapng_bytes,
    read_capture,
    remove_partial_folders,
    save_capture,
    write_capture_folder,
)


def _saved(tmp_path: Path, **meta: object) -> tuple[Path, object]:
    trace, frames, times = captured_trace(**meta)
    return save_capture(trace, pcapng_bytes(trace, frames, times), tmp_path / "captures"), trace


# --- the round trip ---------------------------------------------------------------------------

def test_a_saved_folder_reads_back_the_same_trace(tmp_path: Path) -> None:
    folder, trace = _saved(tmp_path)
    loaded = read_capture(folder)
    assert loaded.packets.equals(trace.packets)
    assert loaded.states.equals(trace.states)
    assert loaded.syscalls.equals(trace.syscalls)
    assert loaded.meta == trace.meta
    assert loaded.equals(trace)


def test_the_round_trip_keeps_comments_reset_reasons_and_times(tmp_path: Path) -> None:
    folder, trace = _saved(tmp_path)
    loaded = read_capture(folder)
    assert loaded.packets["comment"].tolist()[3] == "client FIN_WAIT1 (close() = 0)"
    rst = loaded.packets[loaded.packets["flags"] == "R"]
    assert rst["reason"].tolist() == ["NO_SOCKET"]
    assert (loaded.packets["reason"] != "").sum() == 1
    assert loaded.packets["ts_ns"].tolist() == trace.packets["ts_ns"].tolist()
    assert loaded.syscalls["errno"].tolist()[-1] == "EPIPE"
    assert loaded.states["source"].eq("tracepoint").all()  # restored, not inferred


def test_the_folder_its_json_and_its_pcapng_load_the_same(tmp_path: Path) -> None:
    folder, trace = _saved(tmp_path)
    for target in (folder, folder / JSON_NAME, folder / PCAPNG_NAME, str(folder)):
        assert read_capture(target).equals(trace), target


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every capture folder is made in the same UTC second, 2025-11-24 12:00:00."""
    moment = time.struct_time((2025, 11, 24, 12, 0, 0, 0, 328, 0))
    monkeypatch.setattr(time, "gmtime", lambda *seconds: moment)


def test_the_folder_is_named_after_scenario_and_time(tmp_path: Path, frozen_clock: None) -> None:
    folder, _ = _saved(tmp_path)
    assert folder == tmp_path / "captures" / "close-then-write" / "20251124T120000Z"
    assert sorted(path.name for path in folder.iterdir()) == [JSON_NAME, PCAPNG_NAME]
    second, _ = _saved(tmp_path)  # the same second: a suffix, never an overwrite
    assert second.name == "20251124T120000Z-2"
    assert not list((tmp_path / "captures").rglob(".*partial*"))


def test_the_json_names_its_format_and_leaves_t_out(tmp_path: Path) -> None:
    trace, _, _ = captured_trace()
    document = json.loads(capture_json(trace))
    assert document["format"] == FORMAT_TAG
    assert set(document) == {"format", "meta", "states", "syscalls", "reset_reasons",
                             "drop_reasons"}
    assert "t" not in document["states"][0] and "ts_ns" in document["states"][0]
    assert document["reset_reasons"] == {"7": "NO_SOCKET"}


def test_meta_is_normalised_as_json_gives_it_back() -> None:
    meta = TraceMeta.from_json({"sides": ["client", "server"], "stats": {1: 2},
                                "path": Path("/tmp/x")})
    assert meta.normalised() == meta.normalised().normalised()
    assert meta.normalised().stats == {"1": 2}
    assert meta.normalised().facts == {"path": "/tmp/x"}


def test_the_pcapng_holds_every_frame_and_names_scenario_and_kernel(tmp_path: Path) -> None:
    from tcptrace_viz.pcap import read_pcap

    trace, frames, times = captured_trace()
    path = tmp_path / "trace.pcapng"
    path.write_bytes(pcapng_bytes(trace, frames, times))
    result = read_pcap(path)
    assert result.file_format == "pcapng"
    assert result.frames_total == len(frames)
    assert any("close-then-write" in comment and "6.1.0-test" in comment
               for comment in result.comments)


# --- atomic writing ---------------------------------------------------------------------------

def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    final = tmp_path / "captures" / "demo" / "20250101T000000Z"

    def broken(self: Path, *args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", broken)
    with pytest.raises(OSError, match="No space left"):
        write_capture_folder(final, b"pcapng", "{}")
    assert not (tmp_path / "captures" / "demo").exists()  # not even the folder it made


def test_a_failed_write_keeps_a_scenario_folder_it_did_not_make(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = tmp_path / "demo"
    (scenario / "older").mkdir(parents=True)
    def interrupted(self: Path, *args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_capture_folder(scenario / "new", b"x", "{}")
    assert [path.name for path in scenario.iterdir()] == ["older"]


def test_new_capture_folder_finds_a_free_name(tmp_path: Path, frozen_clock: None) -> None:
    first = new_capture_folder(tmp_path, "linger0")
    assert first == tmp_path / "linger0" / "20251124T120000Z" and not first.exists()
    first.mkdir(parents=True)
    (tmp_path / "linger0" / "20251124T120000Z-2").mkdir()
    assert new_capture_folder(tmp_path, "linger0").name == "20251124T120000Z-3"


def test_partial_folders_of_dead_runs_are_removed_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    scenario = tmp_path / "linger0"
    stale = scenario / f".20250101T000000Z.partial-{dead}"
    live = scenario / f".20250101T000001Z.partial-{os.getpid()}"
    odd = scenario / ".20250101T000002Z.partial-notapid"
    complete = scenario / "20250101T000003Z"
    for folder in (stale, live, odd, complete):
        folder.mkdir(parents=True)
    (tmp_path / "a-file").write_text("")
    remove_partial_folders(tmp_path)
    assert sorted(path.name for path in scenario.iterdir()) == sorted(
        [live.name, odd.name, complete.name])
    remove_partial_folders(tmp_path / "missing")  # no folder: nothing to do, no error


# --- what names a capture folder ----------------------------------------------------------------

def test_capture_folder_of(tmp_path: Path) -> None:
    folder, _ = _saved(tmp_path)
    assert capture_folder_of(folder) == folder
    assert capture_folder_of(folder / JSON_NAME) == folder
    assert capture_folder_of(folder / PCAPNG_NAME) == folder
    lone = tmp_path / PCAPNG_NAME  # a trace.pcapng without its JSON is just a pcapng file
    lone.write_bytes((folder / PCAPNG_NAME).read_bytes())
    assert capture_folder_of(lone) is None
    assert capture_folder_of(tmp_path / "bug.pcap") is None


# --- a user's own capture file -------------------------------------------------------------------

def test_a_plain_pcap_reads_with_inferred_states(tmp_path: Path) -> None:
    wire = close_then_write_wire().frame()
    path = tmp_path / "bug-1234.pcap"
    path.write_bytes(pcap_file(wire_bytes(wire), [int(ns) for ns in wire["ts_ns"]], nanos=True))
    trace = read_capture(path)
    assert trace.packets["flags"].tolist() == ["S", "S.", ".", "F.", ".", "P.", "R"]
    assert trace.packets["dir"].tolist() == ["c2s", "s2c", "c2s", "c2s", "s2c", "s2c", "c2s"]
    assert trace.packets["ts_ns"].tolist() == wire["ts_ns"].tolist()
    assert len(trace.states) and trace.states["source"].eq("inferred").all()
    assert "FIN_WAIT1" in trace.states["new"].tolist()
    assert trace.syscalls.empty
    meta = trace.meta
    assert (meta.source, meta.state_source, meta.file_format) == ("file", "inferred",
                                                                            "pcap")
    assert meta.scenario == "bug-1234.pcap" and meta.file == str(path)
    assert meta.stats == {"frames": 7, "tcp_segments": 7}
    assert meta.partial is False and meta.problem == ""


def test_a_lone_pcapng_without_the_trace_document_reads_as_a_users_file(tmp_path: Path) -> None:
    from tcptrace_viz.pcap import write_pcapng

    trace, frames, times = captured_trace()
    path = tmp_path / "attached.pcapng"
    with path.open("wb") as stream:
        write_pcapng(stream, frames, times, trace.packets["comment"].tolist())
    loaded = read_capture(path)
    assert loaded.meta.source == "file" and loaded.meta.file_format == "pcapng"
    assert loaded.packets["flags"].tolist() == trace.packets["flags"].tolist()
    assert loaded.packets["comment"].tolist() == trace.packets["comment"].tolist()
    assert loaded.states["source"].eq("inferred").all()


def test_reading_a_file_reports_progress_and_steps(tmp_path: Path) -> None:
    path = tmp_path / "one.pcap"
    path.write_bytes(pcap_file([syn()], [TS0]))
    done: list[tuple[int, int]] = []
    steps: list[str] = []
    read_capture(path, progress=lambda at, total: done.append((at, total)), status=steps.append)
    assert done and done[-1][0] == done[-1][1] == path.stat().st_size
    assert steps == ["finding the connections of 1 TCP segments",
                     "inferring the TCP states of 1 connections"]


def test_states_are_inferred_for_the_first_connections_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tcptrace_viz.store.MAX_INFERRED_CONNECTIONS", 1)
    path = tmp_path / "two.pcap"
    path.write_bytes(pcap_file([syn(40000), syn(40001)], [TS0, TS0 + 1000]))
    steps: list[str] = []
    trace = read_capture(path, status=steps.append)
    assert steps[-1] == "inferring the TCP states of 1 connections (the first 1 of 2)"
    assert set(trace.packets["conn"]) == {0, 1}
    assert set(trace.states["local"]) | set(trace.states["remote"]) <= {
        "127.0.0.1:40000", "127.0.0.2:5555"}


# --- what cannot be read: one sentence naming the file ---------------------------------------

def test_a_missing_path_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError) as caught:
        read_capture(tmp_path / "nowhere.pcap")
    assert caught.value.message == f"{tmp_path / 'nowhere.pcap'} does not exist"
    assert caught.value.exit_code == 2


def test_an_incomplete_folder_is_bad_input(tmp_path: Path) -> None:
    folder, _ = _saved(tmp_path)
    (folder / PCAPNG_NAME).unlink()
    with pytest.raises(BadInputError) as caught:
        read_capture(folder)
    assert caught.value.message == (f"{folder} is not a complete capture folder: it needs "
                                    f"{JSON_NAME} and {PCAPNG_NAME}")
    assert "\n" not in caught.value.message
    with pytest.raises(BadInputError, match="not a complete capture folder"):
        read_capture(tmp_path)  # any folder is taken as a capture folder


@pytest.mark.parametrize("text, says", [
    ("{not json", "cannot be read as JSON"),
    ("\udcff", "cannot be read as JSON"),
    ('["a list"]', "is not a tcptrace-viz trace (tcptrace-viz-trace/1)"),
    ('{"format": "other/2"}', "is not a tcptrace-viz trace (tcptrace-viz-trace/1)"),
])
def test_a_json_that_is_not_ours_is_bad_input(tmp_path: Path, text: str, says: str) -> None:
    folder, _ = _saved(tmp_path)
    (folder / JSON_NAME).write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(BadInputError) as caught:
        read_capture(folder / JSON_NAME)
    assert caught.value.message.startswith(f"{folder / JSON_NAME} ")
    assert says in caught.value.message
    assert "\n" not in caught.value.message


def test_a_file_that_is_no_capture_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not packets\n")
    with pytest.raises(BadInputError) as caught:
        read_capture(path)
    assert str(path) in caught.value.message and "\n" not in caught.value.message


def test_a_capture_folder_name_taken_meanwhile_gets_the_next_free_one(tmp_path: Path) -> None:
    from tcptrace_viz.store import new_capture_folder, report_name_of, write_capture_folder

    chosen = new_capture_folder(tmp_path, "linger0", ipv6=True)
    assert chosen.name.endswith("-ipv6") and report_name_of(chosen) == "linger0-ipv6"
    first = write_capture_folder(chosen, b"pcapng", "{}")
    second = write_capture_folder(chosen, b"pcapng", "{}")  # another run chose it too
    assert first == chosen and second == chosen.with_name(f"{chosen.name}-2")
    assert report_name_of(second) == "linger0-ipv6"
    assert report_name_of(new_capture_folder(tmp_path, "linger0")) == "linger0"
