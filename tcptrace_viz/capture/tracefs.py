"""Kernel TCP state changes and RST reasons from tracefs, in a private tracing instance.

The run creates its own tracefs instance (``instances/tcptrace-viz.<pid>.<n>``, ``<pid>`` the
process that owns the run), so it neither disturbs nor sees another tracer's settings, enables
``sock:inet_sock_set_state``, ``tcp:tcp_send_reset``, ``tcp:tcp_receive_reset`` and
``skb:kfree_skb`` (IP packets the kernel dropped, with its reason) with
``net:netif_receive_skb`` on ``lo`` (which packet each dropped buffer was) there and removes the
instance afterwards.  Instances left by a run that died (its pid is gone) are swept at the next
start.

Creating and removing an instance mostly waits for RCU grace periods (setting the trace clock
resets the buffers, ``rmdir`` unregisters the events): tens of milliseconds of waiting, not of
work, which is why a capture worker does it beside its own setup and after sending its result.

Clock: the instance uses the ``tai`` trace clock, which differs from CLOCK_REALTIME (the packets'
clock) by a whole number of seconds, so the two line up exactly.  The text trace has microsecond
resolution: an event raised in process context (the socket's own call, e.g. close() entering
FIN_WAIT1) is placed at the start of its microsecond, one raised in softirq context (an arriving
segment, a timer) at its end, so a state change sorts between the packets that caused it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import itertools
import os
import re
import time

TRACEFS_MOUNTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
INSTANCE_PREFIX = "tcptrace-viz."
EVENTS = ("sock/inet_sock_set_state", "tcp/tcp_send_reset", "tcp/tcp_receive_reset",
          "skb/kfree_skb", "net/netif_receive_skb")
KFREE_SKB = "events/skb/kfree_skb"
NOT_WIRE_DROPS = ("NOT_SPECIFIED", "QUEUE_PURGE", "SOCKET_CLOSE")
"""skb:kfree_skb reasons that are not a segment dropped on its way in: frees without a reason,
and queued data thrown away when a socket goes (its segments were delivered earlier)."""
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
BUFFER_KB = 4096
IPPROTO_TCP = 6

_LINE = re.compile(
    r"^\s*(?P<task>.*?)-(?P<pid>\d+)\s+(?:\(\s*(?P<tgid>[-\d]+)\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?P<flags>\S{4,5})\s+(?P<sec>\d+)\.(?P<usec>\d{6}): (?P<event>\w+)(?P<sep>: |\(| -> )"
    r"(?P<body>.*)$")
_FIELD = re.compile(r"(\w+)=(\S*)")
_counter = itertools.count()


@dataclasses.dataclass(frozen=True)
class KernelEvent:
    """One tracepoint hit, its fields as text."""

    ts_ns: int
    """CLOCK_REALTIME ns (already aligned with the packets)."""
    event: str
    fields: dict[str, str]
    softirq: bool
    """Raised while processing a packet or timer (softirq), not in a process's own call."""
    pid: int = 0
    """The thread that was running (in softirq context: whichever one was interrupted)."""
    tgid: int = 0
    """Its process (0 unless the instance records it)."""
    comm: str = ""
    """Its command name, as the kernel keeps it (16 bytes at most)."""
    body: str = ""
    """The raw text after the event's name: a syscall's arguments (``sys_connect(...)``) or
    its result (``sys_connect -> 0x0``)."""
    returned: bool = False
    """A syscall's exit (``sys_X -> ret``), not its entry."""


@dataclasses.dataclass(frozen=True)
class TracerResult:
    """What the tracer saw and how reliable it was."""

    events: list[KernelEvent]
    overruns: int
    """Events lost because the ring buffer was full (0 means none were lost)."""
    clock: str


def tracefs_root() -> str | None:
    """Where tracefs is mounted, mounting it at /sys/kernel/tracing if needed; None if absent."""
    for root in TRACEFS_MOUNTS:
        if os.path.isdir(os.path.join(root, "instances")):
            return root
    root = TRACEFS_MOUNTS[0]
    if os.geteuid() != 0 or not os.path.isdir(root):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.mount(b"tracefs", root.encode(), b"tracefs", 0, None) != 0:
        return None
    return root if os.path.isdir(os.path.join(root, "instances")) else None


def instance_name(owner: int, number: int) -> str:
    """The name of instance ``number`` of the run owned by process ``owner``."""
    return f"{INSTANCE_PREFIX}{owner}.{number}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_instances(root: str) -> list[str]:
    """Remove instances left by runs whose process is gone; return their names."""
    removed = []
    instances = os.path.join(root, "instances")
    for name in os.listdir(instances):
        if not name.startswith(INSTANCE_PREFIX):
            continue
        pid_text = name[len(INSTANCE_PREFIX):].split(".")[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(instances, name))
                removed.append(name)
    return removed


def kfree_skb_filter(format_text: str) -> str:
    """The filter that keeps IP segments the kernel dropped with a reason (see
    :data:`NOT_WIRE_DROPS`), from the tracepoint's ``format`` file (its numbers vary by
    kernel); only the protocol test when the kernel names no reasons."""
    kept = f"(protocol == {ETH_P_IP} || protocol == {ETH_P_IPV6})"
    if "field:enum skb_drop_reason reason" not in format_text:
        return kept
    numbers = [int(number) for number, name in re.findall(r'\{ (\d+), "(\w+)" \}', format_text)
               if name in NOT_WIRE_DROPS]
    return " && ".join([kept, *(f"reason != {number}" for number in numbers)])


def tai_offset_ns() -> int:
    """CLOCK_TAI minus CLOCK_REALTIME, a whole number of seconds (leap seconds)."""
    difference = time.clock_gettime_ns(time.CLOCK_TAI) - time.time_ns()
    return round(difference / 1e9) * 1_000_000_000


class KernelTracer:
    """A private tracefs instance recording TCP state changes and resets."""

    events: tuple[str, ...] = EVENTS
    """The ``system/event`` names this tracer enables (those the kernel lacks are skipped)."""
    buffer_kb = BUFFER_KB
    """The ring buffer's size per CPU."""
    record_on_start = True
    """Start recording as soon as the instance is made (else: :meth:`record`)."""

    def __init__(self, root: str, name: str | None = None) -> None:
        """``name``: the instance's name (default ``tcptrace-viz.<this pid>.<n>``); it must
        start with :data:`INSTANCE_PREFIX` and the owner's pid, for the sweep."""
        self.root = root
        self.name = name or instance_name(os.getpid(), next(_counter))
        self.path = os.path.join(root, "instances", self.name)
        self.clock = "tai"
        self._offset_ns = 0

    def _write(self, relative: str, text: str) -> None:
        with open(os.path.join(self.path, relative), "w", encoding="ascii") as handle:
            handle.write(text)

    def start(self) -> None:
        """Create the instance and start recording."""
        os.mkdir(self.path)
        try:
            self._write("buffer_size_kb", str(self.buffer_kb))
            with open(os.path.join(self.path, "trace_clock"), encoding="ascii") as handle:
                clocks = handle.read()
            if "tai" not in clocks.split() and "[tai]" not in clocks:
                self.clock = "mono"
            self._write("trace_clock", self.clock)
            self._offset_ns = (tai_offset_ns() if self.clock == "tai"
                               else time.clock_gettime_ns(time.CLOCK_MONOTONIC) - time.time_ns())
            self._configure()
            for event in self.events:
                if os.path.isdir(os.path.join(self.path, "events", event)):
                    self._write(f"events/{event}/enable", "1")
            self._write("tracing_on", "1" if self.record_on_start else "0")
        except OSError:
            self.close()
            raise

    def _configure(self) -> None:
        """Options and filters, before the events are enabled."""
        self._write("events/sock/inet_sock_set_state/filter", f"protocol == {IPPROTO_TCP}")
        if "skb/kfree_skb" in self.events and os.path.isdir(os.path.join(self.path, KFREE_SKB)):
            with open(os.path.join(self.path, KFREE_SKB, "format"), encoding="utf-8") as handle:
                self._write(f"{KFREE_SKB}/filter", kfree_skb_filter(handle.read()))
        if "net/netif_receive_skb" in self.events \
                and os.path.isdir(os.path.join(self.path, "events/net/netif_receive_skb")):
            self._write("events/net/netif_receive_skb/filter", 'name == "lo"')

    def stop(self) -> TracerResult:
        """Stop recording and return every event plus the overrun count."""
        self._write("tracing_on", "0")
        with open(os.path.join(self.path, "trace"), encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        events = [event for line in text.splitlines() if (event := self._parse(line))]
        return TracerResult(events, self._overruns(), self.clock)

    def _parse(self, line: str) -> KernelEvent | None:
        match = _LINE.match(line)
        if match is None:
            return None
        softirq = match["flags"][2] in ("s", "H")  # the context column: softirq
        stamp = int(match["sec"]) * 1_000_000_000 + int(match["usec"]) * 1000
        stamp += 999 if softirq else 0
        separator, body = match["sep"], match["body"]
        fields = dict(_FIELD.findall(body)) if separator == ": " else {}
        tgid = match["tgid"] or "0"
        return KernelEvent(stamp - self._offset_ns, match["event"], fields, softirq,
                           int(match["pid"]), int(tgid) if tgid.isdigit() else 0,
                           match["task"].strip(), body, separator == " -> ")

    def _overruns(self) -> int:
        total = 0
        per_cpu = os.path.join(self.path, "per_cpu")
        for cpu in os.listdir(per_cpu):
            with open(os.path.join(per_cpu, cpu, "stats"), encoding="ascii") as handle:
                for line in handle:
                    key, _, value = line.partition(":")
                    if key.strip() in ("overrun", "dropped events"):
                        total += int(value.strip() or 0)
        return total

    def close(self) -> None:
        """Remove the instance (idempotent; also when another process removed it meanwhile).

        ``rmdir`` disables the instance's events itself, and refuses (EBUSY) only while a file
        of the instance is open: there is nothing to switch off first.
        """
        if not os.path.isdir(self.path):
            return
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(self.path)
