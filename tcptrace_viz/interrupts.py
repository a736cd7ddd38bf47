"""SIGINT and SIGTERM at any moment: one KeyboardInterrupt, cleanups that run to the end.

The command line installs :func:`install` before it imports anything heavy.  The first SIGINT or
SIGTERM raises ``KeyboardInterrupt``; later ones are only remembered, because the process is
already on its way out and a second exception in the middle of a cleanup (removing the tracefs
instance, reaping the worker) would leave something behind.  Code that must not be cut in half
runs inside :func:`deferred`: a signal arriving there takes effect when the block ends.

Resources that outlive a single call (the tracefs instance, the forked worker) are registered
with :func:`keep` as they are acquired; :func:`release` frees one, and :func:`release_all` frees
whatever is still held when an interrupt skipped the ``finally`` that would have freed it.
This module imports only the standard library.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_state: dict[str, int] = {"received": 0, "raised": 0, "depth": 0, "pending": 0, "said": 0}
_held: dict[int, Callable[[], None]] = {}
_keys = itertools.count(1)


RETRY_S = 0.002
"""How soon an interrupt that Python dropped is raised again."""
WATCHDOG_S = 1.0
"""How long after raising an interrupt the process may still run outside a cleanup."""


def _dropped(unraisable: Any) -> None:
    """``sys.unraisablehook``: our KeyboardInterrupt raised inside a callback Python runs for
    itself (a weakref callback, a finaliser, an import lock's) is printed as "Exception
    ignored" and dropped there; raise it again a moment later, in the program's own code."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt) and _state["raised"] > 0:
        _state["pending"], _state["raised"] = _state["raised"], 0
        signal.setitimer(signal.ITIMER_REAL, RETRY_S)
        return
    sys.__unraisablehook__(unraisable)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if not _state["received"]:
        _state["received"] = signum
    if _state["raised"]:
        return  # already stopping: let the cleanups finish
    if _state["depth"]:
        _state["pending"] = signum
        return
    _state["raised"] = signum
    signal.setitimer(signal.ITIMER_REAL, WATCHDOG_S)
    raise KeyboardInterrupt


def _on_retry(_signum: int, frame: FrameType | None) -> None:
    """The moment after an interrupt that Python dropped (see :func:`_dropped`), or the
    watchdog: still running normally ``WATCHDOG_S`` after raising means some code swallowed
    the KeyboardInterrupt (an ``except BaseException``): raise it again."""
    pending, _state["pending"] = _state["pending"], 0
    if pending:
        _on_signal(pending, frame)
        return
    if _state["raised"] > 0:  # not yet on the way out (stop_listening() ends this)
        if _state["depth"]:
            signal.setitimer(signal.ITIMER_REAL, WATCHDOG_S)  # a cleanup is running: wait
            return
        signal.setitimer(signal.ITIMER_REAL, WATCHDOG_S)
        raise KeyboardInterrupt


def install(early: int = 0) -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt, once (see the module's docstring).

    ``early``: a stop signal that came before (noted by ``entry.py``'s first handler); the
    command then does not start (``received()`` says why)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_signal)
    signal.signal(signal.SIGALRM, _on_retry)
    sys.unraisablehook = _dropped
    if early:  # came while the entry point was still importing this module
        _state["received"] = _state["raised"] = early


def received() -> int:
    """The first stop signal this process received (0 if none)."""
    return _state["received"]


def message() -> str:
    """The one sentence for the signal that stopped the run."""
    return "terminated by SIGTERM" if received() == signal.SIGTERM else "interrupted"


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block runs; an interrupt takes effect at its end."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if not _state["depth"] and _state["pending"] and not _state["raised"]:
            _state["raised"] = _state["pending"]
            _state["pending"] = 0
            raise KeyboardInterrupt


@contextlib.contextmanager
def forwarded(forward: Callable[[int], None]) -> Iterator[None]:
    """While the block runs, the first SIGINT or SIGTERM is handed to ``forward`` instead of
    raising (a child that ends its work gently and still reports it: ``tcptrace-viz run``);
    :func:`received` says it came.  A second one raises KeyboardInterrupt as usual."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if _state["received"]:
            _on_signal(signum, frame)
            return
        _state["received"] = signum
        forward(signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_listening() -> None:
    """From now on signals change nothing (the process is writing its last words and exiting)."""
    _state["raised"] = _state["raised"] or -1
    if _state["raised"] > 0:
        _state["raised"] = -_state["raised"]
    signal.setitimer(signal.ITIMER_REAL, 0)


def say(text: str) -> None:
    """Print the process's last words on stderr, once: later calls print nothing."""
    stop_listening()
    if not _state["said"]:
        _state["said"] = 1
        with contextlib.suppress(OSError, ValueError):
            print(f"tcptrace-viz: {text}", file=sys.stderr, flush=True)


def mark_said() -> None:
    """Note that the last words were printed elsewhere (so :func:`say` prints nothing)."""
    _state["said"] = 1


def said() -> bool:
    """Whether :func:`say` has printed."""
    return bool(_state["said"])


def keep(cleanup: Callable[[], None]) -> int:
    """Remember ``cleanup`` until :func:`release`; call it inside :func:`deferred`."""
    key = next(_keys)
    _held[key] = cleanup
    return key


def release(key: int) -> None:
    """Run the cleanup kept under ``key`` (once; signals are held while it runs)."""
    with deferred():
        cleanup = _held.pop(key, None)
        if cleanup is not None:
            cleanup()


def release_all() -> None:
    """Run every cleanup still kept, newest first, each even if an earlier one failed."""
    with deferred():
        while _held:
            _, cleanup = _held.popitem()
            with contextlib.suppress(Exception):
                cleanup()


def reset_in_child(handler: Callable[[int, FrameType | None], None] | int) -> None:
    """In a forked child: forget the parent's resources and state; use ``handler`` for both
    stop signals."""
    _held.clear()
    _state.update(received=0, raised=0, depth=0, pending=0, said=0)
    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)
