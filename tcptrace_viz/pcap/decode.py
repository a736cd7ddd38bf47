"""Vectorised decode of captured frames to one row per TCP segment.

Input is one byte buffer holding many frames plus per-frame arrays (``step.Frames``: where
each frame starts, how many bytes were captured, link type, timestamp, frame number, comment).
Every step works on whole columns: gather the header bytes of all frames into a matrix, read
fields as columns, narrow down to the frames that are still TCP.  Nothing here makes a Python
object per packet except the text columns, which are shared (addresses, flags) or made in one
call per column (``texts.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from typing import Final

import numpy as np
import pandas as pd

from tcptrace_viz.arrays import I64, U8, Bool, Obj
from tcptrace_viz.pcap.column_arrays import ColumnSink
from tcptrace_viz.pcap.decode_columns import DECODED_COLUMNS
from tcptrace_viz.pcap.frames import Frames
from tcptrace_viz.pcap.gather import be16, be32, gather
from tcptrace_viz.pcap.ipv4_options import malformed_ipv4_options
from tcptrace_viz.pcap.linktypes import SUPPORTED_LINKTYPES, network_offsets
from tcptrace_viz.pcap.options import (
    OPTIONS_MIN_WIDTH,
    decode_options,
    is_nop_nop_timestamp,
    timestamp_texts,
)
from tcptrace_viz.pcap.texts import payload_texts
from tcptrace_viz.tcp import tcp_flags_to_str

IPPROTO_HOPOPTS: Final = 0  # IPv6 hop-by-hop options header
IPPROTO_TCP: Final = 6  # TCP
IPPROTO_ROUTING: Final = 43  # IPv6 routing header
IPPROTO_FRAGMENT: Final = 44  # IPv6 fragment header
IPPROTO_DSTOPTS: Final = 60  # IPv6 destination options header
_SKIPPABLE_EXTENSIONS: Final = (IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS)
_MAX_EXTENSIONS: Final = 8  # more chained IPv6 extension headers than this: treat as malformed

TCP_GATHER: Final = 32  # fixed TCP header + room for nop,nop,TS (within the buffer's padding)
PAYLOAD_PREVIEW: Final = 32  # bytes of payload shown in the ``payload`` column
BATCH: Final = 32768  # frames decoded at once: bounds the gather matrices' memory

_FLAG_TEXT: Final = np.array([tcp_flags_to_str(bits) for bits in range(256)], dtype=object)



@dataclasses.dataclass
class Decoded:
    """Counts from decoding frames (the rows themselves go to a ``ColumnSink``)."""

    malformed: int = 0
    """Frames skipped because a header length points outside the frame (or a runt)."""
    first_malformed: int = 0
    """Frame number of the first such frame (0 when none)."""
    unsupported: int = 0
    """Frames skipped because their link type is not supported."""


def to_dataframe(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The decoded table, text columns kept as ``object`` dtype like ``model.PACKET_COLUMNS``."""
    data = {name: pd.Series(columns[name], dtype=dtype, copy=False)
            for name, dtype in DECODED_COLUMNS.items()}
    return pd.DataFrame(data, copy=False)


def decode(buf: U8, frames: Frames, sink: ColumnSink, expected_rows: int = 0) -> Decoded:
    """Decode every TCP segment of ``frames`` (in batches of ``BATCH``) into ``sink``.

    ``buf`` holds the frames followed by ``gather.PAD`` zero bytes.
    ``expected_rows``: an estimate of the sink's final size, so it grows once, not often.
    """
    total = len(frames.start)
    result = Decoded()
    for low in range(0, total, BATCH):
        columns, part = _decode_batch(buf, frames, slice(low, min(total, low + BATCH)))
        sink.append(columns, expected_rows)
        if part.malformed and not result.malformed:
            result.first_malformed = part.first_malformed
        result.malformed += part.malformed
        result.unsupported += part.unsupported
    return result


def _decode_batch(buf: U8, frames: Frames, part: slice) -> tuple[dict[str, np.ndarray], Decoded]:
    start, caplen = frames.start[part], frames.caplen[part]
    linktype, wirelen = frames.linktype[part], frames.wirelen[part]
    end = start + caplen
    n = len(start)
    l3 = np.zeros(n, dtype=np.int64)
    version = np.zeros(n, dtype=np.int64)
    malformed = np.zeros(n, dtype=np.bool_)
    unsupported = 0
    single = bool(n) and linktype[0] == linktype[-1] and bool((linktype == linktype[0]).all())
    for kind in [int(linktype[0])] if single else np.unique(linktype).tolist():
        if kind not in SUPPORTED_LINKTYPES:
            unsupported += int((linktype == kind).sum())
        elif single:  # the usual case: one link type, no row selection
            l3, version, runt = network_offsets(buf, start, caplen, kind)
            malformed |= runt.astype(np.bool_)
        else:
            rows = np.flatnonzero(linktype == kind)
            l3[rows], version[rows], runt = network_offsets(buf, start[rows], caplen[rows], kind)
            malformed[rows] |= runt.astype(np.bool_)

    # As Wireshark: what the frame holds bounds the IP datagram, whatever its header claims.
    ip = _decode_ip(buf, l3, end, version, np.maximum(wirelen, caplen) - (l3 - start),
                    malformed=malformed)
    tcp_rows = np.flatnonzero(ip.is_tcp)
    l4, ip_payload = ip.l4[tcp_rows], ip.payload_len[tcp_rows]
    tcp = gather(buf, l4, TCP_GATHER)
    thl = (tcp[:, 12] >> 4).astype(np.int64) * 4
    bad_tcp = (thl < 20) | (l4 + thl > end[tcp_rows]) | (ip_payload < thl)
    if bad_tcp.any():
        malformed[tcp_rows[bad_tcp]] = True
        good = ~bad_tcp
        tcp_rows, l4, ip_payload, tcp, thl = (tcp_rows[good], l4[good], ip_payload[good],
                                              tcp[good], thl[good])
    frame_numbers = frames.frame[part]
    first_bad = int(frame_numbers[np.argmax(malformed)]) if malformed.any() else 0
    columns = _tcp_columns(buf, tcp, l4, thl, length=ip_payload - thl, end=end[tcp_rows])
    columns["ts_ns"] = frames.ts_ns[part][tcp_rows]
    columns["frame"] = frame_numbers[tcp_rows]
    columns["ip_version"] = version[tcp_rows]
    columns["src"], columns["dst"] = ip.addresses(tcp_rows)
    if frames.comment is None:
        columns["comment"] = np.full(len(tcp_rows), "", dtype=object)
    else:
        columns["comment"] = frames.comment[part][tcp_rows]
    return columns, Decoded(int(malformed.sum()), first_bad, unsupported)


@dataclasses.dataclass
class _IpLayer:
    is_tcp: Bool
    l4: I64
    payload_len: I64
    v4_src: I64
    v4_dst: I64
    v6_src: U8
    v6_dst: U8
    v6_rows: I64

    def addresses(self, rows: I64) -> tuple[Obj, Obj]:
        """Source and destination text of ``rows`` (formatted once per distinct address)."""
        both = _format_v4(np.concatenate([self.v4_src[rows], self.v4_dst[rows]]))
        src, dst = both[:len(rows)], both[len(rows):]
        if len(self.v6_rows):
            # Row r of the batch is IPv6 row index_v6[r] (-1: not IPv6).
            index_v6 = np.full(len(self.is_tcp), -1, dtype=np.int64)
            index_v6[self.v6_rows] = np.arange(len(self.v6_rows))
            where = index_v6[rows]
            hit = where >= 0
            if hit.any():
                both6 = _format_v6(np.concatenate([self.v6_src[where[hit]],
                                                   self.v6_dst[where[hit]]]))
                count = int(hit.sum())
                src[hit], dst[hit] = both6[:count], both6[count:]
        return src, dst


@functools.lru_cache(maxsize=1 << 16)
def _v4_text(address: int) -> str:
    return str(ipaddress.IPv4Address(address))


@functools.lru_cache(maxsize=1 << 16)
def _v6_text(address: bytes) -> str:
    return str(ipaddress.IPv6Address(address))


def _format_v4(addrs: I64) -> Obj:
    if not len(addrs):
        return np.zeros(0, dtype=object)
    codes, unique = pd.factorize(addrs)  # hashing: no sort
    text = np.empty(len(unique), dtype=object)
    text[:] = [_v4_text(a) for a in unique.tolist()]
    out: Obj = text[codes]
    return out


def _format_v6(addrs: U8) -> Obj:
    if not len(addrs):
        return np.zeros(0, dtype=object)
    # Exact distinct addresses by hashing, not sorting: factorize each 64-bit half, then the
    # pairs of half codes (a pair identifies the address).
    halves = np.ascontiguousarray(addrs).view(np.uint64)
    high = pd.factorize(halves[:, 0])[0].astype(np.int64)
    low, low_distinct = pd.factorize(halves[:, 1])
    codes, pairs = pd.factorize(high * len(low_distinct) + low)
    example = np.empty(len(pairs), dtype=np.int64)
    example[codes] = np.arange(len(codes))  # a row of each address (any: they are equal)
    text = np.empty(len(pairs), dtype=object)
    text[:] = [_v6_text(addrs[row].tobytes()) for row in example.tolist()]
    out: Obj = text[codes]
    return out


def _decode_ip(buf: U8, l3: I64, end: I64, version: I64, wire_ip_len: I64, *,
               malformed: Bool) -> _IpLayer:
    """Locate the TCP header of IPv4/IPv6 packets; marks malformed ones in ``malformed``."""
    head = gather(buf, l3, 20)  # IPv4 without options; IPv6 rows gather their 40 below
    nibble = (head[:, 0] >> 4).astype(np.int64)
    is_v4, is_v6 = version == 4, version == 6
    short = (is_v4 | is_v6) & ((l3 + np.where(is_v6, 40, 20) > end) | (nibble != version))
    malformed |= short
    is_v4 &= ~short
    is_v6 &= ~short

    ihl = (head[:, 0] & 0x0F).astype(np.int64) * 4
    total = be16(head, 2)
    total = np.where(total == 0, wire_ip_len, total)  # TSO/GSO: the kernel left it 0
    total = np.minimum(total, wire_ip_len)
    bad_v4 = is_v4 & ((ihl < 20) | (l3 + ihl > end) | (total < ihl))
    bad_v4 |= is_v4 & ~bad_v4 & malformed_ipv4_options(buf, l3, np.where(is_v4, ihl, 0))
    malformed |= bad_v4
    first_fragment = (be16(head, 6) & 0x1FFF) == 0
    is_tcp = is_v4 & ~bad_v4 & (head[:, 9] == IPPROTO_TCP) & first_fragment
    l4 = l3 + ihl
    payload_len = total - ihl

    v6_rows = np.flatnonzero(is_v6)
    head6 = gather(buf, l3[v6_rows], 40)
    if len(v6_rows):
        l4_6, nexthdr, bad_6, later_fragment = _skip_v6_extensions(
            buf, l3[v6_rows] + 40, end[v6_rows], head6[:, 6].astype(np.int64))
        plen = be16(head6, 4)
        plen = np.where(plen == 0, wire_ip_len[v6_rows] - 40, plen)  # jumbo/BIG TCP
        plen = np.minimum(plen, wire_ip_len[v6_rows] - 40)
        plen = plen - (l4_6 - l3[v6_rows] - 40)
        bad_6 |= plen < 0
        malformed[v6_rows] |= bad_6
        is_tcp[v6_rows] = ~bad_6 & ~later_fragment & (nexthdr == IPPROTO_TCP)
        l4[v6_rows] = l4_6
        payload_len[v6_rows] = plen
    short_tcp = is_tcp & (l4 + 20 > end)
    malformed |= short_tcp
    is_tcp &= ~short_tcp
    return _IpLayer(is_tcp, l4, payload_len, be32(head, 12) * is_v4, be32(head, 16) * is_v4,
                    head6[:, 8:24], head6[:, 24:40], v6_rows)


def _skip_v6_extensions(buf: U8, pos: I64, end: I64, nexthdr: I64
                        ) -> tuple[I64, I64, Bool, Bool]:
    """Walk hop-by-hop, routing, destination-options and fragment headers, all rows at once.

    Returns the upper-layer header offset and protocol, rows whose headers run outside the
    frame (or chain too long), and rows that are non-first fragments.
    """
    pos, nexthdr = pos.copy(), nexthdr.copy()
    bad = np.zeros(len(pos), dtype=np.bool_)
    later_fragment = np.zeros(len(pos), dtype=np.bool_)
    for _ in range(_MAX_EXTENSIONS):
        is_ext = np.isin(nexthdr, _SKIPPABLE_EXTENSIONS)
        is_frag = nexthdr == IPPROTO_FRAGMENT
        walking = (is_ext | is_frag) & ~bad & ~later_fragment
        if not walking.any():
            return pos, nexthdr, bad, later_fragment
        outside = walking & (pos + 8 > end)
        bad |= outside
        rows = np.flatnonzero(walking & ~outside)
        ext = gather(buf, pos[rows], 8)
        frag = is_frag[rows]
        later_fragment[rows[frag]] = (be16(ext[frag], 2) >> 3) != 0
        size = np.where(frag, 8, (ext[:, 1].astype(np.int64) + 1) * 8)
        nexthdr[rows] = ext[:, 0]
        pos[rows] += size
    still = np.isin(nexthdr, (*_SKIPPABLE_EXTENSIONS, IPPROTO_FRAGMENT)) & ~later_fragment
    return pos, nexthdr, bad | still, later_fragment


def _tcp_columns(buf: U8, tcp: U8, l4: I64, thl: I64, *, length: I64,
                 end: I64) -> dict[str, np.ndarray]:
    """Every TCP-derived column for segments whose header starts at ``l4``.

    ``tcp`` holds each segment's first ``TCP_GATHER`` bytes: the fixed header and 12 more.
    """
    m = len(l4)
    flag_bits = tcp[:, 13].astype(np.int64)
    ack = be32(tcp, 8)
    columns: dict[str, np.ndarray] = {
        "sport": be16(tcp, 0), "dport": be16(tcp, 2), "seq": be32(tcp, 4),
        "ack": np.where(flag_bits & 0x10, ack, 0), "flags": _FLAG_TEXT[flag_bits],
        "flag_bits": flag_bits, "len": length, "win": be16(tcp, 14),
    }
    # The commonest options, nop,nop,TS, sit in the 12 bytes gathered after the fixed header.
    ts_only = is_nop_nop_timestamp(thl - 20, be32(tcp, 20))
    tsval, tsecr = np.where(ts_only, be32(tcp, 24), -1), np.where(ts_only, be32(tcp, 28), -1)
    text = np.full(m, "", dtype=object)
    ts_rows = np.flatnonzero(ts_only)
    text[ts_rows] = timestamp_texts(tsval[ts_rows], tsecr[ts_rows])
    columns.update(options=text, tsval=tsval, tsecr=tsecr, mss=np.full(m, -1, dtype=np.int64),
                   wscale=np.full(m, -1, dtype=np.int64), sack_ok=np.zeros(m, dtype=np.bool_))
    others = np.flatnonzero((thl > 20) & ~ts_only)
    if len(others):
        optlen = thl[others] - 20
        # Only as wide as the longest options (bytes past a packet's own are never read).
        width = max(int(optlen.max()), OPTIONS_MIN_WIDTH)
        decoded = decode_options(gather(buf, l4[others] + 20, width), optlen)
        for name in ("tsval", "tsecr", "mss", "wscale", "sack_ok"):
            columns[name][others] = getattr(decoded, name)
        text[others] = decoded.text
    columns["payload"] = _payload_preview(buf, l4 + thl, np.minimum(length, end - l4 - thl))
    return columns


def _payload_preview(buf: U8, at: I64, available: I64) -> Obj:
    """Printable text of up to ``PAYLOAD_PREVIEW`` payload bytes ('.' for the rest)."""
    return payload_texts(gather(buf, at, PAYLOAD_PREVIEW), available)
