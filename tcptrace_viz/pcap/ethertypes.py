"""Peel what can sit between an EtherType field and the IP header, all rows at once.

VLAN tags (any number: 802.1Q, 802.1ad, old QinQ), 802.1ah backbone tags, 802.1BR E-tags,
PPPoE sessions (their PPP protocol), MPLS label stacks, and an 802.2 LLC/SNAP header where a
length stands instead of an EtherType.  Each pass looks at every row's current EtherType and
moves the rows that carry one of these one layer in; rows reaching IPv4/IPv6 (or anything else)
stop.  The VLAN ids met on the way are kept as text (``"VLAN 10"``, ``"VLAN 10.20"``): the
same addresses on different VLANs are different connections.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np

from tcptrace_viz.arrays import I64, U8, Obj
from tcptrace_viz.pcap.gather import be16, gather

ETHERTYPE_IP: Final = 0x0800  # IPv4
ETHERTYPE_IPV6: Final = 0x86DD  # IPv6
ETHERTYPE_8021Q: Final = 0x8100  # 802.1Q VLAN tag (C-tag)
ETHERTYPE_8021AD: Final = 0x88A8  # 802.1ad service tag (S-tag, outer tag of QinQ)
ETHERTYPE_QINQ_OLD: Final = 0x9100  # pre-standard QinQ outer tag
ETHERTYPE_QINQ_OLD2: Final = 0x9200  # pre-standard QinQ outer tag
ETHERTYPE_8021AH: Final = 0x88E7  # 802.1ah backbone service instance tag (+ customer MACs)
ETHERTYPE_ETAG: Final = 0x893F  # 802.1BR E-tag
ETHERTYPE_PPPOE: Final = 0x8864  # PPPoE session stage
ETHERTYPE_MPLS: Final = 0x8847  # MPLS unicast
ETHERTYPE_MPLS_MC: Final = 0x8848  # MPLS multicast
ETHERTYPE_TEB: Final = 0x6558  # transparent Ethernet bridging (an Ethernet frame follows)
LLC_LENGTH_MAX: Final = 0x05FF  # an 802.3 length field, not an EtherType: LLC follows
_VLAN_TPIDS: Final = (ETHERTYPE_8021Q, ETHERTYPE_8021AD, ETHERTYPE_QINQ_OLD, ETHERTYPE_QINQ_OLD2)
_STOP: Final = -1  # "EtherType" of a row whose peeling stops at something else than IP
_MAX_LAYERS: Final = 16  # layers peeled per frame (tags, labels...): more is malformed
#: PPP protocol numbers to the EtherType of the same payload.
PPP_TO_ETHERTYPE: Final[dict[int, int]] = {0x0021: ETHERTYPE_IP, 0x0057: ETHERTYPE_IPV6,
                                           0x0281: ETHERTYPE_MPLS, 0x0283: ETHERTYPE_MPLS_MC}
_PPP_TABLE: Final = np.zeros(1 << 16, dtype=np.int64)
for _ppp, _ethertype in PPP_TO_ETHERTYPE.items():
    _PPP_TABLE[_ppp] = _ethertype
_SNAP: Final = 0xAAAA03  # LLC DSAP, SSAP, control of a SNAP header
_PEELED: Final = (*_VLAN_TPIDS, ETHERTYPE_8021AH, ETHERTYPE_ETAG, ETHERTYPE_PPPOE, ETHERTYPE_MPLS,
                  ETHERTYPE_MPLS_MC)


@dataclasses.dataclass
class Peeled:
    """Where each row's IP header is, once the layers above it are peeled."""

    l3: I64
    """Buffer offset of the IP header (or of whatever stopped the peeling)."""
    version: I64
    """4 or 6; 0 when what follows is not IP."""
    vlan: Obj | None
    """VLAN ids as text per row ("" untagged); None when no row is tagged."""
    limit: I64 | None = None
    """Buffer offset the IP datagram cannot pass (a PPPoE length); None: the frame's end."""


def version_from_ethertype(ethertype: I64) -> I64:
    """4 for IPv4, 6 for IPv6, 0 for anything else."""
    return np.where(ethertype == ETHERTYPE_IP, 4,
                    np.where(ethertype == ETHERTYPE_IPV6, 6, 0)).astype(np.int64)


def ppp_ethertype(protocol: I64) -> I64:
    """The EtherType of a PPP protocol number's payload (0: none this package reads)."""
    out: I64 = np.where(_PPP_TABLE[protocol & 0xFFFF] == 0, _STOP, _PPP_TABLE[protocol & 0xFFFF])
    return out


def ppp_protocol(head: U8, col: int) -> tuple[I64, I64]:
    """The PPP protocol field at byte column ``col``, and its size: 1 byte when compressed
    (an odd first byte, RFC 1661), else 2."""
    first = head[:, col].astype(np.int64)
    compressed = (first & 1) == 1
    protocol = np.where(compressed, first, be16(head, col))
    return protocol, np.where(compressed, 1, 2).astype(np.int64)


def peel(buf: U8, ethertype: I64, pos: I64, end: I64) -> Peeled:
    """Peel from each row's ``ethertype`` (the field just before ``pos``) down to IP.

    ``end``: where each frame's captured bytes end; layers running past it stop the row.
    """
    plain = (ethertype == ETHERTYPE_IP) | (ethertype == ETHERTYPE_IPV6)
    if plain.all():  # the common case: nothing to peel
        return Peeled(pos, np.where(ethertype == ETHERTYPE_IP, 4, 6).astype(np.int64), None)
    ethertype, pos, limit = ethertype.copy(), pos.copy(), end.copy()
    bounded = False
    vlans: list[tuple[I64, I64]] = []
    for _layer in range(_MAX_LAYERS):
        special = np.isin(ethertype, _PEELED) | ((ethertype >= 0) & (ethertype <= LLC_LENGTH_MAX))
        rows = np.flatnonzero(special & (pos + 8 <= end))
        ethertype[np.flatnonzero(special & (pos + 8 > end))] = _STOP
        if not len(rows):
            break
        kind, at = ethertype[rows], pos[rows]
        head = gather(buf, at, 20)
        step = np.zeros(len(rows), dtype=np.int64)
        following = np.full(len(rows), _STOP, dtype=np.int64)
        tag = np.isin(kind, _VLAN_TPIDS)
        if tag.any():
            vlans.append((rows[tag], be16(head[tag], 0) & 0x0FFF))
        following = np.where(tag, be16(head, 2), following)
        step = np.where(tag, 4, step)
        backbone = kind == ETHERTYPE_8021AH
        following = np.where(backbone, be16(head, 16), following)
        step = np.where(backbone, 18, step)
        etag = kind == ETHERTYPE_ETAG
        following = np.where(etag, be16(head, 6), following)
        step = np.where(etag, 8, step)
        pppoe = kind == ETHERTYPE_PPPOE
        protocol, protocol_size = ppp_protocol(head, 6)
        following = np.where(pppoe, ppp_ethertype(protocol), following)
        step = np.where(pppoe, 6 + protocol_size, step)
        if pppoe.any():  # the PPPoE length bounds the PPP frame (Ethernet pads short ones)
            bounded = True
            limit[rows[pppoe]] = np.minimum(limit[rows[pppoe]],
                                            at[pppoe] + 6 + be16(head[pppoe], 4))
        mpls = (kind == ETHERTYPE_MPLS) | (kind == ETHERTYPE_MPLS_MC)
        bottom = (head[:, 2] & 0x01) != 0
        nibble = (head[:, 4] >> 4).astype(np.int64)
        after_stack = np.where(nibble == 4, ETHERTYPE_IP, np.where(nibble == 6, ETHERTYPE_IPV6,
                                                                        _STOP))
        following = np.where(mpls, np.where(bottom, after_stack, kind), following)
        step = np.where(mpls, 4, step)
        llc = (kind >= 0) & (kind <= LLC_LENGTH_MAX)
        snap = llc & ((head[:, 0].astype(np.int64) << 16 | be16(head, 1)) == _SNAP)
        following = np.where(snap, be16(head, 6), following)
        step = np.where(snap, 8, step)
        ethertype[rows] = following
        pos[rows] = at + step
    else:
        ethertype[np.isin(ethertype, _PEELED)] = _STOP
    return Peeled(pos, version_from_ethertype(ethertype), _vlan_text(vlans, len(pos)),
                  limit if bounded else None)


def _vlan_text(vlans: list[tuple[I64, I64]], n: int) -> Obj | None:
    if not vlans:
        return None
    text = np.full(n, "", dtype=object)
    for rows, vid in vlans:  # outermost first
        ids = vid.astype(str).astype(object)
        text[rows] = np.where(text[rows] == "", "VLAN " + ids, text[rows] + "." + ids)
    return text
