"""The frame and capture-file builders of ``builders`` agree with dpkt, an independent reader."""

from __future__ import annotations

import dpkt
from builders import TS0, Iface, Packet, Section, ether, ipv4, pcap_file, pcapng_file, syn, tcp


def test_builders_agree_with_dpkt(tmp_path):
    frames = [syn(), ether(ipv4(tcp(flags=0x18, ack=5, payload=b"abc")))]
    path = tmp_path / "b.pcap"
    path.write_bytes(pcap_file(frames, [TS0, TS0 + 1000]))
    with path.open("rb") as stream:
        records = list(dpkt.pcap.Reader(stream))
    assert [bytes(buf) for _ts, buf in records] == frames
    segment = dpkt.ethernet.Ethernet(records[1][1]).data.data
    assert (segment.flags, segment.data, segment.ack) == (0x18, b"abc", 5)


def test_pcapng_builder_agrees_with_dpkt(tmp_path):
    path = tmp_path / "b.pcapng"
    path.write_bytes(pcapng_file(Section([Iface()], [Packet(syn(), TS0, comment="hi")])))
    with path.open("rb") as stream:
        records = list(dpkt.pcapng.Reader(stream))
    assert [bytes(buf) for _ts, buf in records] == [syn()]
