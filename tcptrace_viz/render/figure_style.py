"""How big the ladder's type and lines are: ``default`` for screens and paper, ``projector`` for
a room (``--style projector``: larger type, thicker arrows and bands, more room per row).

The style is set for the length of one drawing (:func:`drawing_in`) and read by the functions
that draw (:func:`current`), so the drawing code keeps its sizes in one place each.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator
from typing import Final


@dataclasses.dataclass(frozen=True)
class FigureStyle:
    """Sizes of one style (fonts and lines as factors of the default's)."""

    name: str
    font: float
    """Every font size is multiplied by this."""
    line: float
    """Every line width and marker size is multiplied by this."""
    row_inches: float
    """Height of one ladder row."""
    band_half: float
    """Half the width of a state band, as a fraction of the figure's width."""
    lanes: tuple[float, float]
    """x of the two lifelines, as fractions of the figure's width."""
    packet_window: bool = True
    """Whether packet labels say ``win N`` (the projector drops it to keep labels short)."""

    def pt(self, size: float) -> float:
        """A font size in this style."""
        return size * self.font

    def lw(self, width: float) -> float:
        """A line width (or marker size) in this style."""
        return width * self.line


STYLES: Final[dict[str, FigureStyle]] = {
    "default": FigureStyle("default", 1.0, 1.0, 0.30, 0.007, (0.33, 0.71)),
    "projector": FigureStyle("projector", 1.4, 2.0, 0.44, 0.010, (0.37, 0.71),
                             packet_window=False),
}
"""The styles by name (``--style``)."""

_CURRENT: contextvars.ContextVar[FigureStyle] = contextvars.ContextVar(
    "figure_style", default=STYLES["default"])


def current() -> FigureStyle:
    """The style of the drawing under way (``default`` outside one)."""
    return _CURRENT.get()


@contextlib.contextmanager
def drawing_in(style: FigureStyle) -> Iterator[FigureStyle]:
    """Draw in ``style`` until the block ends."""
    token = _CURRENT.set(style)
    try:
        yield style
    finally:
        _CURRENT.reset(token)


def style_named(name: str) -> FigureStyle:
    """The style called ``name``; ValueError naming the styles there are otherwise."""
    try:
        return STYLES[name]
    except KeyError:
        raise ValueError(f"unknown style {name!r} (styles: {', '.join(STYLES)})") from None
