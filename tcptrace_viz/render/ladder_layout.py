"""Laying out a ladder: ``build_ladder()`` turns a Trace (or one of its connections) into the
:class:`~tcptrace_viz.render.ladder_model.Ladder` every ladder renderer draws.

The position rules live here, in one place:

- every event gets its own row, so labels never overlap, even when events share a nanosecond;
- a short pause adds a little space in proportion to its length (piecewise-linear in time);
- an idle gap much longer than the interesting parts becomes one fixed-height ``gap`` marker
  ("… 5.0 s idle …"), so a 5 s pause does not squash everything else;
- a long trace keeps its first and last events and replaces the middle with ``elided`` markers.
  Kernel state changes are never elided, so the state bands always match the states table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from tcptrace_viz.describe import (
    describe_call_start,
    describe_packet,
    describe_state,
    describe_syscall,
)
from tcptrace_viz.model import OBSERVED_SOURCES, call_moments
from tcptrace_viz.render.labels import human_duration, name_of, short_syscall, state_label, title_of
from tcptrace_viz.render.ladder_model import Event, EventKind, Ladder, Lifeline, StateBand
from tcptrace_viz.render.reset_reasons import reset_reasons
from tcptrace_viz.render.selection import bare_endpoint, endpoint_text, rows_of, select

if TYPE_CHECKING:
    import pandas as pd

    from tcptrace_viz.model import Trace

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
    return 0 if bare_endpoint(endpoint_text(row.src, row.sport)) == bare_endpoint(client) else 1


def _side_lane(side: str, sides: Sequence[str]) -> int:
    return sides.index(side) if side in sides else -1


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
    return Ladder(title_of(meta), lifelines, tuple(events), bands, height,
                  selection.note, packets_total, packets_drawn, has_wire=bool(len(sub.packets)),
                  name=name_of(meta),
                  subtitle=str(meta.get("title") or "") if meta.get("scenario") else "")


def _event(raw: _Raw, y: float, origin_ns: int) -> Event:
    extra = raw.extra
    return Event(raw.kind, y, raw.ts_ns, (raw.ts_ns - origin_ns) / 1e9, raw.lane, raw.label,
                 raw.detail, raw.ref, raw.row, rst=bool(extra.get("rst", False)),
                 reason=str(extra.get("reason", "")), state=str(extra.get("state", "")),
                 observed=bool(extra.get("observed", True)), error=bool(extra.get("error", False)),
                 frame=int(extra.get("frame", 0)), start=bool(extra.get("start", False)))


def _bands(events: Sequence[Event], height: float) -> list[StateBand]:
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
