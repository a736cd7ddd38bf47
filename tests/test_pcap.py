"""tcptrace_viz.pcap: decoding frames, reading pcap/pcapng, writing pcapng."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from builders import (
    TS0,
    Iface,
    Packet,
    Section,
    ether,
    ext_header,
    fragment_header,
    ipv4,
    ipv6,
    null,
    pcap_file,
    pcapng_file,
    sll,
    sll2,
    syn,
    tcp,
)

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.model import PACKET_COLUMNS
from tcptrace_viz.pcap import (
    DECODED_COLUMNS,
    LINKTYPE_ETHERNET,
    decode_frames,
    read_pcap,
    write_pcapng,
)
from tcptrace_viz.pcap import decode as decode_module
from tcptrace_viz.pcap import reader as reader_module

PSH_ACK = 0x18


def one(frame: bytes, linktype: int = LINKTYPE_ETHERNET) -> dict:
    table = decode_frames([frame], [TS0], linktype)
    assert len(table) == 1
    return table.iloc[0].to_dict()


# --- decode_frames ---------------------------------------------------------------------------
def test_syn_columns_are_exact():
    row = one(syn())
    assert row == {
        "ts_ns": TS0, "frame": 1, "src": "127.0.0.1", "sport": 40000, "dst": "127.0.0.2",
        "dport": 5555, "flags": "S", "flag_bits": 2, "seq": 1000, "ack": 0, "len": 0,
        "win": 65495, "options": "mss 65495,sackOK,TS val 123 ecr 0,nop,wscale 7",
        "mss": 65495, "wscale": 7, "sack_ok": True, "tsval": 123, "tsecr": 0, "payload": "",
        "comment": "", "ip_version": 4, "tunnel": "",
    }


def test_columns_and_dtypes_follow_the_model():
    table = decode_frames([syn()], [TS0], LINKTYPE_ETHERNET)
    assert list(table.columns) == list(DECODED_COLUMNS)
    for name, dtype in DECODED_COLUMNS.items():
        assert str(table[name].dtype) == dtype, name
        if name in PACKET_COLUMNS:
            assert str(table[name].dtype) == PACKET_COLUMNS[name], name


def test_empty_input_gives_an_empty_table_with_all_columns():
    table = decode_frames([], np.zeros(0, dtype=np.int64), LINKTYPE_ETHERNET)
    assert len(table) == 0 and list(table.columns) == list(DECODED_COLUMNS)


@pytest.mark.parametrize(("bits", "letters"), [
    (0x02, "S"), (0x12, "S."), (0x10, "."), (0x18, "P."), (0x11, "F."), (0x19, "FP."),
    (0x04, "R"), (0x14, "R."),
])
def test_flags_in_tcpdump_letters(bits, letters):
    row = one(ether(ipv4(tcp(flags=bits, ack=77))))
    assert (row["flags"], row["flag_bits"]) == (letters, bits)
    assert row["ack"] == (77 if bits & 0x10 else 0)


def test_frame_numbers_count_skipped_non_tcp_frames():
    udp = ether(ipv4(b"\0" * 8, proto=17))
    arp = ether(b"\0" * 28, ethertype=0x0806)
    frames = [udp, syn(), arp, ether(ipv4(tcp(flags=0x10, ack=1)))]
    table = decode_frames(frames, [TS0 + i for i in range(4)], LINKTYPE_ETHERNET,
                          comments=["a", "b", "c", "d"], first_frame=10)
    assert table["frame"].tolist() == [11, 13]
    assert table["comment"].tolist() == ["b", "d"]
    assert table["ts_ns"].tolist() == [TS0 + 1, TS0 + 3]


def test_payload_length_and_preview():
    payload = b"GET /\x00\x01\xff" + b"x" * 40
    row = one(ether(ipv4(tcp(flags=PSH_ACK, ack=1, payload=payload))))
    assert row["len"] == len(payload)
    assert row["payload"] == "GET /..." + "x" * 24


def test_length_comes_from_ip_header_not_from_padding():
    frame = ether(ipv4(tcp(flags=0x10, ack=1))) + b"\0" * 6  # Ethernet pads to 60 bytes
    assert one(frame)["len"] == 0


@pytest.mark.parametrize(("options", "text"), [
    (b"\x01\x01\x08\x0a" + struct.pack("!II", 5, 6), "nop,nop,TS val 5 ecr 6"),
    (b"\x01\x01\x05\x12" + struct.pack("!IIII", 1001, 2001, 3001, 4001),
     "nop,nop,sack 2 {1001:2001}{3001:4001}"),
    (b"\x1e\x04\x00\x00", "opt-30:4"),
    (b"\x02\x04\x05\xb4\x00\x00\x00\x00", "mss 1460,eol"),
    (b"\x02\x09\x05\xb4", "[bad opt]"),
    (b"\x01\x01\x01\x03", "nop,nop,nop,[bad opt]"),
    (b"\x03\x04\x07\x00", "opt-3:4"),
])
def test_option_text(options, text):
    assert one(ether(ipv4(tcp(flags=0x10, ack=1, options=options))))["options"] == text


@pytest.mark.parametrize("options", [
    b"\x01\x01\x08\x0a" + struct.pack("!II", 0xFFFFFFF0, 0x80000000),  # the nop,nop,TS fast path
    b"\x08\x0a" + struct.pack("!II", 0xFFFFFFF0, 0x80000000) + b"\x01\x01",  # generic walk
])
def test_timestamps_above_two_to_the_31(options):
    row = one(ether(ipv4(tcp(flags=0x10, ack=1, options=options))))
    assert (row["tsval"], row["tsecr"]) == (0xFFFFFFF0, 0x80000000)
    assert f"TS val {0xFFFFFFF0} ecr {0x80000000}" in row["options"]


def test_option_fields_absent():
    row = one(ether(ipv4(tcp(flags=0x10, ack=1))))
    assert (row["options"], row["mss"], row["wscale"], row["sack_ok"], row["tsval"],
            row["tsecr"]) == ("", -1, -1, False, -1, -1)


def test_ipv4_header_options_are_skipped():
    row = one(ether(ipv4(tcp(sport=7, payload=b"hi"), options=b"\x01\x01\x01\x00")))
    assert (row["sport"], row["len"], row["payload"]) == (7, 2, "hi")


def test_ipv4_fragments_keep_only_the_first():
    first = ether(ipv4(tcp(sport=1), frag=0x2000))  # MF set, offset 0
    later = ether(ipv4(b"\0" * 20, frag=0x0003))  # offset 24 bytes
    table = decode_frames([first, later], [TS0, TS0], LINKTYPE_ETHERNET)
    assert table["sport"].tolist() == [1]


def test_ipv6_with_extension_headers():
    chain = ext_header(60) + ext_header(43, 1) + ext_header(44) + fragment_header(6, 0, True)
    frame = ether(ipv6(tcp(sport=9, payload=b"abc"), nexthdr=0, extensions=chain),
                  ethertype=0x86DD)
    row = one(frame)
    assert (row["src"], row["dst"], row["sport"], row["len"], row["ip_version"]) == (
        "::1", "2001:db8::2", 9, 3, 6)


def test_ipv6_and_ipv4_addresses_mixed_in_one_batch():
    pairs = [("2001:db8::1", "2001:db8::2"), ("2001:db8::2", "2001:db8::1"),
             ("2001:db8:0:1::1", "fe80::1"), ("fe80::1", "2001:db8::1")]
    frames = [ether(ipv6(tcp(sport=i), src=src, dst=dst), ethertype=0x86DD)
              for i, (src, dst) in enumerate(pairs)]
    frames.insert(2, ether(ipv4(tcp(sport=99), src="10.0.0.1", dst="10.0.0.2")))
    table = decode_frames(frames, [TS0 + i for i in range(len(frames))], LINKTYPE_ETHERNET)
    assert list(zip(table["src"], table["dst"], strict=True)) == [
        *pairs[:2], ("10.0.0.1", "10.0.0.2"), *pairs[2:]]
    assert table["ip_version"].tolist() == [6, 6, 4, 6, 6]


def test_ipv6_later_fragment_is_skipped():
    frame = ether(ipv6(b"\0" * 20, nexthdr=44, extensions=fragment_header(6, 3)),
                  ethertype=0x86DD)
    assert decode_frames([frame], [TS0], LINKTYPE_ETHERNET).empty


@pytest.mark.parametrize(("linktype", "frame"), [
    (1, ether(ipv4(tcp(sport=11)), vlans=(0x8100,))),
    (1, ether(ipv4(tcp(sport=11)), vlans=(0x88A8, 0x8100))),
    (113, sll(ipv4(tcp(sport=11)))),
    (276, sll2(ipv4(tcp(sport=11)))),
    (101, ipv4(tcp(sport=11))),
    (12, ipv4(tcp(sport=11))),
    (14, ipv4(tcp(sport=11))),
    (228, ipv4(tcp(sport=11))),
    (0, null(ipv4(tcp(sport=11)))),
    (0, null(ipv4(tcp(sport=11)), little=False)),
    (0, null(ipv4(tcp(sport=11)), family=30)),
    (108, null(ipv4(tcp(sport=11)), little=False)),
])
def test_link_types(linktype, frame):
    assert one(frame, linktype)["sport"] == 11


@pytest.mark.parametrize(("linktype", "frame"), [
    (1, ether(ipv6(tcp(sport=12)), ethertype=0x86DD, vlans=(0x8100,))),
    (113, sll(ipv6(tcp(sport=12)), protocol=0x86DD)),
    (276, sll2(ipv6(tcp(sport=12)), protocol=0x86DD)),
    (101, ipv6(tcp(sport=12))),
    (229, ipv6(tcp(sport=12))),
    (0, null(ipv6(tcp(sport=12)), family=24)),
])
def test_link_types_ipv6(linktype, frame):
    row = one(frame, linktype)
    assert (row["sport"], row["ip_version"], row["src"]) == (12, 6, "::1")


@pytest.mark.parametrize("frame", [
    ether(b""),  # runt: no IP header at all
    b"\0" * 10,  # runt: not even an Ethernet header
    ether(ipv4(tcp(), ihl=15)),  # IP header length past the end
    ether(ipv4(tcp(), ihl=3)),  # IP header length below 20
    ether(ipv4(tcp(data_offset=15))),  # TCP header length past the end
    ether(ipv4(tcp(data_offset=2))),  # TCP header length below 20
    ether(ipv4(tcp(payload=b"abcd"), total=30)),  # IP total length shorter than TCP header
    ether(ipv4(tcp())[:30]),  # TCP header cut short
    ether(ipv6(tcp(), nexthdr=0, extensions=ext_header(6, 30))),  # extension past the end
])
def test_malformed_frames_are_skipped(frame):
    table = decode_frames([frame, syn()], [TS0, TS0 + 1], LINKTYPE_ETHERNET)
    assert table["frame"].tolist() == [2]


def test_many_frames_across_decode_batches(monkeypatch):
    monkeypatch.setattr(decode_module, "BATCH", 7)
    frames = [ether(ipv4(tcp(sport=i + 1, flags=0x10, ack=i))) if i % 3 else syn(sport=i + 1)
              for i in range(50)]
    table = decode_frames(frames, [TS0 + i for i in range(50)], LINKTYPE_ETHERNET)
    assert table["sport"].tolist() == list(range(1, 51))
    assert table["mss"].tolist() == [65495 if i % 3 == 0 else -1 for i in range(50)]


# --- read_pcap: classic pcap -----------------------------------------------------------------
FRAMES = [syn(), ether(ipv4(tcp(flags=PSH_ACK, ack=9, payload=b"hello"))),
          ether(ipv4(b"\0" * 8, proto=17)), ether(ipv4(tcp(flags=0x11, ack=9)))]
TIMES = [TS0, TS0 + 1_000, TS0 + 2_000_000, TS0 + 3_000_000_000]


@pytest.mark.parametrize("little", [True, False])
@pytest.mark.parametrize("nanos", [True, False])
def test_read_pcap_byte_orders_and_resolutions(tmp_path, little, nanos):
    path = tmp_path / "t.pcap"
    path.write_bytes(pcap_file(FRAMES, TIMES, little=little, nanos=nanos))
    result = read_pcap(path)
    expected = TIMES if nanos else [t // 1000 * 1000 for t in TIMES]
    assert result.packets["ts_ns"].tolist() == [expected[0], expected[1], expected[3]]
    assert result.packets["frame"].tolist() == [1, 2, 4]
    assert result.packets["flags"].tolist() == ["S", "P.", "F."]
    assert result.packets["payload"].tolist() == ["", "hello", ""]
    assert (result.partial, result.problem, result.frames_total, result.linktypes,
            result.file_format, result.comments) == (False, "", 4, [1], "pcap", [])


def test_read_pcap_snapped_frames_keep_the_wire_length(tmp_path):
    frame = ether(ipv4(tcp(flags=PSH_ACK, ack=1, payload=b"z" * 1000)))
    path = tmp_path / "snap.pcap"
    path.write_bytes(pcap_file([frame], [TS0], snaplen=96, caplens=[60]))
    row = read_pcap(path).packets.iloc[0]
    assert (row["len"], row["payload"]) == (1000, "z" * 6)


def test_read_pcap_equals_decode_frames(tmp_path):
    path = tmp_path / "t.pcap"
    path.write_bytes(pcap_file(FRAMES, TIMES, nanos=True))
    assert read_pcap(path).packets.equals(decode_frames(FRAMES, TIMES, LINKTYPE_ETHERNET))


def test_small_windows_give_the_same_table(tmp_path, monkeypatch):
    frames = [ether(ipv4(tcp(sport=i + 1, flags=0x10, ack=i, payload=b"p" * (i % 50))))
              for i in range(300)]
    times = [TS0 + i * 1000 for i in range(300)]
    for name, data in (("w.pcap", pcap_file(frames, times, nanos=True)),
                       ("w.pcapng", pcapng_file(Section([Iface()], [
                           Packet(f, t - TS0 + 10**18, comment=str(i % 3 or ""))
                           for i, (f, t) in enumerate(zip(frames, times, strict=True))])))):
        path = tmp_path / name
        path.write_bytes(data)
        whole = read_pcap(path).packets
        monkeypatch.setattr(reader_module, "CHUNK", 97)
        seen: list[tuple[int, int]] = []
        windowed = read_pcap(path, progress=lambda d, t, seen=seen: seen.append((d, t)))
        monkeypatch.undo()
        assert windowed.packets.equals(whole)
        assert len(whole) == 300
        assert len(seen) > 10 and seen[-1] == (len(data), len(data))


# --- read_pcap: pcapng -----------------------------------------------------------------------
def test_pcapng_interfaces_resolutions_offsets_and_comments(tmp_path):
    section = Section(
        interfaces=[Iface(tsresol=9), Iface(tsresol=None, linktype=101),
                    Iface(tsresol=0x80 | 20, tsoffset=100), Iface(tsresol=3, linktype=113)],
        packets=[
            Packet(syn(), TS0, iface=0, comment="first"),
            Packet(ipv4(tcp(sport=2)), 1_700_000_000_000_001, iface=1),  # microseconds
            Packet(syn(sport=3), (5 << 20) + (1 << 19), iface=2, comment="two\u00e9"),
            Packet(sll(ipv4(tcp(sport=4))), 1_700_000_000_123, iface=3),
        ],
        comment="made by a test", extra_blocks=True)
    path = tmp_path / "multi.pcapng"
    path.write_bytes(pcapng_file(section))
    result = read_pcap(path)
    assert result.packets["sport"].tolist() == [40000, 2, 3, 4]
    assert result.packets["ts_ns"].tolist() == [
        TS0, 1_700_000_000_000_001_000, 105_500_000_000, 1_700_000_000_123_000_000]
    assert result.packets["comment"].tolist() == ["first", "", "two\u00e9", ""]
    assert (result.file_format, result.linktypes, result.comments, result.problem) == (
        "pcapng", [1, 101, 113], ["made by a test"], "")


def test_pcapng_big_endian_and_several_sections(tmp_path):
    path = tmp_path / "sections.pcapng"
    path.write_bytes(pcapng_file(
        Section([Iface()], [Packet(syn(sport=1), TS0)], little=False, comment="be"),
        Section([Iface(linktype=101), Iface()], [Packet(syn(sport=2), TS0 + 1, iface=1),
                                                 Packet(ipv4(tcp(sport=3)), TS0 + 2)],
                comment="le"),
    ))
    result = read_pcap(path)
    assert result.packets["sport"].tolist() == [1, 2, 3]
    assert result.packets["frame"].tolist() == [1, 2, 3]
    assert result.comments == ["be", "le"]


def test_pcapng_simple_and_obsolete_packet_blocks(tmp_path):
    path = tmp_path / "old.pcapng"
    path.write_bytes(pcapng_file(Section([Iface()], [
        Packet(syn(sport=1), TS0, kind="opb", comment="o"),
        Packet(syn(sport=2), 0, kind="spb"),
        Packet(syn(sport=3), TS0 + 5),
    ])))
    table = read_pcap(path).packets
    assert table["sport"].tolist() == [1, 2, 3]
    assert table["ts_ns"].tolist() == [TS0, 0, TS0 + 5]
    assert table["comment"].tolist() == ["o", "", ""]


# --- write_pcapng ----------------------------------------------------------------------------
def test_write_then_read_round_trip(tmp_path):
    comments = ["client close() = 0", "", "state FIN_WAIT1 -> FIN_WAIT2\nsecond line", ""]
    stream = io.BytesIO()
    write_pcapng(stream, FRAMES, np.array(TIMES), comments, section_comment="scenario x")
    path = tmp_path / "rt.pcapng"
    path.write_bytes(stream.getvalue())
    result = read_pcap(path)
    assert result.packets.equals(decode_frames(FRAMES, TIMES, LINKTYPE_ETHERNET, comments))
    assert (result.comments, result.frames_total, result.linktypes) == (["scenario x"], 4, [1])


def test_writer_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 frames but 1 timestamps"):
        write_pcapng(io.BytesIO(), FRAMES[:2], [TS0])


# --- bad input -------------------------------------------------------------------------------
def write(tmp_path, data: bytes, name: str = "bad.pcap"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def good_pcap() -> bytes:
    return pcap_file(FRAMES, TIMES)


def good_pcapng() -> bytes:
    return pcapng_file(Section([Iface()], [Packet(f, t) for f, t in zip(FRAMES, TIMES,
                                                                         strict=True)]))


@pytest.mark.parametrize(("data", "words"), [
    (b"", "is empty"),
    (b"hello world, not a capture", "is not a pcap or pcapng file"),
    (b"\x1f\x8b\x08\x00" + b"\0" * 40, "compressed with gzip but cannot be decompressed"),
    (b"\xfd7zXZ\x00" + b"\0" * 40, "compressed with xz"),
    (b"BZh91AY&SY" + b"\0" * 40, "compressed with bzip2"),
    (b"\x28\xb5\x2f\xfd" + b"\0" * 40, "compressed with zstd but cannot be decompressed"),
    (good_pcap()[:20], "ends inside the pcap file header (byte offset 20 of 24)"),
    (good_pcap()[:30], "the file ends inside record 1 at byte offset 24"),
    (pcap_file([syn()], [TS0], caplens=[300000]), "record 1 at byte offset 24 claims a "
     "captured length of 300000 bytes, more than the 262144-byte maximum"),
    (pcap_file([syn()], [TS0], linktype=105), "IEEE 802.11 (105), which tcptrace-viz cannot"),
    (good_pcapng()[:20], "the block at byte offset 0 claims"),
])
def test_unusable_files_raise_one_sentence(tmp_path, data, words):
    path = write(tmp_path, data)
    with pytest.raises(BadInputError) as caught:
        read_pcap(path)
    message = caught.value.message
    assert words in message and str(path) in message
    assert message.count(". ") == 0 and message.endswith(".")


def test_missing_file(tmp_path):
    with pytest.raises(BadInputError, match="cannot be opened"):
        read_pcap(tmp_path / "nope.pcap")


def test_truncated_pcap_is_partial(tmp_path):
    data = good_pcap()
    path = write(tmp_path, data[:-5])
    result = read_pcap(path)
    assert result.partial and result.frames_total == 3
    assert result.packets["frame"].tolist() == [1, 2]
    assert f"the file ends inside record 4 at byte offset {len(data) - 16 - len(FRAMES[3])}" \
        in result.problem
    assert result.problem.startswith(str(path))


def test_caplen_beyond_a_trusted_snaplen_is_damage(tmp_path):
    frames = [syn(), syn(sport=2)]
    path = write(tmp_path, pcap_file(frames, [TS0, TS0], snaplen=65536,
                                     caplens=[len(frames[0]), 70000]))
    result = read_pcap(path)
    assert result.partial and result.packets["sport"].tolist() == [40000]
    assert "snapshot length of 65536" in result.problem


def test_caplen_beyond_a_small_snaplen_is_tolerated(tmp_path):
    path = write(tmp_path, pcap_file(FRAMES, TIMES, snaplen=40))
    result = read_pcap(path)
    assert not result.partial and len(result.packets) == 3


def test_pcap_of_unsupported_link_type(tmp_path):
    with pytest.raises(BadInputError, match="cannot decode"):
        read_pcap(write(tmp_path, pcap_file([b"\0" * 40], [TS0], linktype=147)))


def pcapng_with(packets_blocks: bytes, interfaces: int = 1) -> bytes:
    return (pcapng_file(Section([Iface()] * interfaces, [Packet(syn(), TS0)]))
            + packets_blocks)


def epb(iface: int = 0, frame: bytes | None = None, trailer: int | None = None,
        size: int | None = None) -> bytes:
    frame = syn() if frame is None else frame
    body = struct.pack("<IIIII", iface, 0, 0, len(frame), len(frame)) + frame
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body) if size is None else size
    return struct.pack("<II", 6, total) + body + struct.pack("<I", trailer or 12 + len(body))


@pytest.mark.parametrize(("tail", "words"), [
    (epb(iface=3), "refers to interface 3, but its section describes only 1"),
    (epb(trailer=4), "has a trailing length of 4, not"),
    (epb(size=90), "has an invalid length of 90 bytes"),
    (epb(size=8), "has an invalid length of 8 bytes"),
    (epb(size=1 << 30), "has an invalid length"),
    (epb(size=1000), "claims 1000 bytes but only 108 of them are in the file"),
    (epb()[:-3], "of them are in the file"),
    (epb()[:5], "ends inside the block header"),
    (struct.pack("<II", 6, 16) + b"\0" * 4 + struct.pack("<I", 16), "is too short"),
])
def test_damaged_pcapng_after_a_good_start_is_partial(tmp_path, tail, words):
    good = pcapng_with(b"")
    path = write(tmp_path, good + tail, "bad.pcapng")
    result = read_pcap(path)
    assert result.partial and len(result.packets) == 1, result.problem
    assert words in result.problem and f"byte offset {len(good)}" in result.problem


def test_packet_before_any_interface(tmp_path):
    shb_only = pcapng_file(Section([], []))
    with pytest.raises(BadInputError, match="before any interface description block"):
        read_pcap(write(tmp_path, shb_only + epb(), "noif.pcapng"))


def test_pcapng_mixed_supported_and_unsupported_interfaces(tmp_path):
    path = write(tmp_path, pcapng_file(Section([Iface(), Iface(linktype=147)], [
        Packet(syn(), TS0), Packet(b"\0" * 60, TS0, iface=1)])), "mixed.pcapng")
    result = read_pcap(path)
    assert not result.partial and len(result.packets) == 1 and result.skipped == 1
    assert "1 of 2 frames were skipped" in result.problem


def test_malformed_frames_are_counted_in_the_result(tmp_path):
    path = write(tmp_path, pcap_file([syn(), ether(ipv4(tcp(), ihl=15))], [TS0, TS0]))
    result = read_pcap(path)
    assert not result.partial and result.skipped == 1
    assert "the first is frame 2" in result.problem


# --- files from other writers, and the import budget -----------------------------------------
def test_pcap_written_by_dpkt_decodes_the_same(tmp_path):
    import dpkt

    big = ether(ipv4(tcp(flags=PSH_ACK, ack=1, payload=b"b" * 2000)))  # > dpkt's snaplen 1500
    frames = [*FRAMES, big]
    times = [*TIMES, TS0 + 4_000_000_000]
    path = tmp_path / "dpkt.pcap"
    with path.open("wb") as stream:
        writer = dpkt.pcap.Writer(stream, nano=True)
        for frame, ts in zip(frames, times, strict=True):
            writer.writepkt(frame, ts=ts / 1e9)
    result = read_pcap(path)
    expected = decode_frames(frames, times, LINKTYPE_ETHERNET)
    assert result.packets.drop(columns="ts_ns").equals(expected.drop(columns="ts_ns"))
    # dpkt takes the time as a float: allow its rounding, nothing more
    assert np.abs(result.packets["ts_ns"] - expected["ts_ns"]).max() < 1000


def test_ip_length_zero_uses_the_wire_length():
    segment = tcp(flags=PSH_ACK, ack=1, payload=b"q" * 100)
    v4 = one(ether(ipv4(segment, total=0)))  # TSO/GSO as captured on the sender
    v6 = one(ether(ipv6(segment, plen=0), ethertype=0x86DD))  # jumbogram / BIG TCP
    assert v4["len"] == v6["len"] == 100


def test_reading_does_not_import_scapy(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "t.pcap"
    path.write_bytes(pcap_file(FRAMES, TIMES))
    code = ("import sys; from tcptrace_viz.pcap import read_pcap; "
            f"assert len(read_pcap({str(path)!r}).packets) == 3; "
            "assert not [m for m in sys.modules if m.startswith('scapy')], 'scapy imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_modified_pcap_is_named(tmp_path):
    data = struct.pack("<I", 0xA1B2CD34) + good_pcap()[4:]
    with pytest.raises(BadInputError, match="modified"):
        read_pcap(write(tmp_path, data))


def test_big_endian_pcapng_comments(tmp_path):
    path = tmp_path / "be.pcapng"
    path.write_bytes(pcapng_file(Section([Iface()], [Packet(syn(), TS0, comment="gros boutiste")],
                                         little=False)))
    assert read_pcap(path).packets["comment"].tolist() == ["gros boutiste"]


def test_read_error_after_a_good_start_is_partial(tmp_path, monkeypatch):
    path = tmp_path / "io.pcap"
    path.write_bytes(pcap_file(FRAMES * 50, TIMES * 50))
    monkeypatch.setattr(reader_module, "CHUNK", 256)
    real_readinto = io.BufferedReader.readinto
    calls = {"n": 0}

    class Failing(io.BufferedReader):
        def readinto(self, buffer):
            calls["n"] += 1
            if calls["n"] > 3:
                raise OSError(5, "Input/output error")
            return real_readinto(self, buffer)

    def fake_open(file, mode="r", *args, **kwargs):
        return Failing(io.FileIO(file, "rb"))

    monkeypatch.setattr(reader_module, "open", fake_open, raising=False)
    result = read_pcap(path)
    assert result.partial and 0 < len(result.packets) < 150
    assert "reading failed at byte offset" in result.problem and "Input/output error" in \
        result.problem
