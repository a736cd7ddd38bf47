"""tcptrace_viz.pcap against tshark, an independent implementation (needed in CI)."""

from __future__ import annotations

import io
import os
import select
import shutil
import socket
import struct
import subprocess
import time

import numpy as np
import pytest
from builders import TS0, ether, ext_header, ipv4, ipv6, syn, tcp

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.pcap import LINKTYPE_ETHERNET, decode_frames, read_pcap, write_pcapng

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(
    TSHARK is None and os.environ.get("CI") != "true",
    reason="tshark is not installed (CI installs it: apt-get install tshark)")

# tshark says this on stderr whenever it runs as root; it is about the user, not the file.
_ROOT_NOTICE = 'Running as user "root"'


def run_tshark(*args: str) -> str:
    assert TSHARK is not None, "tshark must be installed in CI (apt-get install tshark)"
    done = subprocess.run([TSHARK, *args], capture_output=True, text=True, check=False,
                          timeout=120)
    complaints = [line for line in done.stderr.splitlines()
                  if line.strip() and _ROOT_NOTICE not in line]
    assert done.returncode == 0 and not complaints, done.stderr
    return done.stdout


def sample_frames() -> tuple[list[bytes], list[int]]:
    sack = b"\x01\x01\x08\x0a" + struct.pack("!II", 7, 8) + b"\x01\x01\x05\x0a" + struct.pack(
        "!II", 3001, 4001)
    frames = [
        syn(),
        ether(ipv4(tcp(sport=5555, dport=40000, seq=9000, ack=1001, flags=0x12,
                       options=b"\x02\x04\x05\xb4\x01\x03\x03\x02", win=1000),
                   src="127.0.0.2", dst="127.0.0.1")),
        ether(ipv4(tcp(seq=1001, ack=9001, flags=0x18, payload=b"hello\r\n", options=sack))),
        ether(ipv6(tcp(sport=1, dport=2, flags=0x11, ack=5), nexthdr=0,
                   extensions=ext_header(6)), ethertype=0x86DD),
        ether(ipv4(b"\0" * 8, proto=17)),
        ether(ipv4(tcp(flags=0x04, seq=1008)), vlans=(0x8100,)),
    ]
    return frames, [TS0 + i * 1_000_001 for i in range(len(frames))]


def test_tshark_reads_our_pcapng_without_complaint(tmp_path):
    frames, times = sample_frames()
    comments = ["connect() = 0", "", "SYN_SENT -> ESTABLISHED", "", "not tcp", "é ünïcode"]
    stream = io.BytesIO()
    write_pcapng(stream, frames, times, comments, section_comment="scenario linger0")
    path = tmp_path / "ours.pcapng"
    path.write_bytes(stream.getvalue())
    out = run_tshark("-r", str(path), "-T", "fields", "-e", "frame.number", "-e",
                     "frame.comment", "-e", "frame.time_epoch")
    rows = [line.split("\t") for line in out.splitlines()]
    assert [row[0] for row in rows] == [str(i + 1) for i in range(len(frames))]
    assert [row[1] for row in rows] == comments
    assert [row[2].replace(".", "") for row in rows] == [str(t) for t in times]
    info = subprocess.run(["capinfos", str(path)], capture_output=True, text=True, check=False)
    if info.returncode == 0:  # capinfos ships with tshark's package on Debian
        assert "scenario linger0" in info.stdout and "tcptrace-viz" in info.stdout


FIELDS = ("frame.number", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw",
          "tcp.flags", "tcp.len", "tcp.window_size_value", "tcp.options.mss_val",
          "tcp.options.wscale.shift", "tcp.options.timestamp.tsval",
          "tcp.options.timestamp.tsecr")


def test_decoded_fields_match_tshark(tmp_path):
    frames, times = sample_frames()
    stream = io.BytesIO()
    write_pcapng(stream, frames, times)
    path = tmp_path / "fields.pcapng"
    path.write_bytes(stream.getvalue())
    assert_matches_tshark(path)


def assert_matches_tshark(path) -> int:
    """Our decode of ``path`` agrees with tshark's, field by field; returns the TCP count."""
    args = ["-r", str(path), "-Y", "tcp", "-T", "fields"]
    for field in FIELDS:
        args += ["-e", field]
    theirs = [line.split("\t") for line in run_tshark(*args).splitlines()]
    ours = read_pcap(path).packets
    assert len(ours) == len(theirs)
    for (_, row), fields in zip(ours.iterrows(), theirs, strict=True):
        number, sport, dport, seq, ack, flags, length, win, mss, wscale, tsval, tsecr = fields
        assert (row["frame"], row["sport"], row["dport"], row["seq"]) == (
            int(number), int(sport), int(dport), int(seq))
        assert row["ack"] == (int(ack) if row["flag_bits"] & 0x10 else 0)
        assert (row["flag_bits"], row["len"], row["win"]) == (int(flags, 16), int(length),
                                                              int(win))
        assert row["mss"] == (int(mss) if mss else -1)
        assert row["wscale"] == (int(wscale) if wscale else -1)
        assert (row["tsval"], row["tsecr"]) == ((int(tsval), int(tsecr)) if tsval else (-1, -1))
    return len(ours)


@pytest.mark.parametrize(("tshark_format", "resolution"), [("pcap", 1000), ("nsecpcap", 1),
                                                           ("pcapng", 1)])
def test_files_written_by_tshark_decode_the_same(tmp_path, tshark_format, resolution):
    frames, times = sample_frames()
    stream = io.BytesIO()
    write_pcapng(stream, frames, times)
    source = tmp_path / "source.pcapng"
    source.write_bytes(stream.getvalue())
    converted = tmp_path / f"converted.{tshark_format}"
    run_tshark("-r", str(source), "-F", tshark_format, "-w", str(converted))
    result = read_pcap(converted)
    expected = decode_frames(frames, np.array(times) // resolution * resolution,
                             LINKTYPE_ETHERNET)
    assert not result.partial and result.frames_total == len(frames)
    assert result.packets.equals(expected)


@pytest.mark.root
def test_real_loopback_capture_matches_tshark(tmp_path):
    """Real kernel traffic on ``lo``, captured by dumpcap (Wireshark's capture engine).

    dumpcap writes pcapng to a pipe; the test probes with UDP datagrams until the capture is
    live, runs one TCP exchange, and reads the pipe until its 5 SYN/FIN/PSH segments are in.
    """
    dumpcap = shutil.which("dumpcap")
    if (dumpcap is None or os.geteuid() != 0) and os.environ.get("CI") != "true":
        pytest.skip("needs root and dumpcap (from the tshark package)")
    assert dumpcap is not None, "dumpcap must be installed in CI (apt-get install tshark)"
    listener = socket.create_server(("127.0.0.1", 0))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port, probe_port = listener.getsockname()[1], probe.getsockname()[1]
    wanted = (f"udp port {probe_port} or (tcp port {port} and "
              "tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-push) != 0)")
    capture = subprocess.Popen([dumpcap, "-q", "-i", "lo", "-f", wanted, "-w", "-"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    path = tmp_path / "lo.pcapng"
    data = bytearray()
    deadline = time.monotonic() + 60
    try:
        while not data_has(data, path, lambda result: result.frames_total >= 1):
            probe.sendto(b"probe", ("127.0.0.1", probe_port))  # until the capture sees one
            read_pipe(capture, data, deadline)
        client = socket.create_connection(("127.0.0.1", port))
        server, _ = listener.accept()
        client.sendall(b"hello\x00\xffworld")
        assert server.recv(100)
        client.close()
        assert server.recv(100) == b""  # the client's FIN arrived
        server.close()
        while not data_has(data, path, lambda result: len(result.packets) >= 5):
            read_pipe(capture, data, deadline)
    finally:
        capture.terminate()
        capture.communicate(timeout=60)
        listener.close()
        probe.close()
    path.write_bytes(data)
    result = read_pcap(path)
    assert assert_matches_tshark(path) == 5
    table = result.packets
    assert table["flags"].tolist() == ["S", "S.", "P.", "F.", "F."]
    assert table["options"].iloc[0].startswith("mss 65495,sackOK,TS val ")
    assert table["payload"].iloc[2] == "hello..world"


def read_pipe(capture: subprocess.Popen[bytes], data: bytearray, deadline: float) -> None:
    """Append what dumpcap has written; wait for it at most 0.1 s (then the caller re-probes)."""
    assert capture.stdout is not None and capture.poll() is None, "dumpcap stopped"
    assert time.monotonic() < deadline, "dumpcap did not capture the test's packets in 60 s"
    ready, _, _ = select.select([capture.stdout], [], [], 0.1)
    if ready:
        data += os.read(capture.stdout.fileno(), 1 << 16)
    assert len(data) < 1 << 20, "dumpcap captured far more than the test sent"


def data_has(data: bytearray, path, condition) -> bool:
    """True once the (possibly still growing) capture satisfies ``condition``."""
    if not data:
        return False
    path.write_bytes(data)
    try:
        return bool(condition(read_pcap(path)))
    except BadInputError:  # not even one whole block yet
        return False


def test_a_comment_longer_than_one_option_is_split_and_read_whole(tmp_path):
    """An option's length is 16 bits: a long comment (a busy scenario's syscall log) becomes
    several comments, cut between lines, that tshark reads without complaint and that join
    back into the whole text."""
    from tcptrace_viz.pcap.writer import OPTION_MAX

    frames, times = sample_frames()
    lines = [f"send() = {i} é" for i in range(20_000)]  # ~300 KB, multi-byte characters
    long_comment = "\n".join(lines)
    one_line = "x" * (OPTION_MAX + 10) + "é" * 40_000  # no line break to cut at
    stream = io.BytesIO()
    write_pcapng(stream, frames[:2], times[:2], [long_comment, one_line],
                 section_comment=long_comment)
    path = tmp_path / "long.pcapng"
    path.write_bytes(stream.getvalue())
    out = run_tshark("-r", str(path), "-T", "fields", "-e", "frame.number")
    assert out.split() == ["1", "2"]
    read = read_pcap(path)
    assert read.problem == "" and not read.partial
    assert "\n".join(read.comments) == long_comment  # the section's, joined back
    assert all(len(part.encode()) <= OPTION_MAX for part in read.comments)
    from tcptrace_viz.pcap.pcapng import _comment
    from tcptrace_viz.pcap.writer import _text_option

    assert _comment(_text_option(1, long_comment), little=True) == long_comment
    parts = _comment(_text_option(1, one_line), little=True).split("\n")
    assert "".join(parts) == one_line and len(parts) == len(one_line.encode()) // OPTION_MAX + 1
