"""The ``svg``, ``png`` and ``pdf`` formats: the ladder diagram as an image or a page.

matplotlib is imported here only when an image is asked for, so ``txt`` and the other text
formats stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tcptrace_viz.render.options import RenderOptions
    from tcptrace_viz.render.prepared import Prepared


class SvgLadder:
    """The ``svg`` format: a standalone, deterministic SVG document."""


    def render(self, prepared: Prepared, options: RenderOptions) -> str:
        """The ladder as SVG text."""
        return prepared.svg


class PngLadder:
    """The ``png`` format."""


    def render(self, prepared: Prepared, options: RenderOptions) -> bytes:
        """The ladder as PNG bytes."""
        return prepared.png


class PdfLadder:
    """The ``pdf`` format: the ladder on one page, for paper (text stays text)."""

    def render(self, prepared: Prepared, options: RenderOptions) -> bytes:
        """The ladder as PDF bytes."""
        return prepared.pdf
