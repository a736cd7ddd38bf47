"""``reports/index.html`` across runs: every report in the folder, a thumbnail each, IPv4 and
IPv6 side by side; and ``check``'s one line per scenario."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from factory import ipv6, linger0, make_trace

from tcptrace_viz.index_state import INDEX_NAME, STATE_NAME, index_files, kept_rows
from tcptrace_viz.render.index import IndexRow, index_row
from tcptrace_viz.render.thumbnail import thumbnail_png, thumbnail_uri
from tcptrace_viz.render.wording import verdict_line

THUMBNAIL = re.compile(r'<img class="thumb" src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _png(width: int = 1200, height: int = 1800) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (width, height), (255, 255, 255, 255)).save(out, "PNG")
    return out.getvalue()


def _write_report(reports: Path, row: IndexRow) -> None:
    """Commit ``row``'s report (only its HTML matters to the index) and the index itself."""
    reports.mkdir(exist_ok=True)
    (reports / row.href).write_text("<html></html>")
    for path, data in index_files(reports, [row]).items():
        path.write_bytes(data)


def _thumbnail_sizes(html: str) -> list[tuple[int, int]]:
    from PIL import Image

    sizes = []
    for encoded in THUMBNAIL.findall(html):
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
            sizes.append(image.size)
    return sizes


def test_a_thumbnail_is_the_top_of_the_ladder_240_px_wide() -> None:
    from PIL import Image

    with Image.open(io.BytesIO(thumbnail_png(_png()))) as image:
        assert image.size == (240, 180)
    assert thumbnail_uri(b"not a png") == ""


def test_the_index_keeps_the_rows_of_earlier_runs_and_drops_deleted_reports(
        tmp_path: Path) -> None:
    thumbnail = thumbnail_uri(_png())
    _write_report(tmp_path, index_row(linger0(), "linger0.html", thumbnail))
    _write_report(tmp_path, index_row(make_trace(), "close-then-write.html", thumbnail))
    _write_report(tmp_path, index_row(ipv6(), "close-then-write-ipv6.html", thumbnail))
    html = (tmp_path / INDEX_NAME).read_text()
    # catalogue order (close-then-write before linger0), IPv4 before IPv6
    assert re.findall(r'<a href="([^"]+)"', html) == [
        "close-then-write.html", "close-then-write-ipv6.html", "linger0.html"]
    assert _thumbnail_sizes(html) == [(240, 180)] * 3
    assert "over IPv6" in html
    (tmp_path / "linger0.html").unlink()  # its row goes with it at the next run
    _write_report(tmp_path, index_row(make_trace(verdict="fail"), "close-then-write.html"))
    html = (tmp_path / INDEX_NAME).read_text()
    assert re.findall(r'<a href="([^"]+)"', html) == [
        "close-then-write.html", "close-then-write-ipv6.html"]
    assert "1 passed, 1 failed" in html  # the newest run of close-then-write replaced the first
    assert [row.href for row in kept_rows(tmp_path)] == [
        "close-then-write.html", "close-then-write-ipv6.html"]


def test_a_crash_says_error_until_the_scenario_is_written_again(tmp_path: Path) -> None:
    from tcptrace_viz.index_state import error_row

    _write_report(tmp_path, index_row(make_trace(), "close-then-write.html"))
    for path, data in index_files(tmp_path, [error_row("close-then-write", "it broke",
                                                       ipv6=False)]).items():
        path.write_bytes(data)
    _write_report(tmp_path, index_row(linger0(), "linger0.html"))  # another scenario's run
    html = (tmp_path / INDEX_NAME).read_text()
    assert "ERROR" in html and "close-then-write.html" not in html and "linger0.html" in html
    _write_report(tmp_path, index_row(make_trace(), "close-then-write.html"))
    html = (tmp_path / INDEX_NAME).read_text()
    assert "ERROR" not in html and "close-then-write.html" in html


def test_a_report_no_row_lists_is_read_back_from_its_files(tmp_path: Path) -> None:
    (tmp_path / "linger0-ipv6.html").write_text("<html></html>")  # an older version's
    (tmp_path / "linger0-ipv6.png").write_bytes(_png())
    (tmp_path / "my-trace.html").write_text("<html></html>")  # `report` of a user's file
    _write_report(tmp_path, index_row(make_trace(), "close-then-write.html"))
    html = (tmp_path / INDEX_NAME).read_text()
    assert re.findall(r'<a href="([^"]+)"', html) == ["close-then-write.html",
                                                      "linger0-ipv6.html"]
    assert _thumbnail_sizes(html) == [(240, 180)]
    assert "SO_LINGER" in html  # its title, from the catalogue


def test_the_kept_rows_are_untrusted(tmp_path: Path) -> None:
    (tmp_path / "x.html").write_text("")
    (tmp_path / STATE_NAME).write_text(
        '{"format": "tcptrace-viz-index/1", "rows": [{"name": "x", "href": "x.html", '
        '"thumbnail": "https://example.com/x.png", "states": 3}, {"name": "y", '
        '"href": "javascript:alert(1)"}, {"name": "z", "href": "../../etc/passwd"}, 7]}')
    rows = kept_rows(tmp_path)
    assert [(row.name, row.thumbnail, row.states) for row in rows] == [("x", "", [])]
    (tmp_path / STATE_NAME).write_text("{not json")
    assert kept_rows(tmp_path) == []


def test_a_check_line_names_the_first_thing_not_as_expected() -> None:
    passed = make_trace(verdict_detail="")
    failed = make_trace(verdict="fail", verdict_detail="Linux: server send #2 = 3; BSD: no RST")
    assert verdict_line("linger0", passed.meta, width=16) == "linger0           PASS"
    assert verdict_line("close-then-write", failed.meta, width=16) == (
        "close-then-write  FAIL  Linux: server send #2 = 3")
    assert verdict_line("pipe", None, "scenario pipe crashed: OSError", 4) == (
        "pipe  ERROR  scenario pipe crashed: OSError")


# --- real runs ------------------------------------------------------------------------------------


def _tool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tcptrace_viz", *args], capture_output=True,
                          text=True, timeout=300, check=False, cwd=cwd)


@pytest.mark.root
def test_ipv6_reports_sit_beside_the_ipv4_ones(tmp_path: Path) -> None:
    for extra in ((), ("--ipv6",)):
        run = _tool("capture", "-s", "linger0", *extra, "--out", "c", "--reports", "r",
                    cwd=tmp_path)
        assert run.returncode == 0, run.stdout + run.stderr
    reports = tmp_path / "r"
    for stem in ("linger0", "linger0-ipv6"):
        assert {path.suffix for path in reports.glob(f"{stem}.*")} == {
            ".txt", ".html", ".svg", ".png"}
    assert "127.0." in (reports / "linger0.txt").read_text()
    assert "127.0." not in (reports / "linger0-ipv6.txt").read_text()
    folders = sorted(path.name for path in (tmp_path / "c" / "linger0").iterdir())
    assert len(folders) == 2 and [name.endswith("-ipv6") for name in folders] == [False, True]
    html = (reports / INDEX_NAME).read_text()
    assert re.findall(r'<a href="([^"]+)"', html) == ["linger0.html", "linger0-ipv6.html"]
    # `report` of the IPv6 capture folder names its report like capture did
    ipv6_folder = next(path for path in (tmp_path / "c" / "linger0").iterdir()
                       if path.name.endswith("-ipv6"))
    run = _tool("report", str(ipv6_folder), "-f", "txt", cwd=tmp_path)
    assert run.stdout.strip() == "wrote reports/linger0-ipv6.txt", run.stderr


@pytest.mark.root
def test_the_index_after_one_scenario_then_another_lists_both(tmp_path: Path) -> None:
    for name in ("linger0", "close-then-write"):
        run = _tool("capture", "-s", name, "--out", "c", "--reports", "r", cwd=tmp_path)
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.rstrip().endswith(f"index: r/{INDEX_NAME}")
    html = (tmp_path / "r" / INDEX_NAME).read_text()
    assert re.findall(r'<a href="([^"]+)"', html) == ["close-then-write.html", "linger0.html"]
    assert html.count("data:image/png;base64,") == 2
    assert _thumbnail_sizes(html) == [(240, 180)] * 2
    assert "http://" not in html and "https://" not in html
    assert "2 passed, 0 failed" in html


@pytest.mark.root
def test_two_runs_at_once_into_one_reports_folder_both_reach_the_index(tmp_path: Path) -> None:
    runs = [subprocess.Popen([sys.executable, "-m", "tcptrace_viz", "capture", "-s", name,
                              "--out", "c", "--reports", "r"], cwd=tmp_path, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for name in ("linger0", "shutdown")]
    for run in runs:
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, output
    html = (tmp_path / "r" / INDEX_NAME).read_text()
    assert re.findall(r'<a href="([^"]+)"', html) == ["shutdown.html", "linger0.html"]


@pytest.mark.root
def test_check_prints_one_line_per_scenario_and_the_ladders_with_verbose(
        tmp_path: Path) -> None:
    run = _tool("check", "-s", "linger0", "-s", "close-then-write", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == ["linger0           PASS", "close-then-write  PASS",
                                       "2 of 2 scenarios behaved as expected"]
    verbose = _tool("check", "-s", "linger0", "-v", cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stdout + verbose.stderr
    assert "t (ms) client" in verbose.stdout and "verdict: PASS" in verbose.stdout
    assert list(tmp_path.iterdir()) == []


def test_check_without_a_scenario_is_one_sentence(tmp_path: Path) -> None:
    for command in ("check", "capture"):
        run = _tool(command, cwd=tmp_path)
        assert run.returncode == 2
        assert "Traceback" not in run.stderr and run.stdout == ""
        assert run.stderr.strip().splitlines() == [
            f"tcptrace-viz: name a scenario with --scenario NAME (`tcptrace-viz list` shows "
            f"them), or use --all; see `tcptrace-viz {command} --help`"]
