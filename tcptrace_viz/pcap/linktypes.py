"""Link-layer types and the vectorised step from a link-layer frame to its IP header.

Numbers are the LINKTYPE_ values of the tcpdump.org registry (what pcap and pcapng files hold).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from tcptrace_viz.arrays import I64, U8
from tcptrace_viz.pcap.ethertypes import Peeled, peel, ppp_ethertype, ppp_protocol
from tcptrace_viz.pcap.gather import be16, gather

LINKTYPE_NULL: Final = 0  # BSD loopback: 4-byte address family in the capturing host's order
LINKTYPE_ETHERNET: Final = 1  # IEEE 802.3 Ethernet (Linux `lo` too), maybe 802.1Q/QinQ tagged
LINKTYPE_RAW_BSD12: Final = 12  # raw IP, as DLT 12 means on most BSDs and Linux
LINKTYPE_RAW_BSD14: Final = 14  # raw IP, as DLT 14 means on OpenBSD
LINKTYPE_RAW: Final = 101  # raw IP: the frame starts with an IPv4 or IPv6 header
LINKTYPE_LOOP: Final = 108  # OpenBSD loopback: 4-byte address family in network order
LINKTYPE_LINUX_SLL: Final = 113  # Linux "cooked" capture v1 (16-byte header, `any` device)
LINKTYPE_IPV4: Final = 228  # raw IPv4
LINKTYPE_IPV6: Final = 229  # raw IPv6
LINKTYPE_LINUX_SLL2: Final = 276  # Linux "cooked" capture v2 (20-byte header)
LINKTYPE_PPP: Final = 9  # PPP, maybe with HDLC-like address and control bytes
LINKTYPE_FDDI: Final = 10  # FDDI: frame control, MAC addresses, then 802.2 LLC
LINKTYPE_PPP_HDLC: Final = 50  # PPP in HDLC-like framing
LINKTYPE_C_HDLC: Final = 104  # Cisco HDLC: address, control, EtherType
LINKTYPE_NFLOG: Final = 239  # Linux netfilter log: header, then TLVs (one holds the packet)
LINKTYPE_ARCNET_LINUX: Final = 129  # ARCNET as Linux captures it: addresses, offset, protocol
LINKTYPE_IPOIB: Final = 242  # IP over InfiniBand: 40 bytes of addresses, EtherType, reserved

#: Human names, for messages.
LINKTYPE_NAMES: Final[dict[int, str]] = {
    LINKTYPE_NULL: "BSD loopback", LINKTYPE_ETHERNET: "Ethernet", LINKTYPE_RAW_BSD12: "raw IP",
    LINKTYPE_RAW_BSD14: "raw IP", LINKTYPE_RAW: "raw IP", LINKTYPE_LOOP: "OpenBSD loopback",
    LINKTYPE_LINUX_SLL: "Linux cooked v1", LINKTYPE_IPV4: "raw IPv4", LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2", LINKTYPE_PPP: "PPP", LINKTYPE_FDDI: "FDDI",
    LINKTYPE_PPP_HDLC: "PPP in HDLC framing", LINKTYPE_C_HDLC: "Cisco HDLC",
    LINKTYPE_NFLOG: "NFLOG", LINKTYPE_IPOIB: "IP over InfiniBand",
    LINKTYPE_ARCNET_LINUX: "Linux ARCNET",
}
SUPPORTED_LINKTYPES: Final = frozenset(LINKTYPE_NAMES)

#: Names of common link types this package does not decode, so messages can name them.
_OTHER_NAMES: Final[dict[int, str]] = {
    105: "IEEE 802.11", 127: "IEEE 802.11 radiotap",
    192: "PPI", 195: "IEEE 802.15.4", 189: "Linux USB", 220: "Linux USB (mmapped)",
    249: "Netlink", 253: "Netlink",
}

# Address family values meaning IP in BSD/OpenBSD loopback headers (AF_INET; AF_INET6 of
# Linux, FreeBSD, Darwin, OpenBSD/NetBSD).
_LOOPBACK_IP_FAMILIES: Final = (2, 10, 24, 28, 30)
_RAW_TYPES: Final = (LINKTYPE_RAW, LINKTYPE_RAW_BSD12, LINKTYPE_RAW_BSD14, LINKTYPE_IPV4,
                     LINKTYPE_IPV6)



def linktype_name(linktype: int) -> str:
    """``"Ethernet (1)"``; unknown types by number only."""
    name = LINKTYPE_NAMES.get(linktype) or _OTHER_NAMES.get(linktype)
    return f"{name} ({linktype})" if name else f"link type {linktype}"


def link_layer(buf: U8, start: I64, caplen: I64, linktype: int) -> tuple[Peeled, I64]:
    """Find the IP header of each frame of one link type.

    Returns where each frame's IP header is (offset, the version the link layer announces: 4,
    6, or 0 for not IP / unsupported, and any VLAN ids) and 1 where the frame is too short
    for its own link header (a runt: to be counted as malformed, not merely skipped).
    """
    end = start + caplen
    n = len(start)
    if linktype in _PEELED_AT:
        type_at, payload_at = _PEELED_AT[linktype]
        ethertype = be16(gather(buf, start + type_at, 2), 0) if type_at >= 0 else np.zeros(
            n, dtype=np.int64)  # FDDI: LLC straight away
        peeled = peel(buf, ethertype, start + payload_at, end)
    elif linktype in (LINKTYPE_PPP, LINKTYPE_PPP_HDLC):
        head = gather(buf, start, 4)
        framed = (head[:, 0] == 0xFF) & (head[:, 1] == 0x03)
        at = start + np.where(framed, 2, 0)
        protocol, size = ppp_protocol(gather(buf, at, 2), 0)
        peeled = peel(buf, ppp_ethertype(protocol), at + size, end)
    elif linktype == LINKTYPE_NFLOG:
        peeled = _nflog(buf, start, end)
    elif linktype == LINKTYPE_ARCNET_LINUX:
        peeled = _arcnet(buf, start)
    else:
        l3, version = _ip_offsets(buf, start, linktype)
        peeled = Peeled(l3, version, None)
    runt = (peeled.l3 - start > caplen).astype(np.int64)
    peeled.version = np.where(runt == 1, 0, peeled.version)
    return peeled, runt


def network_offsets(buf: U8, start: I64, caplen: I64, linktype: int) -> tuple[I64, I64, I64]:
    """``link_layer`` without the VLAN ids: ``(l3, version, runt)``."""
    peeled, runt = link_layer(buf, start, caplen, linktype)
    return peeled.l3, peeled.version, runt


#: Link types that end in an EtherType: (its offset or -1 for LLC at once, payload offset).
_PEELED_AT: Final[dict[int, tuple[int, int]]] = {
    LINKTYPE_ETHERNET: (12, 14), LINKTYPE_LINUX_SLL: (14, 16), LINKTYPE_LINUX_SLL2: (0, 20),
    LINKTYPE_C_HDLC: (2, 4), LINKTYPE_IPOIB: (40, 44), LINKTYPE_FDDI: (-1, 13),
}
_NFLOG_PAYLOAD: Final = 9  # NFULA_PAYLOAD: the TLV holding the packet
_NFLOG_MAX_TLVS: Final = 32


def _nflog(buf: U8, start: I64, end: I64) -> Peeled:
    """NFLOG: the packet is the value of the NFULA_PAYLOAD TLV (lengths in host order: LE)."""
    family = gather(buf, start, 1)[:, 0].astype(np.int64)
    pos = start + 4
    found = np.zeros(len(start), dtype=np.bool_)
    for _tlv in range(_NFLOG_MAX_TLVS):
        rows = np.flatnonzero(~found & (pos + 4 <= end))
        if not len(rows):
            break
        tlv = gather(buf, pos[rows], 4).astype(np.int64)
        length, kind = tlv[:, 0] | tlv[:, 1] << 8, (tlv[:, 2] | tlv[:, 3] << 8) & 0x7FFF
        payload = kind == _NFLOG_PAYLOAD
        found[rows[payload]] = True
        pos[rows[payload]] += 4
        rest = rows[~payload]
        pos[rest] += np.maximum((length[~payload] + 3) & ~3, 4)
    version = np.where(found & (family == 2), 4, np.where(found & (family == 10), 6, 0))
    return Peeled(pos, version.astype(np.int64), None)


_ARCNET_IP_RFC1201: Final = 0xD4  # IPv4, RFC 1201 framing (split flag and sequence follow)
_ARCNET_IP_RFC1051: Final = 0xF0  # IPv4, RFC 1051 framing
_ARCNET_IPV6: Final = 0xC4  # IPv6 (RFC 2497, RFC 1201 framing)


def _arcnet(buf: U8, start: I64) -> Peeled:
    """Linux ARCNET: source, destination, 2-byte offset, protocol; RFC 1201 protocols add a
    split flag and a sequence number (and 4 bytes more for an exception packet, flag 0xFF)."""
    head = gather(buf, start, 8).astype(np.int64)
    protocol = head[:, 4]
    rfc1201 = (protocol == _ARCNET_IP_RFC1201) | (protocol == _ARCNET_IPV6)
    exception = rfc1201 & (head[:, 5] == 0xFF)
    l3 = start + np.where(rfc1201, 8, 5) + np.where(exception, 4, 0)
    version = np.where(rfc1201 | (protocol == _ARCNET_IP_RFC1051),
                       np.where(protocol == _ARCNET_IPV6, 6, 4), 0)
    return Peeled(l3, version.astype(np.int64), None)


def _ip_offsets(buf: U8, start: I64, linktype: int) -> tuple[I64, I64]:
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        head = gather(buf, start, 5).astype(np.int64)
        family_le = head[:, 0] | head[:, 1] << 8 | head[:, 2] << 16 | head[:, 3] << 24
        family_be = head[:, 3] | head[:, 2] << 8 | head[:, 1] << 16 | head[:, 0] << 24
        is_ip = np.isin(family_le, _LOOPBACK_IP_FAMILIES) | np.isin(family_be,
                                                                    _LOOPBACK_IP_FAMILIES)
        nibble = head[:, 4] >> 4
        version = np.where(is_ip & ((nibble == 4) | (nibble == 6)), nibble, 0).astype(np.int64)
        return start + 4, version
    if linktype in _RAW_TYPES:
        nibble = gather(buf, start, 1)[:, 0].astype(np.int64) >> 4
        version = np.where((nibble == 4) | (nibble == 6), nibble, 0).astype(np.int64)
        return start.copy(), version
    return start.copy(), np.zeros(len(start), dtype=np.int64)

