"""One prepared trace shared by every format: the ladder is laid out and the SVG drawn once."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from factory import long_trace, make_trace, user_pcap

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.outputs import embedding, render_report_set
from tcptrace_viz.render import FORMATS, RenderOptions, prepare, render
from tcptrace_viz.render import ladder_figure as figure_module
from tcptrace_viz.render import prepared as prepared_module
from tcptrace_viz.render.console import console_summary


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts of the expensive steps: gathering events, laying out, drawing, saving as SVG."""
    counts: Counter[str] = Counter()

    def counting(module: Any, name: str) -> None:
        real: Callable[..., Any] = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counting(prepared_module, "LadderEvents")
    counting(prepared_module, "lay_out")
    counting(prepared_module, "select")
    counting(figure_module, "ladder_figure")
    counting(figure_module, "figure_svg")
    return counts


def test_every_format_of_one_trace_builds_the_ladder_once(calls: Counter[str]) -> None:
    prepared = prepare(make_trace())
    svg, html = render(prepared, "svg"), render(prepared, "html")
    for fmt in FORMATS:
        render(prepared, fmt)
    assert calls == {"select": 1, "LadderEvents": 1, "lay_out": 1, "ladder_figure": 1,
                     "figure_svg": 1}
    assert svg[svg.find("<svg"):] in html  # the very same drawing


def test_a_long_trace_gathers_once_and_lays_out_once_per_size(calls: Counter[str]) -> None:
    """The terminal elides more than the diagram: two layouts, from one gathering."""
    prepared = prepare(long_trace())
    for fmt in FORMATS:
        render(prepared, fmt)
    assert calls["LadderEvents"] == 1
    assert calls["lay_out"] == 2
    assert calls["ladder_figure"] == calls["figure_svg"] == 1


def test_rendering_from_a_trace_prepares_it_each_time(calls: Counter[str]) -> None:
    trace = make_trace()
    render(trace, "txt")
    render(trace, "mermaid")
    assert calls["LadderEvents"] == 2


def test_prepared_output_equals_unshared_output() -> None:
    trace = long_trace()
    prepared = prepare(trace)
    for fmt in FORMATS:
        assert render(prepared, fmt) == render(trace, fmt)


def test_a_prepared_trace_keeps_its_connection() -> None:
    trace = user_pcap()
    assert render(prepare(trace, 1), "txt") == render(trace, "txt", connection=1)
    with pytest.raises(TypeError):
        render(prepare(trace), "txt", connection=1)
    with pytest.raises(BadInputError, match="connection 7 is not in this trace"):
        prepare(trace, 7)


def test_a_scenarios_report_set_and_console_summary_share_one_ladder(
        calls: Counter[str], tmp_path: Path) -> None:
    """What ``capture`` renders per scenario: txt, html, svg, png and the console summary."""
    prepared = prepare(make_trace())
    files = render_report_set(prepared, tmp_path, "demo", embedding(b"pcapng", tmp_path / "t"))
    summary = console_summary(prepared, list(files))
    assert calls == {"select": 1, "LadderEvents": 1, "lay_out": 1, "ladder_figure": 1,
                     "figure_svg": 1}
    svg = files[tmp_path / "demo.svg"].decode()
    assert svg[svg.find("<svg"):] in files[tmp_path / "demo.html"].decode()
    assert "wrote" in summary and summary.lower().count("verdict") == 1


def test_render_options_leave_the_trace_alone() -> None:
    trace = make_trace()
    before = copy.deepcopy(trace.meta)
    html = render(trace, "html", RenderOptions(capture=b"\n\r\r\n", capture_name="a.pcap"))
    assert 'download="a.pcap"' in html
    quiet = render(trace, "txt", RenderOptions(verdict=False))
    assert "Verdict:" in render(trace, "txt") and "Verdict:" not in quiet
    assert trace.meta == before


def test_the_thumbnail_cut_from_the_drawn_pixels_equals_the_one_decoded_from_the_png() -> None:
    """The index's thumbnail comes from the canvas the PNG was written from, when there is one:
    the same image as decoding the PNG, without decoding it."""
    from tcptrace_viz.render.thumbnail import png_size, thumbnail_png

    prepared = prepare(make_trace())
    assert prepared.drawn_pixels() is None  # nothing drawn yet
    png = prepared.png
    pixels = prepared.drawn_pixels()
    assert pixels is not None and tuple(pixels.shape[1::-1]) == png_size(png)
    assert thumbnail_png(png, pixels=pixels) == thumbnail_png(png)
    assert thumbnail_png(png, pixels=pixels[:10]) == thumbnail_png(png)  # wrong size: decoded
    assert png_size(b"not a png") is None
