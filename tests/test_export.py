"""``export --parquet``: captures built here, exported, then read back with pyarrow and DuckDB."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import zstandard
from builders import (
    Wire,
    captured_trace,
    close_then_write,
    connect_refused,
    linger0,
    merge,
    normal_close,
    pcap_file,
    wire_bytes,
)

from tcptrace_viz import parquet_tables
from tcptrace_viz.export_parquet import find_captures
from tcptrace_viz.parquet_tables import CAPTURE_COLUMNS, CONNECTION_COLUMN_TEXT, PACKET_COLUMNS
from tcptrace_viz.store import save_capture

README = Path(__file__).resolve().parent.parent / "README.md"


def _on_port(wire: Wire, port: int) -> Wire:
    for row in wire.rows:
        row["sport"] = port if row["sport"] == 40000 else row["sport"]
        row["dport"] = port if row["dport"] == 40000 else row["dport"]
    return wire


def _pcap(*wires: Wire) -> bytes:
    frame = merge(*[_on_port(wire, 41000 + i) for i, wire in enumerate(wires)])
    return pcap_file(wire_bytes(frame), frame["ts_ns"].tolist())


def _fleet(folder: Path) -> Path:
    """pcaps/ with a reset after FIN in two captures (one of them gzip, in a subfolder), none
    in the others, and a zstd capture."""
    pcaps = folder / "pcaps"
    (pcaps / "site b").mkdir(parents=True)
    (pcaps / "quiet.pcap").write_bytes(_pcap(normal_close(), connect_refused()))
    (pcaps / "late-write.pcap").write_bytes(_pcap(normal_close(), close_then_write()))
    (pcaps / "site b" / "late-write.pcap.gz").write_bytes(gzip.compress(_pcap(close_then_write())))
    (pcaps / "abort.zst").write_bytes(zstandard.ZstdCompressor().compress(_pcap(linger0())))
    (pcaps / "notes.txt").write_text("not a capture\n")  # not picked up: not a capture's bytes
    (pcaps / "fields.tsv.gz").write_bytes(gzip.compress(b"frame\tts\n"))  # nor this
    return pcaps


def _export(*arguments: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tcptrace_viz", "export",
                           *map(str, arguments)], cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=120)


def _readme_query() -> str:
    section = README.read_text(encoding="utf-8").split("## Fleets of captures", 1)[1]
    return re.search(r"```sql\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readme_query_finds_every_reset_after_a_fin(tmp_path: Path, monkeypatch) -> None:
    _fleet(tmp_path)
    done = _export("pcaps", "--parquet", "fleet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "exported 4 captures" in done.stdout
    monkeypatch.chdir(tmp_path)  # the query names fleet/ as the README's export wrote it
    rows = duckdb.sql(_readme_query()).fetchall()
    found = [(capture, conn, fin_from, rst_from)
             for capture, conn, _client, _server, fin_from, rst_from, _ms in rows]
    # close-then-write: the client closes with FIN, the server writes, the client resets
    assert found == [("late-write.pcap", 1, "client", "client"),
                     ("site_b__late-write.pcap.gz", 0, "client", "client")]
    assert all(ms > 0 for *_rest, ms in rows)


def test_the_tables_are_partitioned_by_capture_and_documented(tmp_path: Path) -> None:
    _fleet(tmp_path)
    assert _export("pcaps", "--parquet", "out", cwd=tmp_path).returncode == 0
    names = {"quiet.pcap", "late-write.pcap", "site_b__late-write.pcap.gz", "abort.zst"}
    for table, columns in (("packets", PACKET_COLUMNS), ("connections", CONNECTION_COLUMN_TEXT),
                           ("captures", CAPTURE_COLUMNS)):
        folder = tmp_path / "out" / table
        assert {path.name for path in folder.iterdir()} == {f"capture={n}" for n in names}
        schema = pq.read_schema(folder / "capture=quiet.pcap" / "part-0.parquet")
        assert schema.names == list(columns)
        assert all(field.metadata[b"description"] for field in schema)
    assert not list((tmp_path / "out").rglob(".*"))  # no temporary file left
    captures = duckdb.sql(f"SELECT capture, compression, tcp_segments, partial FROM "
                          f"'{tmp_path}/out/captures/*/*.parquet' ORDER BY capture").fetchall()
    assert [(name, kind) for name, kind, _n, _p in captures] == [
        ("abort.zst", "zstd"), ("late-write.pcap", ""), ("quiet.pcap", ""),
        ("site_b__late-write.pcap.gz", "gzip")]
    packets = duckdb.sql(f"SELECT capture, count(*) FROM '{tmp_path}/out/packets/*/*.parquet' "
                         "GROUP BY capture").fetchall()
    assert sorted(packets) == sorted((name, n) for name, _kind, n, _p in captures)
    teardown = duckdb.sql(
        "SELECT close_kind, first_rst_from, never_closed, data_after_fin_bytes, refused FROM "
        f"'{tmp_path}/out/connections/capture=quiet.pcap/*.parquet' ORDER BY conn").fetchall()
    assert teardown == [("FIN", "", False, 0, False), ("RST", "server", False, 0, True)]


def test_readme_lists_every_teardown_column() -> None:
    text = README.read_text(encoding="utf-8").split("## Fleets of captures", 1)[1]
    from tcptrace_viz.analysis import CONNECTION_COLUMNS
    from tcptrace_viz.analysis.teardown_table import TEARDOWN_COLUMNS

    assert all(f"| `{name}` |" in text for name in TEARDOWN_COLUMNS)
    assert all(f"`{name}`" in text for name in CONNECTION_COLUMNS)


def test_a_bad_capture_is_one_sentence_and_the_others_still_go(tmp_path: Path) -> None:
    pcaps = _fleet(tmp_path)
    (pcaps / "cut.pcap.gz").write_bytes(gzip.compress(_pcap(normal_close()) * 40)[:300])
    (pcaps / "broken.pcap").write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 10)
    done = _export(pcaps, tmp_path / "missing.pcap", "--parquet", tmp_path / "out",
                   cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    failures = [line for line in done.stderr.splitlines() if "failed:" in line]
    assert len(failures) == 2 and any("missing.pcap does not exist" in f for f in failures)
    assert any("broken.pcap" in f and "truncated" in f for f in failures)
    assert "exported 5 captures" in done.stdout and "1 partial" in done.stdout
    assert "2 failed" in done.stdout
    partial = duckdb.sql(f"SELECT partial, problem FROM '{tmp_path}/out/captures/*/*.parquet'"
                         " WHERE capture = 'cut.pcap.gz'").fetchall()
    assert partial[0][0] and "cut.pcap.gz" in partial[0][1]
    assert not (tmp_path / "out" / "packets" / "capture=broken.pcap").exists()
    failed = duckdb.sql(f"SELECT partial, tcp_segments, problem FROM "
                        f"'{tmp_path}/out/captures/*/*.parquet' WHERE capture = 'broken.pcap'"
                        ).fetchall()  # a fleet's query sees what could not be exported
    assert failed[0][:2] == (True, 0) and failed[0][2].startswith("not exported: ")


def test_a_capture_that_cannot_be_written_leaves_only_its_failure(tmp_path: Path) -> None:
    path = tmp_path / "one.pcap"
    path.write_bytes(_pcap(close_then_write()))
    out = tmp_path / "out"
    (out / "connections").mkdir(parents=True)
    (out / "connections" / "capture=one.pcap").write_text("in the way")  # a file, not a folder
    done = _export(path, "--parquet", out, cwd=tmp_path)
    assert done.returncode == 2 and "one.pcap cannot be exported" in done.stderr
    assert sorted(path.relative_to(out).as_posix() for path in out.rglob("*")
                  if path.is_file()) == ["captures/capture=one.pcap/part-0.parquet",
                                         "connections/capture=one.pcap"]
    assert not (out / "packets" / "capture=one.pcap").exists()
    problem = pq.read_table(out / "captures").to_pandas()["problem"].iloc[0]
    assert problem.startswith("not exported: ") and "one.pcap cannot be exported" in problem


def test_links_are_named_as_given_and_a_file_reached_twice_goes_once(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "real.pcap").write_bytes(_pcap(close_then_write()))
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    (fleet / "ticket-42.pcap").symlink_to(elsewhere / "real.pcap")
    (fleet / "also.pcap").symlink_to(elsewhere / "real.pcap")
    named, notes = find_captures([fleet, elsewhere / "real.pcap"])
    assert [name for _path, name in named] == ["also.pcap"]
    assert len(notes) == 2 and all("again: exported once" in note for note in notes)
    named, notes = find_captures([fleet / "ticket-42.pcap"])
    assert [name for _path, name in named] == ["ticket-42.pcap"] and not notes
    done = _export(fleet, "--parquet", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "skipped:" in done.stderr and "exported 1 capture (" in done.stdout


def test_rows_are_written_a_row_group_at_a_time(tmp_path: Path, monkeypatch) -> None:
    from tcptrace_viz.export_parquet import export_parquet
    from tcptrace_viz.progress import Progress

    path = tmp_path / "many.pcap"
    path.write_bytes(_pcap(*[normal_close() for _ in range(5)]))
    monkeypatch.setattr(parquet_tables, "ROW_GROUP_ROWS", 8)
    said: list[str] = []
    summary = export_parquet([path], tmp_path / "out", Progress(sys.stderr, False), said.append)
    assert summary.exported == 1 and summary.packets == 55 and summary.connections == 5
    meta = pq.ParquetFile(tmp_path / "out/packets/capture=many.pcap/part-0.parquet").metadata
    assert meta.num_rows == 55 and meta.num_row_groups == 7
    assert said == ["[1/1] " + str(path) + " -> capture=many.pcap: 55 packets, 5 connections"]


def test_a_capture_folder_is_one_capture(tmp_path: Path) -> None:
    from tcptrace_viz.store import pcapng_bytes

    trace, frames, times = captured_trace()
    folder = save_capture(trace, pcapng_bytes(trace, frames, times), tmp_path / "captures")
    done = _export(tmp_path / "captures", "--parquet", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    name = f"close-then-write__{folder.name}"
    rows = duckdb.sql(f"SELECT capture, file_format, connections FROM "
                      f"'{tmp_path}/out/captures/*/*.parquet'").fetchall()
    assert rows == [(name, "pcapng", 1)]


def test_partition_names_are_safe_and_unique(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x y=1.pcap").write_bytes(_pcap(normal_close()))
    (tmp_path / ".hidden.pcap").write_bytes(_pcap(normal_close()))
    files = [tmp_path / "a" / "x y=1.pcap", tmp_path / "b" / "x y=1.pcap"]
    named, missing = find_captures(files)
    assert [name for _path, name in named] == ["x_y_1.pcap", "x_y_1.pcap-2"] and not missing
    named, _ = find_captures([tmp_path])
    assert [name for _path, name in named] == ["a__x_y_1.pcap", "b__x_y_1.pcap"]


def test_help_shows_examples() -> None:
    done = subprocess.run([sys.executable, "-m", "tcptrace_viz", "export", "--help"],
                          capture_output=True, text=True, check=True)
    assert "--parquet" in done.stdout and "Examples:" in done.stdout


def test_no_argument_is_a_usage_error(tmp_path: Path) -> None:
    done = _export("--parquet", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr


@pytest.mark.parametrize("content", [b"", b"hello"])
def test_a_folder_without_captures_is_one_sentence(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "file.txt").write_bytes(content)
    done = _export(tmp_path / "empty", "--parquet", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 2 and "found no capture files" in done.stderr


def test_the_teardown_table_extends_the_connection_table() -> None:
    from tcptrace_viz.analysis import annotate_packets, connections
    from tcptrace_viz.analysis.teardown_table import teardown_table

    wires = [normal_close(), close_then_write(), connect_refused(), linger0()]
    packets = annotate_packets(merge(*[_on_port(w, 41000 + i) for i, w in enumerate(wires)]))
    table = teardown_table(packets)
    plain = connections(packets)
    assert table[list(plain.columns)].equals(plain)
    rows = table.set_index("conn")
    assert rows["first_fin_from"].tolist() == ["client", "client", "", ""]
    assert rows["first_rst_from"].tolist() == ["", "client", "server", "client"]
    assert rows["reset_after_fin"].tolist() == [False, True, False, False]
    assert rows["never_closed"].tolist() == [False, False, False, False]
    assert rows["data_after_fin_bytes"].tolist() == [0, 3, 0, 0]  # close-then-write's "123"
    assert rows["first_fin_ts_ns"].isna().tolist() == [False, False, True, True]
    assert (rows["first_rst_ts_ns"].iloc[1] > rows["first_fin_ts_ns"].iloc[1])
    assert len(teardown_table(packets.iloc[:0])) == 0


def test_a_killed_exports_temporary_file_is_removed_by_the_next(tmp_path: Path) -> None:
    path = tmp_path / "one.pcap"
    path.write_bytes(_pcap(normal_close()))
    partition = tmp_path / "out" / "packets" / "capture=one.pcap"
    partition.mkdir(parents=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (partition / f".part-0.parquet.{gone}.tmp").write_bytes(b"PAR1 half")
    assert _export(path, "--parquet", tmp_path / "out", cwd=tmp_path).returncode == 0
    assert [child.name for child in partition.iterdir()] == ["part-0.parquet"]
