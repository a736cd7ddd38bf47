"""Where each TCP state change must sit among the packets and calls that cause it.

A state change is caused by a segment or a call and causes others (RFC 9293 s3.3.2, as Linux
implements it): FIN_WAIT1 starts inside close() or shutdown() and before the socket's own FIN
leaves; CLOSE_WAIT starts when the peer's FIN arrives and before the socket ACKs it.  From the
captured packets this module works out, for every state row, the event it must follow and the
event it must precede.  The capture uses these bounds to place a state change inside the
microsecond its trace timestamp allows; a test checks them on every scenario; a report names any
state the kernel really timestamped on the wrong side of its cause.

The rules, for the socket ``local -> remote``; "own" packets go from local to remote, "peer"
packets from remote to local:

========== ======================================= =============================================
state      after                                   before
========== ======================================= =============================================
SYN_SENT                                           own SYN
FIN_WAIT1  the side's close()/shutdown() call       own FIN
FIN_WAIT2  the peer's ACK of the own FIN
CLOSE_WAIT the peer's FIN                          the own ACK of that FIN
CLOSING    the peer's FIN                          the own ACK of that FIN
LAST_ACK   the peer's FIN                          own FIN
TIME_WAIT  the peer's FIN and the ACK of own FIN
CLOSE      an RST received (when that closed it)
========== ======================================= =============================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tcptrace_viz.model import Trace
from tcptrace_viz.tcp import OBSERVED_SOURCES

CLOSING_CALLS = frozenset({"close", "shutdown"})
"""Calls that move an established socket to FIN_WAIT1 (or CLOSE_WAIT to LAST_ACK)."""


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The events a state change must come after and before (None: no constraint)."""

    after_ns: int | None = None
    after: str = ""
    """What that event is, in words: ``"the peer's FIN (frame 5)"``."""
    before_ns: int | None = None
    before: str = ""


def _split(endpoint: str) -> tuple[str, int]:
    host, _, port = str(endpoint).rpartition(":")
    return host.strip("[]"), int(port) if port.isdigit() else -1


class _Flows:
    """The packets of each direction of each 4-tuple, and the facts the rules need, computed
    once per direction with numpy (a bulk transfer has tens of thousands of segments)."""

    def __init__(self, packets: pd.DataFrame) -> None:
        self.packets = packets
        flags = packets["flags"].astype(str)
        self.ts = packets["ts_ns"].to_numpy(dtype=np.int64)
        self.frame = packets["frame"].to_numpy(dtype=np.int64)
        self.rel_seq = packets["rel_seq"].to_numpy(dtype=np.int64)
        self.rel_ack = packets["rel_ack"].to_numpy(dtype=np.int64)
        self.length = packets["len"].to_numpy(dtype=np.int64)
        self.fin = flags.str.contains("F", regex=False).to_numpy(dtype=bool)
        self.ack = flags.str.contains(".", regex=False).to_numpy(dtype=bool)
        self.rst = flags.str.contains("R", regex=False).to_numpy(dtype=bool)
        self.syn_only = (flags == "S").to_numpy(dtype=bool)
        groups = packets.groupby([packets["src"].astype(str), packets["sport"].astype(int),
                                  packets["dst"].astype(str), packets["dport"].astype(int)],
                                 sort=False).indices if len(packets) else {}
        self._rows: dict[tuple[Any, ...], np.ndarray] = {
            tuple(key): np.asarray(rows) for key, rows in groups.items()}  # type: ignore[arg-type]

    def rows(self, local: tuple[str, int], remote: tuple[str, int]) -> np.ndarray:
        """Indexes of the packets from ``local`` to ``remote``, in time order."""
        return self._rows.get((*local, *remote), np.zeros(0, dtype=np.int64))

    def first(self, rows: np.ndarray, mask: np.ndarray) -> int | None:
        hits = rows[mask[rows]]
        return int(hits[0]) if len(hits) else None

    def ack_of(self, rows: np.ndarray, fin: int | None) -> int | None:
        """The first of ``rows`` that acknowledges packet ``fin`` (sent the other way)."""
        if fin is None or not len(rows):
            return None
        covered = int(self.rel_seq[fin] + self.length[fin] + 1)
        ok = self.ack[rows] & (self.rel_ack[rows] >= covered) & (self.ts[rows] >= self.ts[fin])
        hits = rows[ok]
        return int(hits[0]) if len(hits) else None

    def moment(self, index: int | None, what: str) -> tuple[int | None, str]:
        """``(ts_ns, "what (frame N)")`` of packet ``index``, or ``(None, "")``."""
        if index is None:
            return None, ""
        frame = int(self.frame[index])
        return int(self.ts[index]), f"{what} (frame {frame})" if frame > 0 else what


def _later(a: tuple[int | None, str], b: tuple[int | None, str]) -> tuple[int | None, str]:
    if a[0] is None:
        return b
    if b[0] is None:
        return a
    return a if a[0] >= b[0] else b


def state_bounds(packets: pd.DataFrame, states: pd.DataFrame,
                 syscalls: pd.DataFrame) -> list[Bounds]:
    """For each row of ``states``, the events it must follow and precede (see module doc)."""
    flows = _Flows(packets)
    closing = _ClosingCalls(syscalls)
    out: list[Bounds] = []
    for row in states.itertuples(index=False):
        local, remote = _split(str(row.local)), _split(str(row.remote))
        out.append(_bounds_of(row, flows, flows.rows(local, remote), flows.rows(remote, local),
                              closing))
    return out


def _bounds_of(row: Any, flows: _Flows, own: np.ndarray, peer: np.ndarray,
               closing: _ClosingCalls) -> Bounds:
    state = str(row.new)
    if state == str(row.old):
        # A call that leaves the state as it was (close() after shutdown() in FIN_WAIT1: the
        # kernel sets FIN_WAIT1 again, and the tracepoint reports it): nothing on the wire
        # causes it or follows from it.
        return Bounds()
    own_fin, peer_fin = flows.first(own, flows.fin), flows.first(peer, flows.fin)
    peer_fin_at = flows.moment(peer_fin, "the peer's FIN")
    own_fin_at = flows.moment(own_fin, "its own FIN")
    acked_at = flows.moment(flows.ack_of(peer, own_fin), "the ACK of its FIN")
    if state == "SYN_SENT":
        syn_at = flows.moment(flows.first(own, flows.syn_only), "its SYN")
        return Bounds(before_ns=syn_at[0], before=syn_at[1])
    if state == "FIN_WAIT1":
        return Bounds(*closing.last_by(str(row.side), int(str(row.ts_ns))), *own_fin_at)
    if state == "FIN_WAIT2":
        return Bounds(*acked_at)
    if state in ("CLOSE_WAIT", "CLOSING"):
        return Bounds(*peer_fin_at, *flows.moment(flows.ack_of(own, peer_fin),
                                                  "its ACK of that FIN"))
    if state == "LAST_ACK":
        return Bounds(*peer_fin_at, *own_fin_at)
    if state == "TIME_WAIT":
        return Bounds(*_later(peer_fin_at, acked_at))
    if state == "CLOSE" and "RST received" in str(row.reason):
        rst_at = flows.moment(flows.first(peer, flows.rst), "the RST it received")
        if rst_at[0] is not None:
            return Bounds(*rst_at)
    return Bounds()


class _ClosingCalls:
    """Each side's close() and shutdown() calls, by start time."""

    def __init__(self, syscalls: pd.DataFrame) -> None:
        self.by_side: dict[str, tuple[np.ndarray, list[str]]] = {}
        if not len(syscalls):
            return
        chosen = syscalls[syscalls["call"].isin(CLOSING_CALLS)]
        for side, calls in chosen.groupby("side", sort=False):
            self.by_side[str(side)] = (calls["ts_ns"].to_numpy(dtype=np.int64),
                                       [str(call) for call in calls["call"]])

    def last_by(self, side: str, near_ns: int) -> tuple[int | None, str]:
        """The start of the side's last close()/shutdown() that began by ``near_ns`` + 1 µs."""
        starts, names = self.by_side.get(side, (np.zeros(0, dtype=np.int64), []))
        index = int(np.searchsorted(starts, near_ns + 1000, side="right")) - 1
        if index < 0:
            return None, ""
        return int(starts[index]), f"its {names[index]}() call"


def settle(states: pd.DataFrame, bounds: Sequence[Bounds], low_ns: Sequence[int],
           high_ns: Sequence[int]) -> pd.DataFrame:
    """Move each state change inside its timestamp's window ``[low, high]`` to satisfy its bounds.

    A trace timestamp says only which microsecond an event happened in; within it, the order
    of cause and effect decides.  A change that cannot satisfy its bounds inside its window
    keeps its timestamp (``order_violations`` then names it).
    """
    ts = states["ts_ns"].to_numpy(dtype=np.int64).copy()
    for index, bound in enumerate(bounds):
        low, high = int(low_ns[index]), int(high_ns[index])
        earliest = low if bound.after_ns is None else max(low, bound.after_ns + 1)
        latest = high if bound.before_ns is None else min(high, bound.before_ns - 1)
        if earliest <= latest:
            ts[index] = min(max(int(ts[index]), earliest), latest)
    settled = states.copy()
    settled["ts_ns"] = ts
    return settled


def order_violations(trace: Trace) -> list[str]:
    """Observed state changes that sit outside their bounds, one sentence each."""
    states = trace.states
    if not len(states):
        return []
    problems = []
    bounds = state_bounds(trace.packets, states, trace.syscalls)
    for row, bound in zip(states.itertuples(index=False), bounds, strict=True):
        if row.source not in OBSERVED_SOURCES:
            continue
        ts = int(str(row.ts_ns))
        if bound.after_ns is not None and ts <= bound.after_ns:
            problems.append(f"{row.side} {row.new} is timestamped {_gap(bound.after_ns - ts)} "
                            f"before {bound.after}")
        if bound.before_ns is not None and ts >= bound.before_ns:
            problems.append(f"{row.side} {row.new} is timestamped {_gap(ts - bound.before_ns)} "
                            f"after {bound.before}")
    return problems


def _gap(ns: int) -> str:
    return f"{ns / 1000:.1f} µs" if ns >= 1000 else f"{ns} ns"
