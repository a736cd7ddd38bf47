"""Generate realistic TCP captures for the reader benchmark (pcap and pcapng, N packets).

The mix imitates a busy host: many short connections (handshake with Linux's SYN options,
request/response data of assorted sizes, text on port 80 and random bytes otherwise, delayed
ACKs, some SACKs, FIN or RST teardown), 10% of them over IPv6, every segment with the
timestamp option, plus a sprinkle of UDP.

    python benchmarks/make_captures.py 100000 benchmarks/data/bench-100k
"""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

ETH_V4 = b"\x00" * 12 + b"\x08\x00"
ETH_V6 = b"\x00" * 12 + b"\x86\xdd"
_BYTES = random.Random(7)
PAYLOAD = bytes(_BYTES.randrange(256) for _ in range(1 << 16))  # TLS-like: every byte random
HTTP = (b"GET /static/app.js?v=7 HTTP/1.1\r\nHost: shop.example\r\nAccept: */*\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1448\r\n\r\n"
        b"<html><body>" * 400)[:1 << 16]  # port 80: plain text
SIZES = [1, 17, 100, 300, 536, 1200, 1448, 1448, 1448, 1448]


def _tcp(sport: int, dport: int, seq: int, ack: int, flags: int, options: bytes,
         payload: bytes) -> bytes:
    offset = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                       offset << 4, flags, 512, 0, 0) + options + payload


def _frame(v6: bool, src: int, dst: int, segment: bytes) -> bytes:
    if v6:
        return ETH_V6 + struct.pack("!IHBB", 0x60000000, len(segment), 6, 64) + (
            b"\x20\x01\x0d\xb8" + b"\0" * 8 + struct.pack("!I", src)) + (
            b"\x20\x01\x0d\xb8" + b"\0" * 8 + struct.pack("!I", dst)) + segment
    return ETH_V4 + struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(segment), 0, 0x4000, 64, 6, 0,
                                src, dst) + segment


def _ts(tsval: int, tsecr: int) -> bytes:
    return b"\x01\x01\x08\x0a" + struct.pack("!II", tsval & 0xFFFFFFFF, tsecr & 0xFFFFFFFF)


def packets(count: int, seed: int = 1) -> tuple[list[bytes], list[int]]:
    """``count`` frames (TCP, plus some UDP) and their timestamps in ns.

    TCP timestamps tick in milliseconds from a random per-host offset, as Linux's do, so
    segments sent within the same millisecond carry the same TS pair.
    """
    rng = random.Random(seed)
    frames: list[bytes] = []
    times: list[int] = []
    clock = [1_764_000_000_000_000_000]

    def emit(v6: bool, src: int, dst: int, segment: bytes) -> None:
        clock[0] += rng.randrange(1_000, 200_000)
        frames.append(_frame(v6, src, dst, segment))
        times.append(clock[0])

    conn = 0
    while len(frames) < count:
        conn += 1
        v6 = rng.random() < 0.1
        client, server = 0x0A000001 + conn % 250, 0x0A0000FE
        sport, dport = 32768 + conn % 28000, rng.choice([80, 443, 5555])
        cseq, sseq = rng.randrange(1 << 32), rng.randrange(1 << 32)
        off_c, off_s = rng.randrange(1 << 31), rng.randrange(1 << 31)

        def ts_c() -> int:
            return (off_c + clock[0] // 1_000_000) & 0xFFFFFFFF  # noqa: B023 (read at call time)

        def ts_s() -> int:
            return (off_s + clock[0] // 1_000_000) & 0xFFFFFFFF  # noqa: B023

        def send(from_client: bool, segment: bytes) -> None:
            src, dst = (client, server) if from_client else (server, client)  # noqa: B023
            emit(v6, src, dst, segment)  # noqa: B023

        mss_sack = b"\x02\x04\x05\xb4\x04\x02\x08\x0a"
        send(True, _tcp(sport, dport, cseq, 0, 0x02, mss_sack + struct.pack("!II", ts_c(), 0)
                        + b"\x01\x03\x03\x07", b""))
        send(False, _tcp(dport, sport, sseq, cseq + 1, 0x12, mss_sack + struct.pack(
            "!II", ts_s(), ts_c()) + b"\x01\x03\x03\x07", b""))
        cseq, sseq = cseq + 1, sseq + 1
        send(True, _tcp(sport, dport, cseq, sseq, 0x10, _ts(ts_c(), ts_s()), b""))
        body = HTTP if dport == 80 else PAYLOAD
        for _ in range(rng.randint(2, 40)):
            size = rng.choice(SIZES)
            start = rng.randrange(len(body) - size)
            data = body[start:start + size]
            if rng.random() < 0.3:
                send(True, _tcp(sport, dport, cseq, sseq, 0x18, _ts(ts_c(), ts_s()),
                                data))
                send(False, _tcp(dport, sport, sseq, cseq + size, 0x10, _ts(ts_s(), ts_c()),
                                 b""))
                cseq += size
            else:
                send(False, _tcp(dport, sport, sseq, cseq, 0x18, _ts(ts_s(), ts_c()),
                                 data))
                options = _ts(ts_c(), ts_s())
                if rng.random() < 0.05:
                    options += b"\x01\x01\x05\x0a" + struct.pack("!II", (sseq + 1) & 0xFFFFFFFF,
                                                                  (sseq + size) & 0xFFFFFFFF)
                send(True, _tcp(sport, dport, cseq, sseq + size, 0x10, options, b""))
                sseq += size
        if rng.random() < 0.8:
            send(True, _tcp(sport, dport, cseq, sseq, 0x11, _ts(ts_c(), ts_s()), b""))
            send(False, _tcp(dport, sport, sseq, cseq + 1, 0x11, _ts(ts_s(), ts_c()), b""))
            send(True, _tcp(sport, dport, cseq + 1, sseq + 1, 0x10, _ts(ts_c(), ts_s()), b""))
        else:
            send(True, _tcp(sport, dport, cseq, 0, 0x04, b"", b""))
        if rng.random() < 0.3:  # some DNS-sized UDP noise
            frames.append(ETH_V4 + struct.pack("!BBHHHBBHII", 0x45, 0, 68, 0, 0, 64, 17, 0,
                                               client, server) + b"\0" * 48)
            times.append(clock[0])
    return frames[:count], times[:count]


def write_pcap(path: Path, frames: list[bytes], times: list[int]) -> None:
    """Classic little-endian microsecond pcap, as tcpdump writes it."""
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        pack = struct.Struct("<IIII").pack
        chunk = []
        for frame, ts in zip(frames, times, strict=True):
            sec, ns = divmod(ts, 1_000_000_000)
            chunk.append(pack(sec, ns // 1000, len(frame), len(frame)))
            chunk.append(frame)
            if len(chunk) > 20000:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))


def write_pcapng(path: Path, frames: list[bytes], times: list[int]) -> None:
    """pcapng with nanosecond timestamps, via the project's writer."""
    from tcptrace_viz.pcap import write_pcapng as write

    with path.open("wb") as out:
        write(out, frames, times)


def main(argv: list[str]) -> int:
    count, stem = int(argv[1]), Path(argv[2])
    stem.parent.mkdir(parents=True, exist_ok=True)
    frames, times = packets(count)
    write_pcap(stem.with_suffix(".pcap"), frames, times)
    write_pcapng(stem.with_suffix(".pcapng"), frames, times)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
