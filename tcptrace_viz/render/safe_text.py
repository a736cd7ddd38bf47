"""Text from a capture made safe to show: one line, no control characters, cut to a width."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_WIN_RE: Final = re.compile(r" win \d+")


def printable(text: object) -> str:
    """``text`` as one line safe for a terminal: control characters (ANSI escapes, newlines,
    bidi overrides) become ``?``."""
    out = []
    for ch in str(text):
        category = unicodedata.category(ch)
        if ch == "\t":
            out.append(" ")
        elif category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co"):
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def truncate(text: str, width: int, ellipsis: str = "...") -> str:
    """Cut ``text`` to ``width`` characters, ending with ``ellipsis`` when cut."""
    if len(text) <= width:
        return text
    if width <= len(ellipsis):
        return text[:width]
    return text[: width - len(ellipsis)] + ellipsis


def without_window(label: str) -> str:
    """A packet label without its ``win N`` part (for narrow text ladders)."""
    return _WIN_RE.sub("", label)
