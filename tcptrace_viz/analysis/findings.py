"""``findings``: what happened on one connection, in plain words a teacher can read out."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.closing import close_facts
from tcptrace_viz.analysis.connection_arrays import Conversation, conversation, ensure_annotated
from tcptrace_viz.analysis.counters import retransmitted, zero_window
from tcptrace_viz.analysis.fields import in_time_order
from tcptrace_viz.analysis.states import infer_states
from tcptrace_viz.vocabulary import counted


@dataclasses.dataclass(frozen=True)
class Finding:
    """One plain-word observation about a connection, anchored at a packet."""

    kind: str
    """Stable key: ``closed-first``, ``simultaneous-close``, ``half-close``, ``data-after-fin``,
    ``rst-after-fin``, ``abortive-close``, ``refused``, ``retransmission``, ``zero-window``,
    ``mid-connection``, ``time-wait``, ``capture-gap``."""
    text: str
    """One or two plain sentences, built only from fixed words and numbers (no packet text)."""
    ts_ns: int
    """When it happened (the packet's capture time)."""
    frame: int
    """The frame it points at."""


def _other(side: str) -> str:
    return "server" if side == "client" else "client"



def _at(conv: Conversation, i: int, kind: str, text: str) -> Finding:
    return Finding(kind, text, int(conv.ts[i]), int(conv.frame[i]))


def _after_fins(conv: Conversation, explained: set[int]) -> list[Finding]:
    """Half-close vs. close-then-write: what became of data sent to a side after its FIN."""
    found: list[Finding] = []
    for closer_is_client in (True, False):
        closer = "client" if closer_is_client else "server"
        fins = np.flatnonzero(conv.fin & (conv.from_client == closer_is_client))
        if not len(fins):
            continue
        fin = int(fins[0])
        later = np.arange(len(conv)) > fin
        data = np.flatnonzero(later & (conv.from_client != closer_is_client) & (conv.length > 0))
        if not len(data):
            continue
        first, peer = int(data[0]), _other(closer)
        sent = int(conv.length[data].sum())
        replies = np.flatnonzero((np.arange(len(conv)) > first)
                                 & (conv.from_client == closer_is_client))
        resets = [int(j) for j in replies if conv.rst[j]]
        data_end = max(conv.seq_end(int(j)) for j in data)
        answer_end = resets[0] if resets else len(conv)
        # acknowledged before any RST: taken in (a later RST is another story, told below)
        acked = any(conv.ack[j] and conv.rel_ack[j] >= data_end for j in replies
                    if j < answer_end)
        lead = f"The {peer} sent {counted(sent, 'byte')} after the {closer}'s FIN"
        if resets and not acked:
            explained.add(resets[0])
            found.append(_at(conv, first, "data-after-fin",
                             f"{lead}; the {closer} answered with RST (frame "
                             f"{conv.frame[resets[0]]}): its socket was already closed, so "
                             f"the data was refused, not delivered."))
        elif acked:
            found.append(_at(conv, first, "half-close",
                             f"{lead} and the {closer} acknowledged it: the {closer} had only "
                             f"shut down its sending side (half-close), so the data was "
                             f"delivered."))
        else:
            found.append(_at(conv, first, "data-after-fin",
                             f"{lead}; the capture shows no answer from the {closer}."))
    return found


def _lost_data(conv: Conversation, rst: int) -> str:
    """What an abortive close left behind: data the resetting side had received (possibly
    unread), and data it had sent that the peer never acknowledged."""
    before = np.arange(len(conv)) < rst
    mine = conv.from_client == conv.from_client[rst]
    received = int(conv.length[before & ~mine].sum())
    sent_ends = [conv.seq_end(int(i)) for i in np.flatnonzero(before & mine & (conv.length > 0))]
    peer_acks = conv.rel_ack[before & ~mine & conv.ack]
    unacked = max(sent_ends) - int(peer_acks.max()) if sent_ends and len(peer_acks) else 0
    side, peer = conv.side(rst), _other(conv.side(rst))
    notes = []
    if received:
        notes.append(f" The {side} had received {counted(received, 'byte')} from the {peer} "
                     f"(unread data makes close() send RST).")
    if unacked > 0:
        notes.append(f" {counted(unacked, 'byte')} the {side} had sent were never acknowledged "
                     f"by the {peer}: the RST threw them away.")
    return "".join(notes)


def _closing(conv: Conversation, facts: pd.Series[Any],
             explained: set[int]) -> list[Finding]:
    """Who closed first and how; RSTs that ended an orderly close."""
    found: list[Finding] = []
    kind, by = str(facts["close_kind"]), str(facts["closed_by"])
    first_fin: dict[str, int] = {}
    for side in ("client", "server"):
        fins = np.flatnonzero(conv.fin & (conv.from_client == (side == "client")))
        if len(fins):
            first_fin[side] = int(fins[0])
    resets = [int(i) for i in np.flatnonzero(conv.rst)]
    if facts["refused"]:
        syn = int(np.flatnonzero(conv.opening_syn)[0])
        rst = next(i for i in resets if conv.side(i) == "server")
        found.append(_at(conv, rst, "refused",
                         f"The server refused the connection: it answered the client's SYN "
                         f"(frame {conv.frame[syn]}) with RST (frame {conv.frame[rst]}), "
                         f"so connect() fails with ECONNREFUSED."))
        return found
    if kind == "simultaneous":
        c, s = first_fin["client"], first_fin["server"]
        found.append(_at(conv, min(c, s), "simultaneous-close",
                         f"Both sides closed at once: their FINs crossed (frames "
                         f"{conv.frame[min(c, s)]} and {conv.frame[max(c, s)]}), so both went "
                         f"through CLOSING to TIME_WAIT."))
    elif kind == "FIN":
        fin = first_fin[by]
        found.append(_at(conv, fin, "closed-first",
                         f"The {by} closed first (FIN at frame {conv.frame[fin]})."))
    elif kind == "RST":
        rst = next(i for i in resets if conv.side(i) == by)
        found.append(_at(conv, rst, "closed-first",
                         f"The {by} closed first (RST at frame {conv.frame[rst]})."))
        found.append(_at(conv, rst, "abortive-close",
                         f"The {by} reset the connection instead of closing it with FIN "
                         f"(frame {conv.frame[rst]}): an abortive close, as SO_LINGER {{1, 0}} "
                         f"or close() with unread data causes; data still in flight is "
                         f"discarded and the {_other(by)}'s next send() fails with "
                         f"ECONNRESET.{_lost_data(conv, rst)}"))
    if first_fin:
        fin = min(first_fin.values())
        for rst in resets:
            if rst > fin and rst not in explained:
                whose = "its own" if conv.side(rst) == conv.side(fin) else \
                    f"the {conv.side(fin)}'s"
                found.append(_at(conv, rst, "rst-after-fin",
                                 f"The {conv.side(rst)} sent RST (frame {conv.frame[rst]}) "
                                 f"after {whose} FIN (frame {conv.frame[fin]}): "
                                 f"the orderly close ended abortively."))
                break
    return found


def _counted(conv: Conversation, rows: pd.DataFrame) -> list[Finding]:
    """Retransmissions and zero windows, one finding per side."""
    found: list[Finding] = []
    resent, closed = retransmitted(rows), zero_window(rows)
    for side in ("client", "server"):
        mine = conv.from_client == (side == "client")
        hits = np.flatnonzero(resent & mine)
        if len(hits):
            i = int(hits[0])
            found.append(_at(conv, i, "retransmission",
                             f"The {side} retransmitted {counted(len(hits), 'segment')} (first "
                             f"at frame {conv.frame[i]}: seq {conv.rel_seq[i]}:"
                             f"{conv.rel_seq[i] + conv.length[i]}), so some segment or its ACK "
                             f"was lost or late."))
        hits = np.flatnonzero(closed & mine)
        if len(hits):
            i = int(hits[0])
            found.append(_at(conv, i, "zero-window",
                             f"The {side} advertised a zero window (frame {conv.frame[i]}; "
                             f"{counted(len(hits), 'segment')} in all): its receive buffer was "
                             f"full, so the {_other(side)} had to stop sending."))
    return found


def _capture_gaps(conv: Conversation) -> list[Finding]:
    """Bytes a side sent that the capture never held: a hole between the data segments it
    holds (the capture point missed them; the sender's own retransmission would have filled
    it).  One finding per side, at the first segment past its first hole."""
    found: list[Finding] = []
    for side in ("client", "server"):
        mine = conv.from_client == (side == "client")
        data = np.flatnonzero(mine & (conv.length > 0) & ~conv.rst)
        if len(data) < 2:
            continue
        order = data[np.argsort(conv.rel_seq[data], kind="stable")]
        covered = int(conv.rel_seq[order[0]] + conv.length[order[0]])
        holes: list[tuple[int, int, int]] = []
        for i in order[1:]:
            start = int(conv.rel_seq[i])
            if start > covered:
                holes.append((covered, start, int(i)))
            covered = max(covered, start + int(conv.length[i]))
        if not holes:
            continue
        first, first_end, after = holes[0]
        missing = sum(end - begin for begin, end, _ in holes)
        peer = ~mine & conv.ack
        acked = bool(peer.any()) and int(conv.rel_ack[peer].max()) >= holes[-1][1]
        where = (f"seq {first}:{first_end}" if len(holes) == 1 else
                 f"{len(holes)} holes, the first at seq {first}:{first_end}")
        fate = (f"the {_other(side)} acknowledged them, so they were sent and received but "
                "not captured" if acked else "they were never captured")
        found.append(_at(conv, after, "capture-gap",
                         f"The capture misses {counted(missing, 'byte')} the {side} sent "
                         f"({where}), before frame {conv.frame[after]}: {fate}."))
    return found


def _time_wait(packets: pd.DataFrame, conv: Conversation) -> list[Finding]:
    states = infer_states(packets, conv.conn)
    holders = states[states["new"] == "TIME_WAIT"]
    if not len(holders):
        return []
    who = sorted(set(holders["side"]))
    subject = "Both sides end" if len(who) == 2 else f"The {who[0]} ends"
    last = int(holders["ts_ns"].iloc[-1])
    i = int(np.searchsorted(conv.ts, last, side="right")) - 1
    return [Finding("time-wait", f"{subject} in TIME_WAIT, which Linux holds for 60 s so late "
                                 f"segments of this connection cannot reach a new one.",
                    last, int(conv.frame[max(i, 0)]))]


def findings(packets: pd.DataFrame, conn: int) -> list[Finding]:
    """Plain-word findings for connection ``conn``, ordered by time.

    Covers: a capture starting mid-connection, a refused connect, who closed first, crossing
    FINs, half-close (data after a FIN delivered and ACKed) versus data after a FIN answered
    with RST (the close-then-write puzzle), an RST ending an orderly close, RST instead of
    FIN (abortive close), retransmissions, zero windows, bytes the capture missed and who ends
    in TIME_WAIT.
    """
    packets = ensure_annotated(packets)
    conv = conversation(packets, conn)
    rows = packets[packets["conn"].to_numpy() == conn]
    rows = in_time_order(rows)
    facts = close_facts(rows).iloc[0]
    found: list[Finding] = []
    if not conv.has_handshake:
        found.append(_at(conv, 0, "mid-connection",
                         "The capture starts mid-connection (no SYN), so the handshake is "
                         "missing and both sides are assumed ESTABLISHED at the start."))
    explained: set[int] = set()
    found += _after_fins(conv, explained)
    found += _closing(conv, facts, explained)
    found += _counted(conv, rows)
    found += _capture_gaps(conv)
    found += _time_wait(packets, conv)
    return sorted(found, key=lambda f: (f.ts_ns, f.frame))
