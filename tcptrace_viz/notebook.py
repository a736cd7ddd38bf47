"""The Trace users hold: the data contract plus what a notebook or a script asks of it.

:class:`Trace` here is :class:`tcptrace_viz.model.Trace` with the conveniences that need the
layers above the model (analysis, rendering): ``trace.render("svg")``, ``trace.connections``,
``trace.connection(3)``, and a rich display in Jupyter (the verdict and the ladder).  It is the
``tcptrace_viz.Trace`` of the public API, and :func:`tcptrace_viz.read_capture` returns one.

>>> import tcptrace_viz
>>> trace = tcptrace_viz.read_capture("captures/linger0/20261201T120000Z")   # doctest: +SKIP
>>> trace.connections                       # one row per connection       # doctest: +SKIP
>>> trace.render("md")                      # the Markdown report          # doctest: +SKIP
>>> trace                                   # in Jupyter: verdict + ladder # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, overload

import pandas as pd

from tcptrace_viz import model

if TYPE_CHECKING:
    from tcptrace_viz.render import BinaryFormat, TextFormat
    from tcptrace_viz.render.options import RenderOptions


class Trace(model.Trace):
    """Packets, kernel states and syscall results of one capture, on one clock, ready to show.

    Everything :class:`tcptrace_viz.model.Trace` holds and does, plus rendering and the
    connection table.
    """

    @classmethod
    def of(cls, trace: model.Trace) -> Trace:
        """The same trace (its frames and metadata are shared, not copied) as this class."""
        if isinstance(trace, cls):
            return trace
        return cls(trace.packets, trace.states, trace.syscalls, trace.meta)

    @overload
    def render(self, fmt: TextFormat = "svg", *, connection: int | None = None,
               options: RenderOptions | None = None) -> str: ...

    @overload
    def render(self, fmt: BinaryFormat, *, connection: int | None = None,
               options: RenderOptions | None = None) -> bytes: ...

    def render(self, fmt: str = "svg", *, connection: int | None = None,
               options: RenderOptions | None = None) -> str | bytes:
        """This trace as ``fmt`` (``html``, ``svg``, ``png``, ``md``, ``mermaid``, ``txt``):
        text, or bytes for ``png``.  ``connection`` picks one of several connections.

        Raises:
            BadInputError: unknown format, or no such connection.
        """
        from tcptrace_viz.render import render

        return render(self, fmt, options, connection=connection)

    @property
    def connections(self) -> pd.DataFrame:
        """One row per connection: endpoints, who closed first and how, bytes each way,
        retransmissions, and a plain sentence (``summary``)."""
        from tcptrace_viz.analysis.connection_table import connections

        return connections(self.packets)

    def connection(self, number: int) -> Trace:
        """The trace of connection ``number`` alone (its packets, the states of its sockets,
        the syscalls made while it lived).

        Raises:
            BadInputError: the trace has no connection ``number``.
        """
        from tcptrace_viz.analysis.selection import select

        return Trace.of(select(self, number).trace)

    def _repr_html_(self) -> str:
        """Jupyter's view: the title, the verdict and the ladder (SVG, inline)."""
        meta = self.meta
        title = html.escape(meta.title or meta.display_name)
        parts = [f"<p><strong>{title}</strong></p>"]
        if meta.verdict:
            detail = f": {html.escape(meta.verdict_detail)}" if meta.verdict_detail else ""
            parts.append(f"<p>verdict: <strong>{html.escape(meta.verdict.upper())}</strong>"
                         f"{detail}</p>")
        if meta.partial:
            parts.append(f"<p>partial: {html.escape(meta.problem or 'the file is damaged')}</p>")
        parts.append(self.render("svg"))
        return "\n".join(parts)
