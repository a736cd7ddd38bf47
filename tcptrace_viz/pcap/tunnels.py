"""Tunnels: IP packets that carry another packet, found and opened for all rows at once.

IP-in-IP (IPv4 or IPv6 in either), GRE (IP, Ethernet, MPLS inside; ERSPAN types I-III),
and over UDP: VXLAN, Geneve, GTP-U, GRE-in-UDP, AYIYA and L2TPv2 (PPP inside).
``open_tunnels`` looks at one IP layer and says, for the rows that carry a
tunnel, where the inner packet's IP header is; the decoder then decodes those rows again, one
tunnel deeper.  Each row's tunnel is named with its outer addresses
(``"VXLAN 10.0.0.1>10.0.0.2"``) so connections in different tunnels
stay apart.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np

from tcptrace_viz.arrays import I64, U8, Obj
from tcptrace_viz.pcap.ethertypes import (
    ETHERTYPE_IP,
    ETHERTYPE_IPV6,
    ETHERTYPE_MPLS,
    ETHERTYPE_MPLS_MC,
    ETHERTYPE_TEB,
    peel,
    ppp_ethertype,
    ppp_protocol,
)
from tcptrace_viz.pcap.gather import be16, gather
from tcptrace_viz.pcap.ip import IpLayer

IPPROTO_IPIP: Final = 4  # IPv4 in IP
IPPROTO_IPV6: Final = 41  # IPv6 in IP
IPPROTO_GRE: Final = 47  # GRE
IPPROTO_UDP: Final = 17  # UDP
PORT_VXLAN: Final = 4789
PORT_GENEVE: Final = 6081
PORT_GTP_U: Final = 2152
PORT_GRE_UDP: Final = 4754  # GRE-in-UDP (RFC 8086)
PORT_AYIYA: Final = 5072  # AYIYA (anything in anything)
PORT_L2TP: Final = 1701  # L2TP version 2
ETHERTYPE_ERSPAN_2: Final = 0x88BE  # ERSPAN type I (no header) or II (8-byte header)
ETHERTYPE_ERSPAN_3: Final = 0x22EB  # ERSPAN type III (12 bytes, 8 more with a subheader)
IPPROTO_TCP: Final = 6  # TCP
_TUNNEL_PROTOCOLS: Final = (IPPROTO_IPIP, IPPROTO_IPV6, IPPROTO_GRE, IPPROTO_UDP)
_UDP_PORTS: Final = (PORT_VXLAN, PORT_GENEVE, PORT_GTP_U, PORT_GRE_UDP, PORT_AYIYA,
                     PORT_L2TP)
_ETHERNET: Final = -2  # "EtherType" standing for an Ethernet frame that starts here
_BY_NIBBLE: Final = -3  # "EtherType" standing for IPv4 or IPv6, as the first nibble says
_PPP: Final = -4  # "EtherType" standing for a PPP frame (maybe with address and control)
_NONE: Final = -1


@dataclasses.dataclass
class Inner:
    """The packets found inside tunnels."""

    rows: I64
    """Rows (of the decoded batch) that carry a tunnel."""
    l3: I64
    version: I64
    """Where each inner IP header is and its version (0: not IP, nothing more to decode)."""
    bound: I64
    """Buffer offset the inner datagram cannot pass (the outer datagram's end)."""
    text: Obj
    """The tunnel's name, outer addresses, and any VLAN ids inside it."""


def open_tunnels(buf: U8, ip: IpLayer, end: I64) -> Inner | None:
    """The inner packets of the rows of ``ip`` that are tunnels (None when there are none)."""
    candidates = np.flatnonzero((ip.proto != IPPROTO_TCP) & (ip.proto >= 0))
    if len(candidates):
        candidates = candidates[np.isin(ip.proto[candidates], _TUNNEL_PROTOCOLS)]
    udp_rows = candidates[ip.proto[candidates] == IPPROTO_UDP]
    if len(udp_rows):  # most UDP is not a tunnel: keep only the tunnels' ports
        ports = gather(buf, ip.l4[udp_rows], 4)
        tunnel_port = np.isin(be16(ports, 2), _UDP_PORTS) | np.isin(
            be16(ports, 0), (PORT_GTP_U, PORT_AYIYA, PORT_L2TP))
        candidates = np.union1d(candidates[ip.proto[candidates] != IPPROTO_UDP],
                                udp_rows[tunnel_port])
    if not len(candidates):
        return None
    proto, at = ip.proto[candidates], ip.l4[candidates]
    bound = at + ip.payload_len[candidates]
    head = gather(buf, at, 24)
    kind = np.full(len(candidates), _NONE, dtype=np.int64)
    name = np.full(len(candidates), "", dtype=object)
    pos = at.copy()
    kind[proto == IPPROTO_IPIP] = ETHERTYPE_IP
    kind[proto == IPPROTO_IPV6] = ETHERTYPE_IPV6
    name[(proto == IPPROTO_IPIP) | (proto == IPPROTO_IPV6)] = "IP-in-IP"
    gre = proto == IPPROTO_GRE
    udp = proto == IPPROTO_UDP
    dport, sport = be16(head, 2), be16(head, 0)
    vxlan = udp & (dport == PORT_VXLAN) & ((head[:, 8] & 0x08) != 0)
    kind[vxlan], pos[vxlan], name[vxlan] = _ETHERNET, at[vxlan] + 16, "VXLAN"
    geneve = udp & (dport == PORT_GENEVE) & ((head[:, 8] >> 6) == 0)
    geneve_type = be16(head, 10)
    geneve_pos = at + 16 + (head[:, 8] & 0x3F).astype(np.int64) * 4
    kind[geneve] = np.where(geneve_type[geneve] == ETHERTYPE_TEB, _ETHERNET,
                            geneve_type[geneve])
    pos[geneve], name[geneve] = geneve_pos[geneve], "Geneve"
    gtp = udp & ((dport == PORT_GTP_U) | (sport == PORT_GTP_U))
    gtp_rows = np.flatnonzero(gtp)
    if len(gtp_rows):
        kind[gtp_rows], pos[gtp_rows] = _gtp_u(buf, at[gtp_rows] + 8, head[gtp_rows, 8:])
        name[gtp_rows] = "GTP-U"
    ayiya = udp & ((dport == PORT_AYIYA) | (sport == PORT_AYIYA)) & ((head[:, 10] & 0x0F) == 1)
    ayiya_next = head[:, 11].astype(np.int64)
    kind[ayiya] = np.where(ayiya_next[ayiya] == IPPROTO_IPV6, ETHERTYPE_IPV6,
                           np.where(ayiya_next[ayiya] == IPPROTO_IPIP, ETHERTYPE_IP, _NONE))
    pos[ayiya] = (at + 16 + (1 << (head[:, 8] >> 4).astype(np.int64))
                  + (head[:, 9] >> 4).astype(np.int64) * 4)[ayiya]
    name[ayiya] = "AYIYA"
    l2tp = udp & ((dport == PORT_L2TP) | (sport == PORT_L2TP))
    l2tp_rows = np.flatnonzero(l2tp)
    if len(l2tp_rows):
        kind[l2tp_rows], pos[l2tp_rows] = _l2tp(buf, at[l2tp_rows] + 8)
        name[l2tp_rows] = "L2TP"
    gre_udp = udp & (dport == PORT_GRE_UDP)
    gre_rows = np.flatnonzero(gre | gre_udp)
    if len(gre_rows):
        start = at[gre_rows] + np.where(gre_udp[gre_rows], 8, 0)
        kind[gre_rows], pos[gre_rows], name[gre_rows] = _gre(buf, start)
    found = np.flatnonzero(kind != _NONE)
    if not len(found):
        return None
    rows, kind, pos, bound, name = candidates[found], kind[found], pos[found], bound[found], \
        name[found]
    ethernet = kind == _ETHERNET
    ethertype = kind.copy()
    ethertype[ethernet] = be16(gather(buf, pos[ethernet] + 12, 2), 0)
    pos[ethernet] += 14
    ppp = kind == _PPP
    if ppp.any():
        frame = gather(buf, pos[ppp], 4)
        framed = (frame[:, 0] == 0xFF) & (frame[:, 1] == 0x03)
        protocol, size = ppp_protocol(np.where(framed[:, None], frame[:, 2:], frame[:, :2]), 0)
        ethertype[ppp] = ppp_ethertype(protocol)
        pos[ppp] += np.where(framed, 2, 0) + size
    nibble = (gather(buf, pos, 1)[:, 0] >> 4).astype(np.int64)
    by_nibble = kind == _BY_NIBBLE
    ethertype[by_nibble] = np.where(nibble[by_nibble] == 4, ETHERTYPE_IP,
                                    np.where(nibble[by_nibble] == 6, ETHERTYPE_IPV6, _NONE))
    peeled = peel(buf, ethertype, pos, end[rows])
    src, dst = ip.addresses(rows)
    text = name + " " + src + ">" + dst
    if peeled.vlan is not None:
        tagged = peeled.vlan != ""
        text[tagged] = text[tagged] + " " + peeled.vlan[tagged]
    limit = bound if peeled.limit is None else np.minimum(bound, peeled.limit)
    return Inner(rows, peeled.l3, peeled.version, limit, text)


def _gtp_u(buf: U8, at: I64, head: U8) -> tuple[I64, I64]:
    """GTPv1-U G-PDUs: the inner packet after the header and any extension headers."""
    flags = head[:, 0].astype(np.int64)
    gpdu = ((flags >> 5) == 1) & ((flags & 0x10) != 0) & (head[:, 1] == 0xFF)
    optional = (flags & 0x07) != 0
    pos = at + np.where(optional, 12, 8)
    next_type = np.where((flags & 0x04) != 0, head[:, 11], 0).astype(np.int64)
    for _extension in range(8):
        rows = np.flatnonzero(gpdu & (next_type != 0))
        if not len(rows):
            break
        size = gather(buf, pos[rows], 1)[:, 0].astype(np.int64) * 4
        bad = size == 0
        gpdu[rows[bad]] = False
        pos[rows] += size
        next_type[rows] = gather(buf, pos[rows] - 1, 1)[:, 0]
    return np.where(gpdu, _BY_NIBBLE, _NONE), pos


def _gre(buf: U8, at: I64) -> tuple[I64, I64, Obj]:
    """GRE version 0: the payload's EtherType (or Ethernet for bridging and ERSPAN) and offset."""
    head = gather(buf, at, 24)
    flags = be16(head, 0)
    protocol = be16(head, 2)
    size = 4 + 4 * (((flags & 0x8000) != 0) | ((flags & 0x4000) != 0)) \
        + 4 * ((flags & 0x2000) != 0) + 4 * ((flags & 0x1000) != 0)
    pos = at + size
    kind = np.where((flags & 0x0007) == 0, protocol, _NONE)
    kind = np.where(np.isin(kind, (ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_MPLS,
                                   ETHERTYPE_MPLS_MC, ETHERTYPE_TEB, ETHERTYPE_ERSPAN_2,
                                   ETHERTYPE_ERSPAN_3)), kind, _NONE)
    name = np.where((kind == ETHERTYPE_ERSPAN_2) | (kind == ETHERTYPE_ERSPAN_3), "ERSPAN",
                    "GRE").astype(object)
    type2 = (kind == ETHERTYPE_ERSPAN_2) & ((flags & 0x1000) != 0)  # type I has no sequence
    pos = np.where(type2, pos + 8, pos)
    type3 = kind == ETHERTYPE_ERSPAN_3
    if type3.any():
        subheader = (gather(buf, pos, 12)[:, 11] & 0x01) != 0
        pos = np.where(type3, pos + 12 + 8 * subheader, pos)
    kind = np.where(np.isin(kind, (ETHERTYPE_TEB, ETHERTYPE_ERSPAN_2, ETHERTYPE_ERSPAN_3)),
                    _ETHERNET, kind)
    return kind.astype(np.int64), pos, name


def _l2tp(buf: U8, at: I64) -> tuple[I64, I64]:
    """L2TPv2 data messages: the PPP frame after the optional length, sequence and offset."""
    head = gather(buf, at, 16)
    flags = be16(head, 0)
    data = ((flags & 0x8000) == 0) & ((flags & 0x000F) == 2)
    length = (flags & 0x4000) != 0
    pos = at + 2 + np.where(length, 2, 0) + 4 + np.where((flags & 0x0800) != 0, 4, 0)
    offset = (flags & 0x0200) != 0
    if offset.any():
        pos = pos + np.where(offset, 2 + be16(gather(buf, pos, 2), 0), 0)
    return np.where(data, _PPP, _NONE).astype(np.int64), pos
