"""How wide each column of the text ladder is, and text wrapped to a column.

The columns are sized from what they hold, up to the width asked: the arrows get room for the
longest packet label, each side gets what its longest state or syscall result needs, and when
the two sides cannot both have it, each gets at least half of what is left (a side that needs
less gives the rest to the other).  Text still too long for its column is wrapped, never cut.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Final

_MIN_ARROW: Final = 26
"""An arrow narrower than this hides its direction among the labels."""
_SIDE_FLOOR: Final = 14
"""The arrows never squeeze a side column narrower than this (or than it needs)."""
MAX_LINES: Final = 6
"""A text wraps onto at most this many lines; only hostile or absurd text is longer, and it is
cut after them (ending in ``...``)."""
_BREAK_AFTER: Final = re.compile(r"(?<=[ |,/])")
"""Where a line may break: after a space, a flag separator (``POLLIN|``), a comma or a slash
(a capture file's path)."""


@dataclasses.dataclass(frozen=True)
class Columns:
    """The widths of the ladder's three columns."""

    left: int
    """The left side's texts (right-aligned against the left lifeline)."""
    arrow: int
    """The packets' arrows, between the lifelines."""
    right: int
    """The right side's texts."""
    heads_inline: bool = False
    """Both lifelines' labels (role and endpoint) fit in the column header."""


def columns_for(room: int, *, arrow_need: int, left_need: int, right_need: int,
                left_head: int = 0, right_head: int = 0) -> Columns:
    """Split ``room`` columns between the left texts, the arrows and the right texts, given
    the longest packet label and the longest text on each side; the lifelines' labels
    (``left_head``, ``right_head``) go in the column header only when they fit whole."""
    with_heads = _split(room, arrow_need, max(left_need, left_head),
                        max(right_need, right_head))
    if with_heads.left >= left_head and with_heads.right >= right_head:
        return dataclasses.replace(with_heads, heads_inline=True)
    return _split(room, arrow_need, left_need, right_need)


def _split(room: int, arrow_need: int, left_need: int, right_need: int) -> Columns:
    comfortable = max(arrow_need + 8, _MIN_ARROW)
    tight = max(arrow_need + 4, _MIN_ARROW)
    if comfortable + left_need + right_need <= room:
        arrow = comfortable
    else:
        arrow = max(tight, room - left_need - right_need)
    floor = min(left_need, _SIDE_FLOOR) + min(right_need, _SIDE_FLOOR)
    arrow = max(min(arrow, room - floor), 5)
    rest = max(room - arrow, 0)
    if left_need + right_need <= rest or left_need <= rest // 2:
        left = min(left_need, rest)
    elif right_need <= rest - rest // 2:
        left = rest - right_need
    else:
        left = rest // 2
    return Columns(left, arrow, rest - left)


def wrap_text(text: str, width: int, indent: str = "", max_lines: int = MAX_LINES
              ) -> list[str]:
    """``text`` as lines of at most ``width`` characters, continuation lines starting with
    ``indent``; breaks fall after spaces, ``|``, commas and ``/``, and inside a word only when one
    word is longer than a line (after an ``_`` where one is near the end).  No lines for no
    text."""
    if len(text) <= width or width <= len(indent) + 1:
        return [text] if text else []
    lines: list[str] = []
    current = ""
    for piece in (p for p in _BREAK_AFTER.split(text) if p):
        limit = width - (len(indent) if lines else 0)
        if current and len((current + piece).rstrip()) > limit:
            lines.append(current.rstrip())
            current = ""
        current += piece.lstrip(" ") if not current and lines else piece
        while len(current.rstrip()) > (limit := width - (len(indent) if lines else 0)):
            cut = current.rfind("_", limit // 2, limit) + 1 or limit  # TCP_ABORT_ / ON_DATA
            lines.append(current[:cut])
            current = current[cut:].lstrip(" ")
    if current.strip():
        lines.append(current.rstrip())
    lines = [lines[0], *(indent + line for line in lines[1:])]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 3].rstrip() + "..."
    return lines
