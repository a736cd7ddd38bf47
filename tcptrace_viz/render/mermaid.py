"""Mermaid ``sequenceDiagram``: the ladder as text that GitHub, GitLab and many wikis draw.

Participants are the two lifelines; each packet is a message (a reset ends in ``x``); state
changes and syscall results are ``Note over`` their side; gaps and elisions span both.

A title longer than ``TITLE_MAX`` would run past the diagram's edge (mermaid never wraps a
title): the ``title`` keeps the scenario's name and the rest goes into a note across both
lifelines at the top, broken into lines with ``<br/>`` (the one piece of HTML written, and only
between escaped pieces).

Capture text is data: mermaid reads ``;`` as a line break, ``#…;`` as an entity, ``%%`` as a
comment and ``<…>`` as HTML, so each of those (and quotes) is written as an entity code.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Final

from tcptrace_viz.render.ladder_model import Ladder
from tcptrace_viz.render.safe_text import printable

if TYPE_CHECKING:
    from tcptrace_viz.render.options import RenderOptions
    from tcptrace_viz.render.prepared import Prepared

_ENTITIES: Final = str.maketrans({
    "#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", "%": "#37;", '"': "#quot;",
    "&": "#amp;",
})
_IDS: Final = ("C", "S")
TITLE_MAX: Final = 60
"""A longer title goes (wrapped) into a note under a short one."""
NOTE_LINE: Final = 48
"""Characters per line of the title note."""


class MermaidDiagram:
    """The ``mermaid`` format."""


    def render(self, prepared: Prepared, options: RenderOptions) -> str:
        """The ``sequenceDiagram`` source, ending in a newline (no Markdown fence)."""
        return mermaid_text(prepared.ladder())


def mermaid_escape(text: str) -> str:
    """``text`` as inert mermaid label text (one line, special characters as entity codes)."""
    return printable(text).translate(_ENTITIES)


def _title_and_note(title: str, name: str) -> tuple[str, str]:
    """The ``title`` line's text and what goes in the note under it (``""`` for none)."""
    if len(title) <= TITLE_MAX:
        return title, ""
    if name and len(name) <= TITLE_MAX and title.startswith(name):
        return name, title[len(name):].lstrip(": ") or ""
    return "", title


def mermaid_text(ladder: Ladder) -> str:
    """Render a laid-out ladder as a mermaid ``sequenceDiagram``."""
    lines = ["sequenceDiagram"]
    title, note = _title_and_note(printable(ladder.title), printable(ladder.name))
    if title:
        lines.append(f"    title {mermaid_escape(title)}")
    for ident, lifeline in zip(_IDS, ladder.lifelines, strict=True):
        lines.append(f"    participant {ident} as {mermaid_escape(lifeline.label)}")
    both = f"{_IDS[0]},{_IDS[1]}"
    if note:
        broken = textwrap.wrap(note, NOTE_LINE, break_long_words=True, break_on_hyphens=False)
        lines.append(f"    Note over {both}: " + "<br/>".join(map(mermaid_escape, broken)))
    for event in ladder.events:
        if event.kind == "packet":
            src, dst = _IDS[event.lane], _IDS[1 - event.lane]
            arrow = "-x" if event.rst else "->>"
            label = event.label
            if event.rst and event.reason:
                label += f" (reset reason: {event.reason})"
            lines.append(f"    {src}{arrow}{dst}: {mermaid_escape(label)}")
        elif event.kind == "state":
            text = event.state if event.observed else f"{event.state} (inferred)"
            if event.label.endswith(" orphaned"):  # handed over to a timewait mini-socket
                text += " (orphaned)"
            lines.append(f"    Note over {_IDS[event.lane]}: state {mermaid_escape(text)}")
        elif event.kind == "syscall":
            lines.append(f"    Note over {_IDS[event.lane]}: {mermaid_escape(event.label)}")
        else:
            lines.append(f"    Note over {both}: ... {mermaid_escape(event.label)} ...")
    return "\n".join(lines) + "\n"
