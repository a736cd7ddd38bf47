"""How to render a trace, passed beside it (never written into its meta)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tcptrace_viz.render.prepared import Prepared


@dataclasses.dataclass(frozen=True)
class RenderOptions:
    """Choices a caller makes about the output; the defaults suit a report on its own."""

    verdict: bool = True
    """Write the verdict line under the text ladder (the console summary, which prints a
    fuller verdict right after the ladder, turns it off)."""
    capture: bytes = dataclasses.field(default=b"", repr=False)
    """The capture file the HTML report embeds as its download link; empty for none."""
    capture_name: str = ""
    """The download's file name; empty for ``<scenario>.pcapng`` (a capture of ours).  A
    user's own file keeps its name, which may end in ``.pcap``."""
    capture_skipped: str = ""
    """Why the capture is not embedded (too big), said in the HTML report instead."""
    quiz: bool = False
    """Start the HTML report in quiz mode: its player hides each syscall's result and each new
    TCP state until the reader asks to reveal it (the page's own toggle turns it on and off)."""
    why: str = ""
    """Why the report draws its connection, when the caller chose it (``--rst``...)."""
    more: tuple[tuple[Prepared, str], ...] = dataclasses.field(default=(), repr=False)
    """Further connections of the same trace drawn after the first (``--connection`` given
    several times, ``--all-connections``), each with why; html, md and txt draw them."""
    more_note: str = ""
    """What was left undrawn (``--all-connections`` draws at most so many), said once."""


@dataclasses.dataclass(frozen=True)
class ReportChoices:
    """What ``--style``, ``--proportional-time`` and ``--quiz`` chose for a command's reports."""

    style: str = "default"
    """The diagram's style (``default`` or ``projector``)."""
    proportional: bool = False
    """Time to scale on the ladder."""
    quiz: bool = False
    """HTML reports open in quiz mode."""

    def options(self, base: RenderOptions | None = None) -> RenderOptions:
        """``base`` (default: the defaults) with these choices."""
        return dataclasses.replace(base or RenderOptions(), quiz=self.quiz)
