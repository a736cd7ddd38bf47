"""The ``svg`` and ``png`` formats: the ladder diagram as an image.

matplotlib is imported here only when an image is asked for, so ``txt`` and the other text
formats stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from tcptrace_viz.render.ladder_layout import build_ladder

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace


class SvgLadder:
    """The ``svg`` format: a standalone, deterministic SVG document."""

    fmt: Final = "svg"
    binary: Final = False

    def render(self, trace: Trace, *, connection: int | None = None) -> str:
        """The ladder as SVG text."""
        from tcptrace_viz.render.ladder_figure import ladder_svg

        return ladder_svg(build_ladder(trace, connection), trace.meta)


class PngLadder:
    """The ``png`` format."""

    fmt: Final = "png"
    binary: Final = True

    def render(self, trace: Trace, *, connection: int | None = None) -> bytes:
        """The ladder as PNG bytes."""
        from tcptrace_viz.render.ladder_figure import ladder_png

        return ladder_png(build_ladder(trace, connection), trace.meta)
