"""The FigureService: a forked process that draws one ladder's SVG and PNG when asked."""

from __future__ import annotations

import os

from factory import close_then_write, long_trace

from tcptrace_viz.render import prepare, render
from tcptrace_viz.render.figure_service import FigureService


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_service_draws_what_this_process_would() -> None:
    for trace in (close_then_write(), long_trace(300)):  # the second one elided
        service = FigureService()
        try:
            prepared = prepare(trace)
            service.request(prepared.ladder())
            svg, png = service.receive()
        finally:
            service.close()
        assert _gone(service._call.pid)
        here = prepare(trace)
        assert svg == here.svg
        assert png == here.png
        prepared.use_drawn(svg, png)
        assert render(prepared, "html") == render(here, "html")


def test_a_service_never_asked_ends_with_its_owner() -> None:
    service = FigureService()
    service.close()
    service.close()  # idempotent
    assert _gone(service._call.pid)


def test_a_child_forked_after_the_service_can_use_it() -> None:
    """The runner's drawing child (forked after the service) sends and receives; the
    parent's copy of the request pipe does not keep the service waiting."""
    from tcptrace_viz.forked import ForkedCall

    service = FigureService()
    trace = close_then_write()
    try:
        def draw() -> int:
            prepared = prepare(trace)
            service.request(prepared.ladder())
            svg, _ = service.receive()
            return len(svg)

        size = ForkedCall(draw).result(timeout_s=120)
    finally:
        service.close()
    assert size == len(prepare(trace).svg)
