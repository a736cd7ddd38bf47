"""A TPACKET_V3 receive ring: the kernel writes captured frames into memory this process maps.

A packet socket's ordinary receive queue is bounded by its buffer size, which only root can
raise past ``net.core.rmem_max`` (about 200 KiB): a fast burst, such as 40 MiB over ``lo``,
overflows it while the reader is busy.  A ring is sized by the process itself, so a user without
root captures the same burst whole.

The ring is a row of blocks.  The kernel fills a block with frames (each with its header and
nanosecond timestamp), marks it ``TP_STATUS_USER`` when it is full or ``RETIRE_MS`` after its
first frame, and moves on; the reader walks the block's frames and hands it back by marking it
``TP_STATUS_KERNEL``.  Blocks are used in order, so frames come out in arrival order.
"""

from __future__ import annotations

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

BLOCK_SIZE: Final = 1 << 20  # a power-of-two number of pages
BLOCK_COUNT: Final = 64  # 64 MiB: more than the largest scenario sends, even if never read
FRAME_SIZE: Final = 1 << 11  # a hint only for TPACKET_V3 (frames are packed in blocks)
RETIRE_MS: Final = 2  # a partly filled block is handed over this long after its first frame

# struct tpacket_block_desc: u32 version, u32 offset_to_priv, then struct tpacket_hdr_v1:
# u32 block_status, u32 num_pkts, u32 offset_to_first_pkt, ...
_BLOCK_STATUS_AT: Final = 8
_BLOCK_HEAD: Final = struct.Struct("=III")
# struct tpacket3_hdr: u32 tp_next_offset, u32 tp_sec, u32 tp_nsec, u32 tp_snaplen,
# u32 tp_len, u32 tp_status, u16 tp_mac, ...
_FRAME_HEAD: Final = struct.Struct("=IIIIIIH")
_STATUS: Final = struct.Struct("=I")


class ReceiveRing:
    """The receive ring of one packet socket (set up before any traffic is expected)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        frames = BLOCK_SIZE * BLOCK_COUNT // FRAME_SIZE
        request = struct.pack("=7I", BLOCK_SIZE, BLOCK_COUNT, FRAME_SIZE, frames, RETIRE_MS,
                              0, 0)  # no private area, no feature requests
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, request)
        self._map: mmap.mmap | None = mmap.mmap(sock.fileno(), BLOCK_SIZE * BLOCK_COUNT,
                                                mmap.MAP_SHARED,
                                                mmap.PROT_READ | mmap.PROT_WRITE)
        self._block = 0

    def take(self) -> list[tuple[bytes, int]]:
        """The frames of every block the kernel has handed over, with their timestamps (ns).

        Each block is handed back to the kernel once its frames are copied out.
        """
        ring = self._map
        if ring is None:
            return []
        taken: list[tuple[bytes, int]] = []
        while True:
            base = self._block * BLOCK_SIZE
            status, count, first = _BLOCK_HEAD.unpack_from(ring, base + _BLOCK_STATUS_AT)
            if not status & TP_STATUS_USER:
                return taken
            at = base + first
            for _ in range(count):
                next_offset, seconds, nanoseconds, snaplen, _wire, _status, mac = (
                    _FRAME_HEAD.unpack_from(ring, at))
                start = at + mac
                taken.append((ring[start:start + snaplen],
                              seconds * 1_000_000_000 + nanoseconds))
                at += next_offset
            _STATUS.pack_into(ring, base + _BLOCK_STATUS_AT, TP_STATUS_KERNEL)
            self._block = (self._block + 1) % BLOCK_COUNT

    def close(self) -> None:
        """Unmap the ring (before its socket is closed)."""
        if self._map is not None:
            self._map.close()
            self._map = None
