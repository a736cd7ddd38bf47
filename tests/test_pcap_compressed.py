"""Compressed captures (gzip, zstd, lz4) read as their decompressed copies, streamed and bounded."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import lz4.frame
import pytest
import zstandard
from builders import (
    Iface,
    Packet,
    Section,
    close_then_write,
    merge,
    normal_close,
    pcap_file,
    pcapng_file,
    wire_bytes,
)

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.pcap import read_pcap
from tcptrace_viz.pcap.compressed import MIN_DECOMPRESSED_LIMIT, compression_of

REALWORLD = Path("/work/shared/realworld")
COMPRESSORS = {
    "gzip": gzip.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
    "lz4": lz4.frame.compress,
}


def _capture(copies: int = 1) -> bytes:
    frame = merge(*[normal_close() for _ in range(copies)], close_then_write())
    return pcap_file(wire_bytes(frame), frame["ts_ns"].tolist())


@pytest.mark.parametrize("tool", sorted(COMPRESSORS))
def test_a_compressed_capture_reads_as_its_plain_copy(tmp_path: Path, tool: str) -> None:
    data = _capture()
    plain, packed = tmp_path / "plain.pcap", tmp_path / "capture.bin"  # the name says nothing
    plain.write_bytes(data)
    packed.write_bytes(COMPRESSORS[tool](data))
    assert compression_of(packed.read_bytes()[:4]) == tool
    want, got = read_pcap(plain), read_pcap(packed)
    assert len(got.packets) == len(want.packets) > 0
    assert got.packets.equals(want.packets)
    assert not got.partial and got.frames_total == want.frames_total


def _pcapng() -> bytes:
    frame = merge(normal_close(), close_then_write())
    packets = [Packet(data, int(ts), comment="a <b>comment</b>" if i == 3 else "")
               for i, (data, ts) in enumerate(zip(wire_bytes(frame), frame["ts_ns"],
                                                  strict=True))]
    return pcapng_file(Section([Iface()], packets, comment="section"))


@pytest.mark.parametrize("tool", sorted(COMPRESSORS))
def test_a_compressed_pcapng_keeps_its_comments(tmp_path: Path, tool: str) -> None:
    plain, packed = tmp_path / "plain.pcapng", tmp_path / "capture.pcapng.x"
    plain.write_bytes(_pcapng())
    packed.write_bytes(COMPRESSORS[tool](_pcapng()))
    want, got = read_pcap(plain), read_pcap(packed)
    assert got.file_format == "pcapng" and got.comments == want.comments == ["section"]
    assert got.packets.equals(want.packets) and "a <b>comment</b>" in set(got.packets["comment"])


def test_the_connections_command_reads_a_compressed_capture(tmp_path: Path) -> None:
    path = tmp_path / "trace.pcapng.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(_pcapng()))
    done = subprocess.run([sys.executable, "-m", "tcptrace_viz", "connections", str(path)],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 connection")


def test_zstd_frames_one_after_another_read_as_one_capture(tmp_path: Path) -> None:
    data = _capture(copies=3)
    half = len(data) // 2
    compressor = zstandard.ZstdCompressor()
    path = tmp_path / "two-frames.pcap.zst"
    path.write_bytes(compressor.compress(data[:half]) + compressor.compress(data[half:]))
    plain = tmp_path / "plain.pcap"
    plain.write_bytes(data)
    assert read_pcap(path).packets.equals(read_pcap(plain).packets)


def test_progress_counts_the_compressed_bytes(tmp_path: Path) -> None:
    path = tmp_path / "capture.pcap.gz"
    path.write_bytes(gzip.compress(_capture(copies=50)))
    seen: list[tuple[int, int]] = []
    read_pcap(path, progress=lambda done, total: seen.append((done, total)))
    assert seen and all(total == path.stat().st_size and done <= total for done, total in seen)


@pytest.mark.parametrize("tool", sorted(COMPRESSORS))
def test_a_truncated_compressed_capture_gives_what_came_before(tmp_path: Path,
                                                                tool: str) -> None:
    data = _capture(copies=400)
    plain = tmp_path / "plain.pcap"
    plain.write_bytes(data)
    packed = COMPRESSORS[tool](data)
    path = tmp_path / f"cut.{tool}"
    path.write_bytes(packed[:len(packed) * 3 // 4])
    whole, cut = read_pcap(plain), read_pcap(path)
    assert cut.partial and 0 < len(cut.packets) < len(whole.packets)
    assert str(path) in cut.problem and cut.problem.count(".") >= 1
    assert cut.packets.equals(whole.packets.iloc[:len(cut.packets)])


def test_a_decompression_bomb_stops_with_one_sentence(tmp_path: Path) -> None:
    # a valid capture, then records of 256 KiB of zeros (cheap to parse, tiny once compressed)
    data = _capture()
    plain = tmp_path / "plain.pcap"
    plain.write_bytes(data)
    record = struct.pack("<IIII", 1, 0, 1 << 18, 1 << 18) + bytes(1 << 18)
    compressor = zstandard.ZstdCompressor(level=1).compressobj()
    chunks = [compressor.compress(data)]
    chunks += [compressor.compress(record) for _ in range((MIN_DECOMPRESSED_LIMIT >> 18) + 8)]
    chunks.append(compressor.flush())
    path = tmp_path / "bomb.pcap.zst"
    path.write_bytes(b"".join(chunks))
    assert path.stat().st_size < 1 << 20
    result = read_pcap(path)
    assert result.partial and "decompression bomb" in result.problem
    assert result.packets.equals(read_pcap(plain).packets)


def test_garbage_after_a_gzip_magic_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "broken.pcap.gz"
    path.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
    with pytest.raises(BadInputError) as caught:
        read_pcap(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_xz_is_still_refused_by_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "capture.pcap.xz"
    path.write_bytes(b"\xfd7zXZ\x00" + b"\x00" * 40)
    done = subprocess.run([sys.executable, "-m", "tcptrace_viz", "connections", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "xz" in done.stderr and "Traceback" not in done.stderr


def _realworld_pairs() -> list[tuple[Path, Path]]:
    if not REALWORLD.is_dir():
        return []
    pairs = []
    for packed in sorted(REALWORLD.glob("*.gz")):
        copies = sorted(REALWORLD.glob(packed.name + ".gunzipped.*"))
        if copies:
            pairs.append((packed, copies[0]))
    return pairs


@pytest.mark.skipif(not REALWORLD.is_dir(), reason="no real-world capture corpus here")
@pytest.mark.parametrize("packed, plain", _realworld_pairs(), ids=lambda path: path.name)
def test_each_real_world_gz_reads_as_its_gunzipped_copy(packed: Path, plain: Path) -> None:
    try:
        want = read_pcap(plain)
    except BadInputError as error:
        with pytest.raises(BadInputError) as caught:
            read_pcap(packed)
        assert str(caught.value).replace(str(packed), "X") == str(error).replace(str(plain), "X")
        return
    got = read_pcap(packed)
    assert got.packets.equals(want.packets)
    assert (got.frames_total, got.partial, got.skipped) == (want.frames_total, want.partial,
                                                            want.skipped)
    assert got.problem.replace(str(packed), "X") == want.problem.replace(str(plain), "X")
