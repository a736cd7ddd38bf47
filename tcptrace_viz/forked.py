"""A function run in a forked child, its result (or its error) pickled back through a pipe.

Drawing reports is CPU work in Python and matplotlib, one core each; a forked child draws one
scenario's reports while the parent goes on (the next capture, the next report); children
table a big capture's shards side by side (``shard_tables``).  The child
shares the parent's memory as it was at the fork (the Trace is not copied), asks the kernel to
kill it should the parent die, and never returns into the parent's code.  The parent registers
every child with :mod:`tcptrace_viz.interrupts`, so Ctrl-C kills and reaps it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from tcptrace_viz import interrupts
from tcptrace_viz.errors import Interrupted, TcptraceVizError
from tcptrace_viz.kernel.process import fork_sharing_heap

T = TypeVar("T")
_LENGTH = struct.Struct("=Q")


class ForkedCall(Generic[T]):
    """``function()`` running in a forked child; :meth:`result` waits for what it returned."""

    def __init__(self, function: Callable[[], T], doing: str = "drawing the reports") -> None:
        """Fork the child and start ``function`` there (signals are held while forking);
        ``doing`` names its work in errors ("drawing the reports")."""
        self._doing = doing
        reader, writer = os.pipe()
        parent = os.getpid()
        with interrupts.deferred():
            self.pid = fork_sharing_heap()
            if self.pid == 0:  # pragma: no cover - the child
                try:
                    interrupts.reset_in_child(signal.default_int_handler)
                    os.close(reader)
                    _child(function, writer, parent)
                finally:
                    os._exit(130)
            self._key = interrupts.keep(self.close)
        os.close(writer)
        self._reader = reader
        self._reaped = False

    def fileno(self) -> int:
        """The pipe the result arrives on (readable once the child has sent it)."""
        return self._reader

    def result(self, timeout_s: float = 600.0) -> T:
        """What ``function`` returned; its TcptraceVizError, raised again here; another error
        of the child as a TcptraceVizError naming it.  The child is reaped afterwards."""
        try:
            return self.receive(timeout_s)
        finally:
            self.close()

    def receive(self, timeout_s: float = 600.0) -> T:
        """As :meth:`result`, without reaping the child: also usable in a process forked from
        this one, which inherited the pipe (the owner still closes it)."""
        data = self._read(timeout_s)
        if not data:
            raise TcptraceVizError(f"the process {self._doing} died without a result")
        ok, value = pickle.loads(data)
        if ok:
            returned: T = value
            return returned
        if isinstance(value, TcptraceVizError):
            raise value
        raise TcptraceVizError(f"{self._doing} failed: {value}")

    def _read(self, timeout_s: float) -> bytes:
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if not select.select([self._reader], [], [], max(remaining, 0))[0]:
                raise TcptraceVizError(f"the process {self._doing} did not finish within "
                                       f"{timeout_s:.0f} s")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        data = b"".join(chunks)
        if len(data) < _LENGTH.size or len(data) != _LENGTH.size + _LENGTH.unpack_from(data)[0]:
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # not our child: its owner reaps it
                return b""
            self._reaped = True
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130:
                raise Interrupted("interrupted")
            return b""
        return data[_LENGTH.size:]

    def close(self) -> None:
        """Kill and reap the child unless it has been reaped (idempotent)."""
        with contextlib.suppress(OSError):
            os.close(self._reader)
        if not self._reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self._reaped = True
        interrupts.release(self._key)


def _child(function: Callable[[], Any], writer: int,
           parent: int) -> None:  # pragma: no cover - the child
    from tcptrace_viz.kernel.process import die_with_parent

    die_with_parent(parent)
    try:
        outcome: tuple[bool, Any] = (True, function())
    except KeyboardInterrupt:
        os._exit(130)
    except TcptraceVizError as exc:
        outcome = (False, exc)
    except BaseException as exc:  # a bug: said in one sentence
        outcome = (False, repr(exc))
    data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(writer, view):]
    os.close(writer)
    os._exit(0)
