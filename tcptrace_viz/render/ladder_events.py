"""Every event one ladder could draw, gathered once per selection, texts made on demand.

A trace may hold a million packets while a ladder draws a hundred events, so the events are
first known only by numpy arrays (time, kind, lane, source row), in drawing order; the texts
(``describe_packet`` and friends) are made only for the events a layout keeps, and once each
however many layouts (the diagram's, the terminal's) ask for them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from tcptrace_viz.analysis.selection import Selection, bare_endpoint, rows_of
from tcptrace_viz.event_text import (
    describe_call_start,
    describe_packet,
    describe_state,
    describe_syscall,
)
from tcptrace_viz.model import call_moments
from tcptrace_viz.render.labels import call_failed, short_syscall, state_label
from tcptrace_viz.render.ladder_model import EventKind, Lifeline
from tcptrace_viz.render.reset_reasons import reset_reasons
from tcptrace_viz.tcp import OBSERVED_SOURCES
from tcptrace_viz.vocabulary import endpoint

if TYPE_CHECKING:
    import pandas as pd

    from tcptrace_viz.model import Trace

CALL_START: Final = 0
PACKET: Final = 1
STATE: Final = 2
CALL_END: Final = 3
"""Event codes, in the order events at the same nanosecond are drawn: a call's start, a
packet, a state change, a call's result."""


@dataclasses.dataclass
class Raw:
    """An event before it gets its row on the ladder."""

    kind: EventKind
    ts_ns: int
    lane: int
    label: str
    detail: str
    ref: str
    row: int
    extra: dict[str, Any]


class LadderEvents:
    """The events of one selection in drawing order: arrays for all, texts when asked."""

    def __init__(self, selection: Selection) -> None:
        """Gather the events of ``selection`` (vectorised: no Python loop over the rows)."""
        self.selection = selection
        trace = selection.trace
        self.lifelines = _lifelines(trace)
        self.has_wire = bool(len(trace.packets))
        packets, states, syscalls = trace.packets, trace.states, trace.syscalls
        codes, times, rows, lanes = [], [], [], []

        def add(code: int, ts: np.ndarray, row: np.ndarray, lane: np.ndarray) -> None:
            codes.append(np.full(len(row), code, dtype=np.int8))
            times.append(np.asarray(ts, dtype=np.int64))
            rows.append(np.asarray(row, dtype=np.int64))
            lanes.append(np.asarray(lane, dtype=np.int8))

        add(PACKET, packets["ts_ns"].to_numpy(), np.arange(len(packets)),
            _packet_lanes(packets, self.lifelines[0].address))
        state_lanes = _side_lanes(states["side"], trace.sides)
        seen = np.flatnonzero(state_lanes >= 0)
        add(STATE, states["ts_ns"].to_numpy()[seen], seen, state_lanes[seen])
        if len(syscalls):
            start, end, spans = call_moments(syscalls, packets["ts_ns"].to_numpy(),
                                             states["ts_ns"].to_numpy())
            call_lanes = _side_lanes(syscalls["side"], trace.sides)
            shown = call_lanes >= 0
            began = np.flatnonzero(shown & spans)  # something happened while it ran
            add(CALL_START, start[began], began, call_lanes[began])
            done = np.flatnonzero(shown)
            add(CALL_END, end[done], done, call_lanes[done])
        code, ts, row, lane = (np.concatenate(parts) for parts in (codes, times, rows, lanes))
        order = np.lexsort((row, code, ts))
        self.code: np.ndarray = code[order]
        """Each event's code (``PACKET``, ``STATE``, ``CALL_START``, ``CALL_END``)."""
        self.ts_ns: np.ndarray = ts[order]
        self.row: np.ndarray = row[order]
        """Index in the source table (packets, states or syscalls)."""
        self.lane: np.ndarray = lane[order]
        self.frames: np.ndarray = packets["frame"].to_numpy(dtype=np.int64)
        """Frame numbers of the selection's packets, by packet row."""
        self._reasons = reset_reasons(trace)
        self._injected = trace.injected_packets()
        self._raws: dict[int, Raw] = {}
        self.moments: tuple[str, ...] = tuple(m.says for m in trace.meta.key_moments)
        """The key moments' plain words, numbered from 1 in this order."""
        self.moment_at: dict[int, int] = _moment_positions(self, trace)
        """Position in drawing order -> key moment number."""

    def __len__(self) -> int:
        """How many events there are."""
        return len(self.code)

    def raws(self, positions: Sequence[int]) -> list[Raw]:
        """The events at ``positions`` (indexes in drawing order), with their texts."""
        missing = [p for p in positions if p not in self._raws]
        if missing:
            self._make(np.asarray(missing, dtype=np.int64))
        return [self._raws[p] for p in positions]

    def _make(self, positions: np.ndarray) -> None:
        trace = self.selection.trace
        for code, table, make in ((PACKET, trace.packets, self._packet),
                                  (STATE, trace.states, self._state),
                                  (CALL_START, trace.syscalls, self._call_start),
                                  (CALL_END, trace.syscalls, self._call_end)):
            chosen = positions[self.code[positions] == code]
            if not len(chosen):
                continue
            for position, item in zip(chosen, rows_of(table.iloc[self.row[chosen]]),
                                      strict=True):
                raw = make(int(position), item)
                if int(position) in self.moment_at:
                    raw.extra["moment"] = self.moment_at[int(position)]
                self._raws[int(position)] = raw

    def _packet(self, position: int, row: Any) -> Raw:
        idx = int(self.row[position])
        text = describe_packet(row, idx in self._injected)
        reason = self._reasons.get(idx, "")
        return Raw("packet", int(self.ts_ns[position]), int(self.lane[position]), text, text,
                   f"p{idx}", idx, {"rst": "R" in row.flags, "reason": reason,
                                    "frame": int(row.frame), "lost": str(row.drop or "")})

    def _state(self, position: int, row: Any) -> Raw:
        idx = int(self.row[position])
        observed = row.source in OBSERVED_SOURCES
        label = state_label(str(row.new), observed)
        if row.old == row.new:  # the same state, now held by another kernel object
            label += " orphaned"
        return Raw("state", int(self.ts_ns[position]), int(self.lane[position]), label,
                   describe_state(row), f"s{idx}", idx,
                   {"state": str(row.new), "observed": observed, "reason": row.reason})

    def _call_start(self, position: int, row: Any) -> Raw:
        idx = int(self.row[position])
        return Raw("syscall", int(self.ts_ns[position]), int(self.lane[position]),
                   f"{row.call}() called", describe_call_start(row), f"c{idx}s", idx,
                   {"start": True})

    def _call_end(self, position: int, row: Any) -> Raw:
        idx = int(self.row[position])
        return Raw("syscall", int(self.ts_ns[position]), int(self.lane[position]),
                   short_syscall(row, self.has_wire), describe_syscall(row), f"c{idx}", idx,
                   {"error": call_failed(row.errno, row.signal)})


_MOMENT_CODES: Final = {"packet": PACKET, "state": STATE, "syscall": CALL_END}


def _moment_positions(events: LadderEvents, trace: Trace) -> dict[int, int]:
    """Where each key moment of ``trace.meta`` is in drawing order (the first event of its
    kind at its time; a moment outside this selection is not drawn)."""
    found: dict[int, int] = {}
    for number, moment in enumerate(trace.meta.key_moments, start=1):
        code = _MOMENT_CODES.get(moment.kind)
        hits = np.flatnonzero((events.code == code) & (events.ts_ns == moment.ts_ns))
        free = [int(hit) for hit in hits if int(hit) not in found]
        if free:
            found[free[0]] = number
    return found


def _lifelines(trace: Trace) -> tuple[Lifeline, Lifeline]:
    sides = trace.sides
    endpoints = trace.meta.endpoints
    addresses = ["", ""]
    pkts = trace.packets
    if len(pkts):
        first = _client_packet(pkts)
        client = endpoint(str(first.src), int(first.sport))
        server = endpoint(str(first.dst), int(first.dport))
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
            return next(rows_of(hits.head(1)))
    return next(rows_of(pkts.head(1)))


def _packet_lanes(pkts: pd.DataFrame, client: str) -> np.ndarray:
    """The sender's lane of each packet: by direction, else by comparing its source with the
    client's address."""
    direction = pkts["dir"].to_numpy()
    lanes = np.where(direction == "s2c", 1, 0).astype(np.int8)
    unknown = np.flatnonzero((direction != "c2s") & (direction != "s2c"))
    if len(unknown):
        some = pkts.iloc[unknown]
        sources = (some["src"].astype(str).str.replace("[", "", regex=False)
                   .str.replace("]", "", regex=False) + ":" + some["sport"].astype(str))
        lanes[unknown] = np.where(sources.to_numpy() == bare_endpoint(client), 0, 1)
    return lanes


def _side_lanes(sides_column: pd.Series[Any], sides: Sequence[str]) -> np.ndarray:
    """0 or 1 for a row of one of the two sides, -1 for any other."""
    values = sides_column.astype(str).to_numpy()
    lanes = np.full(len(values), -1, dtype=np.int8)
    for lane in (1, 0):  # the first listed wins when both sides share a name
        lanes[values == sides[lane]] = lane
    return lanes
