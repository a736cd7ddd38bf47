"""kernel.ticks: waiting for the start of a kernel timer tick."""

from __future__ import annotations

import time

from tcptrace_viz.kernel.ticks import CLOCK_MONOTONIC_COARSE, wait_for_tick_start


def test_returns_once_the_coarse_clock_has_stepped() -> None:
    for _ in range(5):
        before = time.clock_gettime_ns(CLOCK_MONOTONIC_COARSE)
        wait_for_tick_start()
        assert time.clock_gettime_ns(CLOCK_MONOTONIC_COARSE) > before
