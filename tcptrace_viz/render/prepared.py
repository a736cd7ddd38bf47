"""One trace made ready for rendering: what several formats share, each part computed once.

Rendering a scenario's report set (txt, html, svg, png) and its console summary used to select
the connection, gather the ladder's events and draw the SVG once per format.  A ``Prepared``
does each on first use and keeps it, so every renderer handed the same one shares the work:
the HTML report embeds the very SVG text the ``.svg`` file gets.

>>> prepared = prepare(trace)                                   # doctest: +SKIP
>>> render(prepared, "svg") in render(prepared, "html")         # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, Final

from tcptrace_viz.analysis.selection import select, timeline
from tcptrace_viz.render.ladder_events import LadderEvents
from tcptrace_viz.render.ladder_layout import KEEP_EACH_END, MAX_EVENTS, elides, lay_out

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from tcptrace_viz.analysis.selection import Selection
    from tcptrace_viz.model import Trace
    from tcptrace_viz.render.ladder_model import Ladder

TIMELINE_MAX: Final = 5000
"""The most timeline rows any renderer lists (the HTML report); only these are described."""


def prepare(trace: Trace, connection: int | None = None, *, style: str = "default",
            proportional: bool = False, absolute_time: bool = False) -> Prepared:
    """``trace`` (or only its connection ``connection``) ready for any number of renderers;
    the diagram in ``style`` (see :mod:`tcptrace_viz.render.figure_style`), with time to scale
    when ``proportional``.

    Raises:
        BadInputError: ``connection`` is not one of the trace's connections, or ``style`` is
            no style.
    """
    from tcptrace_viz.errors import BadInputError
    from tcptrace_viz.render.figure_style import style_named

    try:
        style_named(style)
    except ValueError as exc:
        raise BadInputError(f"{exc}.") from None
    prepared = Prepared(trace, connection, style, proportional, absolute_time)
    _ = prepared.selection  # refuse a missing connection now, not in the first renderer
    return prepared


@dataclasses.dataclass(frozen=True, eq=False)
class Prepared:
    """A Trace and what its renderers share, each computed on first use and then kept.

    The Trace must not change while a Prepared of it is in use.
    """

    trace: Trace
    """The whole trace (its meta is what the reports describe)."""
    connection: int | None = None
    """The connection to draw; None for the first (or only) one."""
    style: str = "default"
    """The diagram's style: ``default`` or ``projector``."""
    proportional: bool = False
    """Time to scale on the ladder (as far as the events leave room)."""
    absolute_time: bool = False
    """Times from the trace's first event, not the drawn connection's."""
    _layouts: dict[tuple[int, int], Ladder] = dataclasses.field(
        default_factory=dict, init=False, repr=False)

    @functools.cached_property
    def selection(self) -> Selection:
        """The rows of the connection shown."""
        return select(self.trace, self.connection, absolute_time=self.absolute_time)

    @functools.cached_property
    def events(self) -> LadderEvents:
        """The selection's events, gathered once for every layout."""
        return LadderEvents(self.selection)

    def ladder(self, max_events: int = MAX_EVENTS, keep_each_end: int = KEEP_EACH_END) -> Ladder:
        """The ladder laid out with these elision limits (the diagram's by default).

        Limits that elide nothing give one shared Ladder.
        """
        key = (max_events, keep_each_end) if elides(self.events, max_events,
                                                    keep_each_end) else (0, 0)
        if key not in self._layouts:
            self._layouts[key] = lay_out(self.events, max_events, keep_each_end,
                                         proportional=self.proportional)
        return self._layouts[key]

    @functools.cached_property
    def timeline(self) -> pd.DataFrame:
        """The first :data:`TIMELINE_MAX` rows of the selection's merged timeline table (``t``
        from the selection's origin); :attr:`timeline_length` counts them all."""
        return timeline(self.selection, TIMELINE_MAX)

    @functools.cached_property
    def timeline_length(self) -> int:
        """How many rows the selection's whole timeline has."""
        return self.selection.trace.timeline_length()

    @functools.cached_property
    def figure(self) -> Figure:
        """The diagram's ladder drawn by matplotlib (imported here, on first use)."""
        from tcptrace_viz.render.figure_style import style_named
        from tcptrace_viz.render.ladder_figure import ladder_figure

        return ladder_figure(self.ladder(), style_named(self.style))

    @functools.cached_property
    def svg(self) -> str:
        """The diagram as SVG text: the ``.svg`` file, and what the HTML report embeds."""
        from tcptrace_viz.render.ladder_figure import figure_svg

        return figure_svg(self.figure)

    @functools.cached_property
    def png(self) -> bytes:
        """The diagram as PNG bytes."""
        from tcptrace_viz.render.ladder_figure import figure_png

        return figure_png(self.figure)

    @functools.cached_property
    def pdf(self) -> bytes:
        """The diagram as a one-page PDF."""
        from tcptrace_viz.render.ladder_figure import figure_pdf

        return figure_pdf(self.figure)

    def drawn_pixels(self) -> Any:
        """The RGBA pixels the PNG was written from, when :attr:`png` was drawn here (else
        ``None``): the index's thumbnail is cut from them instead of decoding the PNG."""
        if "png" not in self.__dict__ or "figure" not in self.__dict__:
            return None
        import numpy as np

        try:
            return np.asarray(self.figure.canvas.buffer_rgba())  # type: ignore[attr-defined]
        except (AttributeError, RuntimeError):
            return None

    def use_drawn(self, svg: str, png: bytes) -> None:
        """Take :attr:`svg` and :attr:`png` as drawn elsewhere from this :meth:`ladder`, e.g.
        by a :class:`~tcptrace_viz.render.figure_service.FigureService`."""
        # what the cached properties would have computed, stored where they keep it
        self.__dict__.update(svg=svg, png=png)
