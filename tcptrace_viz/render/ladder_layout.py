"""Laying out a ladder: the events of a selection become the
:class:`~tcptrace_viz.render.ladder_model.Ladder` every ladder renderer draws.

The position rules live here, in one place:

- every event gets its own row, so labels never overlap, even when events share a nanosecond;
- a short pause adds a little space in proportion to its length (piecewise-linear in time);
- an idle gap much longer than the interesting parts becomes one fixed-height ``gap`` marker
  ("… 5.0 s idle …"), so a 5 s pause does not squash everything else;
- a run of identical syscall results on one lifeline (``send() = 262144`` thirty times) is one
  event, ``send() = 262144 ×30, 7.5 MiB`` (the bytes in all);
- a long trace keeps its first and last events and replaces the middle with ``elided`` markers.
  Kernel state changes are never elided, so the state bands always match the states table;
  nor are the scenario's key moments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np

from tcptrace_viz.analysis.selection import select
from tcptrace_viz.event_text import size_text
from tcptrace_viz.render.data_loss import data_loss_sentence
from tcptrace_viz.render.labels import human_duration, name_of, title_of
from tcptrace_viz.render.ladder_events import PACKET, STATE, LadderEvents, Raw
from tcptrace_viz.render.ladder_model import Event, Ladder, StateBand

if TYPE_CHECKING:
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


def build_ladder(trace: Trace, connection: int | None = None, *,
                 max_events: int = MAX_EVENTS, keep_each_end: int = KEEP_EACH_END) -> Ladder:
    """Lay out ``trace`` (or one of its connections) as a ladder diagram.

    Renderers share one :class:`~tcptrace_viz.render.prepared.Prepared` instead, which gathers
    the events once for every layout.
    """
    return lay_out(LadderEvents(select(trace, connection)), max_events, keep_each_end)


def elides(events: LadderEvents, max_events: int, keep_each_end: int) -> bool:
    """Whether laying ``events`` out with these limits leaves some out."""
    if len(events) <= max_events:
        return False
    return int(np.count_nonzero(events.code != STATE)) > 2 * keep_each_end


def lay_out(events: LadderEvents, max_events: int = MAX_EVENTS,
            keep_each_end: int = KEEP_EACH_END, *, proportional: bool = False) -> Ladder:
    """Place ``events`` on a ladder, eliding the middle of a long one (see the module's rules);
    ``proportional``: time to scale instead (see :func:`_to_scale`)."""
    selection = events.selection
    raws = fold_repeats(_elide(events, max_events, keep_each_end))
    placed, height, scale_note = (_to_scale(raws, selection.origin_ns) if proportional
                                  else _compact(raws, selection.origin_ns))
    bands = tuple(_bands(placed, height))
    packets_total = len(selection.trace.packets)
    packets_drawn = sum(1 for e in placed if e.kind == "packet")
    meta = selection.trace.meta
    note = "; ".join(part for part in (selection.note, scale_note) if part)
    return Ladder(title_of(meta), events.lifelines, tuple(placed), bands, height,
                  note, packets_total, packets_drawn, has_wire=events.has_wire,
                  name=name_of(meta),
                  subtitle=str(meta.title or "") if meta.scenario else "",
                  loss=data_loss_sentence(meta), moments=events.moments)


def _to_scale(raws: list[Raw], origin_ns: int) -> tuple[list[Event], float, str]:
    """Time to scale: each event as far down as its time says, at ``ROW`` from the one before
    at least (labels need a row).  The scale gives every event two rows were they evenly
    spread; a burst runs a little late and the ladder catches up in the next pause."""
    times = [raw.ts_ns for raw in raws]
    span = max(times[-1] - times[0], 1) if times else 1
    per_row_ns = span / max(2 * ROW * len(raws), ROW)
    placed: list[Event] = []
    y = 0.5 * ROW
    for index, raw in enumerate(raws):
        if index:
            y = max(y + ROW, 0.5 * ROW + (raw.ts_ns - times[0]) / per_row_ns)
        placed.append(_event(raw, y, origin_ns))
    unit = human_duration(per_row_ns / 1e9)
    return placed, y + ROW, f"time to scale: one row is {unit}, except where events crowd"


def _compact(raws: list[Raw], origin_ns: int) -> tuple[list[Event], float, str]:
    """One row per event, pauses a little longer, long idle gaps broken (the module's rules)."""
    threshold = _break_threshold([r.ts_ns for r in raws])
    placed: list[Event] = []
    y = 0.5 * ROW
    prev_ns: int | None = None
    for raw in raws:
        if prev_ns is not None:
            gap = raw.ts_ns - prev_ns
            if gap >= threshold:
                seconds = gap / 1e9
                placed.append(Event("gap", y + GAP_HEIGHT / 2, prev_ns,
                                    (prev_ns - origin_ns) / 1e9, -1,
                                    f"{human_duration(seconds)} idle",
                                    f"nothing happened for {human_duration(seconds)}"))
                y += GAP_HEIGHT + ROW
            else:
                y += ROW + EXTRA * max(gap, 0) / threshold
        placed.append(_event(raw, y, origin_ns))
        prev_ns = int(raw.extra.get("end_ns", raw.ts_ns))
    return placed, y + ROW, ""


def _elide(events: LadderEvents, max_events: int, keep_each_end: int) -> list[Raw]:
    """Keep all state changes and the first/last packets and syscalls; mark each dropped run."""
    if not elides(events, max_events, keep_each_end):
        return events.raws(range(len(events)))
    droppable = np.flatnonzero(events.code != STATE)
    dropped = np.zeros(len(events), dtype=bool)
    dropped[droppable[keep_each_end:-keep_each_end]] = True
    dropped[list(events.moment_at)] = False  # a key moment is always drawn
    kept = events.raws(np.flatnonzero(~dropped).tolist())
    # runs of consecutive dropped events: [begin, end) in drawing order
    edges = np.diff(np.concatenate(([0], dropped.astype(np.int8), [0])))
    begins, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out: list[Raw] = []
    taken = 0
    for begin, end in zip(begins.tolist(), ends.tolist(), strict=True):
        before = begin - int(np.count_nonzero(dropped[:begin]))  # kept events before the run
        out.extend(kept[taken:before])
        taken = before
        out.append(_elision(events, begin, end))
    out.extend(kept[taken:])
    return out


FOLD_MIN: Final = 3
"""This many identical results in a row (``send() = 262144`` x30) are drawn as one event."""


def fold_repeats(raws: list[Raw]) -> list[Raw]:
    """Fold each run of at least :data:`FOLD_MIN` consecutive, identical syscall results on one
    lifeline (nothing else between them, none a key moment) into one event that says how many,
    and how many bytes in all when each returned a byte count."""
    out: list[Raw] = []
    index = 0
    while index < len(raws):
        end = index
        while end < len(raws) and _same_result(raws[index], raws[end]):
            end += 1
        if end - index >= FOLD_MIN:
            out.append(_folded(raws[index:end]))
            index = end
        else:
            out.append(raws[index])
            index += 1
    return out


def _same_result(first: Raw, other: Raw) -> bool:
    return (first.kind == other.kind == "syscall" and first.lane == other.lane
            and first.label == other.label and not first.extra.get("start")
            and not other.extra.get("start")
            and not first.extra.get("moment") and not other.extra.get("moment"))


def _folded(run: list[Raw]) -> Raw:
    first, last = run[0], run[-1]
    count = len(run)
    label = f"{first.label} \u00d7{count}"
    call, _, result = first.label.partition(" = ")
    if result.isdigit() and call.startswith(("send", "write", "recv", "read", "sendmsg")):
        label += f", {size_text(count * int(result))}"  # in all: short enough for a side
    detail = (f"{count} calls in a row, each {first.label} (drawn as one): "
              f"from {first.detail} to {last.detail}")
    extra = dict(first.extra, end_ns=int(last.extra.get("end_ns", last.ts_ns)), count=count)
    return Raw("syscall", first.ts_ns, first.lane, label, detail, first.ref, first.row, extra)


def _elision(events: LadderEvents, begin: int, end: int) -> Raw:
    """The marker standing for the events at positions ``begin`` to ``end - 1``."""
    codes = events.code[begin:end]
    is_packet = codes == PACKET
    packets = int(np.count_nonzero(is_packet))
    calls = (end - begin) - packets
    parts = []
    if packets:
        frames = events.frames[events.row[begin:end][is_packet]]
        where = f" (frames {frames.min()}-{frames.max()})" if frames.min() > 0 else ""
        parts.append(f"{packets} packet{'s' * (packets != 1)}{where}")
    if calls:
        parts.append(f"{calls} syscall{'s' * (calls != 1)}")
    label = " and ".join(parts) + " not drawn"
    return Raw("elided", int(events.ts_ns[begin]), -1, label, label, "", -1,
               {"count": end - begin, "packets": packets, "end_ns": int(events.ts_ns[end - 1])})


def _break_threshold(times: Sequence[int]) -> int:
    gaps = np.diff(np.asarray(times, dtype=np.int64))
    positive = gaps[gaps > 0]
    median = int(np.median(positive)) if len(positive) else 0
    return max(BREAK_MIN_NS, BREAK_MEDIAN_FACTOR * median)


def _event(raw: Raw, y: float, origin_ns: int) -> Event:
    extra = raw.extra
    return Event(raw.kind, y, raw.ts_ns, (raw.ts_ns - origin_ns) / 1e9, raw.lane, raw.label,
                 raw.detail, raw.ref, raw.row, rst=bool(extra.get("rst", False)),
                 reason=str(extra.get("reason", "")), state=str(extra.get("state", "")),
                 observed=bool(extra.get("observed", True)), error=bool(extra.get("error", False)),
                 frame=int(extra.get("frame", 0)), start=bool(extra.get("start", False)),
                 moment=int(extra.get("moment", 0)), lost=str(extra.get("lost", "")))


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
