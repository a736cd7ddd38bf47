"""A TPACKET_V3 receive ring: the kernel writes captured frames into memory this process maps.

A packet socket's ordinary receive queue is bounded by its buffer size, which only root can
raise past ``net.core.rmem_max`` (about 200 KiB): a fast burst, such as 40 MiB over ``lo``,
overflows it while the reader is busy.  A ring is sized by the process itself, so a user without
root captures the same burst whole.

The ring is a row of blocks.  The kernel fills a block with frames (each with its header and
nanosecond timestamp), marks it ``TP_STATUS_USER`` when it is full or ``RETIRE_MS`` after its
first frame, and moves on; the reader copies the block out whole (one copy, no per-frame work
while the kernel waits), hands it back by marking it ``TP_STATUS_KERNEL`` and walks the copy's
frames afterwards.  Blocks are used in order, so frames come out in the order the socket got
them.  The ring is sized from the burst a scenario declares (:func:`blocks_for`), so it holds
the whole burst even when the reader gets no CPU at all while it lasts.

Timestamps: ``tp_sec``/``tp_nsec`` is CLOCK_REALTIME.  On lo the skb carries no receive
timestamp (loopback's transmit clears it), so the packet socket takes the time itself when it
copies the frame into the ring (``tpacket_rcv``, ``ktime_get_real_ts64``) and ``tp_status``
lacks ``TP_STATUS_TS_SOFTWARE``.  Were the skb stamped (``TP_STATUS_TS_SOFTWARE``), the time
would be the skb's software receive timestamp instead; the capture says which it saw.
"""

from __future__ import annotations

import dataclasses
import mmap
import socket
import struct
from typing import Final

SOL_PACKET: Final = 263
PACKET_RX_RING: Final = 5
PACKET_VERSION: Final = 10
TPACKET_V3: Final = 2
TP_STATUS_KERNEL: Final = 0
TP_STATUS_USER: Final = 1
TP_STATUS_TS_SOFTWARE: Final = 1 << 29  # tp_sec/tp_nsec are the skb's software timestamp
TP_STATUS_TS_RAW_HARDWARE: Final = 1 << 31

BLOCK_SIZE: Final = 1 << 20  # a power-of-two number of pages
MIN_BLOCKS: Final = 128  # 128 MiB: bulk-close's default 40 MiB burst, even if never read
QUIET_BLOCKS: Final = 8  # 8 MiB (5,000 full-size segments unread; the reader thread drains
# it as they come) for a scenario that declares no burst: the kernel zeroes every page of a
# ring when it is set up (32 MiB took 45 ms of system time here, 27 runs of --all 1.2 s), and a
# run that sends more than that unread still has its ring drops counted and named
MAX_BLOCKS: Final = 2048  # 2 GiB: a ring is unswappable kernel memory
FRAME_SIZE: Final = 1 << 11  # a hint only for TPACKET_V3 (frames are packed in blocks)
RETIRE_MS: Final = 2  # a partly filled block is handed over this long after its first frame
# A full-size segment (1448 bytes of payload) takes 1600 bytes in a block: its 1514-byte frame
# after the 82-byte tpacket3_hdr + sockaddr_ll, 16-byte aligned.  The receiver's ACKs, one per
# two segments, take 160 bytes each; blocks waste the tail a frame does not fit in.
RING_BYTES_PER_PAYLOAD_BYTE: Final = 2.0  # 1.2 when full; blocks retired early waste more

# struct tpacket_block_desc: u32 version, u32 offset_to_priv, then struct tpacket_hdr_v1:
# u32 block_status, u32 num_pkts, u32 offset_to_first_pkt, u32 blk_len, ...
_BLOCK_STATUS_AT: Final = 8
_BLOCK_HEAD: Final = struct.Struct("=IIII")
# struct tpacket3_hdr: u32 tp_next_offset, u32 tp_sec, u32 tp_nsec, u32 tp_snaplen,
# u32 tp_len, u32 tp_status, u16 tp_mac, ...
_FRAME_HEAD: Final = struct.Struct("=IIIIIIH")
_STATUS: Final = struct.Struct("=I")


def blocks_for(burst_bytes: int) -> int:
    """Ring blocks that hold a burst carrying ``burst_bytes`` of TCP payload without reading."""
    needed = int(burst_bytes * RING_BYTES_PER_PAYLOAD_BYTE) // BLOCK_SIZE + 8
    return min(max(needed, MIN_BLOCKS), MAX_BLOCKS)


@dataclasses.dataclass
class Frames:
    """Frames taken from the ring, in ring (arrival) order."""

    data: list[bytes] = dataclasses.field(default_factory=list)
    ts_ns: list[int] = dataclasses.field(default_factory=list)
    """tp_sec/tp_nsec of each frame, ns since the epoch."""
    status_flags: int = 0
    """The ``TP_STATUS_TS_*`` bits seen on any frame."""
    untimed: int = 0
    """Frames without ``TP_STATUS_TS_SOFTWARE``: stamped when the ring took them instead."""


def parse_block(block: bytes, into: Frames) -> None:
    """Append the frames of one copied block to ``into``."""
    _status, count, at, _length = _BLOCK_HEAD.unpack_from(block, _BLOCK_STATUS_AT)
    unpack, data, stamps = _FRAME_HEAD.unpack_from, into.data.append, into.ts_ns.append
    flags = 0
    for _ in range(count):
        next_offset, seconds, nanoseconds, snaplen, _wire, status, mac = unpack(block, at)
        data(block[at + mac:at + mac + snaplen])
        stamps(seconds * 1_000_000_000 + nanoseconds)
        if not status & TP_STATUS_TS_SOFTWARE:
            into.untimed += 1
        flags |= status
        at += next_offset
    into.status_flags |= flags & (TP_STATUS_TS_SOFTWARE | TP_STATUS_TS_RAW_HARDWARE)


class ReceiveRing:
    """The receive ring of one packet socket (set up before any traffic is expected)."""

    def __init__(self, sock: socket.socket, blocks: int = MIN_BLOCKS) -> None:
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        self.blocks = blocks
        frames = BLOCK_SIZE * blocks // FRAME_SIZE
        request = struct.pack("=7I", BLOCK_SIZE, blocks, FRAME_SIZE, frames, RETIRE_MS,
                              0, 0)  # no private area, no feature requests
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, request)
        self._map: mmap.mmap | None = mmap.mmap(sock.fileno(), BLOCK_SIZE * blocks,
                                                mmap.MAP_SHARED,
                                                mmap.PROT_READ | mmap.PROT_WRITE)
        self._block = 0

    def take_blocks(self) -> list[bytes]:
        """A copy of every block the kernel has handed over, each handed back once copied.

        One copy per block (no Python work per frame) frees the ring as fast as possible;
        :func:`parse_block` splits the copies into frames later.
        """
        ring = self._map
        if ring is None:
            return []
        taken: list[bytes] = []
        while True:
            base = self._block * BLOCK_SIZE
            status, _count, _first, length = _BLOCK_HEAD.unpack_from(
                ring, base + _BLOCK_STATUS_AT)
            if not status & TP_STATUS_USER:
                return taken
            taken.append(ring[base:base + min(length, BLOCK_SIZE)])
            _STATUS.pack_into(ring, base + _BLOCK_STATUS_AT, TP_STATUS_KERNEL)
            self._block = (self._block + 1) % self.blocks
    def close(self) -> None:
        """Unmap the ring (before its socket is closed)."""
        if self._map is not None:
            self._map.close()
            self._map = None
