"""Sniff the namespace's loopback interface with scapy, keeping each segment exactly once.

scapy opens and binds the AF_PACKET listening socket on ``lo``.  Frames are then read raw from
the socket's receive ring (:mod:`.ring`), with their nanosecond kernel timestamps (scapy's own
reader rounds them to a float), and decoded later, all at once, by :mod:`tcptrace_viz.pcap`.

Three details make the capture exact:

- **Once per segment.** Loopback hands every frame to packet sockets twice: once leaving
  (``PACKET_OUTGOING``) and once arriving.  A classic BPF filter in the kernel drops the outgoing
  copy, so the arriving copy, timestamped when the receiving stack gets it, is kept.
- **No silent drops.** The receive ring holds a fast burst whole, root or not (a socket's
  ordinary buffer drops most of one), and ``PACKET_STATISTICS`` reports what the kernel dropped
  anyway.
- **Drained before stopping.** ``stop()`` sends a sentinel datagram through ``lo`` and reads
  until it arrives: frames reach the socket in order, so everything before it has been read.
  It repeats while a segment crosses that cut, so the capture matches the kernel's counters.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import dataclasses
import errno
import os
import select
import socket
import struct
import threading
from collections.abc import Callable
from typing import TypeVar

from tcptrace_viz.capture.ring import (
    MIN_BLOCKS,
    SOL_PACKET,
    TP_STATUS_TS_RAW_HARDWARE,
    TP_STATUS_TS_SOFTWARE,
    Frames,
    ReceiveRing,
    parse_block,
)
from tcptrace_viz.errors import PrivilegeError, ScenarioError

T = TypeVar("T")

SO_ATTACH_FILTER = 26  # attach a classic BPF program
PACKET_STATISTICS = 6  # reset on read
STATS_V3 = struct.Struct("=III")  # struct tpacket_stats_v3: packets, drops, freeze_q_cnt
PACKET_OUTGOING = 4  # sll_pkttype of a frame the host is sending

SKF_AD_PKTTYPE = 0xFFFFF000 + 4  # BPF ancillary load: the frame's packet type
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
SNAPLEN = 262144

DRAIN_TIMEOUT_S = 10.0
MAX_CUT_ROUNDS = 8  # sentinels sent at the most while segments keep crossing the cut
_MAX_FRAME = 65600
READER_RT_PRIORITY = 10


class _SockFilter(ctypes.Structure):
    _fields_ = (("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32))


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter)))


def _drop_outgoing_filter() -> tuple[ctypes.Array[_SockFilter], _SockFprog]:
    program = (_SockFilter * 4)(
        _SockFilter(BPF_LD_W_ABS, 0, 0, SKF_AD_PKTTYPE),
        _SockFilter(BPF_JEQ_K, 0, 1, PACKET_OUTGOING),
        _SockFilter(BPF_RET_K, 0, 0, 0),
        _SockFilter(BPF_RET_K, 0, 0, SNAPLEN),
    )
    return program, _SockFprog(len(program), program)


@dataclasses.dataclass
class SniffResult:
    """Frames read from ``lo`` and what the kernel says about the capture."""

    frames: list[bytes]
    """Link-layer frames (Ethernet on Linux ``lo``), in arrival order, sentinel removed."""
    ts_ns: list[int]
    """Kernel receive timestamp of each frame, ns since the epoch (CLOCK_REALTIME)."""
    kernel_packets: int
    """Frames the kernel delivered to the socket's filter path (``tp_packets``)."""
    kernel_drops: int
    """Frames the kernel dropped because the receive ring was full (``tp_drops``)."""
    ring_blocks: int
    """The ring's size in 1 MiB blocks."""
    clock: str
    """Where the frames' timestamps come from, in words."""
    reader_priority: str
    """The reader thread's scheduling (``SCHED_FIFO 10`` or ``normal``)."""


def preload_scapy() -> None:
    """Import scapy once, quietly, before forking workers (it takes over a second).

    scapy warns that it cannot guess lo's link type (ARPHRD_LOOPBACK): frames are decoded by
    :mod:`tcptrace_viz.pcap`, not scapy, so the warning is irrelevant and silenced.
    """
    import logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    logging.getLogger("scapy").setLevel(logging.ERROR)
    import scapy.arch.linux  # noqa: F401


def _raise_priority() -> str:
    """Run the calling (reader) thread ahead of ordinary busy processes, where allowed.

    With every CPU busy an ordinary reader thread waits its turn while the ring fills; a
    real-time reader drains it as soon as a block is ready (needs CAP_SYS_NICE: root).
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(READER_RT_PRIORITY))
    except (OSError, AttributeError):
        return "normal"
    return f"SCHED_FIFO {READER_RT_PRIORITY}"


def _clock_text(frames: Frames) -> str:
    if frames.status_flags & TP_STATUS_TS_RAW_HARDWARE:
        return "hardware timestamps (TPACKET_V3 ring, TP_STATUS_TS_RAW_HARDWARE)"
    ring_time = ("CLOCK_REALTIME taken by the kernel's packet socket when it copied the frame "
                 "into the TPACKET_V3 ring (tp_sec/tp_nsec; the skb had no receive timestamp, "
                 "tp_status without TP_STATUS_TS_SOFTWARE)")
    skb_time = ("CLOCK_REALTIME of the skb's software receive timestamp (TPACKET_V3 ring "
                "tp_sec/tp_nsec, TP_STATUS_TS_SOFTWARE)")
    stamped = len(frames.data) - frames.untimed
    if not frames.status_flags & TP_STATUS_TS_SOFTWARE or stamped <= 0:
        return ring_time
    if not frames.untimed:
        return skb_time
    return f"{ring_time}; {stamped} frames: {skb_time}"


class LoopbackSniffer:
    """Capture every frame on ``lo`` between ``start()`` and ``stop()``."""

    def __init__(self, iface: str = "lo", blocks: int = MIN_BLOCKS) -> None:
        self._iface = iface
        self._taken = Frames()
        self._blocks = blocks
        self.reader_priority = ""
        self._token = os.urandom(12)
        """Sentinel datagrams carry this plus a 4-byte round number."""
        self._cuts: dict[int, int] = {}
        """Round number -> how many frames came before that round's sentinel."""
        self._cut_seen = threading.Condition()
        self._listening = threading.Event()
        self._closing = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._scapy_socket: object | None = None
        self._sock: socket.socket | None = None
        self._ring: ReceiveRing | None = None
        self._wake_reader, self._wake_writer = os.pipe()  # close() wakes the reader's select

    def start(self) -> None:
        """Open the socket and start reading; returns once the sniffer is listening."""
        preload_scapy()
        from scapy.arch.linux import L2ListenSocket  # scapy is only imported when capturing

        try:
            scapy_socket = L2ListenSocket(iface=self._iface, promisc=False)
        except PermissionError as exc:
            raise PrivilegeError("cannot open a packet socket on lo (needs CAP_NET_RAW): "
                                 "run as root") from exc
        self._scapy_socket = scapy_socket
        sock: socket.socket = scapy_socket.ins
        self._sock = sock
        program, fprog = _drop_outgoing_filter()
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))
        del program  # the kernel copied the program
        # Frames queued before the filter was attached may include outgoing copies: discard
        # them; from now on frames go to the ring.  Reading the statistics resets them.
        self._discard_pending(sock)
        self._ring = ReceiveRing(sock, self._blocks)
        sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, STATS_V3.size)
        self._thread = threading.Thread(target=self._read_loop, name="sniffer", daemon=True)
        self._thread.start()
        if not self._listening.wait(DRAIN_TIMEOUT_S):
            raise ScenarioError("the packet sniffer did not start within "
                                f"{DRAIN_TIMEOUT_S:.0f} s")

    @staticmethod
    def _discard_pending(sock: socket.socket) -> None:
        while select.select([sock], [], [], 0)[0]:
            sock.recv(_MAX_FRAME)

    def _read_loop(self) -> None:
        sock, ring = self._sock, self._ring
        assert sock is not None and ring is not None
        self.reader_priority = _raise_priority()
        self._listening.set()
        pending: collections.deque[bytes] = collections.deque()
        try:
            while not self._closing:
                if not pending:
                    # Readable: a block of the ring is ready (or an error is pending), or
                    # close() wants the loop to end.
                    ready, _, _ = select.select([sock.fileno(), self._wake_reader], [], [])
                    if self._closing:
                        return
                    if sock.fileno() not in ready:
                        continue
                    pending.extend(ring.take_blocks())
                    if not pending:
                        # lo going down (simultaneous-close does it on purpose) leaves
                        # ENETDOWN pending, which keeps the socket readable until read; the
                        # socket keeps capturing once lo is up again.
                        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if error not in (0, errno.ENETDOWN):
                            raise OSError(error, os.strerror(error))
                        continue
                # Free the ring first (a copy per block), split copies into frames after.
                self._split(pending.popleft())
                pending.extend(ring.take_blocks())
        except BaseException as exc:  # surfaced by stop()
            self._error = exc
            with self._cut_seen:
                self._cut_seen.notify_all()

    def _split(self, block: bytes) -> None:
        """Add one copied block's frames; a sentinel among them marks a cut."""
        taken = self._taken
        if self._token not in block:
            parse_block(block, taken)
            return
        frames = Frames()
        parse_block(block, frames)
        taken.status_flags |= frames.status_flags
        taken.untimed += frames.untimed
        for data, stamp in zip(frames.data, frames.ts_ns, strict=True):
            where = data.find(self._token)
            if where >= 0:  # a sentinel: frames before it are all in
                round_number = int.from_bytes(data[where + 12:where + 16], "big")
                with self._cut_seen:
                    self._cuts[round_number] = len(taken.data)
                    self._cut_seen.notify_all()
                continue
            taken.data.append(data)
            taken.ts_ns.append(stamp)

    def stop(self, counters: Callable[[], T]) -> tuple[SniffResult, T]:
        """Drain every frame sent so far, stop reading; the capture and ``counters()`` at its end.

        The capture ends at a sentinel datagram sent through ``lo``: frames reach the socket in
        order, so every frame before it has been read once it arrives.  ``counters()`` (the
        kernel's segment counters) is read before and after each sentinel; while a segment
        crosses that cut (a delayed ACK, say), another sentinel follows, so the frames kept
        and the counters returned describe the same segments.

        The reader thread has ended when this returns; the socket and its ring stay open until
        :meth:`close` (closing a packet socket waits for an RCU grace period: a capture worker
        does it after it has sent its result).
        """
        try:
            previous = counters()
            for round_number in range(MAX_CUT_ROUNDS):
                cut = self._cut(round_number)
                now = counters()
                if now == previous:
                    break
                previous = now
            assert self._sock is not None
            packets, drops, _frozen = STATS_V3.unpack(
                self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, STATS_V3.size))
            sentinels = round_number + 1  # they went through the filter: not counted
            taken = self._taken
            result = SniffResult(taken.data[:cut], taken.ts_ns[:cut],
                                 max(packets - sentinels, 0), drops, self._blocks,
                                 _clock_text(taken), self.reader_priority)
            return result, now
        finally:
            self._stop_reading()

    def _cut(self, round_number: int) -> int:
        """Send sentinel ``round_number``; how many frames came before it."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            receiver.bind(("127.0.0.1", 0))  # a bound receiver: no ICMP port-unreachable reply
            sender.sendto(self._token + round_number.to_bytes(4, "big"),
                          receiver.getsockname())
        with self._cut_seen:
            arrived = self._cut_seen.wait_for(
                lambda: round_number in self._cuts or self._error is not None, DRAIN_TIMEOUT_S)
        if self._error is not None:
            raise ScenarioError(f"the packet sniffer failed: {self._error}")
        if not arrived:
            raise ScenarioError("the packet sniffer did not drain within "
                                f"{DRAIN_TIMEOUT_S:.0f} s: the capture may be incomplete")
        return self._cuts[round_number]

    def _stop_reading(self) -> None:
        """End the reader thread (idempotent); the socket stays open."""
        self._closing = True
        if self._thread is not None and self._thread is not threading.current_thread():
            os.write(self._wake_writer, b"x")
            self._thread.join(DRAIN_TIMEOUT_S)
        self._thread = None
        for fd in (self._wake_reader, self._wake_writer):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_reader = self._wake_writer = -1

    def close(self) -> None:
        """Stop the reader thread and close the socket (idempotent)."""
        self._stop_reading()
        if self._ring is not None:
            self._ring.close()  # unmapped before its socket closes
            self._ring = None
        if self._scapy_socket is not None:
            self._scapy_socket.close()  # type: ignore[attr-defined]
            self._scapy_socket = None
