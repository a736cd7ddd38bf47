"""The ladder's layout, shared by the text ladder, the matplotlib ladder and the HTML report.

``build_ladder()`` turns a Trace (or one of its connections) into a ``Ladder``: two lifelines,
a list of events in time order, each with a vertical position in *rows*, and the kernel state
bands along each lifeline.  Renderers only draw what it says, so every format shows the same
story, and the position rules live in one place:

- every event gets its own row, so labels never overlap, even when events share a nanosecond;
- a short pause adds a little space in proportion to its length (piecewise-linear in time);
- an idle gap much longer than the interesting parts becomes one fixed-height ``gap`` marker
  ("… 5.0 s idle …"), so a 5 s pause does not squash everything else;
- a long trace keeps its first and last events and replaces the middle with ``elided`` markers.
  Kernel state changes are never elided, so the state bands always match the states table.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import pandas as pd

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.event_text import (
    describe_call_start,
    describe_packet,
    describe_state,
    describe_syscall,
)
from tcptrace_viz.model import OBSERVED_SOURCES, Trace, call_moments

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

EventKind = Literal["packet", "state", "syscall", "gap", "elided"]

ROW: Final = 1.0
"""Vertical space of one event."""
EXTRA: Final = 1.0
"""Most extra space a pause that is not broken can add (at the break threshold)."""
GAP_HEIGHT: Final = 2.2
"""Height of a broken (compressed) idle gap, marker included."""
BREAK_MIN_NS: Final = 200_000_000
"""A pause shorter than this (0.2 s) is never broken."""
BREAK_MEDIAN_FACTOR: Final = 8
"""... nor one shorter than this many times the median pause between events."""
MAX_EVENTS: Final = 120
"""Above this many events, only the first and last ``KEEP_EACH_END`` packets/syscalls are drawn."""
KEEP_EACH_END: Final = 40
SPAN_MARGIN_NS: Final = 50_000_000
"""Syscalls this close to a connection's packets belong to it (multi-connection traces)."""
FIN_RECV_CALLS: Final = frozenset({"recv", "recvfrom", "recvmsg", "read"})
_FLAGS_RE: Final = re.compile(r"[A-Z][A-Z0-9_]*(\|[A-Z][A-Z0-9_]*)*")
"""A result that is a set of flags (``POLLIN|POLLRDHUP``): written ``poll() -> POLLIN``."""


@dataclasses.dataclass(frozen=True)
class Lifeline:
    """One endpoint, drawn as a vertical line."""

    side: str
    """Role name, e.g. ``"client"``."""
    address: str
    """``addr:port`` (IPv6 in brackets), or ``""`` when there is no address (pipe, socketpair)."""

    @property
    def label(self) -> str:
        """``client 127.0.0.1:40000``, or just the role."""
        return f"{self.side} {self.address}" if self.address else self.side


@dataclasses.dataclass(frozen=True)
class Event:
    """One row of the ladder: a packet, a state change, a syscall, an idle gap or an elision."""

    kind: EventKind
    y: float
    """Vertical position in rows, growing downwards."""
    ts_ns: int
    t: float
    """Seconds since the trace's first event."""
    lane: int
    """0 = left lifeline, 1 = right lifeline; for packets the *sender*; -1 for markers."""
    label: str
    """Short text drawn on the diagram."""
    detail: str = ""
    """Full one-line description (the timeline table's text)."""
    ref: str = ""
    """Stable id shared by the diagram and the timeline table: ``p3``, ``s0``, ``c4``."""
    row: int = -1
    """Index in the source table (packets, states or syscalls)."""
    rst: bool = False
    """A packet with the RST flag."""
    reason: str = ""
    """For RST packets, the kernel's reset reason when known."""
    state: str = ""
    """For state changes, the new state."""
    observed: bool = True
    """For state changes: seen in the kernel (True) or sampled/inferred (False)."""
    error: bool = False
    """For syscalls: failed or killed by a signal."""
    frame: int = 0
    """For packets, the frame number in the capture file."""
    start: bool = False
    """For syscalls: where a call that spans other events began (its result comes later)."""


@dataclasses.dataclass(frozen=True)
class StateBand:
    """A coloured stretch of a lifeline while the socket is in one state."""

    lane: int
    state: str
    y0: float
    y1: float
    observed: bool
    ref: str
    """The ref of the state-change event that starts it."""


@dataclasses.dataclass(frozen=True)
class Ladder:
    """Everything a ladder renderer draws."""

    title: str
    lifelines: tuple[Lifeline, Lifeline]
    events: tuple[Event, ...]
    bands: tuple[StateBand, ...]
    height: float
    """Bottom of the ladder, in rows."""
    note: str = ""
    """Extra context, e.g. which connection of several is shown."""
    packets_total: int = 0
    packets_drawn: int = 0
    has_wire: bool = True
    """False when the scenario has no wire traffic at all (pipe, socketpair)."""
    name: str = ""
    """The scenario (or capture file) alone, for a bold heading."""
    subtitle: str = ""
    """The scenario's one-line title, when it has one."""

    @property
    def time_unit(self) -> tuple[str, float]:
        """(unit, factor) for time labels: milliseconds when the trace lasts under 10 s
        (loopback stories take microseconds: ``0.215 ms`` reads better than ``0.000215``)."""
        span = max((e.t for e in self.events), default=0.0)
        return ("ms", 1e3) if span < 10 else ("s", 1.0)

    def time_label(self, event: Event) -> str:
        """The event's time in ``time_unit``, fixed decimals so columns line up."""
        unit, factor = self.time_unit
        return f"{event.t * factor:.3f}" if unit == "ms" else f"{event.t:.6f}"

    def of_kind(self, kind: EventKind) -> list[Event]:
        """The events of one kind, in order."""
        return [event for event in self.events if event.kind == kind]


# --- selecting what to draw ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Selection:
    """The part of a Trace one ladder (or report) shows."""

    trace: Trace
    """A Trace holding only the selected connection's rows (the source trace when all fit)."""
    origin_ns: int
    """The full trace's first event, so times match the capture file."""
    connections: tuple[int, ...]
    """All connection indexes in the source trace."""
    connection: int | None
    """The connection shown, or None when the trace has at most one."""

    @property
    def note(self) -> str:
        """Which connection is shown, when there is a choice."""
        if self.connection is None or len(self.connections) < 2:
            return ""
        return (f"Connection {self.connection} of {len(self.connections)} shown "
                f"(choose another with --connection N)")


def rows_of(frame: pd.DataFrame) -> Iterator[Any]:
    """The frame's rows as namedtuples (typed loosely: columns are known by the schema)."""
    return frame.itertuples(index=False)


def _norm_endpoint(text: str) -> str:
    return text.replace("[", "").replace("]", "")


def endpoint_text(addr: str, port: int) -> str:
    """``127.0.0.1:5555`` or ``[::1]:5555``."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def select(trace: Trace, connection: int | None = None) -> Selection:
    """Pick one connection out of ``trace``.

    With ``connection=None`` a trace with several connections shows its first one (the report
    says so).  States are matched to the connection by their addresses; syscalls, which carry
    none, by time when there is more than one connection.

    Raises:
        BadInputError: ``connection`` is not one of the trace's connections.
    """
    packets = trace.packets
    conns = tuple(sorted(int(c) for c in pd.unique(packets["conn"]))) if len(packets) else ()
    if connection is not None and connection not in conns:
        available = ", ".join(str(c) for c in conns) or "none"
        raise BadInputError(f"connection {connection} is not in this trace "
                            f"(connections: {available}).")
    if len(conns) <= 1:
        return Selection(trace, trace.origin_ns, conns, connection)
    chosen = conns[0] if connection is None else connection
    pkts = packets[packets["conn"] == chosen].reset_index(drop=True)
    tuples = {(_norm_endpoint(endpoint_text(r.src, r.sport)),
               _norm_endpoint(endpoint_text(r.dst, r.dport)))
              for r in rows_of(pkts[["src", "sport", "dst", "dport"]].drop_duplicates())}
    states = trace.states
    if len(states):
        keep = [(_norm_endpoint(str(loc)), _norm_endpoint(str(rem))) in tuples
                for loc, rem in zip(states["local"], states["remote"], strict=True)]
        states = states[np.asarray(keep, dtype=bool)].reset_index(drop=True)
    syscalls = trace.syscalls
    if len(syscalls) and len(pkts):
        lo = int(pkts["ts_ns"].min()) - SPAN_MARGIN_NS
        hi = int(pkts["ts_ns"].max()) + SPAN_MARGIN_NS
        syscalls = syscalls[(syscalls["ts_ns"] >= lo) & (syscalls["ts_ns"] <= hi)]
        syscalls = syscalls.reset_index(drop=True)
    sub = Trace(pkts, states.copy(), syscalls.copy(), dataclasses.replace(trace.meta))
    return Selection(sub, trace.origin_ns, conns, chosen)


def timeline(selection: Selection) -> pd.DataFrame:
    """``Trace.timeline()`` of the selection, with ``t`` counted from the full trace's start."""
    table = selection.trace.timeline()
    table["t"] = (table["ts_ns"] - selection.origin_ns).astype("float64") / 1e9
    return table


# --- texts ----------------------------------------------------------------------------------------


def short_syscall(row: Any, has_wire: bool = True) -> str:
    """The ladder's syscall label: ``close()``, ``send() = 3``, ``send() -> EPIPE``,
    ``recv() = 0 (FIN)``, ``poll() -> POLLIN|POLLRDHUP``, ``write() killed by SIGPIPE``."""
    text = f"{row.call}()"
    ret = str(row.ret)
    if row.signal and not row.errno and not ret:
        return f"{text} killed by {row.signal}"
    if row.errno:
        text += f" -> {row.errno}"
    elif ret:
        if ret.lstrip("-").isdigit():
            text += f" = {ret}"
            if ret == "0" and row.call in FIN_RECV_CALLS:
                text += " (FIN)" if has_wire else " (EOF)"
        elif _FLAGS_RE.fullmatch(ret):
            text += f" -> {ret}"
        else:
            text += f" = {ret}"
    if row.signal:
        text += f", {row.signal}"
    return text


def state_label(state: str, observed: bool) -> str:
    """``[FIN_WAIT1]``; guesses get a question mark: ``[FIN_WAIT1?]``."""
    return f"[{state}]" if observed else f"[{state}?]"


def human_duration(seconds: float, ascii_only: bool = False) -> str:
    """``5.0 s``, ``250 ms``, ``80 µs`` (``us`` when ``ascii_only``)."""
    if seconds >= 1:
        return f"{seconds:.1f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds * 1e6:.0f} {'us' if ascii_only else 'µs'}"


def title_of(meta: dict[str, Any]) -> str:
    """One line naming what the trace shows."""
    scenario = str(meta.get("scenario") or "")
    title = str(meta.get("title") or "")
    if scenario and title:
        return f"{scenario}: {title}"
    if scenario or title:
        return scenario or title
    if meta.get("file"):
        return f"capture {meta['file']}"
    return "TCP trace"


# --- building the ladder --------------------------------------------------------------------------


def _lifelines(trace: Trace) -> tuple[Lifeline, Lifeline]:
    sides = trace.sides
    endpoints = trace.meta.get("endpoints")
    addresses = ["", ""]
    pkts = trace.packets
    if len(pkts):
        first = _client_packet(pkts)
        client = endpoint_text(str(first.src), int(first.sport))
        server = endpoint_text(str(first.dst), int(first.dport))
        if first.dir == "s2c":
            client, server = server, client
        addresses = [client, server]
    elif isinstance(endpoints, dict):
        addresses = [str(endpoints.get(side, "")) for side in sides]
    names = [side if side not in trace.sides_without_socket() else f"{side} (no socket)"
             for side in sides]
    return Lifeline(names[0], addresses[0]), Lifeline(names[1], addresses[1])



def _client_packet(pkts: pd.DataFrame) -> Any:
    """The packet whose source is the client: the first c2s, else a pure SYN, else the first."""
    for cond in (pkts["dir"] == "c2s", pkts["dir"] == "s2c", pkts["flags"] == "S"):
        hits = pkts[cond]
        if len(hits):
            return next(rows_of(hits))
    return next(rows_of(pkts))


def _packet_lane(row: Any, client: str) -> int:
    if row.dir == "c2s":
        return 0
    if row.dir == "s2c":
        return 1
    return 0 if _norm_endpoint(endpoint_text(row.src, row.sport)) == _norm_endpoint(client) else 1


def _side_lane(side: str, sides: Sequence[str]) -> int:
    return sides.index(side) if side in sides else -1


def reset_reasons(trace: Trace) -> dict[int, str]:
    """Packet row -> the kernel's reason for that RST (``packets.reason``, set by the capture
    from ``tcp:tcp_send_reset`` for the very segment it sent); RSTs without one are left out."""
    packets = trace.packets
    if not len(packets):
        return {}
    reasons = packets["reason"].astype(str).to_numpy()
    return {int(i): str(reasons[i]) for i in np.flatnonzero(reasons != "")}


@dataclasses.dataclass
class _Raw:
    """An event before it gets its row."""

    kind: EventKind
    ts_ns: int
    lane: int
    label: str
    detail: str
    ref: str
    row: int
    extra: dict[str, Any]


def _raw_events(trace: Trace, lifelines: tuple[Lifeline, Lifeline]) -> list[_Raw]:
    sides = trace.sides
    client = lifelines[0].address
    has_wire = bool(len(trace.packets))
    reasons = reset_reasons(trace)
    raws: list[_Raw] = []
    for idx, row in enumerate(rows_of(trace.packets)):
        reason = reasons.get(idx, "")
        raws.append(_Raw("packet", int(row.ts_ns), _packet_lane(row, client),
                         describe_packet(row), describe_packet(row), f"p{idx}", idx,
                         {"rst": "R" in row.flags, "reason": reason, "frame": int(row.frame)}))
    for idx, row in enumerate(rows_of(trace.states)):
        lane = _side_lane(str(row.side), sides)
        if lane < 0:
            continue
        observed = row.source in OBSERVED_SOURCES
        label = state_label(str(row.new), observed)
        if row.old == row.new:  # the same state, now held by another kernel object
            label += " orphaned"
        raws.append(_Raw("state", int(row.ts_ns), lane, label,
                         describe_state(row), f"s{idx}", idx,
                         {"state": str(row.new), "observed": observed, "reason": row.reason}))
    if len(trace.syscalls):
        start, end, spans = call_moments(trace.syscalls, trace.packets["ts_ns"].to_numpy(),
                                         trace.states["ts_ns"].to_numpy())
        for idx, row in enumerate(rows_of(trace.syscalls)):
            lane = _side_lane(str(row.side), sides)
            if lane < 0:
                continue
            if spans[idx]:  # something happened while it ran: show where it began
                raws.append(_Raw("syscall", int(start[idx]), lane, f"{row.call}() called",
                                 describe_call_start(row), f"c{idx}s", idx, {"start": True}))
            raws.append(_Raw("syscall", int(end[idx]), lane, short_syscall(row, has_wire),
                             describe_syscall(row), f"c{idx}", idx,
                             {"error": bool(row.errno or row.signal)}))
    order = {"packet": 1, "state": 2, "syscall": 3}
    raws.sort(key=lambda r: (r.ts_ns, 0 if r.extra.get("start") else order[r.kind], r.row))
    return raws


def _elide(raws: list[_Raw], max_events: int, keep_each_end: int) -> list[_Raw]:
    """Keep all state changes and the first/last packets and syscalls; mark each dropped run."""
    if len(raws) <= max_events:
        return raws
    droppable = [i for i, r in enumerate(raws) if r.kind != "state"]
    if len(droppable) <= 2 * keep_each_end:
        return raws
    dropped = set(droppable[keep_each_end:-keep_each_end])
    out: list[_Raw] = []
    run: list[_Raw] = []
    for i, raw in enumerate(raws):
        if i in dropped:
            run.append(raw)
            continue
        if run:
            out.append(_elision(run))
            run = []
        out.append(raw)
    if run:
        out.append(_elision(run))
    return out


def _elision(run: list[_Raw]) -> _Raw:
    packets = [r for r in run if r.kind == "packet"]
    calls = len(run) - len(packets)
    parts = []
    if packets:
        frames = [int(r.extra["frame"]) for r in packets]
        where = f" (frames {min(frames)}-{max(frames)})" if min(frames) > 0 else ""
        parts.append(f"{len(packets)} packet{'s' * (len(packets) != 1)}{where}")
    if calls:
        parts.append(f"{calls} syscall{'s' * (calls != 1)}")
    label = " and ".join(parts) + " not drawn"
    return _Raw("elided", run[0].ts_ns, -1, label, label, "", -1,
                {"count": len(run), "packets": len(packets), "end_ns": run[-1].ts_ns})


def _break_threshold(times: Sequence[int]) -> int:
    gaps = np.diff(np.asarray(times, dtype=np.int64))
    positive = gaps[gaps > 0]
    median = int(np.median(positive)) if len(positive) else 0
    return max(BREAK_MIN_NS, BREAK_MEDIAN_FACTOR * median)


def build_ladder(trace: Trace, connection: int | None = None, *,
                 max_events: int = MAX_EVENTS, keep_each_end: int = KEEP_EACH_END) -> Ladder:
    """Lay out ``trace`` (or one of its connections) as a ladder diagram."""
    selection = select(trace, connection)
    sub = selection.trace
    lifelines = _lifelines(sub)
    raws = _elide(_raw_events(sub, lifelines), max_events, keep_each_end)
    threshold = _break_threshold([r.ts_ns for r in raws])
    events: list[Event] = []
    y = 0.5 * ROW
    prev_ns: int | None = None
    for raw in raws:
        if prev_ns is not None:
            gap = raw.ts_ns - prev_ns
            if gap >= threshold:
                seconds = gap / 1e9
                events.append(Event("gap", y + GAP_HEIGHT / 2, prev_ns,
                                    (prev_ns - selection.origin_ns) / 1e9, -1,
                                    f"{human_duration(seconds)} idle",
                                    f"nothing happened for {human_duration(seconds)}"))
                y += GAP_HEIGHT + ROW
            else:
                y += ROW + EXTRA * max(gap, 0) / threshold
        events.append(_event(raw, y, selection.origin_ns))
        prev_ns = int(raw.extra.get("end_ns", raw.ts_ns))
    height = y + ROW
    bands = tuple(_bands(events, height))
    packets_total = len(sub.packets)
    packets_drawn = sum(1 for e in events if e.kind == "packet")
    meta = trace.meta
    name = str(meta.get("scenario") or "") or (f"capture {meta['file']}" if meta.get("file")
                                              else "TCP trace")
    return Ladder(title_of(meta), lifelines, tuple(events), bands, height,
                  selection.note, packets_total, packets_drawn, has_wire=bool(len(sub.packets)),
                  name=name, subtitle=str(meta.get("title") or "") if meta.get("scenario") else "")


def _event(raw: _Raw, y: float, origin_ns: int) -> Event:
    extra = raw.extra
    return Event(raw.kind, y, raw.ts_ns, (raw.ts_ns - origin_ns) / 1e9, raw.lane, raw.label,
                 raw.detail, raw.ref, raw.row, rst=bool(extra.get("rst", False)),
                 reason=str(extra.get("reason", "")), state=str(extra.get("state", "")),
                 observed=bool(extra.get("observed", True)), error=bool(extra.get("error", False)),
                 frame=int(extra.get("frame", 0)), start=bool(extra.get("start", False)))


def _bands(events: Iterable[Event], height: float) -> list[StateBand]:
    """One band per state change, from that change to the next one on the same lifeline."""
    by_lane: dict[int, list[Event]] = {0: [], 1: []}
    for event in events:
        if event.kind == "state":
            by_lane[event.lane].append(event)
    bands: list[StateBand] = []
    for lane, changes in by_lane.items():
        for i, change in enumerate(changes):
            end = changes[i + 1].y if i + 1 < len(changes) else height
            bands.append(StateBand(lane, change.state, change.y, end, change.observed, change.ref))
    bands.sort(key=lambda b: (b.y0, b.lane))
    return bands
