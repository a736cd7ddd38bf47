"""TCP behind VLAN stacks, PPPoE, MPLS, LLC/SNAP and inside tunnels (VXLAN, Geneve, GRE,
ERSPAN, GTP-U, AYIYA, L2TP, IP-in-IP, AH), and on FDDI, Cisco HDLC, PPP, NFLOG, IPoIB and
Linux ARCNET links: each capture is built here; tshark is the oracle for the inner segment."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from builders import ether, ipv4, ipv6, pcap_file, tcp

from tcptrace_viz.analysis import annotate_packets, connections
from tcptrace_viz.pcap import read_pcap

TS = 1_700_000_000_000_000_000
TSHARK_FIELDS = ("ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
                 "tcp.seq_raw", "tcp.len")
INNER = tcp(sport=1234, dport=80, seq=777, flags=0x18, payload=b"GET / HTTP/1.0\r\n\r\n")


def udp(payload: bytes, dport: int, sport: int = 50000) -> bytes:
    """A UDP datagram (checksum 0)."""
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def outer_v4(l4: bytes, proto: int) -> bytes:
    return ipv4(l4, src="192.0.2.1", dst="192.0.2.2", proto=proto)


def inner_ether(l3: bytes, ethertype: int = 0x0800) -> bytes:
    return b"\x02" * 12 + struct.pack("!H", ethertype) + l3


INNER_V4 = ipv4(INNER, src="10.0.0.1", dst="10.0.0.2")
INNER_V6 = ipv6(INNER, src="2001:db8::1", dst="2001:db8::2")
#: name: (link type, frame, the tunnel text expected)
CASES: dict[str, tuple[int, bytes, str]] = {
    "vxlan": (1, ether(outer_v4(udp(b"\x08\0\0\0\0\0\x2a\0" + inner_ether(INNER_V4), 4789), 17)),
              "VXLAN 192.0.2.1>192.0.2.2"),
    "geneve-v6": (1, ether(outer_v4(udp(b"\0\0\x65\x58\0\0\x01\0" + inner_ether(
        INNER_V6, 0x86DD), 6081), 17)), "Geneve 192.0.2.1>192.0.2.2"),
    "gre-ip": (1, ether(outer_v4(b"\0\0\x08\0" + INNER_V4, 47)), "GRE 192.0.2.1>192.0.2.2"),
    "gre-key-teb": (1, ether(outer_v4(b"\x20\0\x65\x58\0\0\0\x05" + inner_ether(INNER_V4),
                                      47)), "GRE 192.0.2.1>192.0.2.2"),
    "erspan2": (1, ether(outer_v4(b"\x10\0\x88\xbe\0\0\0\x01" + b"\x10\x01\0\x05\0\0\0\x07"
                                  + inner_ether(INNER_V4), 47)), "ERSPAN 192.0.2.1>192.0.2.2"),
    "gtp-u": (1, ether(outer_v4(udp(b"\x30\xff" + struct.pack("!H", len(INNER_V4))
                                    + b"\0\0\0\x01" + INNER_V4, 2152), 17)),
              "GTP-U 192.0.2.1>192.0.2.2"),
    "ayiya": (1, ether(outer_v4(udp(b"\x41\x52\x11\x29" + b"\0" * 4 + b"\x07" * 16
                                    + b"\x09" * 20 + INNER_V6, 5072), 17)),
              "AYIYA 192.0.2.1>192.0.2.2"),
    "l2tp": (1, ether(outer_v4(udp(b"\x00\x02\x00\x01\x00\x02" + b"\xff\x03\x00\x21"
                                   + INNER_V4, 1701), 17)), "L2TP 192.0.2.1>192.0.2.2"),
    "ipip": (1, ether(outer_v4(INNER_V4, 4)), "IP-in-IP 192.0.2.1>192.0.2.2"),
    "6in4": (1, ether(outer_v4(INNER_V6, 41)), "IP-in-IP 192.0.2.1>192.0.2.2"),
    "ah-tunnel": (1, ether(outer_v4(b"\x04\x04\0\0\0\0\0\x01\0\0\0\x01" + b"\0" * 12
                                    + INNER_V4, 51)), "IP-in-IP 192.0.2.1>192.0.2.2"),
    "ah-transport": (1, ether(ipv4(b"\x06\x04\0\0\0\0\0\x01\0\0\0\x01" + b"\0" * 12
                                   + INNER, src="10.0.0.1", dst="10.0.0.2", proto=51)), ""),
    "three-vlans": (1, ether(INNER_V4, vlans=(0x88A8, 0x8100, 0x8100)), "VLAN 100.101.102"),
    "pppoe": (1, ether(b"\x11\0\0\x01" + struct.pack("!H", 2 + len(INNER_V4)) + b"\0\x21"
                       + INNER_V4 + b"\0" * 6, ethertype=0x8864), ""),
    "mpls": (1, ether(b"\0\x01\x00\x40" + b"\0\x02\x01\x40" + INNER_V4, ethertype=0x8847), ""),
    "snap": (1, b"\0" * 12 + struct.pack("!H", 8 + len(INNER_V4)) + b"\xaa\xaa\x03\0\0\0\x08\0"
             + INNER_V4, ""),
    "802.1ah": (1, ether(b"\0\0\0\x01" + b"\x04" * 12 + b"\x08\x00" + INNER_V4,
                         ethertype=0x88E7), ""),
    "fddi": (10, b"\x50" + b"\x01" * 12 + b"\xaa\xaa\x03\0\0\0\x08\0" + INNER_V4, ""),
    "cisco-hdlc": (104, b"\x0f\0\x08\0" + INNER_V4, ""),
    "ppp": (9, b"\xff\x03\0\x21" + INNER_V4, ""),
    "nflog": (239, b"\x02\0\0\0" + b"\x08\0\x01\0\x08\0\x01\0"
              + struct.pack("<HH", 4 + len(INNER_V4), 9) + INNER_V4, ""),
    "ipoib": (242, b"\0" * 40 + b"\x08\0\0\0" + INNER_V4, ""),
    "arcnet-rfc1201": (129, b"\xbe\x50\0\0\xd4\0\0\x01" + INNER_V4, ""),
    "arcnet-rfc1051": (129, b"\xbe\x50\0\0\xf0" + INNER_V4, ""),
}


def _tshark_last(path: Path) -> list[str]:
    """tshark's innermost value of each of ``TSHARK_FIELDS`` for the one frame."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    command = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=l"]
    for name in TSHARK_FIELDS:
        command += ["-e", name]
    run = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return run.stdout.rstrip("\n").split("\t")


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_inner_segment_agrees_with_tshark(case: str, tmp_path: Path) -> None:
    linktype, frame, tunnel = CASES[case]
    path = tmp_path / f"{case}.pcap"
    path.write_bytes(pcap_file([frame], [TS], linktype=linktype))
    packets = read_pcap(path).packets
    assert len(packets) == 1, case
    row = packets.iloc[0]
    v4src, v4dst, v6src, v6dst, sport, dport, seq, length = _tshark_last(path)
    inner_v6 = ":" in str(row["src"])
    assert row["src"] == (v6src if inner_v6 else v4src)
    assert row["dst"] == (v6dst if inner_v6 else v4dst)
    assert [row["sport"], row["dport"], row["seq"], row["len"]] == [
        int(sport), int(dport), int(seq), int(length)]
    assert row["len"] == 18
    assert row["tunnel"] == tunnel


def test_the_same_four_tuple_on_two_vlans_is_two_connections(tmp_path: Path) -> None:
    syn = ipv4(tcp(sport=1234, dport=80, seq=1, flags=0x02), src="10.0.0.1", dst="10.0.0.2")
    synack = ipv4(tcp(sport=80, dport=1234, seq=9, ack=2, flags=0x12), src="10.0.0.2",
                  dst="10.0.0.1")
    frames = [ether(syn, vlans=(0x8100,)), ether(syn, vlans=(0x8100, 0x8100)),
              ether(synack, vlans=(0x8100,)), ether(synack, vlans=(0x8100, 0x8100))]
    path = tmp_path / "vlans.pcap"
    path.write_bytes(pcap_file(frames, [TS + i * 1000 for i in range(4)]))
    packets = annotate_packets(read_pcap(path).packets)
    assert packets["tunnel"].tolist() == ["VLAN 100", "VLAN 100.101"] * 2
    assert packets["conn"].tolist() == [0, 1, 0, 1]
    assert packets["dir"].tolist() == ["c2s", "c2s", "s2c", "s2c"]


def test_both_directions_of_a_tunnel_are_one_connection(tmp_path: Path) -> None:
    syn = ipv4(tcp(sport=1234, dport=80, seq=1, flags=0x02), src="10.0.0.1", dst="10.0.0.2")
    synack = ipv4(tcp(sport=80, dport=1234, seq=9, ack=2, flags=0x12), src="10.0.0.2",
                  dst="10.0.0.1")
    there = ether(ipv4(b"\0\0\x08\0" + syn, src="192.0.2.1", dst="192.0.2.2", proto=47))
    back = ether(ipv4(b"\0\0\x08\0" + synack, src="192.0.2.2", dst="192.0.2.1", proto=47))
    elsewhere = ether(ipv4(b"\0\0\x08\0" + syn, src="192.0.2.7", dst="192.0.2.2", proto=47))
    path = tmp_path / "gre.pcap"
    path.write_bytes(pcap_file([there, back, elsewhere], [TS, TS + 1000, TS + 2000]))
    packets = annotate_packets(read_pcap(path).packets)
    assert packets["conn"].tolist() == [0, 0, 1]
    assert packets["tunnel"].tolist()[1] == "GRE 192.0.2.2>192.0.2.1"


def test_a_connection_whose_directions_keep_to_one_vlan_each_stays_one(tmp_path: Path) -> None:
    """A router between two VLANs: requests on one, answers on the other."""
    syn = ipv4(tcp(sport=1234, dport=80, seq=1, flags=0x02), src="10.0.0.1", dst="10.0.0.2")
    synack = ipv4(tcp(sport=80, dport=1234, seq=9, ack=2, flags=0x12), src="10.0.0.2",
                  dst="10.0.0.1")
    path = tmp_path / "routed.pcap"
    path.write_bytes(pcap_file([ether(syn, vlans=(0x8100,)), ether(synack, vlans=(0x8100, ))],
                               [TS, TS + 1000]))
    data = bytearray(path.read_bytes())
    second_tag = 24 + 2 * 16 + len(ether(syn, vlans=(0x8100,))) + 14
    data[second_tag:second_tag + 2] = struct.pack("!H", 200)  # the answer on VLAN 200
    path.write_bytes(bytes(data))
    packets = annotate_packets(read_pcap(path).packets)
    assert packets["tunnel"].tolist() == ["VLAN 100", "VLAN 200"]
    assert packets["conn"].tolist() == [0, 0]


CORPUS = Path("/work/shared/realworld")


@pytest.mark.parametrize(("name", "tunnels"), [
    ("zeek__vlan-collisions.pcap", ["", "VLAN 10.20", "VLAN 42"]),
    ("zeek__ldap__modify-request.pcapng", ["VLAN 81"])])
def test_real_world_vlans(name: str, tunnels: list[str]) -> None:
    """Three copies of one 4-tuple on three VLANs were one connection with 18
    retransmissions; a connection routed between two VLANs stays one."""
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"the real-world capture corpus is absent ({path} not found)")
    table = connections(annotate_packets(read_pcap(path).packets))
    assert sorted(table["tunnel"]) == tunnels
    assert table["retransmissions"].sum() == 0
