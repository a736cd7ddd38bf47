"""The HTML report: one self-contained file (inline SVG, CSS and script; nothing external).

It shows, top to bottom: what the scenario teaches and its verdict (expected beside observed),
the capture's environment, for a user's own capture the connection table and findings in plain
words, the ladder diagram, and the merged timeline table.  Hovering a table row highlights its
arrow, band or marker in the diagram and the other way round (``data-ref`` on rows, ``tv-*``
ids in the SVG, one small inline script allowed by its CSP hash).  The same script plays the
timeline step by step beside a live TCP state machine, with a quiz mode (see :mod:`.lesson`).
"""

from __future__ import annotations

import base64
import dataclasses
from typing import TYPE_CHECKING, Any, Final

from tcptrace_viz.analysis.selection import rows_of
from tcptrace_viz.event_text import size_text
from tcptrace_viz.render.capture_table import capture_analysis
from tcptrace_viz.render.data_loss import data_loss
from tcptrace_viz.render.file_comments import file_comment_items
from tcptrace_viz.render.labels import calls_failed
from tcptrace_viz.render.lesson import lesson_context
from tcptrace_viz.render.options import RenderOptions
from tcptrace_viz.render.prepared import TIMELINE_MAX
from tcptrace_viz.render.program_facts import program_items
from tcptrace_viz.render.templating import (
    content_security_policy,
    environment,
    static_text,
    trusted_svg,
)
from tcptrace_viz.render.wording import as_list, settings_text, sysctl_items, verdict_word
from tcptrace_viz.tcp import OBSERVED_SOURCES
from tcptrace_viz.vocabulary import direction_text

if TYPE_CHECKING:
    from tcptrace_viz.meta import TraceMeta
    from tcptrace_viz.render.ladder_model import Ladder
    from tcptrace_viz.render.prepared import Prepared

TABLE_MAX: Final = TIMELINE_MAX
"""Timeline rows shown at most (the pcapng holds the rest)."""
PAYLOAD_PREVIEW: Final = 48
SCRIPT_FILES: Final = ("report.js", "connections.js")
"""The page's one inline script, in parts: the ladder and its player; the connection table."""
STATE_SOURCE_TEXT: Final[dict[str, str]] = {
    "tracepoint": "traced in the kernel (sock:inet_sock_set_state tracepoint)",
    "socket-table": "read from the namespace's socket table",
    "sampled": "sampled after each call, from TCP_INFO and then the socket table (tracefs was "
               "unavailable; short-lived states may be missed)",
    "inferred": "inferred from the packets (no kernel trace: these are educated guesses)",
}

GLOSSARY: Final[tuple[tuple[str, str], ...]] = (
    ("SYN", "opens a connection (the first two segments of the three-way handshake)"),
    ("ACK (.)", "acknowledges bytes: 'ack N' means 'I have everything before byte N'"),
    ("PSH (P)", "carries data the receiver should hand to the application now"),
    ("FIN (F)", "'I will send no more data'; the other side may still send"),
    ("RST (R)", "abort: the connection is gone; data still queued is thrown away"),
    ("ESTABLISHED", "the connection is open in both directions"),
    ("FIN_WAIT1 / FIN_WAIT2", "we sent FIN (waiting for its ACK / for the peer's FIN)"),
    ("CLOSE_WAIT", "the peer sent FIN; our application has not closed yet"),
    ("LAST_ACK", "we closed after the peer; waiting for the ACK of our FIN"),
    ("CLOSING", "both sides sent FIN at the same time"),
    ("TIME_WAIT", "the active closer waits (2 x MSL) so stray segments die out"),
    ("CLOSE", "the socket is gone; a segment arriving for it is answered with RST"),
)


class HtmlReport:
    """The ``html`` format."""


    def render(self, prepared: Prepared, options: RenderOptions) -> str:
        """The self-contained HTML report."""
        return report_html(prepared, options)


def report_html(prepared: Prepared, options: RenderOptions | None = None) -> str:
    """Render the report of a prepared trace (one connection of it)."""
    options = options or RenderOptions()
    trace = prepared.trace
    selection = prepared.selection
    ladder = prepared.ladder()
    script = "\n".join(static_text(name) for name in SCRIPT_FILES)
    meta = trace.meta
    drawn = tuple(int(extra.selection.connection or 0) for extra, _ in options.more)
    context: dict[str, Any] = {
        "csp": content_security_policy(script),
        "script": script,
        "css": static_text("report.css"),
        "heading": heading(meta),
        "h1": meta.display_name,
        "subtitle": str(meta.title or ""),
        "teaches": str(meta.teaches or ""),
        "steps": str(meta.steps or ""),
        "verdict": verdict_word(meta),
        "verdict_detail": str(meta.verdict_detail or ""),
        "expected": as_list(meta.expected),
        "observed": as_list(meta.observed),
        "data_loss": _data_loss(meta),
        "facts": _facts(meta),
        "sysctls": sysctl_items(meta),
        "warnings": _warnings(meta, ladder, meta.source == "file"),
        "download": _download(meta, options),
        "download_skipped": options.capture_skipped,
        "capture": capture_analysis(trace, selection, drawn, options.why)
        if meta.source in ("file", "run") else None,
        "more": [_more(extra, why) for extra, why in options.more],
        "more_notes": [options.more_note] if options.more_note else [],
        "svg": trusted_svg(prepared.svg),
        "ladder": ladder,
        "rows": _timeline_rows(prepared, ladder),
        "time_unit": ladder.time_unit[0],
        "time_origin": selection.time_origin.replace("its first", f"connection "
                                                     f"{selection.connection}'s first"),
        "has_wire": ladder.has_wire,
        "events_total": prepared.timeline_length,
        "glossary": GLOSSARY,
        "moments": _moments(ladder),
        "reset_glosses": ladder.glossed_resets(),
        **lesson_context(prepared, options),
    }
    return environment().get_template("report.html.j2").render(context)


def heading(meta: TraceMeta) -> str:
    """The page title: the scenario, or the user's capture file."""
    if meta.scenario:
        return f"tcptrace-viz: {meta.scenario}"
    if meta.file:
        return f"tcptrace-viz: {meta.file}"
    return "tcptrace-viz report"


def _moments(ladder: Ladder) -> list[tuple[int, str, str]]:
    """The key moments: number, plain words, and the ref of the event drawn for it."""
    refs = {event.moment: event.ref for event in ladder.events if event.moment}
    return [(number, says, refs.get(number, ""))
            for number, says in enumerate(ladder.moments, start=1)]


def _data_loss(meta: TraceMeta) -> dict[str, int] | None:
    counted = data_loss(meta)
    if counted is None:
        return None
    accepted, delivered = counted
    return {"accepted": accepted, "delivered": delivered, "lost": accepted - delivered}


def _facts(meta: TraceMeta) -> list[tuple[str, str]]:
    """Label/value pairs about where and how the trace was made (absent ones left out)."""
    facts: list[tuple[str, str]] = program_items(meta)
    if meta.file:
        facts.append(("capture file", str(meta.file)))
    facts += file_comment_items(meta)
    if meta.parameters:
        facts.append(("parameters (--set)", settings_text(dataclasses.replace(
            meta, sysctls_set={}))))
    for key, label in (("kernel", "kernel"), ("family", "address family"),
                       ("captured_at", "captured at (UTC)"), ("tool_version", "tcptrace-viz")):
        if getattr(meta, key):
            facts.append((label, str(getattr(meta, key))))
    endpoints = meta.endpoints
    if isinstance(endpoints, dict) and endpoints:
        facts.append(("endpoints", ", ".join(f"{k} {v}" for k, v in endpoints.items())))
    source = str(meta.state_source or "")
    if source:
        facts.append(("TCP states", STATE_SOURCE_TEXT.get(source, source)))
    stats = meta.stats
    if isinstance(stats, dict) and stats:
        facts.append(("capture counters", ", ".join(f"{k} {v}" for k, v in stats.items()
                                                    if not isinstance(v, list | dict))))
    return facts


def _warnings(meta: TraceMeta, ladder: Ladder, capture: bool) -> list[str]:
    """Things a reader must know before trusting the picture."""
    out: list[str] = []
    if meta.partial:
        problem = str(meta.problem or "the reading stopped early").rstrip(".")
        out.append(f"This trace is incomplete: {problem}.")
    elif meta.problem:  # read to the end, but some frames could not be used
        out.append(f"Not everything in the file is shown: {str(meta.problem).rstrip('.')}.")
    stats = meta.stats
    if isinstance(stats, dict):
        losses = stats.get("losses")
        checks = [("tracer_overruns", "kernel trace events were lost (overruns)")]
        if isinstance(losses, list):  # where each segment was lost (capture.losses)
            out += [f"Lost: {loss}: the picture may miss events." for loss in losses]
        else:  # a capture made before losses were named
            checks.insert(0, ("dropped", "packets were dropped by the kernel during capture"))
        out += [f"Lost on purpose: {line}; the dropped copy is drawn with an X where it died."
                for line in stats.get("dropped_on_purpose") or []]
        for key, what in checks:
            if int(stats.get(key) or 0) > 0:
                out.append(f"{stats[key]} {what}: the picture may miss events.")
    for note in meta.order_notes or []:
        out.append(f"Out of causal order, as the kernel timestamped it: {note}.")
    if meta.state_source == "sampled":
        out.append("TCP states were sampled, not traced: a state that lasted only briefly may "
                   "be missing.")
    if ladder.packets_drawn < ladder.packets_total:
        out.append(f"The diagram draws {ladder.packets_drawn} of {ladder.packets_total} packets "
                   "(the first and the last); the table and the pcapng have them all.")
    if ladder.note and not capture:
        out.append(ladder.note + ".")
    return out


def _download(meta: TraceMeta, options: RenderOptions) -> dict[str, str] | None:
    data = options.capture
    if not data:
        return None
    name = str(meta.scenario or "trace").replace("/", "_").replace("\\", "_") or "trace"
    # A user's own file keeps its name (it may be a classic pcap); a capture is a pcapng.
    filename = options.capture_name or f"{name}.pcapng"
    filename = filename.replace("/", "_").replace("\\", "_")
    return {
        "href": "data:application/octet-stream;base64," + base64.b64encode(data).decode("ascii"),
        "filename": filename,
        "size": size_text(len(data)),
    }


@dataclasses.dataclass(frozen=True)
class TimelineRow:
    """One row of the report's timeline table."""

    ref: str
    t: str
    kind: str
    who: str
    text: str
    frame: str
    payload: str
    classes: str


def _timeline_rows(prepared: Prepared, ladder: Ladder) -> list[TimelineRow]:
    table = prepared.timeline
    unit, factor = ladder.time_unit
    decimals = 3 if unit == "ms" else 6
    trace = prepared.selection.trace
    sides = trace.sides
    # whole columns once, not one pandas row lookup per table row
    packets, states, calls = trace.packets, trace.states, trace.syscalls
    frames = packets["frame"].to_numpy(dtype="int64")
    payloads = packets["payload"].astype(str).to_numpy()
    directions = packets["dir"].to_numpy()
    resets = packets["flags"].astype(str).str.contains("R", regex=False).to_numpy()
    inferred = ~states["source"].isin(OBSERVED_SOURCES).to_numpy()
    failed = calls_failed(calls["errno"], calls["signal"])  # EAGAIN is no failure
    rows: list[TimelineRow] = []
    for item in rows_of(table.head(TABLE_MAX)):
        row = int(item.row)
        classes = [str(item.kind)]
        frame = payload = ""
        who = str(item.side)
        if item.kind == "packet":
            ref = f"p{row}"
            frame = str(int(frames[row])) if frames[row] > 0 else ""
            payload = _preview(str(payloads[row]))
            who = _direction(directions[row], sides, str(item.side))
            if resets[row]:
                classes.append("rst")
        elif item.kind == "state":
            ref = f"s{row}"
            if inferred[row]:
                classes.append("inferred")
        elif item.kind == "call":
            ref = f"c{row}s"
        else:
            ref = f"c{row}"
            if failed[row]:
                classes.append("error")
        rows.append(TimelineRow(ref, f"{float(item.t) * factor:.{decimals}f}", str(item.kind), who,
                                str(item.text), frame, payload, " ".join(classes)))
    return rows


def _direction(direction: object, sides: list[str], sender: str) -> str:
    if direction in ("c2s", "s2c"):
        return direction_text(str(direction), sides).replace("→", " → ")
    return sender


def _preview(payload: str) -> str:
    if len(payload) > PAYLOAD_PREVIEW:
        return payload[:PAYLOAD_PREVIEW] + "…"
    return payload


def _more(prepared: Prepared, why: str) -> dict[str, Any]:
    """A further connection drawn in the report: its ladder (its ``tv-`` ids renamed, so the
    main ladder's hover links stay its own), why it is drawn and its findings."""
    from tcptrace_viz.analysis import findings

    conn = int(prepared.selection.connection or 0)
    svg = prepared.svg.replace('id="tv-', f'id="c{conn}-tv-')
    found = [{"text": item.text, "frame": int(item.frame) or "", "ref": ""}
             for item in findings(prepared.trace.packets, conn)]
    return {"conn": conn, "why": why, "svg": trusted_svg(svg), "findings": found}
