"""A builder of decoded packet frames (the shape ``pcap.decode_frames`` returns), and its tests.

``Wire`` scripts a TCP conversation between a client and a server; sequence and
acknowledgment numbers follow automatically unless a step gives them.  The scenario functions
at the bottom build the close stories of SCENARIOS.md as they appear on the wire.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tcptrace_viz.analysis.fields import letters_to_bits

T0 = 1_764_000_000_000_000_000
CLIENT = ("127.0.0.1", 40000)
SERVER = ("127.0.0.1", 5555)
MOD = 1 << 32

DECODED_COLUMNS = ["ts_ns", "frame", "src", "sport", "dst", "dport", "flags", "flag_bits", "seq",
                   "ack", "len", "win", "options", "mss", "wscale", "sack_ok", "tsval", "tsecr",
                   "payload", "comment", "ip_version"]
WANT_COLUMNS = ["want_conn", "want_dir", "want_rel_seq", "want_rel_ack"]


class Wire:
    """Script one TCP conversation; ``frame()`` returns it as decoded packets.

    ``seq``/``ack`` given to ``send`` are relative to the sender's/peer's ISN.
    """

    def __init__(self, client: tuple[str, int] = CLIENT, server: tuple[str, int] = SERVER,
                 isn_c: int = 1000, isn_s: int = 5000, start_us: float = 0.0) -> None:
        self.ends = {"client": client, "server": server}
        self.isn = {"client": isn_c, "server": isn_s}
        self.nxt = {"client": 0, "server": 0}
        self.clock_us = start_us
        self.rows: list[dict[str, Any]] = []

    def send(self, sender: str, flags: str, length: int = 0, *, seq: int | None = None,
             ack: int | None = None, win: int = 512, after_us: float = 10.0) -> Wire:
        """Add one segment ``after_us`` microseconds after the previous one."""
        other = "server" if sender == "client" else "client"
        self.clock_us += after_us
        bits = letters_to_bits(flags)
        rel_seq = self.nxt[sender] if seq is None else seq
        rel_ack = self.nxt[other] if ack is None else ack
        has_ack = "." in flags
        src, dst = self.ends[sender], self.ends[other]
        syn_opts = "S" in flags
        self.rows.append({
            "ts_ns": T0 + round(self.clock_us * 1000), "frame": 0,
            "src": src[0], "sport": src[1], "dst": dst[0], "dport": dst[1],
            "flags": flags, "flag_bits": bits,
            "seq": (self.isn[sender] + rel_seq) % MOD,
            "ack": (self.isn[other] + rel_ack) % MOD if has_ack else 0,
            "len": length, "win": win,
            "options": "mss 65495,sackOK,nop,wscale 7" if syn_opts else "",
            "mss": 65495 if syn_opts else -1, "wscale": 7 if syn_opts else -1,
            "sack_ok": syn_opts, "tsval": -1, "tsecr": -1,
            "payload": "x" * min(length, 16), "comment": "",
            "ip_version": 6 if ":" in src[0] else 4,
            "want_dir": "c2s" if sender == "client" else "s2c",
            "want_rel_seq": rel_seq, "want_rel_ack": rel_ack if has_ack else 0,
        })
        consumed = length + ("S" in flags) + ("F" in flags)
        self.nxt[sender] = max(self.nxt[sender], rel_seq + consumed)
        return self

    def handshake(self) -> Wire:
        """SYN, SYN-ACK, ACK."""
        return self.send("client", "S").send("server", "S.").send("client", ".")

    def frame(self, expected: bool = False) -> pd.DataFrame:
        """The conversation as a decoded packets frame, frames numbered from 1."""
        return merge(self, expected=expected)


def merge(*wires: Wire, expected: bool = False) -> pd.DataFrame:
    """Several conversations as one capture: ordered by time, frames numbered from 1.

    With ``expected``, extra ``want_*`` columns hold what annotation should find (``want_conn``
    is the wire's position in the arguments).
    """
    rows = [{**row, "want_conn": index} for index, wire in enumerate(wires) for row in wire.rows]
    columns = DECODED_COLUMNS + (WANT_COLUMNS if expected else [])
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values("ts_ns", kind="stable").reset_index(drop=True)
    frame["frame"] = range(1, len(frame) + 1)
    for name in ("src", "dst", "flags", "options", "payload", "comment", "want_dir"):
        if name not in frame.columns:
            continue
        frame[name] = frame[name].astype(object)
    return frame


# --- the scenarios' wire traffic ---------------------------------------------------------------

def normal_close(wire: Wire | None = None) -> Wire:
    """``time-wait``: handshake, a request and reply, C closes, then S closes."""
    wire = (wire or Wire()).handshake()
    wire.send("client", "P.", 5).send("server", ".").send("server", "P.", 7).send("client", ".")
    wire.send("client", "F.").send("server", ".").send("server", "F.").send("client", ".")
    return wire


def close_then_write() -> Wire:
    """C close(); S writes "123"; C's socket is gone so it answers with a bare RST."""
    wire = Wire().handshake()
    return (wire.send("client", "F.").send("server", ".").send("server", "P.", 3)
            .send("client", "R"))


def shutdown_half_close() -> Wire:
    """C shutdown(SHUT_WR); S's data is delivered and ACKed; later both close normally."""
    wire = Wire().handshake()
    wire.send("client", "F.").send("server", ".").send("server", "P.", 3).send("client", ".")
    return wire.send("server", "F.").send("client", ".")


def linger0() -> Wire:
    """C closes with SO_LINGER {1, 0}: RST instead of FIN."""
    return Wire().handshake().send("client", "R.")


def linger0_data_loss() -> Wire:
    """C sends a burst; S has ACKed only part of it when C's SO_LINGER {1, 0} close() resets."""
    wire = Wire().handshake()
    wire.send("client", "P.", 1000).send("server", ".")
    wire.send("client", "P.", 1000).send("client", "P.", 1000)
    return wire.send("client", "R.")


def close_unread() -> Wire:
    """S sends data C never reads; C's close() sends RST."""
    return Wire().handshake().send("server", "P.", 100).send("client", ".").send("client", "R.")


def connect_refused() -> Wire:
    """C's SYN to a closed port is answered by RST+ACK (seq 0)."""
    return Wire(isn_s=0).send("client", "S").send("server", "R.", seq=0, ack=1)


def simultaneous_close() -> Wire:
    """Both close at once: the FINs cross, each is ACKed afterwards."""
    wire = Wire().handshake()
    wire.send("client", "F.").send("server", "F.", ack=1, after_us=1)
    return wire.send("client", ".").send("server", ".", after_us=1)


def retransmission() -> Wire:
    """C's data segment is resent with the same seq and length before S ACKs it."""
    wire = Wire().handshake()
    wire.send("client", "P.", 100).send("client", "P.", 100, seq=1, after_us=200_000)
    wire.send("server", ".")
    return wire.send("client", "F.").send("server", "F.").send("client", ".")


def zero_window() -> Wire:
    """S's buffer fills: it advertises window 0 twice, then opens it again."""
    wire = Wire().handshake()
    wire.send("client", "P.", 1000).send("server", ".", win=0)
    wire.send("client", ".", seq=1000).send("server", ".", win=0)  # window probe and answer
    wire.send("server", ".", win=512).send("client", "P.", 10).send("server", ".")
    return wire


def mid_connection() -> Wire:
    """The capture starts after the handshake: data, then an orderly close by the server."""
    wire = Wire(client=("10.0.0.1", 51000), server=("10.0.0.2", 443))
    wire.nxt = {"client": 1, "server": 1}
    wire.send("server", "P.", 10).send("client", ".").send("server", "F.")
    return wire.send("client", "F.").send("server", ".")


# --- tests of the builder itself ------------------------------------------------------------

def test_wire_numbers_follow_the_conversation() -> None:
    frame = close_then_write().frame()
    assert list(frame.columns) == DECODED_COLUMNS
    assert list(frame["flags"]) == ["S", "S.", ".", "F.", ".", "P.", "R"]
    assert list(frame["frame"]) == [1, 2, 3, 4, 5, 6, 7]
    assert frame["seq"].iloc[0] == 1000 and frame["ack"].iloc[1] == 1001
    assert frame["seq"].iloc[6] == 1002 and frame["ack"].iloc[6] == 0


def test_merge_interleaves_by_time() -> None:
    a = Wire().handshake()
    b = Wire(client=("127.0.0.1", 40001), start_us=15).handshake()
    frame = merge(a, b)
    assert frame["ts_ns"].is_monotonic_increasing
    assert list(frame["sport"].head(3)) == [40000, 5555, 40001]
