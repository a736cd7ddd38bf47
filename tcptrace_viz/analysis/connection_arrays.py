"""One connection's packets as plain arrays in time order, for the per-connection analyses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.annotate import ANNOTATION_COLUMNS, annotate_packets
from tcptrace_viz.analysis.fields import flag_bits, in_time_order
from tcptrace_viz.arrays import I64, Bool, Obj
from tcptrace_viz.errors import BadInputError
from tcptrace_viz.tcp import TH_ACK, TH_FIN, TH_RST, TH_SYN
from tcptrace_viz.vocabulary import endpoint


def ensure_annotated(packets: pd.DataFrame) -> pd.DataFrame:
    """``packets`` as is when it already has ``conn``/``dir``/``rel_*``, else annotated."""
    if all(column in packets.columns for column in ANNOTATION_COLUMNS):
        return packets
    return annotate_packets(packets)


@dataclasses.dataclass(frozen=True)
class Conversation:
    """The packets of one connection, in time order, as arrays."""

    conn: int
    """Connection index."""
    client: str
    """The client's ``addr:port``."""
    server: str
    """The server's ``addr:port``."""
    ts: I64
    """Capture time, ns."""
    frame: I64
    """Frame number in the capture."""
    from_client: Bool
    """True for client-to-server segments."""
    bits: I64
    """TCP flag bits."""
    rel_seq: I64
    rel_ack: I64
    length: I64
    """Payload length."""
    win: I64
    """Raw window field."""
    syn: Bool = dataclasses.field(init=False)
    """SYN set (likewise ``ack``, ``fin``, ``rst``)."""
    ack: Bool = dataclasses.field(init=False)
    fin: Bool = dataclasses.field(init=False)
    rst: Bool = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        for name, bit in (("syn", TH_SYN), ("ack", TH_ACK), ("fin", TH_FIN), ("rst", TH_RST)):
            object.__setattr__(self, name, (self.bits & bit) != 0)

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def opening_syn(self) -> Bool:
        """The client's SYN (SYN without ACK)."""
        return self.syn & ~self.ack & self.from_client

    @property
    def has_handshake(self) -> bool:
        """True when the capture holds the client's SYN."""
        return bool(self.opening_syn.any())

    def seq_end(self, i: int) -> int:
        """The acknowledgment number that covers segment ``i`` (SYN and FIN count one each)."""
        return int(self.rel_seq[i] + self.length[i] + ((self.bits[i] & TH_SYN) != 0)
                   + ((self.bits[i] & TH_FIN) != 0))

    def side(self, i: int) -> str:
        """Who sent segment ``i``: ``"client"`` or ``"server"``."""
        return "client" if self.from_client[i] else "server"


def conversation(packets: pd.DataFrame, conn: int) -> Conversation:
    """The packets of connection ``conn``; raises BadInputError when there is no such one."""
    packets = ensure_annotated(packets)
    rows = packets[packets["conn"].to_numpy() == conn]
    if not len(rows):
        count = int(packets["conn"].max()) + 1 if len(packets) else 0
        raise BadInputError(f"There is no connection {conn}: the capture holds {count} "
                            f"connection{'s' if count != 1 else ''} (numbered from 0).")
    return conversation_of(rows, conn)


def conversation_of(rows: pd.DataFrame, conn: int) -> Conversation:
    """A Conversation from ``rows``, which must be the (annotated, non-empty) rows of ``conn``."""
    return Columns.of(rows).conversation(conn, np.arange(len(rows), dtype=np.int64))


@dataclasses.dataclass(frozen=True)
class Columns:
    """The packet columns the analyses read, as arrays in time order, extracted once so many
    connections can be cut out of one capture cheaply."""

    src: Obj
    sport: I64
    dst: Obj
    dport: I64
    conn: I64
    ts: I64
    frame: I64
    from_client: Bool
    bits: I64
    rel_seq: I64
    rel_ack: I64
    length: I64
    win: I64

    @classmethod
    def of(cls, packets: pd.DataFrame) -> Columns:
        """Extract from annotated ``packets``, sorted by time."""
        rows = in_time_order(packets)
        frame = (rows["frame"].to_numpy(dtype=np.int64) if "frame" in rows.columns
                 else np.arange(1, len(rows) + 1, dtype=np.int64))
        return cls(
            src=rows["src"].to_numpy(dtype=object), sport=rows["sport"].to_numpy(dtype=np.int64),
            dst=rows["dst"].to_numpy(dtype=object), dport=rows["dport"].to_numpy(dtype=np.int64),
            conn=rows["conn"].to_numpy(dtype=np.int64), ts=rows["ts_ns"].to_numpy(dtype=np.int64),
            frame=frame, from_client=rows["dir"].to_numpy(dtype=object) != "s2c",
            bits=flag_bits(rows), rel_seq=rows["rel_seq"].to_numpy(dtype=np.int64),
            rel_ack=rows["rel_ack"].to_numpy(dtype=np.int64),
            length=rows["len"].to_numpy(dtype=np.int64), win=rows["win"].to_numpy(dtype=np.int64))

    def conversation(self, conn: int, rows: I64) -> Conversation:
        """The Conversation made of ``rows`` (positions in time order, all of ``conn``)."""
        first = int(rows[0])
        here = endpoint(str(self.src[first]), int(self.sport[first]))
        there = endpoint(str(self.dst[first]), int(self.dport[first]))
        client, server = (here, there) if self.from_client[first] else (there, here)
        return Conversation(
            conn=conn, client=client, server=server, ts=self.ts[rows], frame=self.frame[rows],
            from_client=self.from_client[rows], bits=self.bits[rows],
            rel_seq=self.rel_seq[rows], rel_ack=self.rel_ack[rows], length=self.length[rows],
            win=self.win[rows])
