"""Text on the ladder figure: every string drawn goes through :func:`draw_text`, which keeps
capture text data (no mathtext, no TeX, control characters shown as ``?``) and sizes fonts by
the current style; :func:`lines_beside` wraps a label to the room beside a lifeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from tcptrace_viz.render.figure_style import current
from tcptrace_viz.render.safe_text import printable
from tcptrace_viz.render.text_columns import wrap_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TEXT_SAFE: Final[dict[str, Any]] = {"parse_math": False, "usetex": False}
"""Capture text is data: no mathtext, no TeX."""
MONO_ADVANCE: Final = 0.602
"""DejaVu Sans Mono's advance width, in ems."""
TIME_COLUMN: Final = 0.09
"""Where the time column (and a key moment's badge) ends, as a fraction of the width."""


def draw_text(target: Axes | Figure, x: float, y: float, text: str | list[str],
              **kwargs: Any) -> Any:
    """Draw ``text`` (a list: one line each) at (x, y); font sizes are the style's."""
    if "fontsize" in kwargs:
        kwargs["fontsize"] = current().pt(kwargs["fontsize"])
    lines = text if isinstance(text, list) else [text]
    return target.text(x, y, "\n".join(printable(line) for line in lines), **TEXT_SAFE,
                       **kwargs)


def lines_beside(text: str, lane: int, x: float, size_pt: float,
                 width_inches: float) -> list[str]:
    """``text`` (monospace, ``size_pt``) wrapped to the room beside lifeline ``lane``, from
    ``x`` outwards: the time column on the left, the figure's edge on the right."""
    room = (x - TIME_COLUMN) if lane == 0 else (0.99 - x)
    chars = int(room * width_inches * 72 / (MONO_ADVANCE * current().pt(size_pt)))
    return wrap_text(printable(text), max(chars, 12), indent="  ", max_lines=3)


SMALLEST_LABEL_PT: Final = 6.5
"""A segment's label shrinks to fit between the lifelines down to this size, then wraps."""


def label_between(text: str, room_inches: float, size_pt: float) -> tuple[list[str], float]:
    """A segment's label (monospace) fitted between the lifelines, ``room_inches`` apart: its
    lines and font size (``size_pt``, smaller for a long label, then two lines)."""
    text = printable(text)

    def fits(size: float) -> int:
        return int(room_inches * 72 / (MONO_ADVANCE * current().pt(size)))

    if len(text) <= fits(size_pt):
        return [text], size_pt
    size = max(SMALLEST_LABEL_PT, size_pt * fits(size_pt) / len(text))
    if len(text) <= fits(size):
        return [text], size
    return wrap_text(text, max(fits(size), 12), indent="  ", max_lines=2), size
