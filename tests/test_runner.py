"""``capture -j N``: scenarios captured and drawn side by side, reported in catalogue order."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tcptrace_viz.scenarios import CATALOGUE

pytestmark = pytest.mark.root

NAMES = ("close-then-write", "pipe", "linger0", "bulk-close", "shutdown")


def _capture(tmp_path: Path, jobs: int) -> tuple[str, Path, Path]:
    out, reports = tmp_path / f"c{jobs}", tmp_path / f"r{jobs}"
    args = [arg for name in NAMES for arg in ("-s", name)]
    run = subprocess.run([sys.executable, "-m", "tcptrace_viz", "capture", *args, "-j", str(jobs),
                          "--out", str(out), "--reports", str(reports)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]  # the verdicts
    return run.stdout, out, reports


def _order(stdout: str) -> list[str]:
    """The scenarios in the order their summaries were printed (their ``wrote`` folders)."""
    return re.findall(r"wrote \S+/c\d+/([a-z0-9-]+)/\d{8}T\d{6}Z", stdout)


def test_the_output_and_the_files_do_not_depend_on_jobs(tmp_path: Path) -> None:
    alone, out1, reports1 = _capture(tmp_path, 1)
    together, out3, reports3 = _capture(tmp_path, 3)
    # bulk-close starts first and alone (a complete capture), yet is reported in its place.
    assert _order(alone) == _order(together) == list(NAMES)
    assert "5 of 5 scenarios behaved as expected" in together
    assert sorted(path.name for path in reports1.iterdir()) == sorted(
        path.name for path in reports3.iterdir())
    for name in NAMES:  # one capture folder each, whole
        for out in (out1, out3):
            folders = list((out / name).iterdir())
            assert len(folders) == 1
            assert {path.name for path in folders[0].iterdir()} == {"trace.pcapng", "trace.json"}
    index = (reports3 / "index.html").read_text(encoding="utf-8")
    in_catalogue_order = [name for name in CATALOGUE if name in NAMES]
    assert re.findall(r'<a href="([^"]+)\.html"', index) == in_catalogue_order


def test_check_runs_side_by_side_and_writes_nothing(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "tcptrace_viz", "check", "-s", "linger0", "-s",
                          "close-then-write", "-j", "2"], capture_output=True, text=True,
                         timeout=300, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]  # the verdicts
    assert "2 of 2 scenarios behaved as expected" in run.stdout
    assert run.stdout.index("linger0") < run.stdout.index("close-then-write  PASS")
    assert list(tmp_path.iterdir()) == []
