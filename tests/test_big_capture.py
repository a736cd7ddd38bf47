"""A capture too big to hold, read shard by shard, tells exactly what the whole file tells.

The thresholds are lowered so that small captures are spread over many shards; every answer
(the connection table, the drawn connections' packets, the reports) must be the one the
capture gives when it is held whole.  The shard folder never outlives the command.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from builders import (
    Wire,
    close_then_write,
    connect_refused,
    linger0,
    merge,
    normal_close,
    pcap_file,
    retransmission,
    simultaneous_close,
    wire_bytes,
)
from click.testing import CliRunner

from tcptrace_viz import big_capture
from tcptrace_viz.analysis import infer_all_states
from tcptrace_viz.analysis.connection_table import capture_connections, connections
from tcptrace_viz.big_capture import open_capture
from tcptrace_viz.cli import main
from tcptrace_viz.errors import TcptraceVizError
from tcptrace_viz.model import Trace
from tcptrace_viz.pcap.reader import read_pcap
from tcptrace_viz.pcap.shards import Spread, read_shard
from tcptrace_viz.store import read_capture

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"
SHARDED_REALWORLD = ("zeek__echo-connections.pcap.gz", "zeek__http__1000-requests-one-dropped-"
                     "response.pcap.gz.gunzipped.pcap", "tcpdump__kday4.pcap")


def _wires() -> list[Wire]:
    """Sixty conversations of every kind, interleaved in time, on IPv4 and IPv6, with a 4-tuple
    used twice (a new connection once the first has closed)."""
    kinds = (normal_close, close_then_write, linger0, connect_refused, simultaneous_close,
             retransmission)
    wires = []
    for number in range(60):
        v6 = number % 7 == 3
        client = ("2001:db8::1" if v6 else "10.0.0.1", 40000 + number % 50)
        server = ("2001:db8::2" if v6 else "10.0.0.2", 80)
        wire = Wire(client, server, isn_c=1000 + number, start_us=number * 3.0)
        if kinds[number % len(kinds)] is normal_close:
            wires.append(normal_close(wire))
            continue
        built = kinds[number % len(kinds)]()  # the builders' own endpoints: move them
        built.ends, built.isn = wire.ends, {"client": 1000 + number, "server": 5000 + number}
        built.rows = [{**row, "ts_ns": row["ts_ns"] + int(number * 3000),
                       "src": wire.ends[_side(row, built)][0],
                       "sport": wire.ends[_side(row, built)][1],
                       "dst": wire.ends[_other(row, built)][0],
                       "dport": wire.ends[_other(row, built)][1],
                       "ip_version": 6 if v6 else 4} for row in built.rows]
        wires.append(built)
    return wires


def _side(row: dict[str, object], wire: Wire) -> str:
    return "client" if row["want_dir"] == "c2s" else "server"


def _other(row: dict[str, object], wire: Wire) -> str:
    return "server" if row["want_dir"] == "c2s" else "client"


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = merge(*_wires())
    path = tmp_path_factory.mktemp("big") / "many.pcap"
    path.write_bytes(pcap_file(wire_bytes(frame), frame["ts_ns"].tolist()))
    return path


@pytest.fixture()
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder the shards go to, watched for leftovers."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _captures(many: Path) -> list[Path]:
    found = [REALWORLD / name for name in SHARDED_REALWORLD if (REALWORLD / name).is_file()]
    return [many, *found]


def test_the_test_capture_has_what_the_shards_must_keep_together(many: Path) -> None:
    table = connections(read_capture(many).packets)
    assert len(table) > 60 - 10  # ports reused: some 4-tuples carry two connections
    assert table["close_kind"].isin(["FIN", "RST", "simultaneous"]).all()
    assert table["refused"].any() and (table["retransmissions"] > 0).any()
    assert table["client"].str.startswith("[2001:db8::1]").any()


@pytest.mark.parametrize("hold, per_shard", [(40, 25), (1, 3), (200, 1000)])
def test_spread_reading_gives_the_whole_files_connection_table(
        many: Path, private_tmp: Path, hold: int, per_shard: int) -> None:
    for path in _captures(many):
        whole = read_capture(path)
        with open_capture(path, hold=hold, rows_per_shard=per_shard) as capture:
            assert capture.spread == (len(whole.packets) > hold)
            pd.testing.assert_frame_equal(capture_connections(capture.trace),
                                          connections(whole.packets))
            assert capture.trace.origin_ns == whole.origin_ns
        assert not list(private_tmp.iterdir()), "shard files left behind"


def test_the_drawn_connections_packets_are_the_whole_files_rows(many: Path,
                                                                private_tmp: Path) -> None:
    for path in _captures(many):
        whole = read_capture(path)
        last = int(whole.packets["conn"].max())
        wanted = sorted({0, last // 2, last})
        with open_capture(path, hold=5, rows_per_shard=20) as capture:
            assert capture.spread
            trace = capture.with_packets_of(wanted)
        rows = whole.packets[whole.packets["conn"].isin(wanted)].reset_index(drop=True)
        pd.testing.assert_frame_equal(trace.packets, rows)
        inferred = Trace.build(states=infer_all_states(whole.packets, wanted)).states
        pd.testing.assert_frame_equal(trace.states.drop(columns="t"),
                                      inferred.drop(columns="t"))
        assert trace.origin_ns == whole.origin_ns


def test_every_row_lands_in_one_shard_once(many: Path, tmp_path: Path) -> None:
    result = read_pcap(many, spread=Spread(tmp_path, hold=10, rows_per_shard=30))
    whole = read_pcap(many).packets
    assert result.rows == len(whole) and not len(result.packets) and len(result.shards) > 2
    rows = pd.concat([pd.DataFrame(read_shard(path)) for path in result.shards])
    assert sorted(rows["frame"]) == sorted(whole["frame"])
    for path in result.shards:  # both directions of a 4-tuple in one shard
        shard = pd.DataFrame(read_shard(path))
        ends = set(zip(shard["src"], shard["sport"], strict=True))
        assert ends == set(zip(shard["dst"], shard["dport"], strict=True))


def test_a_small_capture_is_read_whole_and_leaves_no_folder(many: Path,
                                                             private_tmp: Path) -> None:
    with open_capture(many) as capture:
        assert not capture.spread and capture.trace.whole is None
        assert capture.with_packets_of([0]) is capture.trace
    assert not list(private_tmp.iterdir())


@pytest.mark.parametrize("arguments", [
    ["-f", "html"], ["-f", "md"], ["-f", "txt"], ["-f", "txt", "--rst"],
    ["-f", "md", "--all-connections"], ["-f", "txt", "-c", "7", "-c", "2", "--absolute-time"],
])
def test_a_spread_report_is_the_whole_files_report(many: Path, private_tmp: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    arguments: list[str]) -> None:
    runner = CliRunner()
    command = ["report", str(many), "-o", "-", *arguments]
    whole = runner.invoke(main, command)
    assert whole.exit_code == 0, whole.output
    monkeypatch.setattr(big_capture, "HOLD_ROWS", 50)
    monkeypatch.setattr(big_capture, "ROWS_PER_SHARD", 40)
    spread = runner.invoke(main, command)
    assert spread.exit_code == 0, spread.output
    assert spread.stdout == whole.stdout
    assert not list(private_tmp.iterdir())


def test_the_connections_command_lists_the_same_from_shards(many: Path, private_tmp: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    runner = CliRunner()
    for fmt in ("txt", "csv"):
        whole = runner.invoke(main, ["connections", str(many), "-f", fmt, "--refused"])
        with monkeypatch.context() as patched:
            patched.setattr(big_capture, "HOLD_ROWS", 10)
            spread = runner.invoke(main, ["connections", str(many), "-f", fmt, "--refused"])
        assert whole.exit_code == spread.exit_code == 0
        assert spread.stdout == whole.stdout
    assert not list(private_tmp.iterdir())


def test_ctrl_c_while_spreading_leaves_no_shard_behind(many: Path, private_tmp: Path) -> None:
    def interrupted(done: int, total: int) -> None:
        if list(private_tmp.glob("*/shard-*")):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        open_capture(many, interrupted, hold=1, rows_per_shard=1)
    assert not list(private_tmp.iterdir())


def test_no_temporary_folder_is_one_sentence(many: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with pytest.raises(TcptraceVizError, match="set TMPDIR"):
        open_capture(many, hold=1)


def test_the_html_lists_a_capped_table_and_says_so(many: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tcptrace_viz.render import capture_table

    monkeypatch.setattr(capture_table, "HTML_TABLE_ROWS", 10)
    result = CliRunner().invoke(main, ["report", str(many), "-o", "-", "-f", "html",
                                       "-c", "42"])
    assert result.exit_code == 0, result.output
    total = len(connections(read_capture(many).packets))
    page = result.stdout
    assert f"10 of {total} connections</h2>" in page
    assert f"10 of {total} connections are listed: those drawn" in page
    assert page.count("<tr data-conn=") == 10 and '<tr data-conn="42"' in page


def test_a_spread_export_writes_the_whole_files_tables(many: Path, tmp_path: Path,
                                                       private_tmp: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Packets and connections made and written a shard at a time: the same rows as the
    export of the file held whole (packets in another order: shard by shard)."""
    import sys

    import pyarrow.parquet as pq

    from tcptrace_viz.export_parquet import export_parquet
    from tcptrace_viz.progress import Progress

    def export(out: Path) -> dict[str, pd.DataFrame]:
        summary = export_parquet([many], out, Progress(sys.stderr, False), lambda _line: None)
        assert summary.exported == 1 and not summary.failed
        return {name: pq.read_table(out / name / "capture=many.pcap" / "part-0.parquet")
                .to_pandas() for name in ("packets", "connections", "captures")}

    whole = export(tmp_path / "whole")
    monkeypatch.setattr(big_capture, "HOLD_ROWS", 30)
    monkeypatch.setattr(big_capture, "ROWS_PER_SHARD", 40)
    spread = export(tmp_path / "spread")
    pd.testing.assert_frame_equal(
        spread["packets"].sort_values("frame").reset_index(drop=True), whole["packets"])
    assert not spread["packets"]["frame"].is_monotonic_increasing  # it really was spread
    pd.testing.assert_frame_equal(spread["connections"], whole["connections"])
    pd.testing.assert_frame_equal(spread["captures"], whole["captures"])
    assert not list(private_tmp.iterdir())


def test_a_killed_commands_shards_are_removed_by_the_next(many: Path, private_tmp: Path) -> None:
    """A folder whose lock no process holds is removed; a locked one (a live command's) and
    one still being made (no lock file yet) are left alone."""
    import fcntl

    stale = private_tmp / "tcptrace-viz-shards-999999-x1y2"
    stale.mkdir()
    (stale / ".in-use").write_bytes(b"")
    (stale / "shard-000.arrows").write_bytes(b"left by a killed report")
    alive = private_tmp / "tcptrace-viz-shards-1-keep"
    alive.mkdir()
    with (alive / ".in-use").open("wb") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        new = private_tmp / "tcptrace-viz-shards-2-new"
        new.mkdir()
        with open_capture(many, hold=5):
            pass
        assert not stale.exists() and alive.exists() and new.exists()


def test_this_projects_own_pcapng_gives_its_whole_trace_however_big(tmp_path: Path,
                                                                    private_tmp: Path) -> None:
    """Its traced states and system calls come with it: never spread into inferred ones."""
    from builders import captured_trace

    from tcptrace_viz.store import pcapng_bytes

    trace, frames, times = captured_trace()
    path = tmp_path / "renamed.pcapng"
    path.write_bytes(pcapng_bytes(trace, frames, times))
    with open_capture(path, hold=1, rows_per_shard=1) as capture:
        assert not capture.spread
        assert capture.trace.meta.state_source == "tracepoint"
        assert capture.trace == read_capture(path) and len(capture.trace.syscalls)
    assert not list(private_tmp.iterdir())


def test_a_connection_past_those_inferred_at_load_is_drawn_with_its_states(
        many: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Held whole, only the first connections' states are inferred as the file is read; the
    drawn one gets its own either way, so whole and spread draw the same."""
    from tcptrace_viz import store

    monkeypatch.setattr(store, "MAX_INFERRED_CONNECTIONS", 3)
    runner = CliRunner()
    command = ["report", str(many), "-o", "-", "-f", "txt", "-c", "40"]
    whole = runner.invoke(main, command)
    monkeypatch.setattr(big_capture, "HOLD_ROWS", 50)
    spread = runner.invoke(main, command)
    assert whole.exit_code == spread.exit_code == 0
    assert "ESTABLISHED" in whole.stdout and spread.stdout == whole.stdout


def test_ctrl_c_after_the_shards_are_tabled_leaves_no_shard_behind(
        many: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(capture: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(big_capture, "_start_with_the_states", interrupted)
    with pytest.raises(KeyboardInterrupt):
        open_capture(many, hold=1, rows_per_shard=20)
    assert not list(private_tmp.iterdir())


def test_shards_tabled_in_children_give_what_one_process_gives(many: Path,
                                                                private_tmp: Path) -> None:
    from tcptrace_viz.shard_tables import connections_by_shard

    result = read_pcap(many, None, Spread(private_tmp, 1, 4))
    assert len(result.shards) > 8
    said: list[str] = []
    alone = connections_by_shard(result.shards, result.rows, lambda _text: None, workers=1)
    forked = connections_by_shard(result.shards, result.rows, said.append, workers=3)
    for one, other in zip(alone, forked, strict=True):
        pd.testing.assert_frame_equal(one, other)
    assert said[-1].endswith(f"shard {len(result.shards)} of {len(result.shards)}")


def test_ctrl_c_while_the_shards_are_tabled_leaves_no_child_behind(
        many: Path, private_tmp: Path) -> None:
    from tcptrace_viz.shard_tables import connections_by_shard

    def children() -> set[str]:
        return {pid for task in Path("/proc/self/task").iterdir()
                for pid in (task / "children").read_text().split()}

    result = read_pcap(many, None, Spread(private_tmp, 1, 4))
    before = children()

    def interrupted(text: str) -> None:
        if not text.endswith(" 0 of " + str(len(result.shards))):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        connections_by_shard(result.shards, result.rows, interrupted, workers=2)
    assert children() == before  # every child killed and reaped


def test_a_shard_that_cannot_be_tabled_is_one_sentence(many: Path, private_tmp: Path) -> None:
    from tcptrace_viz.shard_tables import connections_by_shard

    result = read_pcap(many, None, Spread(private_tmp, 1, 4))
    result.shards[3].write_bytes(b"not an arrow stream")
    with pytest.raises(TcptraceVizError, match=r"^tabling the connections of a shard failed: "):
        connections_by_shard(result.shards, result.rows, lambda _text: None, workers=2)
