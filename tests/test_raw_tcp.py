"""Hand-made segments (kernel.raw_tcp): checksums, headers, parsing; and the kernel's view."""

from __future__ import annotations

import socket
import struct

from tcptrace_viz.kernel.raw_tcp import checksum, ip_packet, parse_segment, tcp_segment
from tcptrace_viz.tcp import TH_ACK, TH_FIN


def test_checksum_is_rfc_1071s_example() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2, complemented 220d
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert checksum(b"\x01") == ~0x0100 & 0xFFFF  # an odd byte is padded with zero


def test_a_segment_checks_out_over_its_pseudo_header() -> None:
    for src, dst, pseudo_tail in (
            ("127.0.0.1", "127.0.0.2", struct.pack("!BBH", 0, 6, 20)),
            ("fd00::1", "fd00::2", struct.pack("!IxxxB", 20, 6))):
        segment = tcp_segment(src, dst, 5555, 40000, 2**32 + 7, 9, TH_ACK)
        assert len(segment) == 20
        pseudo = (socket.inet_pton(socket.AF_INET6 if ":" in src else socket.AF_INET, src)
                  + socket.inet_pton(socket.AF_INET6 if ":" in dst else socket.AF_INET, dst)
                  + pseudo_tail)
        assert checksum(pseudo + segment) == 0
        assert struct.unpack_from("!I", segment, 4)[0] == 7  # the sequence number wraps


def test_an_ipv4_packet_parses_back_and_its_header_checks_out() -> None:
    packet = ip_packet("127.0.0.1", "127.0.0.2",
                       tcp_segment("127.0.0.1", "127.0.0.2", 5555, 40000, 1, 2, TH_FIN | TH_ACK))
    assert checksum(packet[:20]) == 0
    seen = parse_segment(socket.AF_INET, packet + b"trailer")  # the IP length bounds it
    assert seen is not None
    assert (seen.sport, seen.dport, seen.seq, seen.ack, seen.flags, seen.payload) == (
        5555, 40000, 1, 2, TH_FIN | TH_ACK, 0)


def test_an_ipv6_raw_read_is_the_tcp_header_alone() -> None:
    segment = tcp_segment("::1", "::1", 1, 2, 3, 4, TH_ACK) + b"data"
    seen = parse_segment(socket.AF_INET6, segment)
    assert seen is not None and seen.payload == 4
    assert parse_segment(socket.AF_INET6, segment[:10]) is None
    assert parse_segment(socket.AF_INET, b"\x45") is None
