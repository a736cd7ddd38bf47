"""Infer both endpoints' TCP states from one connection's packets.

The state machine is RFC 9293's as Linux runs it.  Each change happens at the packet that
causes it: the sender's 1 ns before its segment (so it sorts before the packet), the receiver's
1 ns after.  A receiver is assumed to get a segment as soon as it is captured, with one
exception: when a side sends its own FIN without acknowledging the peer's FIN, the two FINs
crossed, and the peer's FIN reaches it just after its own went out (simultaneous close); the
same goes for two opening SYNs (simultaneous open).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.connection_arrays import (
    Columns,
    Conversation,
    conversation,
    ensure_annotated,
)
from tcptrace_viz.model import STATE_COLUMNS, conform, empty_frame

INFERRED_LEAD_NS: Final = 2
"""An inferred state comes at most this long before its connection's first packet (a side
already ESTABLISHED when the capture starts mid-connection)."""

MID_CONNECTION: Final = "capture starts mid-connection"
_GONE: Final = ("", "CLOSE")  # no socket, or not yet known to exist


@dataclasses.dataclass
class _Endpoint:
    """What the inference tracks for one side."""

    side: str
    local: str
    remote: str
    state: str = ""
    fin_end: int | None = None
    """The acknowledgment number that covers this side's FIN, once it sent one."""


@dataclasses.dataclass(frozen=True, order=True)
class _Event:
    ts: int
    row: int
    receiving: bool


class _Machine:
    """Runs the events of one connection and collects the state rows."""

    def __init__(self, conv: Conversation) -> None:
        self.conv = conv
        self.sides = {"client": _Endpoint("client", conv.client, conv.server),
                      "server": _Endpoint("server", conv.server, conv.client)}
        self.rows: list[dict[str, object]] = []
        # Without a SYN-ACK nothing was listening: a refused connect leaves no server socket.
        # A server that sent its own opening SYN was connecting, not listening.
        self.server_listens = bool((conv.syn & conv.ack & ~conv.from_client).any()
                                   and not (conv.syn & ~conv.ack & ~conv.from_client).any())

    def move(self, ts: int, end: _Endpoint, new: str, reason: str) -> None:
        self.rows.append({"ts_ns": ts, "side": end.side, "local": end.local,
                          "remote": end.remote, "old": end.state, "new": new,
                          "source": "inferred", "reason": reason})
        end.state = new

    def sender_and_receiver(self, i: int) -> tuple[_Endpoint, _Endpoint]:
        sender = self.sides[self.conv.side(i)]
        receiver = self.sides["server" if sender.side == "client" else "client"]
        return sender, receiver

    def send(self, ts: int, i: int) -> None:
        conv = self.conv
        me, _ = self.sender_and_receiver(i)
        if conv.rst[i]:
            if me.state not in _GONE:
                self.move(ts, me, "CLOSE", "RST sent")
            return
        if conv.syn[i] and not conv.ack[i] and me.state in _GONE:
            me.state = "CLOSE"
            self.move(ts, me, "SYN_SENT", "SYN sent (connect)")
        if conv.fin[i]:
            if me.fin_end is None:
                me.fin_end = conv.seq_end(i)
            if me.state in ("ESTABLISHED", "SYN_RECV"):
                self.move(ts, me, "FIN_WAIT1", "FIN sent")
            elif me.state == "CLOSE_WAIT":
                self.move(ts, me, "LAST_ACK", "FIN sent")

    def receive(self, ts: int, i: int) -> None:
        conv = self.conv
        _, me = self.sender_and_receiver(i)
        opening = bool(conv.syn[i] and not conv.ack[i])
        if me.state in _GONE:
            if opening and me.side == "server" and self.server_listens:
                me.state = "LISTEN"
                self.move(ts, me, "SYN_RECV", "SYN received")
            return
        if conv.rst[i]:
            self.move(ts, me, "CLOSE", "RST received")
            return
        if me.state == "SYN_SENT":
            if conv.syn[i] and conv.ack[i]:
                self.move(ts, me, "ESTABLISHED", "SYN-ACK received")
            elif opening:
                self.move(ts, me, "SYN_RECV", "SYN received (simultaneous open)")
            return
        if me.state == "SYN_RECV" and conv.ack[i]:
            self.move(ts, me, "ESTABLISHED", "ACK of SYN received")
        if (conv.ack[i] and me.fin_end is not None and conv.rel_ack[i] >= me.fin_end):
            after_ack = {"FIN_WAIT1": "FIN_WAIT2", "CLOSING": "TIME_WAIT", "LAST_ACK": "CLOSE"}
            if me.state in after_ack:
                self.move(ts, me, after_ack[me.state], "ACK of FIN received")
        if conv.fin[i]:
            after_fin = {"ESTABLISHED": "CLOSE_WAIT", "FIN_WAIT1": "CLOSING",
                         "FIN_WAIT2": "TIME_WAIT"}
            if me.state in after_fin:
                reason = ("FIN received (simultaneous close)" if me.state == "FIN_WAIT1"
                          else "FIN received")
                self.move(ts, me, after_fin[me.state], reason)


def _relevant_rows(conv: Conversation) -> list[int]:
    """Rows that can change a state: SYN/FIN/RST, the ACK that completes the handshake and the
    first ACK of each FIN.  Everything else (plain data and ACKs) changes nothing, so a long
    transfer costs no Python loop."""
    relevant = conv.syn | conv.fin | conv.rst
    positions = np.arange(len(conv))
    synacks = np.flatnonzero(conv.syn & conv.ack)
    if len(synacks):
        later_acks = np.flatnonzero(conv.ack & ~conv.syn & conv.from_client
                                    & (positions > synacks[0]))
        if len(later_acks):
            relevant[later_acks[0]] = True
    for fin in np.flatnonzero(conv.fin):
        covering = np.flatnonzero((positions > fin) & conv.ack
                                  & (conv.from_client != conv.from_client[fin])
                                  & (conv.rel_ack >= conv.seq_end(int(fin))))
        if len(covering):
            relevant[covering[0]] = True
    return [int(i) for i in np.flatnonzero(relevant)]


def _receive_time(conv: Conversation, i: int, rows: list[int]) -> int:
    """When the receiver takes segment ``i`` in: 1 ns after it, unless the two sides' FINs (or
    opening SYNs) crossed, in which case just after the receiver sent its own."""
    ts = int(conv.ts[i]) + 1
    opening = bool(conv.syn[i] and not conv.ack[i])
    if not (conv.fin[i] or opening):
        return ts
    end = conv.seq_end(i)
    for j in rows:
        if j <= i or conv.from_client[j] == conv.from_client[i]:
            continue
        if conv.ack[j] and int(conv.rel_ack[j]) >= end:
            return ts
        crossing = conv.fin[j] if conv.fin[i] else (conv.syn[j] and not conv.ack[j])
        if crossing:
            return int(conv.ts[j]) + 1
    return ts


def infer_states(packets: pd.DataFrame, conn: int) -> pd.DataFrame:
    """Both endpoints' TCP state changes for connection ``conn``, inferred from its packets.

    Returns ``STATE_COLUMNS`` rows with ``source="inferred"``, ordered by time.  Covers the
    handshake (SYN_SENT, SYN_RECV, ESTABLISHED), orderly close (FIN_WAIT1, FIN_WAIT2,
    CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE), simultaneous close (both sides through CLOSING to
    TIME_WAIT) and resets (CLOSE with reason ``"RST sent"``/``"RST received"``).  When the
    capture lacks the connection's start, both sides begin with ``"" -> ESTABLISHED``
    (reason ``"capture starts mid-connection"``) rather than guessing the handshake.
    Raises BadInputError when there is no connection ``conn``.
    """
    packets = ensure_annotated(packets)
    rows = _infer(conversation(packets, conn))
    return _to_frame(rows, int(packets["ts_ns"].min()))


def infer_all_states(packets: pd.DataFrame, conns: Iterable[int] | None = None) -> pd.DataFrame:
    """``infer_states`` for many connections (default: all), concatenated in ``conns`` order.

    Splits the packets once, so it stays fast for captures with thousands of connections.
    Connections that do not exist are skipped.
    """
    packets = ensure_annotated(packets)
    if not len(packets):
        return empty_frame(STATE_COLUMNS)
    columns = Columns.of(packets)
    by_conn = np.argsort(columns.conn, kind="stable")  # stable: time order within each
    present, starts = np.unique(columns.conn[by_conn], return_index=True)
    stops = [*starts[1:], len(by_conn)]
    spans = {int(c): (int(a), int(b)) for c, a, b in zip(present, starts, stops, strict=True)}
    wanted = sorted(spans) if conns is None else [int(conn) for conn in conns]
    rows: list[dict[str, object]] = []
    for conn in wanted:
        if conn in spans:
            first, stop = spans[conn]
            rows += _infer(columns.conversation(conn, by_conn[first:stop]))
    return _to_frame(rows, int(packets["ts_ns"].min()))


def _infer(conv: Conversation) -> list[dict[str, object]]:
    """The state rows of one connection, in order."""
    machine = _Machine(conv)
    mid = not conv.has_handshake
    if mid:
        start = int(conv.ts[0]) - INFERRED_LEAD_NS
        for end in machine.sides.values():
            machine.move(start, end, "ESTABLISHED", MID_CONNECTION)
    rows = _relevant_rows(conv)
    if mid:  # never replay SYNs of a handshake the capture only partly holds
        rows = [i for i in rows if not conv.syn[i]]
    events = [_Event(int(conv.ts[i]) - 1, i, False) for i in rows]
    events += [_Event(_receive_time(conv, i, rows), i, True) for i in rows]
    for event in sorted(events):
        if event.receiving:
            machine.receive(event.ts, event.row)
        else:
            machine.send(event.ts, event.row)
    return machine.rows


def _to_frame(rows: list[dict[str, object]], origin: int) -> pd.DataFrame:
    if not rows:
        return empty_frame(STATE_COLUMNS)
    states = conform(pd.DataFrame(rows), STATE_COLUMNS)
    states["t"] = (states["ts_ns"] - origin).astype("float64") / 1e9
    return states
