"""Cases where the reader used to disagree with tshark, each on a small capture built here, and
where possible on the real-world capture it was found in (``/work/shared/realworld``: the
corpus ``benchmarks/realworld_agreement.py`` measures; those checks skip without it)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from builders import Iface, Packet, Section, ether, ipv4, pcap_file, pcapng_file, tcp

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.pcap import read_pcap

CORPUS = Path("/work/shared/realworld")
TS = [1_000_000_000_000_000_000, 1_000_000_000_001_000_000]


def _corpus_file(name: str) -> Path:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"the real-world capture corpus is absent ({path} not found)")
    return path


def _tshark_lengths(path: Path) -> list[str]:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    run = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "tcp.len"],
                         capture_output=True, text=True, check=True, timeout=60)
    return run.stdout.split()


def test_a_segment_is_as_long_as_the_frame_holds_not_as_its_ip_header_claims(
        tmp_path: Path) -> None:
    """The IP total length says 100 more bytes than the frame has: tshark's tcp.len is what
    the frame holds (frame length and captured length alike)."""
    packet = ipv4(tcp(flags=0x18, payload=b"x" * 10))
    claimed = ipv4(tcp(flags=0x18, payload=b"x" * 10), total=len(packet) + 100)
    path = tmp_path / "claims.pcap"
    path.write_bytes(pcap_file([ether(claimed)], TS[:1]))
    result = read_pcap(path)
    assert result.packets["len"].tolist() == [10]
    assert _tshark_lengths(path) == ["10"]


@pytest.mark.parametrize(("name", "frame", "length"), [
    ("tcpdump__kday4.pcap", 10, 0), ("zeek__tcp__reassembly.pcap", 7, 1440),
    ("zeek__tcp__reassembly.pcap", 39, 1428)])
def test_real_world_segments_shorter_than_their_ip_header_claims(name: str, frame: int,
                                                                 length: int) -> None:
    packets = read_pcap(_corpus_file(name)).packets
    assert packets.loc[packets["frame"] == frame, "len"].tolist() == [length]


def test_an_ipv4_option_too_short_for_its_layout_makes_the_packet_malformed(
        tmp_path: Path) -> None:
    """A Security option (11 bytes) claiming 2: tshark calls the packet malformed."""
    bad = ipv4(tcp(flags=0x02), options=b"\x82\x02" + b"\x01" * 10)
    fine = ipv4(tcp(flags=0x02), options=b"\x94\x04\x00\x00")  # Router Alert, 4 bytes
    path = tmp_path / "options.pcap"
    path.write_bytes(pcap_file([ether(bad), ether(fine)], TS))
    result = read_pcap(path)
    assert result.packets["frame"].tolist() == [2]
    assert result.skipped == 1


def test_real_world_malformed_ipv4_options() -> None:
    name = "suricata__firewall__tcp-session-decode-malformed-ipv4__input.pcap"
    packets = read_pcap(_corpus_file(name)).packets
    assert 8 not in packets["frame"].tolist()
    assert 7 in packets["frame"].tolist()


def _with_fraction(frames: int, fraction: int, nanos: bool) -> bytes:
    """A pcap file of ``frames`` SYNs, the last with ``fraction`` in its sub-second field."""
    data = bytearray(pcap_file([ether(ipv4(tcp()))] * frames, TS[:1] * frames, nanos=nanos))
    record = 24 + (frames - 1) * (16 + len(ether(ipv4(tcp()))))
    struct.pack_into("<I", data, record + 4, fraction)
    return bytes(data)


@pytest.mark.parametrize(("nanos", "fraction"), [(False, 1_000_000), (False, 2**31),
                                                 (True, 1_000_000_000), (True, 2**32 - 1)])
def test_an_out_of_range_sub_second_field_is_not_carried_into_the_seconds(
        tmp_path: Path, nanos: bool, fraction: int) -> None:
    path = tmp_path / "fraction.pcap"
    path.write_bytes(_with_fraction(2, fraction, nanos))
    packets = read_pcap(path).packets
    second = TS[0] // 1_000_000_000 * 1_000_000_000
    assert packets["ts_ns"].tolist() == [TS[0], second]
    assert packets["comment"].tolist()[0] == ""
    assert "out of range" in packets["comment"].tolist()[1]


def test_real_world_invalid_micro_timestamp() -> None:
    packets = read_pcap(_corpus_file("tcpdump__timestamp_invalid_micro.pcap")).packets
    assert packets["ts_ns"].tolist()[2] == 1418145370 * 1_000_000_000


def _patched(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value):]


def test_pcap_version_1_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v1.pcap"
    path.write_bytes(_patched(pcap_file([ether(ipv4(tcp()))], TS[:1]), 4, b"\x01\x00"))
    with pytest.raises(BadInputError, match=r"is a pcap file of version 1\.4, which"):
        read_pcap(path)


def test_reserved_link_type_bits_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "reserved.pcap"
    path.write_bytes(_patched(pcap_file([ether(ipv4(tcp()))], TS[:1]), 20,
                              struct.pack("<I", 0x00300001)))
    with pytest.raises(BadInputError, match=r"reserved link-type bits are not zero "
                                            r"\(0x00300000\)"):
        read_pcap(path)


def test_pcapng_section_version_1_1_is_refused_and_1_2_read(tmp_path: Path) -> None:
    good = pcapng_file(Section([Iface()], [Packet(ether(ipv4(tcp())), TS[0])]))
    for minor, readable in ((1, False), (2, True), (0, True)):
        path = tmp_path / f"v1{minor}.pcapng"
        path.write_bytes(_patched(good, 14, struct.pack("<H", minor)))
        if readable:
            assert len(read_pcap(path).packets) == 1
        else:
            with pytest.raises(BadInputError, match=r"unsupported version 1\.1"):
                read_pcap(path)


@pytest.mark.parametrize(("name", "message"), [
    ("libpcap__tests__pcap-invalid-version-1.pcap", "version 1."),
    ("libpcap__tests__linktype-reserved-field-not-zero.pcap", "reserved link-type bits"),
    ("libpcap__tests__pcapng-invalid-vers-2.pcapng", "unsupported version 1.1")])
def test_real_world_header_versions_refused(name: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message.replace(".", r"\.")):
        read_pcap(_corpus_file(name))
