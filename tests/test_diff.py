"""``tcptrace-viz diff A B``: where two runs' wire, states and syscall results differ."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from builders import Wire, merge, normal_close, pcap_file, wire_bytes
from builders import close_then_write as ctw_wire
from factory import close_then_write, linger0

from tcptrace_viz.analysis.compare import compare, sequences


def test_the_same_run_has_no_differences() -> None:
    assert compare(close_then_write(), close_then_write()) == []


def test_differences_say_what_each_run_has() -> None:
    found = compare(close_then_write(), linger0())
    aspects = {d.aspect for d in found}
    assert "wire" in aspects and "server calls" in aspects
    calls = [d for d in found if d.aspect == "server calls"]
    assert any("EPIPE" in " ".join(d.a) and "ECONNRESET" in " ".join(d.b) for d in calls)
    assert all(d.sentence().startswith(f"{d.aspect}, at ") for d in found)


def test_descriptor_numbers_are_no_difference() -> None:
    a, b = close_then_write(), close_then_write()
    b.syscalls.loc[b.syscalls["call"] == "accept", "ret"] = "fd 99"
    assert compare(a, b) == []
    assert any("fd N" in item for item in sequences(a)["server calls"])


def _pcap(path: Path, frame) -> Path:
    path.write_bytes(pcap_file(wire_bytes(frame), frame["ts_ns"].tolist()))
    return path


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tcptrace_viz", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("fmt", ["txt", "md", "html"])
def test_diff_exits_1_when_the_runs_differ(tmp_path: Path, fmt: str) -> None:
    a = _pcap(tmp_path / "a.pcap", normal_close().frame())
    b = _pcap(tmp_path / "b.pcap", ctw_wire().frame())
    done = _cli("diff", a, b, "-f", fmt, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "differ in" in done.stdout and "wire, at" in done.stdout
    same = _cli("diff", a, a, "-f", fmt, cwd=tmp_path)
    assert same.returncode == 0 and "behaved the same" in same.stdout
    if fmt == "html":
        assert done.stdout.count("<svg") == 2 and "http://" not in done.stdout.replace(
            "http://www.w3.org", "")
        assert 'id="a-' in done.stdout and 'id="b-' in done.stdout


def test_diff_of_a_missing_file_is_one_sentence(tmp_path: Path) -> None:
    done = _cli("diff", "nope.pcap", "nope2.pcap", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


def _two(path: Path, *wires: Wire) -> Path:
    """A capture of ``wires``, each on its own client port (41000, 41001...)."""
    for number, wire in enumerate(wires):
        for row in wire.rows:
            row["sport"] = 41000 + number if row["sport"] == 40000 else row["sport"]
            row["dport"] = 41000 + number if row["dport"] == 40000 else row["dport"]
    return _pcap(path, merge(*wires))


def test_diff_compares_the_connections_asked_for_and_says_which(tmp_path: Path) -> None:
    a = _two(tmp_path / "a.pcap", normal_close(), ctw_wire())
    b = _two(tmp_path / "b.pcap", normal_close(), normal_close())
    default = _cli("diff", a, b, cwd=tmp_path)
    assert default.returncode == 1 and "connection 1 of 2 (" in default.stdout
    assert "choose with --connection N" in default.stdout
    same = _cli("diff", a, b, "--connection", "0", cwd=tmp_path)
    assert same.returncode == 0 and "behaved the same" in same.stdout, same.stdout
    assert same.stdout.count("connection 0 of 2") == 2
    crossed = _cli("diff", a, b, "-c", "1", "-c", "0", "-f", "md", cwd=tmp_path)
    assert crossed.returncode == 1 and "connection 1 of 2" in crossed.stdout
    too_many = _cli("diff", a, b, "-c", "0", "-c", "1", "-c", "0", cwd=tmp_path)
    assert too_many.returncode == 2 and "once (both files) or twice" in too_many.stderr
    absent = _cli("diff", a, b, "-c", "7", cwd=tmp_path)
    assert absent.returncode == 2 and "connection 7 is not in" in absent.stderr
