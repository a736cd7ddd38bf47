"""The ladder (sequence) diagram as a matplotlib Figure, exported as SVG or PNG.

Two lifelines, client on the left and server on the right, time running down.  Each packet is
an arrow from sender to receiver labelled like tcpdump; resets are red and heavy and carry the
kernel's reason when it is known.  Along each lifeline a coloured band shows the socket's
kernel TCP state (solid when traced, hatched when sampled or inferred); syscalls are markers
with their result (errors in red).  Long idle gaps are compressed and marked.

This module imports matplotlib (slow); the registry loads it only for SVG, PNG and HTML.  It
draws on a bare ``Figure`` with the Agg canvas: no pyplot, no display, no global state.  All text
from a capture is data: every text call passes ``parse_math=False`` and ``usetex=False`` so a
``$x$`` in a payload renders literally, and the SVG writer escapes it (tested).

SVG elements carry ids for the HTML report's hover links: ``tv-p3`` (arrow of packet row 3) and
``tv-p3-label``, ``tv-s0`` (state band of state row 0) and ``tv-s0-label``, ``tv-c4``
(syscall row 4) and ``tv-c4-label``.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any, Final, cast

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from tcptrace_viz.render.figure_style import STYLES, FigureStyle, current, drawing_in
from tcptrace_viz.render.figure_text import draw_text as _text
from tcptrace_viz.render.figure_text import label_between, lines_beside
from tcptrace_viz.render.ladder_colours import (
    ARROW_COLOURS,
    ERROR_COLOUR,
    MUTED_COLOUR,
    STATE_COLOURS,
    TEXT_COLOUR,
    UNKNOWN_STATE_COLOUR,
    arrow_kind,
)
from tcptrace_viz.render.ladder_legend import draw_badge, draw_legend, legend_inches, wrap_to
from tcptrace_viz.render.ladder_model import Event, Ladder
from tcptrace_viz.render.safe_text import printable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# --- geometry (x in axes fraction, y in ladder rows, sizes in inches) ---------------------------
FIG_WIDTH: Final = 11.0
X_TIME: Final = 0.005
X_BADGE: Final = 0.068
"""Where a key moment's number sits on its event's row (right of the time column)."""
SLANT: Final = 0.35
"""Rows an arrow drops between sender and receiver: both loopback copies share a timestamp, so
this small slant only shows the direction of time."""
DPI_PNG: Final = 110

_WINDOW: Final = re.compile(r" win \d+")
"""The window field of a packet label (the projector style leaves it out)."""

_SVG_METADATA_KEYS: Final = ("Date", "Creator", "Format", "Type")

RC: Final[dict[str, Any]] = {
    "svg.fonttype": "none",  # real <text> elements: small, selectable, searchable
    "svg.hashsalt": "tcptrace-viz",  # stable ids between runs
    "svg.id": "tcptrace-ladder",
    "font.family": "DejaVu Sans",
    "text.usetex": False,
    "text.parse_math": False,
    "hatch.linewidth": 0.8,
    # FreeType's auto-hinter for the PNG: a third less time than DejaVu's own bytecode
    # hints (text rasterising is most of a PNG's time), glyphs as crisp
    "text.hinting": "auto",
}


def ladder_svg(ladder: Ladder) -> str:
    """Draw ``ladder`` and return SVG text (deterministic: fixed hash salt, no date)."""
    return figure_svg(ladder_figure(ladder))


def ladder_png(ladder: Ladder, dpi: int = DPI_PNG) -> bytes:
    """Draw ``ladder`` and return PNG bytes."""
    return figure_png(ladder_figure(ladder), dpi)


def figure_svg(fig: Figure) -> str:
    """A drawn ladder as SVG text; one Figure can be saved as SVG and as PNG."""
    with mpl.rc_context(cast("Any", RC)):
        buf = io.StringIO()
        # no <metadata> at all: nothing dated, nothing that names a URL
        fig.savefig(buf, format="svg", metadata=dict.fromkeys(_SVG_METADATA_KEYS))
    return buf.getvalue()


def figure_png(fig: Figure, dpi: int = DPI_PNG) -> bytes:
    """A drawn ladder as PNG bytes."""
    with mpl.rc_context(cast("Any", RC)):
        buf = io.BytesIO()
        # zlib level 3: a third less time than the default 6 for files ~4% larger
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": "tcptrace-viz"},
                    pil_kwargs={"compress_level": 3})
    return buf.getvalue()


def figure_pdf(fig: Figure) -> bytes:
    """A drawn ladder as a PDF of US Letter landscape pages cut between rows (fonts embedded
    as TrueType, no creation date): see :mod:`tcptrace_viz.render.figure_pages`."""
    from tcptrace_viz.render.figure_pages import figure_pages_pdf

    with mpl.rc_context(cast("Any", {**RC, "pdf.fonttype": 42})):
        return figure_pages_pdf(fig, {"Creator": "tcptrace-viz", "Producer": None,
                                      "CreationDate": None})


def ladder_figure(ladder: Ladder, style: FigureStyle | None = None) -> Figure:
    """A matplotlib Figure (Agg canvas, no pyplot) of ``ladder``, in ``style`` (default:
    the default style)."""
    with mpl.rc_context(cast("Any", RC)), drawing_in(style or STYLES["default"]):
        return _draw(ladder)


def _draw(ladder: Ladder) -> Figure:
    rows = max(ladder.height, 2.0)
    footer = _footer_inches(ladder)
    row_inches = current().row_inches
    height = header_inches(ladder) + rows * row_inches + footer
    fig = Figure(figsize=(FIG_WIDTH, height), facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, footer / height, 1.0, rows * row_inches / height))
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(rows, 0.0)
    ax.set_axis_off()
    _header(fig, ladder, height)
    _lifelines(ax, ladder, rows)
    _bands(ax, ladder)
    for event in ladder.events:
        if event.moment:
            draw_badge(ax, X_BADGE, event.y, event.moment).set_gid(f"tv-{event.ref}-badge")
        if event.kind == "packet":
            _packet(ax, ladder, event)
        elif event.kind == "state":
            _state_label(ax, ladder, event)
        elif event.kind == "syscall":
            _syscall(ax, ladder, event)
        else:
            _marker(ax, event)
    draw_legend(fig, ladder, footer - 0.12)
    return fig


def _footer_inches(ladder: Ladder) -> float:
    """Room under the lifelines for the legend and the how-to-read note."""
    return legend_inches(ladder, FIG_WIDTH)


def _header_lines(ladder: Ladder) -> list[tuple[str, dict[str, Any]]]:
    """The lines under the heading, wrapped to the width: the scenario's title, what the run
    lost (bold), and how to read the diagram."""
    room = FIG_WIDTH - 0.3
    lines: list[tuple[str, dict[str, Any]]] = []
    if ladder.subtitle:
        lines += [(line, {"fontsize": 10, "color": TEXT_COLOUR})
                  for line in wrap_to(printable(ladder.subtitle), room, current().pt(10))]
    if ladder.loss:
        lines += [(line, {"fontsize": 9.5, "color": ERROR_COLOUR, "fontweight": "bold"})
                  for line in wrap_to(printable(ladder.loss) + ".", room, current().pt(9.5))]
    parts = ["Time runs down."]
    if ladder.has_wire:
        parts.append("Each arrow is one TCP segment.")
    else:
        parts.append("No packets: nothing crossed the network; the diamonds are system calls.")
    if ladder.bands:
        parts.append("Coloured bars show each socket's kernel TCP state.")
    sub = " ".join(parts)
    if ladder.note:
        sub = f"{ladder.note}. {sub}"
    lines += [(line, {"fontsize": 8.5, "color": MUTED_COLOUR})
              for line in wrap_to(printable(sub), room, current().pt(8.5))]
    return lines


def _line_inches(style: dict[str, Any]) -> float:
    return (0.23 if style["fontsize"] < 9.5 else 0.27) * current().font


def header_inches(ladder: Ladder) -> float:
    """The heading, the lines under it and the lifelines' names."""
    scale = current().font
    return (0.12 + 0.27 * scale + sum(_line_inches(style) for _, style in _header_lines(ladder))
            + 0.64 * scale)


def _header(fig: Figure, ladder: Ladder, height: float) -> None:
    top = 1.0 - 0.12 / height
    _text(fig, 0.01, top, ladder.name or ladder.title, fontsize=13, fontweight="bold", va="top",
          color=TEXT_COLOUR)
    below = 0.27 * current().font
    for line, style in _header_lines(ladder):
        _text(fig, 0.01, top - below / height, line, va="top", **style)
        below += _line_inches(style)
    header = header_inches(ladder)
    y_names = 1.0 - (header - 0.2 * current().font) / height  # the address clears the lines
    for lane, lifeline in enumerate(ladder.lifelines):
        _text(fig, _lanes()[lane], y_names, lifeline.side, fontsize=11, fontweight="bold",
              ha="center", va="bottom", color=TEXT_COLOUR)
        if lifeline.address:
            _text(fig, _lanes()[lane], y_names - 0.02 / height, lifeline.address, fontsize=8.5,
                  ha="center", va="top", family="DejaVu Sans Mono", color=MUTED_COLOUR)
    _text(fig, X_TIME, y_names - 0.02 / height, f"t ({ladder.time_unit[0]})", fontsize=8,
          va="top",
          color=MUTED_COLOUR)


def _lifelines(ax: Axes, ladder: Ladder, rows: float) -> None:
    """Grey lifelines, interrupted by a break symbol (//) at each compressed gap or elision."""
    breaks = [e for e in ladder.events if e.kind in ("gap", "elided")]
    for lane in (0, 1):
        x = _lanes()[lane]
        ax.plot([x, x], [0.0, rows], color="#9a9a9a", lw=current().lw(1.0), zorder=1)
        for brk in breaks:
            # a white cut through the line and its state band, edged by two slashes
            ax.add_patch(Rectangle((x - 0.02, brk.y - 0.32), 0.04, 0.64, facecolor="white",
                                   edgecolor="none", zorder=3))
            ax.plot([x, x], [brk.y - 0.32, brk.y + 0.32], color="#9a9a9a", lw=1.0, ls=(0, (1, 2)),
                    zorder=3.5)
            for dy in (-0.32, 0.32):
                ax.plot([x - 0.016, x + 0.016], [brk.y + dy + 0.1, brk.y + dy - 0.1],
                        color="#555555", lw=1.3, zorder=4)


def _bands(ax: Axes, ladder: Ladder) -> None:
    for band in ladder.bands:
        colour = STATE_COLOURS.get(band.state, UNKNOWN_STATE_COLOUR)
        rect = Rectangle((_lanes()[band.lane] - _band_half(), band.y0), 2 * _band_half(),
                         band.y1 - band.y0, facecolor=colour if band.observed else "white",
                         edgecolor=colour, lw=current().lw(0.8),
                         hatch=None if band.observed else "////", zorder=2)
        rect.set_gid(f"tv-{band.ref}")
        ax.add_patch(rect)


def _lanes() -> tuple[float, float]:
    """x of the two lifelines (axes fraction) in the current style."""
    return current().lanes


def _band_half() -> float:
    return current().band_half


def _outer(lane: int) -> tuple[float, str]:
    """x and alignment of text written beside a lifeline, on its outer side."""
    if lane == 0:
        return _lanes()[0] - _band_half() - 0.012, "right"
    return _lanes()[1] + _band_half() + 0.012, "left"


def _time(ax: Axes, ladder: Ladder, event: Event) -> None:
    _text(ax, X_TIME, event.y, ladder.time_label(event), fontsize=7.5, va="center",
          family="DejaVu Sans Mono", color=MUTED_COLOUR)


def _packet(ax: Axes, ladder: Ladder, event: Event) -> None:
    kind = arrow_kind(event)
    colour = ARROW_COLOURS[kind]
    src = event.lane
    dst = 1 - src
    sign = 1 if src == 0 else -1
    start = (_lanes()[src] + sign * _band_half(), event.y)
    end = (_lanes()[dst] - sign * _band_half(), event.y + SLANT)
    rst = kind == "rst"
    style = current()
    heads = 1 + (style.line - 1) / 2  # arrowheads grow half as fast as the lines
    lost = bool(event.lost)  # it reached the receiver's kernel, which dropped it: no head, an X
    arrow = FancyArrowPatch(start, end, arrowstyle="-" if lost else "-|>",
                            mutation_scale=(14 if rst else 11) * heads, color=colour,
                            lw=style.lw(2.6 if rst else 1.3), zorder=5, shrinkA=0, shrinkB=0,
                            linestyle="--" if lost else "-")
    arrow.set_gid(f"tv-{event.ref}")
    ax.add_patch(arrow)
    if lost:
        ax.plot([end[0]], [end[1]], marker="x", markersize=9 * heads, color=colour,
                markeredgewidth=style.lw(2.2), zorder=6)
    mid_x = (_lanes()[0] + _lanes()[1]) / 2
    text, size = label_between(event.label if style.packet_window
                               else _WINDOW.sub("", event.label),
                               (end[0] - start[0]) * sign * FIG_WIDTH, 8.5)
    label = _text(ax, mid_x, event.y + SLANT / 2 - 0.16, text, fontsize=size,
                  ha="center", va="bottom", family="DejaVu Sans Mono", color=colour,
                  fontweight="bold" if rst else "normal", zorder=6,
                  bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none",
                        "alpha": 0.85})
    label.set_gid(f"tv-{event.ref}-label")
    _time(ax, ladder, event)
    if rst and event.reason:
        x, ha = _outer(src)
        reason = _text(ax, x, event.y, f"reset reason: {event.reason}", fontsize=8,
                       ha=ha, va="center", color=colour, fontweight="bold")
        reason.set_gid(f"tv-{event.ref}-reason")


def _state_label(ax: Axes, ladder: Ladder, event: Event) -> None:
    x, ha = _outer(event.lane)
    colour = STATE_COLOURS.get(event.state, UNKNOWN_STATE_COLOUR)
    text = event.state if event.observed else f"{event.state} (inferred)"
    if event.label.endswith(" orphaned"):  # handed over to a timewait mini-socket
        text += " (orphaned)"
    label = _text(ax, x, event.y, text, fontsize=8, ha=ha, va="center", color=TEXT_COLOUR,
                  fontweight="bold",
                  bbox={"boxstyle": "round,pad=0.2", "fc": colour, "ec": colour,
                        "alpha": 0.35 if event.observed else 0.15,
                        "ls": "-" if event.observed else "--"})
    label.set_gid(f"tv-{event.ref}-label")
    _time(ax, ladder, event)


def _syscall(ax: Axes, ladder: Ladder, event: Event) -> None:
    colour = ERROR_COLOUR if event.error else TEXT_COLOUR
    x_line = _lanes()[event.lane]
    # A call's start is hollow: its result comes further down, where the call returned.
    dot = ax.plot([x_line], [event.y], marker="D", ms=current().pt(6), color=colour,
                  mfc="white" if event.start else colour, mec=colour if event.start else "white",
                  mew=1.0 if event.start else 0.8, zorder=7)[0]
    dot.set_gid(f"tv-{event.ref}")
    x, ha = _outer(event.lane)
    text = lines_beside(event.label, event.lane, x, 8.5, FIG_WIDTH)
    label = _text(ax, x, event.y, text, fontsize=8.5, ha=ha, va="center",
                  family="DejaVu Sans Mono", color=colour, linespacing=1.0,
                  fontweight="bold" if event.error else "normal")
    label.set_gid(f"tv-{event.ref}-label")
    _time(ax, ladder, event)



def _marker(ax: Axes, event: Event) -> None:
    mid_x = (_lanes()[0] + _lanes()[1]) / 2
    text = f"… {event.label} …"
    _text(ax, mid_x, event.y, text, fontsize=8.5, ha="center", va="center", style="italic",
          color=MUTED_COLOUR,
          bbox={"boxstyle": "round,pad=0.3", "fc": "#f4f4f4", "ec": "#c8c8c8", "lw": 0.6})
