"""Renderers: turn a Trace into a ladder diagram, a report or text.

Each output format is one small class in its own module with a ``render(prepared, options)``
method; ``_BUILT_INS`` below lists them all, with their file suffixes, in one place.  Renderers
return values (``str``, or ``bytes`` for PNG): they never print or write files.  Importing this
package is cheap (the command line reads the format list at start-up): a renderer's module, and
the heavy libraries it needs (pandas, matplotlib, jinja2), load when it is first used.

Renderers take a :class:`~tcptrace_viz.render.prepared.Prepared` trace, which computes what
formats share (the selected connection, the ladder, the SVG) once: to render several formats of
one trace, ``prepare()`` it once and pass that.  How to render (show the verdict, embed the
capture) is a :class:`RenderOptions`, passed beside the trace.

>>> from tcptrace_viz.render import prepare, render
>>> text = render(trace, "txt")                       # doctest: +SKIP
>>> prepared = prepare(trace)                         # doctest: +SKIP
>>> files = {fmt: render(prepared, fmt) for fmt in ("html", "svg")}    # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, Literal, Protocol, overload

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.render.options import RenderOptions

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace
    from tcptrace_viz.render.index import IndexRow
    from tcptrace_viz.render.prepared import Prepared

__all__ = ["FORMATS", "Format", "Prepared", "RenderOptions", "Renderer", "format_info",
           "format_of_suffix", "get", "prepare", "render", "render_index"]

TextFormat = Literal["html", "svg", "md", "mermaid", "txt"]
"""The formats ``render()`` returns as ``str``."""
BinaryFormat = Literal["png", "pdf"]
"""The formats ``render()`` returns as ``bytes``."""


class Renderer(Protocol):
    """One output format."""

    def render(self, prepared: Prepared, options: RenderOptions) -> str | bytes:
        """Render ``prepared`` (the trace, or the connection of it that it selected)."""
        ...


@dataclasses.dataclass(frozen=True)
class Format:
    """One output format: its name, its file suffixes and where its renderer lives."""

    name: str
    """As given to ``render()`` and ``--format``."""
    suffixes: tuple[str, ...]
    """File suffixes that mean this format; the first is the one written."""
    binary: bool
    """True when the renderer returns bytes."""
    load: Callable[[], Renderer] = dataclasses.field(repr=False, compare=False)
    """Imports the renderer's module (and its libraries) and returns the renderer."""

    @property
    def suffix(self) -> str:
        """The suffix of a file of this format (``.mmd`` for mermaid)."""
        return self.suffixes[0]


def _html() -> Renderer:
    from tcptrace_viz.render.html import HtmlReport

    return HtmlReport()


def _svg() -> Renderer:
    from tcptrace_viz.render.image import SvgLadder

    return SvgLadder()


def _png() -> Renderer:
    from tcptrace_viz.render.image import PngLadder

    return PngLadder()


def _pdf() -> Renderer:
    from tcptrace_viz.render.image import PdfLadder

    return PdfLadder()


def _markdown() -> Renderer:
    from tcptrace_viz.render.markdown import MarkdownReport

    return MarkdownReport()


def _mermaid() -> Renderer:
    from tcptrace_viz.render.mermaid import MermaidDiagram

    return MermaidDiagram()


def _text() -> Renderer:
    from tcptrace_viz.render.text import TextLadder

    return TextLadder()


_BUILT_INS: Final[tuple[Format, ...]] = (
    Format("html", (".html", ".htm"), False, _html),
    Format("svg", (".svg",), False, _svg),
    Format("png", (".png",), True, _png),
    Format("pdf", (".pdf",), True, _pdf),
    Format("md", (".md",), False, _markdown),
    Format("mermaid", (".mmd", ".mermaid"), False, _mermaid),
    Format("txt", (".txt",), False, _text),
)
_REGISTRY: Final[dict[str, Format]] = {entry.name: entry for entry in _BUILT_INS}
_LOADED: dict[str, Renderer] = {}

FORMATS: Final[tuple[str, ...]] = tuple(_REGISTRY)
"""All format names: ``("html", "svg", "png", "pdf", "md", "mermaid", "txt")``."""


def format_info(fmt: str) -> Format:
    """The entry of format ``fmt``.

    Raises:
        BadInputError: unknown format.
    """
    try:
        return _REGISTRY[fmt]
    except KeyError:
        raise BadInputError(f"unknown format {fmt!r}; choose one of: "
                            f"{', '.join(FORMATS)}.") from None


def format_of_suffix(suffix: str) -> str | None:
    """The format a file suffix (``.HTM``, ``.mmd``) names, or None."""
    wanted = suffix.lower()
    return next((entry.name for entry in _BUILT_INS if wanted in entry.suffixes), None)


def get(fmt: str) -> Renderer:
    """The renderer for ``fmt`` (its module is imported on first use).

    Raises:
        BadInputError: unknown format.
    """
    if fmt not in _LOADED:
        _LOADED[fmt] = format_info(fmt).load()
    return _LOADED[fmt]


def prepare(trace: Trace, connection: int | None = None, *, style: str = "default",
            proportional: bool = False, absolute_time: bool = False) -> Prepared:
    """``trace`` (or only its connection ``connection``) ready for any number of renderers,
    its diagram in ``style`` (``default`` or ``projector``), time to scale when
    ``proportional``, times from the trace's start when ``absolute_time`` (else from the
    connection's; see :func:`tcptrace_viz.render.prepared.prepare`)."""
    from tcptrace_viz.render.prepared import prepare as _prepare

    return _prepare(trace, connection, style=style, proportional=proportional,
                    absolute_time=absolute_time)


@overload
def render(trace: Trace | Prepared, fmt: TextFormat, options: RenderOptions | None = None, *,
           connection: int | None = None) -> str: ...
@overload
def render(trace: Trace | Prepared, fmt: BinaryFormat, options: RenderOptions | None = None, *,
           connection: int | None = None) -> bytes: ...
@overload
def render(trace: Trace | Prepared, fmt: str, options: RenderOptions | None = None, *,
           connection: int | None = None) -> str | bytes: ...
def render(trace: Trace | Prepared, fmt: str, options: RenderOptions | None = None, *,
           connection: int | None = None) -> str | bytes:
    """Render ``trace`` as ``fmt`` (one of ``FORMATS``): bytes for ``png`` and ``pdf``, text
    otherwise.

    ``trace`` is a Trace or a :class:`Prepared` one (shared between formats: see the module).
    ``connection`` selects one connection of a Trace that holds several (default: the first);
    a Prepared trace has already selected its own.  ``options`` default to ``RenderOptions()``.

    Raises:
        BadInputError: unknown format, or no such connection.
        TypeError: ``connection`` given with a Prepared trace.
    """
    from tcptrace_viz.render.prepared import Prepared

    renderer = get(fmt)
    if isinstance(trace, Prepared):
        if connection is not None:
            raise TypeError("a Prepared trace has selected its connection: pass it to prepare()")
        prepared = trace
    else:
        prepared = prepare(trace, connection)
    return renderer.render(prepared, options or RenderOptions())


def render_index(entries: Sequence[tuple[Trace, str] | IndexRow]) -> str:
    """``reports/index.html`` for ``entries``: rows, or (trace, relative href of its report);
    see :func:`tcptrace_viz.render.index.render_index`."""
    from tcptrace_viz.render.index import render_index as _render_index

    return _render_index(entries)


def __getattr__(name: str) -> object:
    if name == "Prepared":  # without importing pandas with the package
        from tcptrace_viz.render.prepared import Prepared

        return Prepared
    raise AttributeError(name)
