"""Fuzz read_pcap with damaged real captures: a result or BadInputError, never anything else."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pcap_builders import (
    TS0,
    Iface,
    Packet,
    Section,
    ether,
    ext_header,
    ipv4,
    ipv6,
    pcap_file,
    pcapng_file,
    sll,
    syn,
    tcp,
)

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.pcap import DECODED_COLUMNS, PcapReadResult, read_pcap
from tcptrace_viz.pcap import reader as reader_module

FRAMES = [
    syn(),
    ether(ipv4(tcp(flags=0x12, ack=1001, options=b"\x02\x04\x05\xb4\x04\x02"))),
    ether(ipv4(tcp(flags=0x18, ack=1, payload=b"hello world",
                   options=b"\x01\x01\x08\x0a\0\0\0\1\0\0\0\2"))),
    ether(ipv6(tcp(flags=0x11, ack=1), nexthdr=0, extensions=ext_header(6)), ethertype=0x86DD),
    ether(ipv4(b"\0" * 8, proto=17)),
    ether(ipv4(tcp(flags=0x04)), vlans=(0x8100, 0x8100)),
]
TIMES = [TS0 + i * 1000 for i in range(len(FRAMES))]

BASES = {
    "le.pcap": pcap_file(FRAMES, TIMES),
    "be-ns.pcap": pcap_file(FRAMES, TIMES, little=False, nanos=True, snaplen=65536),
    "multi.pcapng": pcapng_file(
        Section([Iface(), Iface(linktype=113, tsresol=0x80 | 10)],
                [Packet(f, TS0 + i, iface=0, comment="c" * i) for i, f in enumerate(FRAMES)]
                + [Packet(sll(ipv4(tcp())), 5 << 10, iface=1, kind="opb")],
                comment="fuzz", extra_blocks=True),
        Section([Iface(tsoffset=-5)], [Packet(FRAMES[2], TS0), Packet(FRAMES[0], 0,
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


def check(path: Path) -> None:
    try:
        result = read_pcap(path)
    except BadInputError as error:
        assert error.message.endswith(".") and "\n" not in error.message
        assert str(path) in error.message
        return
    assert isinstance(result, PcapReadResult)
    assert list(result.packets.columns) == list(DECODED_COLUMNS)
    assert len(result.packets) <= result.frames_total
    assert result.partial <= bool(result.problem)
    if result.problem:
        assert str(path) in result.problem and "\n" not in result.problem


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(sorted(BASES)), mutations=st.lists(MUTATION, min_size=1,
                                                               max_size=4),
       small_windows=st.booleans())
def test_damaged_captures_never_crash(base, mutations, small_windows):
    data = mutate(BASES[base], mutations)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / base
        path.write_bytes(data)
        if small_windows:
            with mock.patch.object(reader_module, "CHUNK", 37):
                check(path)
        else:
            check(path)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), prefix=st.sampled_from(
    [b"", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a",
     b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00"]))
def test_random_bytes_never_crash(data, prefix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.bin"
        path.write_bytes(prefix + data)
        check(path)
