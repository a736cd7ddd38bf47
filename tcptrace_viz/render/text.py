"""ASCII ladder for terminals and tickets (at most ``WIDTH`` columns).

::

    t (ms) client 127.0.0.1:40000 |                                | server 127.0.0.1:5555
     0.210                        |<---[P.] seq 1:4 ack 2 len 3----|
     0.215                [CLOSE] |                                |
     0.220         RST: NO_SOCKET |========[R] seq 2 len 0========>|
     0.310                        |                                | send() -> EPIPE

Time runs down.  Each line is one event: an arrow for a packet (``===`` for a reset), a state
change (``[STATE]``) or a syscall result written beside the lifeline of the side it belongs to.

Nothing a reader needs is cut: the columns are sized from what they hold, endpoints too long
for the column header get header lines of their own above it, and a result too long for its
column goes on continuation lines below the event (the lifelines run on beside them).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Final

from tcptrace_viz.render.capture_triage import findings_lines, triage_lines
from tcptrace_viz.render.file_comments import file_comment_items
from tcptrace_viz.render.ladder_model import Event, Ladder
from tcptrace_viz.render.program_facts import is_program, run_lines
from tcptrace_viz.render.safe_text import printable, truncate, without_window
from tcptrace_viz.render.text_columns import Columns, columns_for, wrap_text
from tcptrace_viz.render.wording import (
    FLAG_LEGEND,
    INJECTED_LEGEND,
    STATE_LEGEND,
    settings_text,
    verdict_word,
)

if TYPE_CHECKING:
    from tcptrace_viz.meta import TraceMeta
    from tcptrace_viz.render.options import RenderOptions
    from tcptrace_viz.render.prepared import Prepared

WIDTH: Final = 100
"""No line is wider than this."""
MAX_EVENTS: Final = 70
"""A terminal shows fewer events than the diagram before eliding the middle."""
KEEP_EACH_END: Final = 25


class TextLadder:
    """The ``txt`` format."""


    def render(self, prepared: Prepared, options: RenderOptions) -> str:
        """The ASCII ladder, legend and verdict as one string ending in a newline (after the
        connections and findings, for a user's capture)."""
        ladder = prepared.ladder(MAX_EVENTS, KEEP_EACH_END)
        text = ladder_text(ladder, prepared.trace.meta, verdict=options.verdict)
        if is_program(prepared.trace.meta):  # how it ended, what it found, which fd was which
            text += "\n" + "".join(
                "\n".join(wrap_text(printable(head + value), WIDTH,
                                    indent=" " * len(head))) + "\n"
                for head, value in run_lines(prepared))
        triage = triage_lines(prepared, "txt", options)
        if not triage:
            return text
        title = "\n".join(wrap_text(printable(ladder.title), WIDTH))  # the triage goes under it
        out = title + "\n\n" + "\n".join(triage) + text[len(title) + 1:]
        for extra, why in options.more:  # further connections: findings and ladder each
            conn = int(extra.selection.connection or 0)
            out += "\n" + "\n".join([f"Connection {conn}" + (f": {why}" if why else ""),
                                     "Findings:", *findings_lines(extra.trace, conn, "txt"),
                                     ""]) + "\n"
            out += ladder_text(extra.ladder(MAX_EVENTS, KEEP_EACH_END), extra.trace.meta,
                               verdict=False)
        return out


def _packet_label(event: Event) -> str:
    return printable(without_window(event.label))


def _side_text(event: Event) -> str:
    """What is written beside a lifeline on this event's line (a key moment's number first)."""
    text = ""
    if event.kind == "packet":
        text = f"RST: {printable(event.reason)}" if event.rst and event.reason else ""
    elif event.kind in ("state", "syscall"):
        text = printable(event.label)
    if event.moment:
        text = f"({event.moment}) {text}".rstrip()
    return text


def _arrow(label: str, width: int, rightwards: bool, rst: bool, lost: bool = False) -> str:
    """``------label----->`` filling ``width`` columns (``<`` and leftwards when not rightwards);
    a segment the receiver's kernel dropped ends in ``X`` instead of a head."""
    shaft = "=" if rst else "-"
    label = truncate(label, width - 4)
    room = width - 1 - len(label)
    before = room // 2
    after = room - before
    if rightwards:
        return shaft * before + label + shaft * after + ("X" if lost else ">")
    return ("X" if lost else "<") + shaft * before + label + shaft * after


def _wrapped(text: str, width: int) -> list[str]:
    """``text`` on as many lines as ``width`` needs (no line for no text)."""
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) if text \
        else []


class _Grid:
    """Lines of the ladder: the time, the left text, the arrow and the right text in columns."""

    def __init__(self, time_w: int, cols: Columns) -> None:
        self.time_w = time_w
        self.cols = cols

    def line(self, time: str, left: str, middle: str, right: str, bar: str = "|") -> str:
        """One line; texts are cut only if they are longer than ``wrap_text`` ever leaves."""
        cols = self.cols
        left = truncate(left, cols.left)
        right = truncate(right, cols.right)
        return (f"{time:>{self.time_w}} {left:>{cols.left}} {bar}{middle:^{cols.arrow}}{bar} "
                f"{right}").rstrip()

    def beside(self, time: str, middle: str, event: Event) -> list[str]:
        """The event's line, then continuation lines for a side text too long for its column
        (the lifelines run on beside them)."""
        if event.lane == 0:
            first, *more = wrap_text(_side_text(event), self.cols.left) or [""]
            return [self.line(time, first, middle, ""),
                    *(self.line("", text, "", "") for text in more)]
        first, *more = wrap_text(_side_text(event), self.cols.right, indent="  ") or [""]
        return [self.line(time, "", middle, first),
                *(self.line("", "", "", text) for text in more)]


def ladder_text(ladder: Ladder, meta: TraceMeta, width: int = WIDTH, *,
                verdict: bool = True) -> str:
    """Render a laid-out ladder as text lines no wider than ``width`` (with the verdict line
    unless ``verdict`` is False)."""
    events = ladder.events
    time_head = f"t ({ladder.time_unit[0]})"
    time_w = max([len(ladder.time_label(e)) for e in events] + [len(time_head)])
    client, server = ladder.lifelines
    cols = columns_for(
        width - time_w - 5,  # time, space, left text, " |", arrow, "| ", right text
        arrow_need=max([len(_packet_label(e)) for e in events if e.kind == "packet"] + [0]),
        left_need=max([len(_side_text(e)) for e in events if e.lane == 0] + [0]),
        right_need=max([len(_side_text(e)) for e in events if e.lane == 1] + [0]),
        left_head=len(printable(client.label)), right_head=len(printable(server.label)))
    grid = _Grid(time_w, cols)
    out = wrap_text(printable(ladder.title), width)
    out += wrap_text(printable(ladder.note), width)
    if ladder.loss:
        out += wrap_text(printable(ladder.loss) + ".", width)
    out.append("")
    out += _header(ladder, grid, width, time_head)
    for event in events:
        time = ladder.time_label(event)
        if event.kind == "packet":
            arrow = _arrow(_packet_label(event), cols.arrow, event.lane == 0, event.rst,
                               bool(event.lost))
            out += grid.beside(time, arrow, event)
        elif event.kind in ("state", "syscall"):
            out += grid.beside(time, "", event)
        elif event.kind == "gap":
            out.append(grid.line("", "", f"~ {printable(event.label)} ~"[:cols.arrow], "",
                                 bar=":"))
        else:
            label = f"... {printable(event.label)} ..."
            if len(label) <= cols.arrow:
                out.append(grid.line("", "", label, "", bar=":"))
            else:
                out.append(grid.line("", "", "...", "", bar=":"))
                out += [" " * (time_w + 1) + text
                        for text in _wrapped(label, width - time_w - 1)]
    if not events and meta.source == "file":
        out.append(f"(no TCP segments among the {meta.frames_total:,} frames of this capture)")
    elif not events:
        out.append("(no packets, state changes or syscalls in this trace)")
    out.append("")
    out.extend(_footer(ladder, meta, width, verdict))
    return "\n".join(line.rstrip() for line in out) + "\n"


def _header(ladder: Ladder, grid: _Grid, width: int, time_head: str) -> list[str]:
    """The column header, with the endpoints in it when they fit, else on lines above it."""
    client, server = ladder.lifelines
    if grid.cols.heads_inline:
        return [grid.line(time_head, printable(client.label), "", printable(server.label))]
    role_w = max(len(printable(client.side)), len(printable(server.side)))
    out = []
    for lifeline in (client, server):
        text = f"{printable(lifeline.side):<{role_w}}  {printable(lifeline.address)}".rstrip()
        out += _wrapped(text, width)
    return [*out, "", grid.line(time_head, printable(client.side), "", printable(server.side))]


def _footer(ladder: Ladder, meta: TraceMeta, width: int, with_verdict: bool
            ) -> list[str]:
    lines: list[str] = []
    notes: list[str] = []
    for number, says in enumerate(ladder.moments, start=1):
        notes += wrap_text(printable(f"({number}) {says}"), width, indent="    ")
    for reason, words in ladder.glossed_resets():
        notes += wrap_text(printable(f"RST {reason}: {words}"), width, indent="    ")
    if notes:
        notes.append("")
    if ladder.has_wire:
        lines.append(FLAG_LEGEND + " === marks a reset."
                     + (" " + INJECTED_LEGEND if ladder.has_injected else ""))
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
    elif meta.problem:  # read to the end, but some frames could not be used
        lines.append(f"Not everything in the file is shown: {str(meta.problem).rstrip('.')}.")
    lines += [f"{label.capitalize()}: {text}" for label, text in file_comment_items(meta)]
    if settings_text(meta):
        lines.append(f"Settings: {settings_text(meta)}"
                     + (" (in the run's namespace only)." if meta.sysctls_set else "."))
    stats = meta.stats
    if isinstance(stats, dict):
        lines += [f"Lost: {loss}." for loss in stats.get("losses") or []]
        lines += [f"Lost on purpose: {line}." for line in stats.get("dropped_on_purpose") or []]
    wrapped: list[str] = []
    for text in lines:
        wrapped.extend(_wrapped(printable(text), width) or [""])
    return notes + wrapped
