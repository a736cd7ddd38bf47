"""Shared builders of bytes and frames, so tests control every byte without a capture.

- Frames and capture files (``tcp``, ``ipv4``, ..., ``pcap_file``, ``pcapng_file``): the pcap
  tests build their inputs byte by byte; ``test_pcap_builders`` checks them against dpkt.
- ``Wire``: a scripted TCP conversation as decoded packet frames (the shape
  ``pcap.decode_frames`` returns), with the close stories of SCENARIOS.md at the bottom;
  ``wire_bytes`` turns one back into Ethernet frames.
- ``BASES`` and ``mutate``: real captures and ways to damage them, for the fuzz tests.
- ``own_leftovers``: what a capture run left behind (tracefs instances, processes);
  ``unmeasured_env``: the environment for a subprocess that must run without coverage.

Traces (the model the renderers take) come from ``factory``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from factory import CLIENT, SERVER, T0
from hypothesis import strategies as st

from tcptrace_viz.analysis.fields import letters_to_bits

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace

# --- frames and capture files ---------------------------------------------------------------------
TS0 = 1_764_000_000_123_456_789  # ns; a fixed time so expectations are exact


def tcp(sport: int = 40000, dport: int = 5555, seq: int = 1000, ack: int = 0,
        flags: int = 0x02, win: int = 65495, options: bytes = b"", payload: bytes = b"",
        data_offset: int | None = None) -> bytes:
    """A TCP segment; ``options`` are padded to 4 bytes with NOPs unless ``data_offset``."""
    if data_offset is None:
        options += b"\x01" * (-len(options) % 4)
        data_offset = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, data_offset << 4, flags, win, 0,
                       0) + options + payload


def ipv4(l4: bytes, src: str = "127.0.0.1", dst: str = "127.0.0.2", proto: int = 6,
         options: bytes = b"", frag: int = 0, total: int | None = None,
         ihl: int | None = None) -> bytes:
    """An IPv4 packet around ``l4``; ``frag`` is the flags+offset field."""
    ihl = (20 + len(options)) // 4 if ihl is None else ihl
    total = 20 + len(options) + len(l4) if total is None else total
    return (struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, frag, 64, proto, 0,
                        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
            + options + l4)


def ipv6(l4: bytes, src: str = "::1", dst: str = "2001:db8::2", nexthdr: int = 6,
         extensions: bytes = b"", plen: int | None = None) -> bytes:
    """An IPv6 packet; ``extensions`` already chained (their next-header bytes set)."""
    plen = len(extensions) + len(l4) if plen is None else plen
    return (struct.pack("!IHBB16s16s", 0x60000000, plen, nexthdr, 64,
                        ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed)
            + extensions + l4)


def ext_header(nexthdr: int, body_len8: int = 0) -> bytes:
    """A hop-by-hop/routing/destination-options header of (body_len8 + 1) * 8 bytes."""
    return bytes([nexthdr, body_len8]) + b"\x01\x04\0\0\0\0" + b"\0" * (8 * body_len8)


def fragment_header(nexthdr: int, offset8: int, more: bool = False) -> bytes:
    """An IPv6 fragment header."""
    return struct.pack("!BBHI", nexthdr, 0, offset8 << 3 | int(more), 7)


def ether(l3: bytes, ethertype: int = 0x0800, vlans: tuple[int, ...] = ()) -> bytes:
    """An Ethernet frame, optionally with 802.1Q tags (TPIDs given outermost first)."""
    tags = b"".join(struct.pack("!HH", tpid, 100 + i) for i, tpid in enumerate(vlans))
    return b"\x00" * 12 + tags + struct.pack("!H", ethertype) + l3


def sll(l3: bytes, protocol: int = 0x0800) -> bytes:
    """Linux cooked v1 header + packet."""
    return struct.pack("!HHH8sH", 0, 772, 6, b"\0" * 8, protocol) + l3


def sll2(l3: bytes, protocol: int = 0x0800) -> bytes:
    """Linux cooked v2 header + packet."""
    return struct.pack("!HHIHBB8s", protocol, 0, 1, 772, 0, 6, b"\0" * 8) + l3


def null(l3: bytes, family: int = 2, little: bool = True) -> bytes:
    """BSD loopback (LINKTYPE_NULL little/big) or OpenBSD LOOP (big) header + packet."""
    return struct.pack("<I" if little else ">I", family) + l3


def pcap_file(frames: list[bytes], ts_ns: list[int], linktype: int = 1, little: bool = True,
              nanos: bool = False, snaplen: int = 262144,
              caplens: list[int] | None = None, wirelens: list[int] | None = None) -> bytes:
    """A classic pcap file; ``caplens`` truncates frames as a small snaplen would."""
    order = "<" if little else ">"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for i, frame in enumerate(frames):
        caplen = len(frame) if caplens is None else caplens[i]
        wirelen = len(frame) if wirelens is None else wirelens[i]
        sec, frac = divmod(ts_ns[i], 1_000_000_000)
        frac = frac if nanos else frac // 1000
        out.append(struct.pack(order + "IIII", sec, frac, caplen, wirelen) + frame[:caplen])
    return b"".join(out)


# --- pcapng ---------------------------------------------------------------------------------------
def _options(order: str, options: list[tuple[int, bytes]]) -> bytes:
    if not options:
        return b""
    parts = [struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)
             for code, value in options]
    return b"".join(parts) + struct.pack(order + "HH", 0, 0)


def block(order: str, btype: int, body: bytes, trailer: int | None = None) -> bytes:
    """A pcapng block with correct (or a chosen wrong trailing) length."""
    size = 12 + len(body)
    return (struct.pack(order + "II", btype, size) + body
            + struct.pack(order + "I", size if trailer is None else trailer))


@dataclasses.dataclass
class Iface:
    linktype: int = 1
    tsresol: int | None = 9
    tsoffset: int = 0
    name: str = "lo"


@dataclasses.dataclass
class Packet:
    frame: bytes
    ts_raw: int
    iface: int = 0
    comment: str = ""
    kind: str = "epb"  # "epb", "spb" or "opb"
    caplen: int | None = None
    wirelen: int | None = None  # the original length (default: the frame's)


@dataclasses.dataclass
class Section:
    interfaces: list[Iface]
    packets: list[Packet]
    little: bool = True
    comment: str = ""
    extra_blocks: bool = False  # add a name resolution and an interface statistics block


def section_bytes(section: Section) -> bytes:
    """One pcapng section: SHB, IDBs, packets (and unknown blocks to skip)."""
    o = "<" if section.little else ">"
    shb_opts = [(1, section.comment.encode())] if section.comment else []
    out = [block(o, 0x0A0D0D0A, struct.pack(o + "IHHq", 0x1A2B3C4D, 1, 0, -1)
                 + _options(o, shb_opts))]
    for iface in section.interfaces:
        opts = [(2, iface.name.encode())]
        if iface.tsresol is not None:
            opts.append((9, bytes([iface.tsresol])))
        if iface.tsoffset:
            opts.append((14, struct.pack(o + "q", iface.tsoffset)))
        out.append(block(o, 1, struct.pack(o + "HHI", iface.linktype, 0, 262144)
                         + _options(o, opts)))
    if section.extra_blocks:
        out.append(block(o, 4, struct.pack(o + "HH", 0, 0)))  # empty name resolution block
    for packet in section.packets:
        frame = packet.frame
        caplen = len(frame) if packet.caplen is None else packet.caplen
        wirelen = len(frame) if packet.wirelen is None else packet.wirelen
        data = frame[:caplen] + b"\0" * (-caplen % 4)
        opts = _options(o, [(1, packet.comment.encode())] if packet.comment else [])
        if packet.kind == "spb":
            out.append(block(o, 3, struct.pack(o + "I", len(frame)) + data))
        elif packet.kind == "opb":
            out.append(block(o, 2, struct.pack(o + "HHIIII", packet.iface, 0,
                                               packet.ts_raw >> 32, packet.ts_raw & 0xFFFFFFFF,
                                               caplen, wirelen) + data + opts))
        else:
            out.append(block(o, 6, struct.pack(o + "IIIII", packet.iface, packet.ts_raw >> 32,
                                               packet.ts_raw & 0xFFFFFFFF, caplen, wirelen)
                             + data + opts))
    if section.extra_blocks:
        out.append(block(o, 5, struct.pack(o + "III", 0, 0, 0)))  # interface statistics
    return b"".join(out)


def pcapng_file(*sections: Section) -> bytes:
    """A pcapng file of the given sections."""
    return b"".join(section_bytes(section) for section in sections)


def syn(sport: int = 40000, seq: int = 1000) -> bytes:
    """A Linux-like SYN from 127.0.0.1 with mss, sackOK, TS and wscale."""
    options = (b"\x02\x04\xff\xd7" + b"\x04\x02" + b"\x08\x0a" + struct.pack("!II", 123, 0)
               + b"\x01" + b"\x03\x03\x07")
    return ether(ipv4(tcp(sport=sport, seq=seq, flags=0x02, options=options)))


# --- decoded frames: a scripted conversation ------------------------------------------------------
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


# --- the scenarios' wire traffic ------------------------------------------------------------------

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


def wire_bytes(frame: pd.DataFrame) -> list[bytes]:
    """Each row of a Wire frame as an Ethernet frame."""
    out = []
    for row in frame.itertuples(index=False):
        segment = tcp(sport=row.sport, dport=row.dport, seq=row.seq, ack=row.ack,
                      flags=row.flag_bits, win=row.win, payload=b"x" * row.len)
        if row.ip_version == 6:
            out.append(ether(ipv6(segment, src=row.src, dst=row.dst), ethertype=0x86DD))
        else:
            out.append(ether(ipv4(segment, src=row.src, dst=row.dst)))
    return out


# --- damaged captures, for the fuzz tests ---------------------------------------------------------
_FUZZ_FRAMES = [
    syn(),
    ether(ipv4(tcp(flags=0x12, ack=1001, options=b"\x02\x04\x05\xb4\x04\x02"))),
    ether(ipv4(tcp(flags=0x18, ack=1, payload=b"hello world",
                   options=b"\x01\x01\x08\x0a\0\0\0\1\0\0\0\2"))),
    ether(ipv6(tcp(flags=0x11, ack=1), nexthdr=0, extensions=ext_header(6)), ethertype=0x86DD),
    ether(ipv4(b"\0" * 8, proto=17)),
    ether(ipv4(tcp(flags=0x04)), vlans=(0x8100, 0x8100)),
]
_FUZZ_TIMES = [TS0 + i * 1000 for i in range(len(_FUZZ_FRAMES))]

BASES = {
    "le.pcap": pcap_file(_FUZZ_FRAMES, _FUZZ_TIMES),
    "be-ns.pcap": pcap_file(_FUZZ_FRAMES, _FUZZ_TIMES, little=False, nanos=True, snaplen=65536),
    "multi.pcapng": pcapng_file(
        Section([Iface(), Iface(linktype=113, tsresol=0x80 | 10)],
                [Packet(f, TS0 + i, iface=0, comment="c" * i) for i, f in enumerate(_FUZZ_FRAMES)]
                + [Packet(sll(ipv4(tcp())), 5 << 10, iface=1, kind="opb")],
                comment="fuzz", extra_blocks=True),
        Section([Iface(tsoffset=-5)], [Packet(_FUZZ_FRAMES[2], TS0), Packet(_FUZZ_FRAMES[0], 0,
                                                                    kind="spb")],
                little=False)),
}


def length_fields(data: bytes) -> list[int]:
    """Offsets of the length fields of a pcap's records or a pcapng's blocks."""
    offsets: list[int] = []
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        at, order = 0, "<"
        while at + 12 <= len(data):
            if data[at:at + 4] == b"\x0a\x0d\x0d\x0a":
                order = "<" if data[at + 8:at + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            size = struct.unpack_from(order + "I", data, at + 4)[0]
            offsets += [at + 4, at + size - 4]
            if struct.unpack_from(order + "I", data, at)[0] == 6:
                offsets += [at + 8, at + 20, at + 24]  # interface, caplen, wire length
            at += size
        return offsets
    order = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    at = 24
    while at + 16 <= len(data):
        offsets += [at + 8, at + 12]
        at += 16 + struct.unpack_from(order + "I", data, at + 8)[0]
    return offsets


INTERESTING = st.sampled_from([0, 1, 3, 4, 11, 12, 13, 16, 27, 28, 31, 32, 33, 60, 0xFFFF,
                               262144, 262145, 1 << 24, 0x7FFFFFFF, 0xFFFFFFFF])
MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20), st.just(0)),
    st.tuples(st.just("length"), st.integers(0, 1 << 10), INTERESTING | st.integers(0, 2**32 - 1)),
    st.tuples(st.just("word"), st.integers(0, 1 << 20), INTERESTING),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.integers(0, 255)),
)


def mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, where, value in mutations:
        if not buf:
            break
        at = where % len(buf)
        if kind == "flip":
            buf[at] ^= value
        elif kind == "truncate":
            del buf[at:]
        elif kind == "insert":
            buf[at:at] = bytes([value])
        else:
            if kind == "length":
                fields = length_fields(data)
                at = fields[where % len(fields)] if fields else at
            order = "<" if value & 1 else ">"
            buf[at:at + 4] = struct.pack(order + "I", value)[:max(0, len(buf) - at)]
    return bytes(buf)


# --- what a capture run left behind ---------------------------------------------------------------
INSTANCES = Path("/sys/kernel/tracing/instances")


def _parent_of(pid: str) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat.rsplit(")", 1)[1].split()[1])


def own_leftovers(cli_pid: int, marker: str) -> list[str]:
    """Tracefs instances, processes and descendants belonging to the run ``cli_pid``."""
    from tcptrace_viz.capture.tracefs import INSTANCE_PREFIX

    found = []
    if INSTANCES.is_dir():
        found += [path.name for path in INSTANCES.iterdir()
                  if path.name.startswith(f"{INSTANCE_PREFIX}{cli_pid}.")]
    parents = {pid: _parent_of(pid) for pid in os.listdir("/proc") if pid.isdigit()}
    for pid, parent in parents.items():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline or parent == cli_pid:
            found.append(f"pid {pid}")
    return found


def unmeasured_env() -> dict[str, str]:
    """This process's environment without what starts coverage in a child interpreter.

    For subprocesses whose timing or imports are what a test checks: under coverage the
    interpreter starts later than the tests' start-up window allows, imports more (typing), and
    saves its data inside os._exit, where a signal can interrupt it.
    """
    return {name: value for name, value in os.environ.items()
            if name not in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")}


# --- a capture, as the capture session hands it to the store --------------------------------------
def captured_trace(**meta: Any) -> tuple[Trace, list[bytes], list[int]]:
    """``close-then-write`` as a capture ends: its Trace, the frames and their times.

    The packets are decoded from the frames (as the session does), so a capture folder written
    from them reads back equal; states and syscalls are ``factory``'s.  ``meta`` adds to the
    metadata, which is JSON-shaped already (lists, string keys), as a capture's is.
    """
    from factory import close_then_write_rows

    from tcptrace_viz.analysis import annotate_packets
    from tcptrace_viz.model import Trace
    from tcptrace_viz.pcap import LINKTYPE_ETHERNET, decode_frames

    wire = close_then_write().frame()
    frames, times = wire_bytes(wire), [int(ns) for ns in wire["ts_ns"]]
    comments = ["" for _ in frames]
    comments[3] = "client FIN_WAIT1 (close() = 0)"
    packets = annotate_packets(decode_frames(frames, times, LINKTYPE_ETHERNET, comments))
    packets["reason"] = ["NO_SOCKET" if flags == "R" else "" for flags in packets["flags"]]
    _, states, syscalls = close_then_write_rows()
    base = {"scenario": "close-then-write", "kernel": "6.1.0-test", "verdict": "pass",
            "sides": ["client", "server"], "sysctls": {"net.ipv4.tcp_fin_timeout": "60"},
            "stats": {"frames": len(frames), "tcp_segments": len(frames), "dropped": 0},
            "state_source": "tracepoint", "source": "capture"}
    trace = Trace.build(packets=packets, states=pd.DataFrame(states),
                        syscalls=pd.DataFrame(syscalls), meta={**base, **meta})
    return trace, frames, times


STARTUP_S = 0.5
"""Before the interpreter runs tcptrace-viz's first line (its own start: 10-40 ms alone, longer
when several start at once) a signal meets CPython itself: SIGTERM kills the process (the shell
shows 143); SIGINT kills it too, or CPython reports a fatal error while it starts.  Nothing of
the run exists yet."""
