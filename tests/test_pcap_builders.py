"""Tiny builders for frames and capture files, so pcap tests control every byte.

Imported by the other ``test_pcap*`` modules; its own tests check the builders against dpkt,
an independent reader.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import struct

import dpkt

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


# --- pcapng ---------------------------------------------------------------------------------
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


# --- the builders agree with an independent reader -------------------------------------------
def test_builders_agree_with_dpkt(tmp_path):
    frames = [syn(), ether(ipv4(tcp(flags=0x18, ack=5, payload=b"abc")))]
    path = tmp_path / "b.pcap"
    path.write_bytes(pcap_file(frames, [TS0, TS0 + 1000]))
    with path.open("rb") as stream:
        records = list(dpkt.pcap.Reader(stream))
    assert [bytes(buf) for _ts, buf in records] == frames
    segment = dpkt.ethernet.Ethernet(records[1][1]).data.data
    assert (segment.flags, segment.data, segment.ack) == (0x18, b"abc", 5)


def test_pcapng_builder_agrees_with_dpkt(tmp_path):
    path = tmp_path / "b.pcapng"
    path.write_bytes(pcapng_file(Section([Iface()], [Packet(syn(), TS0, comment="hi")])))
    with path.open("rb") as stream:
        records = list(dpkt.pcapng.Reader(stream))
    assert [bytes(buf) for _ts, buf in records] == [syn()]
