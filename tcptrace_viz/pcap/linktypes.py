"""Link-layer types and the vectorised step from a link-layer frame to its IP header.

Numbers are the LINKTYPE_ values of the tcpdump.org registry (what pcap and pcapng files hold).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from tcptrace_viz.arrays import I64, U8
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

#: Human names, for messages.
LINKTYPE_NAMES: Final[dict[int, str]] = {
    LINKTYPE_NULL: "BSD loopback", LINKTYPE_ETHERNET: "Ethernet", LINKTYPE_RAW_BSD12: "raw IP",
    LINKTYPE_RAW_BSD14: "raw IP", LINKTYPE_RAW: "raw IP", LINKTYPE_LOOP: "OpenBSD loopback",
    LINKTYPE_LINUX_SLL: "Linux cooked v1", LINKTYPE_IPV4: "raw IPv4", LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2",
}
SUPPORTED_LINKTYPES: Final = frozenset(LINKTYPE_NAMES)

#: Names of common link types this package does not decode, so messages can name them.
_OTHER_NAMES: Final[dict[int, str]] = {
    9: "PPP", 50: "PPP in HDLC framing", 105: "IEEE 802.11", 127: "IEEE 802.11 radiotap",
    192: "PPI", 195: "IEEE 802.15.4", 189: "Linux USB", 220: "Linux USB (mmapped)",
    249: "Netlink", 253: "Netlink",
}

ETHERTYPE_IP: Final = 0x0800  # IPv4
ETHERTYPE_IPV6: Final = 0x86DD  # IPv6
ETHERTYPE_8021Q: Final = 0x8100  # 802.1Q VLAN tag (C-tag)
ETHERTYPE_8021AD: Final = 0x88A8  # 802.1ad service tag (S-tag, outer tag of QinQ)
ETHERTYPE_QINQ_OLD: Final = 0x9100  # pre-standard QinQ outer tag
MAX_VLAN_TAGS: Final = 2  # QinQ

# Address family values meaning IP in BSD/OpenBSD loopback headers (AF_INET; AF_INET6 of
# Linux, FreeBSD, Darwin, OpenBSD/NetBSD).
_LOOPBACK_IP_FAMILIES: Final = (2, 10, 24, 28, 30)
_RAW_TYPES: Final = (LINKTYPE_RAW, LINKTYPE_RAW_BSD12, LINKTYPE_RAW_BSD14, LINKTYPE_IPV4,
                     LINKTYPE_IPV6)



def linktype_name(linktype: int) -> str:
    """``"Ethernet (1)"``; unknown types by number only."""
    name = LINKTYPE_NAMES.get(linktype) or _OTHER_NAMES.get(linktype)
    return f"{name} ({linktype})" if name else f"link type {linktype}"


def _version_from_ethertype(ethertype: I64) -> I64:
    return np.where(ethertype == ETHERTYPE_IP, 4,
                    np.where(ethertype == ETHERTYPE_IPV6, 6, 0)).astype(np.int64)


def network_offsets(buf: U8, start: I64, caplen: I64, linktype: int) -> tuple[I64, I64, I64]:
    """Find the IP header of each frame of one link type.

    Returns ``(l3, version, runt)``: the buffer offset of the IP header, the IP version the link
    layer announces (4, 6, or 0 for not IP / unsupported), and 1 where the frame is too short
    for its own link header (a runt: to be counted as malformed, not merely skipped).
    """
    n = len(start)
    zeros = np.zeros(n, dtype=np.int64)
    if linktype == LINKTYPE_ETHERNET:
        ethertype = be16(gather(buf, start + 12, 2), 0)
        l3 = start + 14
        for _tag in range(MAX_VLAN_TAGS):
            tagged = np.flatnonzero((ethertype == ETHERTYPE_8021Q) | (ethertype == ETHERTYPE_8021AD)
                                    | (ethertype == ETHERTYPE_QINQ_OLD))
            if not len(tagged):
                break
            l3[tagged] += 4
            ethertype[tagged] = be16(gather(buf, l3[tagged] - 2, 2), 0)
        version = _version_from_ethertype(ethertype)
    elif linktype == LINKTYPE_LINUX_SLL:
        head = gather(buf, start, 16)
        version = _version_from_ethertype(be16(head, 14))
        l3 = start + 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        head = gather(buf, start, 2)
        version = _version_from_ethertype(be16(head, 0))
        l3 = start + 20
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        head = gather(buf, start, 5).astype(np.int64)
        family_le = head[:, 0] | head[:, 1] << 8 | head[:, 2] << 16 | head[:, 3] << 24
        family_be = head[:, 3] | head[:, 2] << 8 | head[:, 1] << 16 | head[:, 0] << 24
        is_ip = np.isin(family_le, _LOOPBACK_IP_FAMILIES) | np.isin(family_be,
                                                                    _LOOPBACK_IP_FAMILIES)
        nibble = head[:, 4] >> 4
        version = np.where(is_ip & ((nibble == 4) | (nibble == 6)), nibble, 0).astype(np.int64)
        l3 = start + 4
    elif linktype in _RAW_TYPES:
        nibble = gather(buf, start, 1)[:, 0].astype(np.int64) >> 4
        version = np.where((nibble == 4) | (nibble == 6), nibble, 0).astype(np.int64)
        l3 = start.copy()
    else:
        return start.copy(), zeros, zeros
    runt = (l3 - start > caplen).astype(np.int64)
    version = np.where(runt == 1, 0, version)
    return l3, version, runt
