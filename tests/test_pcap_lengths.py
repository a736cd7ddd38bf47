"""A record that claims more captured bytes than the packet had is damaged, and said to be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from builders import Iface, Packet, Section, ether, ipv4, pcap_file, pcapng_file, tcp

from tcptrace_viz.pcap import read_pcap

FRAME = ether(ipv4(tcp(flags=0x10))).ljust(60, b"\0")  # an ACK, padded to 60 bytes
TS = [1_000_000_000, 1_000_001_000, 1_000_002_000]


def _files(folder: Path) -> dict[str, Path]:
    pcap = folder / "oversized.pcap"
    pcap.write_bytes(pcap_file([FRAME] * 3, TS, caplens=[60, 60, 60], wirelens=[60, 20, 60]))
    pcapng = folder / "oversized.pcapng"
    pcapng.write_bytes(pcapng_file(Section([Iface()], [
        Packet(FRAME, TS[0]), Packet(FRAME, TS[1], wirelen=20), Packet(FRAME, TS[2])])))
    return {"pcap": pcap, "pcapng": pcapng}


READ = """
import json, sys
from tcptrace_viz.pcap import read_pcap
from tcptrace_viz.pcap.walk import COMPILED
result = read_pcap(sys.argv[1])
print(json.dumps([COMPILED, result.partial, result.problem, result.frames_total,
                  len(result.packets)]))
"""


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_captured_length_over_original_length_marks_the_file_partial(kind: str,
                                                                    tmp_path: Path) -> None:
    path = _files(tmp_path)[kind]
    result = read_pcap(path)
    assert result.partial
    assert result.problem == (
        f"{path}: 1 of 3 records are damaged: they claim more captured bytes than the packet "
        "had (the first is frame 2: captured length 60, original length 20).")
    assert result.frames_total == 3
    assert len(result.packets) == 3  # what can be read is read


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_compiled_and_python_paths_agree_on_the_damage(kind: str, tmp_path: Path) -> None:
    path = _files(tmp_path)[kind]
    outcomes = []
    for switch in ("", "1"):
        env = {**os.environ, "TCPTRACE_VIZ_NO_EXTENSIONS": switch}
        # cwd: not the source tree, whose uncompiled package -c would import first
        run = subprocess.run([sys.executable, "-c", READ, str(path)], env=env, check=True,
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
        outcomes.append(json.loads(run.stdout))
    (compiled, *with_extension), (fallback, *without) = outcomes
    assert compiled and not fallback
    assert with_extension == without
    assert with_extension[0] is True


def test_a_record_shorter_than_its_packet_is_fine(tmp_path: Path) -> None:
    """The usual truncation (a small snaplen): captured length below the original length."""
    path = tmp_path / "snaplen.pcap"
    path.write_bytes(pcap_file([FRAME], TS[:1], caplens=[54], wirelens=[1500]))
    result = read_pcap(path)
    assert not result.partial and result.problem == ""


def test_a_header_the_snaplen_cut_is_still_a_segment_its_options_marked_cut(
        tmp_path: Path) -> None:
    """As tshark ("TCP truncated"): zeek's truncated-header.pcap opens with such a SYN, and
    dropping it made the connection look mid-connection."""
    options = b"\x02\x04\x05\xb4" + b"\x04\x02" + b"\x08\x0a" + bytes(8) + b"\x01\x03\x03\x07"
    syn = ether(ipv4(tcp(flags=0x02, options=options)))  # a 40-byte TCP header
    ack = ether(ipv4(tcp(flags=0x10))).ljust(60, b"\0")
    path = tmp_path / "cut.pcap"
    path.write_bytes(pcap_file([syn[:68], ack], TS[:2], caplens=[68, 60],
                               wirelens=[len(syn), 60]))
    result = read_pcap(path)
    assert (len(result.packets), result.problem, result.partial) == (2, "", False)
    first = result.packets.iloc[0]
    assert (first["flags"], first["len"]) == ("S", 0)
    assert first["options"].startswith("mss 1460,sackOK,")
    assert first["options"].endswith("[options cut by the capture]")


def test_gre_whose_payload_is_not_decoded_is_said_not_silently_dropped(tmp_path: Path) -> None:
    gre = b"\x00\x00\x88\x8e" + bytes(40)  # GRE carrying EAPOL: nothing tcptrace-viz opens
    frame = ether(ipv4(gre, proto=47))
    path = tmp_path / "gre.pcap"
    path.write_bytes(pcap_file([frame, FRAME], TS[:2]))
    result = read_pcap(path)
    assert len(result.packets) == 1 and not result.partial
    assert result.problem == (
        f"{path}: 1 of 2 frames are GRE carrying something tcptrace-viz does not decode (such "
        "as 802.11 in Aruba GRE or WCCP), so any TCP inside them is not shown (the first is "
        "frame 1).")


def test_report_and_connections_say_what_was_not_shown(tmp_path: Path) -> None:
    gre = ether(ipv4(b"\x00\x00\x88\x8e" + bytes(40), proto=47))
    path = tmp_path / "gre.pcap"
    path.write_bytes(pcap_file([gre, FRAME], TS[:2]))
    listed = subprocess.run([sys.executable, "-m", "tcptrace_viz", "connections", str(path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0
    assert "tcptrace-viz: note: " in listed.stderr and "GRE carrying something" in listed.stderr
    report = subprocess.run([sys.executable, "-m", "tcptrace_viz", "report", str(path), "-f",
                             "txt", "-o", "-"], capture_output=True, text=True, timeout=120,
                            check=False)
    assert report.returncode == 0
    assert "Not everything in the file is shown: " in " ".join(report.stdout.split())
