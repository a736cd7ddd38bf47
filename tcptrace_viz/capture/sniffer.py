"""Sniff the namespace's loopback interface with scapy, keeping each segment exactly once.

scapy opens and binds the AF_PACKET listening socket on ``lo``.  Frames are then read raw with
their nanosecond kernel timestamps (scapy's own reader rounds them to a float) and decoded later,
all at once, by :mod:`tcptrace_viz.pcap`.

Three details make the capture exact:

- **Once per segment.** Loopback hands every frame to packet sockets twice: once leaving
  (``PACKET_OUTGOING``) and once arriving.  A classic BPF filter in the kernel drops the outgoing
  copy, so the arriving copy, timestamped when the receiving stack gets it, is kept.
- **No silent drops.** The socket's receive buffer is forced large enough for a fast burst (the
  default drops most of one), and ``PACKET_STATISTICS`` reports what the kernel dropped anyway.
- **Drained before stopping.** ``stop()`` sends a sentinel datagram through ``lo`` and reads
  until it arrives: frames reach the socket in order, so everything before it has been read.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import os
import select
import socket
import struct
import threading
import time

from tcptrace_viz.errors import PrivilegeError, ScenarioError

SO_RCVBUFFORCE = 33  # set the receive buffer beyond rmem_max (needs CAP_NET_ADMIN)
SO_TIMESTAMPNS = 35  # nanosecond receive timestamps as ancillary data
SO_ATTACH_FILTER = 26  # attach a classic BPF program
SOL_PACKET = 263
PACKET_STATISTICS = 6  # struct tpacket_stats {u32 tp_packets; u32 tp_drops;}, reset on read
PACKET_OUTGOING = 4  # sll_pkttype of a frame the host is sending

SKF_AD_PKTTYPE = 0xFFFFF000 + 4  # BPF ancillary load: the frame's packet type
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
SNAPLEN = 262144

RECEIVE_BUFFER_BYTES = 256 * 1024 * 1024
DRAIN_TIMEOUT_S = 10.0
_MAX_FRAME = 65600


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
    """Frames the kernel dropped because the socket buffer was full (``tp_drops``)."""


def preload_scapy() -> None:
    """Import scapy once, quietly, before forking workers (it takes over a second).

    scapy warns that it cannot guess lo's link type (ARPHRD_LOOPBACK): frames are decoded by
    :mod:`tcptrace_viz.pcap`, not scapy, so the warning is irrelevant and silenced.
    """
    import logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    logging.getLogger("scapy").setLevel(logging.ERROR)
    import scapy.arch.linux  # noqa: F401


class LoopbackSniffer:
    """Capture every frame on ``lo`` between ``start()`` and ``stop()``."""

    def __init__(self, iface: str = "lo") -> None:
        self._iface = iface
        self._frames: list[bytes] = []
        self._ts_ns: list[int] = []
        self._token = os.urandom(16)
        self._sentinel_seen = threading.Event()
        self._listening = threading.Event()
        self._closing = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._scapy_socket: object | None = None
        self._sock: socket.socket | None = None

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
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES)
        except PermissionError:  # not root (a user namespace): as much as rmem_max allows
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        program, fprog = _drop_outgoing_filter()
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))
        del program  # the kernel copied the program
        # Frames queued before the filter was attached may include outgoing copies: discard them
        # and reset the statistics (reading them resets the counters).
        self._discard_pending(sock)
        sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
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
        sock = self._sock
        assert sock is not None
        ancillary_size = socket.CMSG_SPACE(16) + socket.CMSG_SPACE(32)
        self._listening.set()
        try:
            while not self._closing:
                ready, _, _ = select.select([sock], [], [], 0.5)
                if not ready:
                    continue
                try:
                    data, ancillary, _flags, _address = sock.recvmsg(_MAX_FRAME, ancillary_size)
                except OSError as exc:
                    # lo going down (simultaneous-close does it on purpose) is reported once
                    # as ENETDOWN; the socket keeps capturing once lo is up again.
                    if exc.errno == errno.ENETDOWN:
                        continue
                    raise
                stamp = 0
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        seconds, nanoseconds = struct.unpack("qq", payload[:16])
                        stamp = seconds * 1_000_000_000 + nanoseconds
                if self._token in data:
                    self._sentinel_seen.set()
                    return
                self._frames.append(data)
                self._ts_ns.append(stamp or time.time_ns())
        except BaseException as exc:  # surfaced by stop()
            self._error = exc
            self._sentinel_seen.set()

    def stop(self) -> SniffResult:
        """Drain every frame sent so far, stop reading and return what was captured."""
        try:
            self._send_sentinel()
            if not self._sentinel_seen.wait(DRAIN_TIMEOUT_S):
                raise ScenarioError("the packet sniffer did not drain within "
                                    f"{DRAIN_TIMEOUT_S:.0f} s: the capture may be incomplete")
            if self._error is not None:
                raise ScenarioError(f"the packet sniffer failed: {self._error}")
            assert self._sock is not None
            packets, drops = struct.unpack(
                "II", self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            # The sentinel itself went through the filter: do not count it.
            return SniffResult(self._frames, self._ts_ns, max(packets - 1, 0), drops)
        finally:
            self.close()

    def _send_sentinel(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            receiver.bind(("127.0.0.1", 0))  # a bound receiver: no ICMP port-unreachable reply
            sender.sendto(self._token, receiver.getsockname())

    def close(self) -> None:
        """Stop the reader thread and close the socket (idempotent)."""
        self._closing = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(DRAIN_TIMEOUT_S)
        self._thread = None
        if self._scapy_socket is not None:
            self._scapy_socket.close()  # type: ignore[attr-defined]
            self._scapy_socket = None
