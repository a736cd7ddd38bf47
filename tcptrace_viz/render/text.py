"""ASCII ladder for terminals and tickets (at most ``WIDTH`` columns).

::

    t (ms) client 127.0.0.1:40000 |                                | server 127.0.0.1:5555
     0.210                        |<---[P.] seq 1:4 ack 2 len 3----|
     0.215                [CLOSE] |                                |
     0.220         RST: NO_SOCKET |========[R] seq 2 len 0========>|
     0.310                        |                                | send() -> EPIPE

Time runs down.  Each line is one event: an arrow for a packet (``===`` for a reset), a state
change (``[STATE]``) or a syscall result written beside the lifeline of the side it belongs to.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Final

from tcptrace_viz.render.ladder_model import Event, Ladder
from tcptrace_viz.render.safe_text import printable, truncate, without_window
from tcptrace_viz.render.wording import FLAG_LEGEND, STATE_LEGEND, verdict_word

if TYPE_CHECKING:
    from tcptrace_viz.meta import TraceMeta
    from tcptrace_viz.render.options import RenderOptions
    from tcptrace_viz.render.prepared import Prepared

WIDTH: Final = 100
"""No line is wider than this."""
MAX_EVENTS: Final = 70
"""A terminal shows fewer events than the diagram before eliding the middle."""
KEEP_EACH_END: Final = 25
_MIN_ARROW: Final = 26
_MAX_SIDE: Final = 32


class TextLadder:
    """The ``txt`` format."""


    def render(self, prepared: Prepared, options: RenderOptions) -> str:
        """The ASCII ladder, legend and verdict as one string ending in a newline."""
        return ladder_text(prepared.ladder(MAX_EVENTS, KEEP_EACH_END), prepared.trace.meta,
                           verdict=options.verdict)


def _packet_label(event: Event) -> str:
    return printable(without_window(event.label))


def _side_text(event: Event) -> str:
    """What is written beside a lifeline on this event's line."""
    if event.kind == "packet":
        return f"RST: {printable(event.reason)}" if event.rst and event.reason else ""
    if event.kind == "state":
        return printable(event.label)
    if event.kind == "syscall":
        return printable(event.label)
    return ""


def _arrow(label: str, width: int, rightwards: bool, rst: bool) -> str:
    """``------label----->`` filling ``width`` columns (``<`` and leftwards when not rightwards)."""
    shaft = "=" if rst else "-"
    label = truncate(label, width - 4)
    room = width - 1 - len(label)
    before = room // 2
    after = room - before
    if rightwards:
        return shaft * before + label + shaft * after + ">"
    return "<" + shaft * before + label + shaft * after


def ladder_text(ladder: Ladder, meta: TraceMeta, width: int = WIDTH, *,
                verdict: bool = True) -> str:
    """Render a laid-out ladder as text lines no wider than ``width`` (with the verdict line
    unless ``verdict`` is False)."""
    events = ladder.events
    time_head = f"t ({ladder.time_unit[0]})"
    time_w = max([len(ladder.time_label(e)) for e in events] + [len(time_head)])
    left_need = max([len(_side_text(e)) for e in events if e.lane == 0] + [0])
    label_need = max([len(_packet_label(e)) for e in events if e.kind == "packet"] + [0])
    right_need = max([len(_side_text(e)) for e in events if e.lane == 1]
                     + [len(ladder.lifelines[1].label)])
    left_w = min(max(left_need, len(ladder.lifelines[0].label)), _MAX_SIDE)
    # time, space, left text, " |", arrow, "| ", right text
    fixed = time_w + 1 + left_w + 2 + 2
    arrow_w = max(label_need + 8, _MIN_ARROW)
    arrow_w = min(arrow_w, max(width - fixed - right_need, label_need + 4), width - fixed - 12)
    right_w = width - fixed - arrow_w

    def line(time: str, left: str, middle: str, right: str, bar: str = "|") -> str:
        left = truncate(left, left_w)
        right = truncate(right, right_w)
        return (f"{time:>{time_w}} {left:>{left_w}} {bar}{middle:^{arrow_w}}{bar} {right}"
                ).rstrip()

    out = [truncate(printable(ladder.title), width)]
    if ladder.note:
        out.append(truncate(printable(ladder.note), width))
    out.append("")
    client, server = ladder.lifelines
    out.append(line(time_head, printable(client.label), "", printable(server.label)))
    for event in events:
        time = ladder.time_label(event)
        if event.kind == "packet":
            middle = _arrow(_packet_label(event), arrow_w, event.lane == 0, event.rst)
            side = _side_text(event)
            out.append(line(time, side if event.lane == 0 else "", middle,
                            side if event.lane == 1 else ""))
        elif event.kind in ("state", "syscall"):
            text = _side_text(event)
            out.append(line(time, text if event.lane == 0 else "", "",
                            text if event.lane == 1 else ""))
        elif event.kind == "gap":
            out.append(line("", "", f"~ {printable(event.label)} ~"[:arrow_w], "", bar=":"))
        else:
            label = f"... {printable(event.label)} ..."
            if len(label) <= arrow_w:
                out.append(line("", "", label, "", bar=":"))
            else:
                out.append(line("", "", "...", "", bar=":"))
                out.append(truncate(" " * (time_w + 1) + label, width))
    if not events:
        out.append("(no packets, state changes or syscalls in this trace)")
    out.append("")
    out.extend(_footer(ladder, meta, width, verdict))
    return "\n".join(line.rstrip() for line in out) + "\n"


def _footer(ladder: Ladder, meta: TraceMeta, width: int, with_verdict: bool
            ) -> list[str]:
    lines: list[str] = []
    if ladder.has_wire:
        lines.append(FLAG_LEGEND + " === marks a reset.")
    if any(e.kind == "state" for e in ladder.events):
        lines.append(STATE_LEGEND)
    if ladder.packets_drawn < ladder.packets_total:
        lines.append(f"{ladder.packets_drawn} of {ladder.packets_total} packets drawn; "
                     "the full list is in the HTML report and the pcapng.")
    verdict = verdict_word(meta) if with_verdict else ""
    if verdict:
        # the expected/observed lists are in the HTML and Markdown reports (and the CLI prints
        # them after a capture): one line here keeps the terminal readable
        detail = str(meta.verdict_detail or "")
        lines.append(f"Verdict: {verdict}" + (f": {detail}" if detail else "."))
    if meta.partial:
        problem = str(meta.problem or "the reading stopped early").rstrip(".")
        lines.append(f"Partial trace: {problem}.")
    stats = meta.stats
    if isinstance(stats, dict):
        lines += [f"Lost: {loss}." for loss in stats.get("losses") or []]
    wrapped: list[str] = []
    for text in lines:
        wrapped.extend(textwrap.wrap(printable(text), width, break_long_words=True,
                                     break_on_hyphens=False) or [""])
    return wrapped
