"""The ladder on paper: a tall figure cut into US Letter landscape pages between rows.

A ladder is 11 in wide and as tall as its events need; a PDF of it for printing is cut into
8.5 in pages, each cut falling between two rows of the ladder (never through a label), the
heading on the first page and the legend on the last.  Text stays text (TrueType fonts).
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Final

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.transforms import Bbox

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAGE_INCHES: Final = 8.5
"""A page's height (US Letter, landscape: the ladder's 11 in width fits it)."""


def page_cuts(height: float, top_of_rows: float, bottom_of_rows: float, row: float,
              page: float = PAGE_INCHES) -> list[tuple[float, float]]:
    """``(top, bottom)`` of each page, in inches from the figure's bottom: cuts between rows,
    each page at most ``page`` tall (a row taller than a page gets a page of its own)."""
    pages = []
    top = height
    while top - page > 1e-6:
        lowest = top - page  # the page may end no lower than this
        if lowest <= bottom_of_rows:  # the last rows fit: the footer goes on a page after
            cut = bottom_of_rows
        else:  # the row boundary at or just above ``lowest``: top_of_rows - k * row
            cut = top_of_rows - math.floor((top_of_rows - lowest) / row + 1e-9) * row
        if cut >= top - 1e-6:  # not even one row fits: cut at the page's height
            cut = lowest
        pages.append((top, cut))
        top = cut
    pages.append((top, 0.0))
    return pages


def figure_pages_pdf(fig: Figure, metadata: dict[str, str | None]) -> bytes:
    """``fig`` (a ladder: its one axes holds the rows) as a PDF of Letter landscape pages."""
    width, height = (float(v) for v in fig.get_size_inches())
    axes = fig.axes[0]
    box = axes.get_position()
    rows = abs(float(axes.get_ylim()[0] - axes.get_ylim()[1])) or 1.0
    top_of_rows, bottom_of_rows = box.y1 * height, box.y0 * height
    row = (top_of_rows - bottom_of_rows) / rows
    buf = io.BytesIO()
    with PdfPages(buf, metadata=metadata) as pdf:
        for top, bottom in page_cuts(height, top_of_rows, bottom_of_rows, row):
            pdf.savefig(fig, bbox_inches=Bbox([[0.0, bottom], [width, top]]))
    return buf.getvalue()
