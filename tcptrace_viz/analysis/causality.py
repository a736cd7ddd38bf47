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

CLOSING_CALLS = frozenset({"close", "shutdown"})
"""Calls that move an established socket to FIN_WAIT1 (or CLOSE_WAIT to LAST_ACK)."""
OBSERVED_SOURCES = frozenset({"tracepoint", "socket-table"})
"""Sources that saw the kernel's own state (sampled and inferred states are not checked)."""


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
    """The packets of each direction of each 4-tuple, in time order."""

    def __init__(self, packets: pd.DataFrame) -> None:
        self.packets = packets
        keys = list(zip(packets["src"].astype(str), packets["sport"].astype(int),
                        packets["dst"].astype(str), packets["dport"].astype(int), strict=True))
        self._rows: dict[tuple[str, int, str, int], list[int]] = {}
        for index, key in enumerate(keys):
            self._rows.setdefault(key, []).append(index)

    def rows(self, local: tuple[str, int], remote: tuple[str, int]) -> pd.DataFrame:
        """The packets from ``local`` to ``remote``."""
        return self.packets.iloc[self._rows.get((*local, *remote), [])]


def _first(frame: pd.DataFrame, mask: Any) -> Any | None:
    hits = frame[np.asarray(mask, dtype=bool)] if len(frame) else frame
    return hits.iloc[0] if len(hits) else None


def _frame_text(packet: Any, what: str) -> str:
    frame = int(packet["frame"])
    return f"{what} (frame {frame})" if frame > 0 else what


def _fin(frame: pd.DataFrame) -> Any | None:
    return _first(frame, frame["flags"].str.contains("F", regex=False)) if len(frame) else None


def _ack_of(frame: pd.DataFrame, fin: Any) -> Any | None:
    """The first packet of ``frame`` that acknowledges ``fin`` (sent from the other side)."""
    if fin is None or not len(frame):
        return None
    covered = int(fin["rel_seq"]) + int(fin["len"]) + 1
    return _first(frame, frame["flags"].str.contains(".", regex=False)
                  & (frame["rel_ack"] >= covered) & (frame["ts_ns"] >= int(fin["ts_ns"])))


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
    out: list[Bounds] = []
    for row in states.itertuples(index=False):
        local, remote = _split(str(row.local)), _split(str(row.remote))
        own, peer = flows.rows(local, remote), flows.rows(remote, local)
        out.append(_bounds_of(row, own, peer, syscalls))
    return out


def _bounds_of(row: Any, own: pd.DataFrame, peer: pd.DataFrame,
               syscalls: pd.DataFrame) -> Bounds:
    state = str(row.new)
    own_fin, peer_fin = _fin(own), _fin(peer)
    peer_fin_at = ((int(peer_fin["ts_ns"]), _frame_text(peer_fin, "the peer's FIN"))
                   if peer_fin is not None else (None, ""))
    ack_of_peer = _ack_of(own, peer_fin)
    ack_of_own = _ack_of(peer, own_fin)
    own_fin_at = ((int(own_fin["ts_ns"]), _frame_text(own_fin, "its own FIN"))
                  if own_fin is not None else (None, ""))
    acked_at = ((int(ack_of_own["ts_ns"]), _frame_text(ack_of_own, "the ACK of its FIN"))
                if ack_of_own is not None else (None, ""))
    if state == "SYN_SENT":
        syn = _first(own, own["flags"] == "S") if len(own) else None
        return Bounds(before_ns=None if syn is None else int(syn["ts_ns"]),
                      before="" if syn is None else _frame_text(syn, "its SYN"))
    if state == "FIN_WAIT1":
        after = _closing_call(syscalls, str(row.side), int(row.ts_ns))
        return Bounds(*after, *own_fin_at)
    if state == "FIN_WAIT2":
        return Bounds(*acked_at)
    if state in ("CLOSE_WAIT", "CLOSING"):
        before = ((int(ack_of_peer["ts_ns"]), _frame_text(ack_of_peer, "its ACK of that FIN"))
                  if ack_of_peer is not None else (None, ""))
        return Bounds(*peer_fin_at, *before)
    if state == "LAST_ACK":
        return Bounds(*peer_fin_at, *own_fin_at)
    if state == "TIME_WAIT":
        return Bounds(*_later(peer_fin_at, acked_at))
    if state == "CLOSE" and "RST received" in str(row.reason) and len(peer):
        rst = _first(peer, peer["flags"].str.contains("R", regex=False))
        if rst is not None:
            return Bounds(int(rst["ts_ns"]), _frame_text(rst, "the RST it received"))
    return Bounds()


def _closing_call(syscalls: pd.DataFrame, side: str, near_ns: int) -> tuple[int | None, str]:
    """The start of the side's last close()/shutdown() that began by ``near_ns`` + 1 µs."""
    if not len(syscalls):
        return None, ""
    calls = syscalls[(syscalls["side"] == side) & syscalls["call"].isin(CLOSING_CALLS)
                     & (syscalls["ts_ns"] <= near_ns + 1000)]
    if not len(calls):
        return None, ""
    last = calls.iloc[-1]
    return int(last["ts_ns"]), f"its {last['call']}() call"


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
