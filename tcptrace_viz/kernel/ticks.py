"""The kernel's timer tick, seen from user space: wait for one to begin.

Timers the kernel arms in the same tick (jiffy) with the same timeout expire together and run
in one softirq pass. ``simultaneous-close`` relies on it: both FINs' probe timers, armed by two
close() calls in one tick, send both FINs before loopback delivers either. Started just after a
tick, the two calls (tens of microseconds apart) have the whole tick (4 ms at HZ=250) to fit in.
"""

from __future__ import annotations

import time

CLOCK_MONOTONIC_COARSE = getattr(time, "CLOCK_MONOTONIC_COARSE", 6)
"""Linux's coarse monotonic clock: it advances once per tick, with jiffies."""


def wait_for_tick_start(timeout_s: float = 1.0) -> None:
    """Return just after the kernel's next timer tick (the coarse clock's next step).

    The wait spins, since sleeping would wake at an arbitrary point of a later tick; it lasts
    one tick at most. Raises :class:`TimeoutError` if the coarse clock does not move within
    ``timeout_s`` (a kernel without it).
    """
    deadline = time.monotonic() + timeout_s
    before = time.clock_gettime_ns(CLOCK_MONOTONIC_COARSE)
    while time.clock_gettime_ns(CLOCK_MONOTONIC_COARSE) == before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the kernel's coarse clock did not advance in {timeout_s:g} s")
