"""The Trace a notebook holds: equality, a short repr, rendering, connections, Jupyter's view."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from builders import pcap_file, syn
from factory import close_then_write, user_pcap

import tcptrace_viz
from tcptrace_viz.errors import BadInputError
from tcptrace_viz.notebook import Trace


def test_equal_traces_compare_equal_without_pandas_ambiguity() -> None:
    a, b = Trace.of(close_then_write()), Trace.of(close_then_write())
    assert a == b
    changed = copy.deepcopy(b)
    changed.meta.verdict = "fail"
    assert a != changed
    assert a != "not a trace"
    with pytest.raises(TypeError):
        hash(a)


def test_repr_is_one_line_not_three_dataframes() -> None:
    text = repr(Trace.of(close_then_write()))
    assert "\n" not in text and len(text) < 200
    assert text.startswith("<Trace 'close-then-write': ") and "verdict pass" in text


def test_render_gives_text_and_png_bytes() -> None:
    trace = Trace.of(close_then_write())
    svg = trace.render()
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg[:500]
    assert trace.render("png").startswith(b"\x89PNG")
    assert "close-then-write" in trace.render("md")


def test_connections_and_one_connection() -> None:
    trace = Trace.of(user_pcap())
    table = trace.connections
    assert list(table["conn"]) == [0, 1]
    assert all(summary.endswith(".") for summary in table["summary"])
    second = trace.connection(1)
    assert isinstance(second, Trace)
    assert set(second.packets["conn"]) == {1}
    with pytest.raises(BadInputError, match="connection 7 is not in this trace"):
        trace.connection(7)


def test_jupyter_view_shows_verdict_and_ladder_and_escapes_names() -> None:
    trace = Trace.of(close_then_write())
    trace.meta.title = "<script>alert(1)</script>"
    view = trace._repr_html_()
    assert "verdict: <strong>PASS</strong>" in view and "<svg" in view
    assert "<script>" not in view and "&lt;script&gt;" in view


def test_read_capture_gives_the_notebook_trace(tmp_path: Path) -> None:
    path = tmp_path / "one.pcap"
    path.write_bytes(pcap_file([syn()], [1_700_000_000_000_000_000]))
    trace = tcptrace_viz.read_capture(path)
    assert isinstance(trace, tcptrace_viz.Trace)
    assert len(trace.connections) == 1
