"""Hand-made TCP segments: see what the namespace's TCP receives, send one segment built by hand.

Some behaviours need a segment no socket would send: RFC 1337's TIME-WAIT assassination
needs an *old duplicate*, a delayed copy of a segment the peer sent before its FIN.  A raw
``IPPROTO_TCP`` socket receives a copy of every TCP segment delivered in the namespace (the
sequence numbers to copy), and an ``IPPROTO_RAW`` socket sends a packet whose IP and TCP
headers are written here, checksums included.  The kernel's TCP never counts such a segment in
what it sent (``OutSegs``); it does count it as received.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import select
import socket
import struct
import time
from typing import Final

from tcptrace_viz.errors import ScenarioError

_TCP_HEADER: Final = struct.Struct("!HHIIBBHHH")
_IPV4_HEADER: Final = struct.Struct("!BBHHHBBH4s4s")
_IPV6_HEADER: Final = struct.Struct("!IHBB16s16s")
_TTL: Final = 64


@dataclasses.dataclass(frozen=True)
class SeenSegment:
    """One TCP segment the namespace received, as the raw socket saw it."""

    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    """TCP flag bits (:data:`tcptrace_viz.tcp.TH_FIN`...)."""
    payload: int
    """Payload bytes."""


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_segment(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
                window: int = 65535) -> bytes:
    """A TCP header without options or payload, its checksum over the pseudo-header."""
    source, dest = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    header = _TCP_HEADER.pack(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                              window, 0, 0)
    if source.version == 4:
        pseudo = source.packed + dest.packed + struct.pack("!BBH", 0, socket.IPPROTO_TCP,
                                                           len(header))
    else:
        pseudo = source.packed + dest.packed + struct.pack("!IxxxB", len(header),
                                                           socket.IPPROTO_TCP)
    return header[:16] + struct.pack("!H", checksum(pseudo + header)) + header[18:]


def ip_packet(src: str, dst: str, segment: bytes) -> bytes:
    """``segment`` behind an IPv4 or IPv6 header from ``src`` to ``dst``."""
    source, dest = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if source.version == 4:
        header = _IPV4_HEADER.pack(0x45, 0, 20 + len(segment), 0, 0x4000, _TTL,
                                   socket.IPPROTO_TCP, 0, source.packed, dest.packed)
        header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
        return header + segment
    return _IPV6_HEADER.pack(6 << 28, len(segment), socket.IPPROTO_TCP, _TTL, source.packed,
                             dest.packed) + segment


def parse_segment(family: int, packet: bytes) -> SeenSegment | None:
    """The TCP fields of what a raw ``IPPROTO_TCP`` socket read (IPv4: with its IP header;
    IPv6: the TCP header on its own), or ``None`` when it is too short to be TCP."""
    if family == socket.AF_INET:
        if len(packet) < 20:
            return None
        total = struct.unpack_from("!H", packet, 2)[0]
        header_len = (packet[0] & 0x0F) * 4
        packet = packet[header_len:max(total, header_len)]
    if len(packet) < _TCP_HEADER.size:
        return None
    sport, dport, seq, ack, offset, flags, *_ = _TCP_HEADER.unpack_from(packet)
    return SeenSegment(sport, dport, seq, ack, flags, max(len(packet) - (offset >> 4) * 4, 0))


class RawTcp:
    """A listening raw TCP socket and a sending raw IP socket, for one run's namespace."""

    def __init__(self, family: int) -> None:
        self.family = family
        self._listening = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_TCP)
        try:
            self._listening.setblocking(False)
            # IPPROTO_RAW: the headers come from us (IP_HDRINCL implied), and it receives nothing
            self._sending = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
        except OSError:
            self._listening.close()
            raise
        self.seen: list[SeenSegment] = []
        """Every TCP segment received since the socket opened, oldest first (see :meth:`read`)."""

    def read(self) -> list[SeenSegment]:
        """Read what arrived since the last call into :attr:`seen`, without waiting."""
        while True:
            try:
                packet = self._listening.recv(65535)
            except BlockingIOError:
                return self.seen
            segment = parse_segment(self.family, packet)
            if segment is not None:
                self.seen.append(segment)

    def mark(self) -> int:
        """Where :attr:`seen` ends now (after reading what has arrived): for :meth:`wait_for`."""
        return len(self.read())

    def wait_for(self, since: int, timeout_s: float, what: str, **fields: int) -> SeenSegment:
        """The first segment in :attr:`seen` from index ``since`` on whose ``fields``
        (``sport=``, ``flags=``...; every bit of ``flags`` set) match, waiting for it at most
        ``timeout_s`` (on the socket, by ``select``).

        Raises:
            ScenarioError: none came in time, naming ``what``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            for segment in self.read()[since:]:
                if _matches(segment, fields):
                    return segment
            since = len(self.seen)
            left = deadline - time.monotonic()
            if left <= 0:
                raise ScenarioError(f"no {what} within {timeout_s:g} s")
            select.select([self._listening], [], [], left)

    def send(self, src: str, dst: str, sport: int, dport: int, seq: int, ack: int,
             flags: int) -> int:
        """Send one option-less, payload-less segment; the bytes sent (IP header included)."""
        packet = ip_packet(src, dst, tcp_segment(src, dst, sport, dport, seq, ack, flags))
        return self._sending.sendto(packet, (dst, 0))

    def close(self) -> None:
        """Close both sockets (what is still queued is discarded)."""
        self._listening.close()
        self._sending.close()


def _matches(segment: SeenSegment, fields: dict[str, int]) -> bool:
    for name, value in fields.items():
        have = getattr(segment, name)
        if (have & value) != value if name == "flags" else have != value:
            return False
    return True
