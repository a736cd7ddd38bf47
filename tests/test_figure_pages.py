"""The ladder on paper: Letter landscape pages, each cut between two rows."""

from __future__ import annotations

import itertools
import re

import pytest
from factory import close_then_write, long_trace

from tcptrace_viz.render import prepare, render
from tcptrace_viz.render.figure_pages import PAGE_INCHES, page_cuts


@pytest.mark.parametrize(("height", "top", "bottom", "row"), [
    (5.0, 3.5, 1.0, 0.3), (30.0, 28.5, 1.5, 0.3), (40.0, 38.0, 12.0, 0.3),
    (20.0, 19.0, 0.5, 9.0)])
def test_pages_cover_the_figure_between_rows(height: float, top: float, bottom: float,
                                             row: float) -> None:
    pages = page_cuts(height, top, bottom, row)
    assert pages[0][0] == height and pages[-1][1] == 0.0
    for (_, low), (high, _) in itertools.pairwise(pages):
        assert low == high  # nothing left out, nothing twice
    for high, low in pages:
        assert high - low <= PAGE_INCHES + 1e-6 or row > PAGE_INCHES
        if bottom < low < top and row <= PAGE_INCHES:  # a cut among the rows: on a boundary
            assert abs(((top - low) / row) - round((top - low) / row)) < 1e-6


def test_a_long_ladder_prints_on_several_letter_pages() -> None:
    short = render(prepare(close_then_write()), "pdf")
    long = render(prepare(long_trace(400)), "pdf")
    assert short.startswith(b"%PDF-") and long.startswith(b"%PDF-")
    sizes = [tuple(map(float, m)) for m in re.findall(
        rb"/MediaBox \[ ?0 0 ([\d.]+) ([\d.]+) ?\]", long)]
    assert len(sizes) > 1
    assert all(w == pytest.approx(792, abs=1) and h <= 612 + 1 for w, h in sizes)
