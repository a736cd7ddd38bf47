"""Renderers: turn a Trace into a ladder diagram, a report or text.

Each output format is one small class in its own module that satisfies ``Renderer``; the
registry below lists them all explicitly.  Renderers return values (``str``, or ``bytes`` for
PNG): they never print or write files.  Heavy libraries load only on the paths that need them
(matplotlib for SVG/PNG/HTML, jinja2 for HTML).

Renderers take a :class:`~tcptrace_viz.render.prepared.Prepared` trace, which computes what
formats share (the selected connection, the ladder, the SVG) once: to render several formats of
one trace, ``prepare()`` it once and pass that.

>>> from tcptrace_viz.render import prepare, render
>>> text = render(trace, "txt")                       # doctest: +SKIP
>>> prepared = prepare(trace)                         # doctest: +SKIP
>>> files = {fmt: render(prepared, fmt) for fmt in ("html", "svg")}    # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.render.html import HtmlReport
from tcptrace_viz.render.image import PngLadder, SvgLadder
from tcptrace_viz.render.index import render_index
from tcptrace_viz.render.markdown import MarkdownReport
from tcptrace_viz.render.mermaid import MermaidDiagram
from tcptrace_viz.render.prepared import Prepared, prepare
from tcptrace_viz.render.text import TextLadder

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace

__all__ = ["FORMATS", "Prepared", "Renderer", "get", "prepare", "render", "render_index"]


class Renderer(Protocol):
    """One output format."""

    @property
    def fmt(self) -> str:
        """The format's name, as given to ``render()`` and ``--format``."""
        ...

    @property
    def binary(self) -> bool:
        """True when ``render`` returns bytes."""
        ...

    def render(self, prepared: Prepared) -> str | bytes:
        """Render ``prepared`` (the trace, or the connection of it that it selected)."""
        ...


_RENDERERS: Final[tuple[Renderer, ...]] = (
    HtmlReport(),
    SvgLadder(),
    PngLadder(),
    MarkdownReport(),
    MermaidDiagram(),
    TextLadder(),
)
_REGISTRY: Final[dict[str, Renderer]] = {renderer.fmt: renderer for renderer in _RENDERERS}

FORMATS: Final[tuple[str, ...]] = tuple(_REGISTRY)
"""All format names: ``("html", "svg", "png", "md", "mermaid", "txt")``."""


def get(fmt: str) -> Renderer:
    """The renderer for ``fmt``.

    Raises:
        BadInputError: unknown format.
    """
    try:
        return _REGISTRY[fmt]
    except KeyError:
        raise BadInputError(f"unknown format {fmt!r}; choose one of: "
                            f"{', '.join(FORMATS)}.") from None


def render(trace: Trace | Prepared, fmt: str, *, connection: int | None = None) -> str | bytes:
    """Render ``trace`` as ``fmt`` (one of ``FORMATS``): bytes for ``png``, text otherwise.

    ``trace`` is a Trace or a :class:`Prepared` one (shared between formats: see the module).
    ``connection`` selects one connection of a Trace that holds several (default: the first);
    a Prepared trace has already selected its own.

    Raises:
        BadInputError: unknown format, or no such connection.
        TypeError: ``connection`` given with a Prepared trace.
    """
    renderer = get(fmt)
    if isinstance(trace, Prepared):
        if connection is not None:
            raise TypeError("a Prepared trace has selected its connection: pass it to prepare()")
        return renderer.render(trace)
    return renderer.render(prepare(trace, connection))
