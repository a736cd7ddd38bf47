"""Which waiting runs start beside the running ones (capture.batch's scheduling, no capture)."""

from __future__ import annotations

import dataclasses

from tcptrace_viz.capture.batch import IDLE_RUNS_MAX, _Run, _start_more
from tcptrace_viz.scenarios import get


def _runs(waits: list[float]) -> list[_Run]:
    base = get("linger0")
    return [_Run(index, dataclasses.replace(base, waits_s=wait), {})
            for index, wait in enumerate(waits)]


def _started(waits: list[float], jobs: int, running: list[float] = ()) -> list[int]:
    """Indexes of the runs started, the waiting list popped from its end as batch does."""
    waiting = _runs(waits)[::-1]
    now = _runs(list(running))
    started: list[int] = []

    def start(run: _Run) -> None:
        started.append(run.index)
        now.append(run)

    _start_more(waiting, now, jobs, start)
    return started


def test_cpu_bound_runs_fill_the_jobs_and_no_more() -> None:
    assert _started([0, 0, 0, 0], jobs=2) == [0, 1]


def test_runs_waiting_on_a_timer_start_beside_the_cpu_bound_ones() -> None:
    assert _started([1.0, 1.0, 0, 0, 0], jobs=2) == [0, 1, 2, 3]


def test_timer_runs_are_bounded_too() -> None:
    started = _started([1.0] * (IDLE_RUNS_MAX + 3), jobs=2)
    assert started == list(range(IDLE_RUNS_MAX))


def test_one_job_is_strictly_one_at_a_time() -> None:
    assert _started([1.0, 1.0, 0], jobs=1) == [0]
    assert _started([1.0, 0], jobs=1, running=[1.0]) == []


def test_the_order_is_kept_a_cpu_bound_run_waits_its_turn() -> None:
    # two CPU-bound runs hold both places: the next timer run must not jump the queue's head
    assert _started([0, 1.0], jobs=2, running=[0, 0]) == []
