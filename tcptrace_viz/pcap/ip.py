"""The IP layer of many frames at once: IPv4 and IPv6 headers (IPv6 extension headers and
IPsec AH skipped) to the upper-layer protocol, its offset and length, and the addresses."""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from typing import Final

import numpy as np
import pandas as pd

from tcptrace_viz.arrays import I64, U8, Bool, Obj
from tcptrace_viz.pcap.gather import be16, be32, gather
from tcptrace_viz.pcap.ipv4_options import malformed_ipv4_options

IPPROTO_HOPOPTS: Final = 0  # IPv6 hop-by-hop options header
IPPROTO_TCP: Final = 6  # TCP
IPPROTO_ROUTING: Final = 43  # IPv6 routing header
IPPROTO_FRAGMENT: Final = 44  # IPv6 fragment header
IPPROTO_DSTOPTS: Final = 60  # IPv6 destination options header
IPPROTO_AH: Final = 51  # IPsec authentication header (its own length unit: 4 bytes)
_SKIPPABLE_EXTENSIONS: Final = (IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_AH)
_MAX_EXTENSIONS: Final = 8  # more chained IPv6 extension headers than this: treat as malformed


@dataclasses.dataclass
class IpLayer:
    """Each row's IP layer: whether it carries TCP, where its upper layer starts, how long
    that is, which protocol it is (-1: unknown, malformed or a later fragment) and the
    addresses (IPv4 as integers; IPv6 as 16-byte rows for ``v6_rows``)."""

    is_tcp: Bool
    l4: I64
    payload_len: I64
    v4_src: I64
    v4_dst: I64
    v6_src: U8
    v6_dst: U8
    v6_rows: I64
    proto: I64

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


def decode_ip(buf: U8, l3: I64, end: I64, version: I64, wire_ip_len: I64, *,
               malformed: Bool) -> IpLayer:
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
    proto = np.where(is_v4 & ~bad_v4 & first_fragment, head[:, 9], -1).astype(np.int64)
    l4 = l3 + ihl
    payload_len = total - ihl
    ah_rows = np.flatnonzero(proto == IPPROTO_AH)
    if len(ah_rows):  # transport or tunnel mode: what follows the AH is what it protects
        ah = gather(buf, l4[ah_rows], 2).astype(np.int64)
        size = (ah[:, 1] + 2) * 4
        fits = l4[ah_rows] + size <= end[ah_rows]
        malformed[ah_rows[~fits]] = True
        proto[ah_rows] = np.where(fits, ah[:, 0], -1)
        l4[ah_rows] += size
        payload_len[ah_rows] -= size

    v6_rows = np.flatnonzero(is_v6)
    head6 = gather(buf, l3[v6_rows], 40)
    if len(v6_rows):
        l4_6, nexthdr, bad_6, later_fragment = skip_v6_extensions(
            buf, l3[v6_rows] + 40, end[v6_rows], head6[:, 6].astype(np.int64))
        plen = be16(head6, 4)
        plen = np.where(plen == 0, wire_ip_len[v6_rows] - 40, plen)  # jumbo/BIG TCP
        plen = np.minimum(plen, wire_ip_len[v6_rows] - 40)
        plen = plen - (l4_6 - l3[v6_rows] - 40)
        bad_6 |= plen < 0
        malformed[v6_rows] |= bad_6
        proto[v6_rows] = np.where(~bad_6 & ~later_fragment, nexthdr, -1)
        l4[v6_rows] = l4_6
        payload_len[v6_rows] = plen
    is_tcp = proto == IPPROTO_TCP
    short_tcp = is_tcp & (l4 + 20 > end)
    malformed |= short_tcp
    is_tcp &= ~short_tcp
    return IpLayer(is_tcp, l4, payload_len, be32(head, 12) * is_v4, be32(head, 16) * is_v4,
                    head6[:, 8:24], head6[:, 24:40], v6_rows, proto)


def skip_v6_extensions(buf: U8, pos: I64, end: I64, nexthdr: I64
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
        size = np.where(frag, 8, np.where(nexthdr[rows] == IPPROTO_AH,
                                          (ext[:, 1].astype(np.int64) + 2) * 4,
                                          (ext[:, 1].astype(np.int64) + 1) * 8))
        nexthdr[rows] = ext[:, 0]
        pos[rows] += size
    still = np.isin(nexthdr, (*_SKIPPABLE_EXTENSIONS, IPPROTO_FRAGMENT)) & ~later_fragment
    return pos, nexthdr, bad | still, later_fragment
