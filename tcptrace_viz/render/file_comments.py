"""What a user's capture file says about itself: its section comments and its interfaces.

These texts come from the file (untrusted): each renderer escapes them its own way (HTML
autoescaping, Markdown's ``md_text``, the terminal's ``printable``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tcptrace_viz.meta import TraceMeta

MAX_SHOWN: Final = 20
"""Comments or interfaces shown per kind; a file with more gets a count of the rest."""
MAX_CHARACTERS: Final = 400
"""Characters shown of one comment (the file itself has them all)."""


def file_comment_items(meta: TraceMeta) -> list[tuple[str, str]]:
    """(label, text) pairs: ``file comment`` for each section header comment, ``interface``
    for each interface's name, description and comments; none for a capture of ours."""
    items: list[tuple[str, str]] = []
    for label, texts in (("file comment", meta.comments), ("interface", meta.interfaces)):
        shown = [_one_line(str(text)) for text in texts if str(text).strip()]
        items += [(label, text) for text in shown[:MAX_SHOWN]]
        if len(shown) > MAX_SHOWN:
            items.append((label, f"... and {len(shown) - MAX_SHOWN} more"))
    return items


def _one_line(text: str) -> str:
    """``text`` on one line (a run of white space, line breaks included, becomes one space),
    cut after :data:`MAX_CHARACTERS` with a count of what is left out."""
    line = " ".join(text.split())
    if len(line) <= MAX_CHARACTERS:
        return line
    return f"{line[:MAX_CHARACTERS]}... ({len(line) - MAX_CHARACTERS:,} more characters)"
