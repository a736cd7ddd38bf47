"""The diagram for a room, for paper and to scale: ``projector`` style, PDF, proportional time."""

from __future__ import annotations

import itertools
import re

import pytest
from factory import close_then_write, idle_gap, make_trace

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.render import FORMATS, prepare, render
from tcptrace_viz.render.figure_style import STYLES


def _font_sizes(svg: str) -> list[float]:
    return [float(size) for size in re.findall(r"font-size[:=]\s*\"?([\d.]+)px", svg)]


def test_the_projector_style_has_larger_type_and_thicker_arrows() -> None:
    trace = close_then_write()
    default = render(prepare(trace), "svg")
    projector = render(prepare(trace, style="projector"), "svg")
    assert max(_font_sizes(projector)) == pytest.approx(
        max(_font_sizes(default)) * STYLES["projector"].font, rel=0.02)
    widths = [float(w) for w in re.findall(r"stroke-width:\s*([\d.]+)", projector)]
    assert max(widths) > max(float(w) for w in re.findall(r"stroke-width:\s*([\d.]+)", default))
    assert re.search(r">\[S\] seq 0 win \d+ len 0<", default)
    assert ">[S] seq 0 len 0<" in projector  # the window is left out, labels stay short


def test_an_unknown_style_is_refused_in_one_sentence() -> None:
    with pytest.raises(BadInputError, match="unknown style 'huge' \\(styles: default, projector"):
        prepare(close_then_write(), style="huge")


def test_pdf_is_deterministic_letter_pages_with_text_kept_as_text() -> None:
    assert "pdf" in FORMATS
    trace = make_trace(title="a $x^2$ title with </script> in it")
    first, second = render(trace, "pdf"), render(trace, "pdf")
    assert first.startswith(b"%PDF-") and first == second
    assert b"CreationDate" not in first
    assert b"/FontFile2" in first  # TrueType embedded: the text is text


def test_proportional_time_keeps_order_and_shows_the_long_pause() -> None:
    trace = idle_gap()
    compact = prepare(trace).ladder()
    scaled = prepare(trace, proportional=True).ladder()
    assert any(e.kind == "gap" for e in compact.events)
    assert not any(e.kind == "gap" for e in scaled.events)
    ys = [e.y for e in scaled.events]
    assert ys == sorted(ys) and all(b - a >= 1.0 for a, b in itertools.pairwise(ys))
    steps = [(b.ts_ns - a.ts_ns, b.y - a.y)
             for a, b in itertools.pairwise(scaled.events)]
    longest_pause = max(steps)
    assert longest_pause[1] == max(dy for _, dy in steps)
    assert "time to scale" in scaled.note
