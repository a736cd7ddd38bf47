"""Several real captures at once (capture.batch.run_many): order, verdicts, errors, interrupts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from builders import STARTUP_S, own_leftovers, unmeasured_env

from tcptrace_viz.capture.batch import RunResult, run_many
from tcptrace_viz.scenarios import CATALOGUE, get
from tcptrace_viz.scenarios.verdict import judge_run

pytestmark = pytest.mark.root

ORDERLY = ("shutdown", "poll-fin", "time-wait", "simultaneous-close")
"""Orderly closes: the kernel drops none of their segments, whatever runs beside them."""


def _judged(done: RunResult) -> str:
    assert done.capture is not None, done.why
    judge_run(done.capture.trace, done.scenario, done.params)
    return str(done.capture.trace.meta.verdict)


def test_results_come_in_order_each_as_when_run_alone() -> None:
    names = list(CATALOGUE)
    seen = []
    for done in run_many([(get(name), None) for name in names], jobs=2):
        seen.append(done.scenario.name)
        assert done.index == len(seen) - 1
        assert done.error is None, done.why
        assert _judged(done) == "pass", done.capture and done.capture.trace.meta.verdict_detail
        trace = done.capture.trace  # type: ignore[union-attr]
        stats = trace.meta.stats
        assert trace.meta.state_source == "tracepoint"
        assert stats["dropped"] == 0 and stats["tracer_overruns"] == 0
        if done.scenario.wire:
            # Only this run's segments: each once, as many as its own namespace received.
            # (a segment lost on purpose was captured, then dropped before TCP counted it)
            assert stats["tcp_segments"] == (stats["kernel_in_segs"]
                                             + stats.get("lost_on_purpose", 0))
            assert not trace.packets.duplicated(["dir", "seq", "ack", "flags", "len",
                                                 "ts_ns"]).any()
            assert len(set(trace.packets["src"]) | set(trace.packets["dst"])) == 1
            if done.scenario.name in ORDERLY:  # another namespace's drops are not this run's
                assert (trace.packets["drop"] == "").all(), trace.packets["drop"].tolist()
        else:
            assert len(trace.packets) == 0
    assert seen == names


def test_one_run_after_another_with_one_job() -> None:
    runs = [(get("linger0"), None), (get("shutdown"), None)]
    assert [_judged(done) for done in run_many(runs, jobs=1)] == ["pass", "pass"]


def test_an_error_in_one_run_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    from tcptrace_viz.scenarios.context import ScenarioContext

    listen = ScenarioContext.listen

    def crashing_listen(self: ScenarioContext, rcvbuf: int | None = None) -> object:
        if self.name == "poll-fin":  # a real step raising, inside the forked worker
            raise OSError(99, "Cannot assign requested address")
        return listen(self, rcvbuf)

    monkeypatch.setattr(ScenarioContext, "listen", crashing_listen)
    names = ["linger0", "poll-fin", "shutdown", "close-unread"]
    results = list(run_many([(get(name), None) for name in names], jobs=2))
    assert [done.scenario.name for done in results] == names
    assert results[1].capture is None
    # the crash names the line that raised: here the test's own stand-in for the steps
    line = crashing_listen.__code__.co_firstlineno + 2  # the raise
    assert results[1].why == (f"scenario poll-fin crashed at {__file__}:{line}: OSError(99, "
                              "'Cannot assign requested address')")
    assert [_judged(done) for done in results if done.index != 1] == ["pass"] * 3


def test_stopping_early_kills_the_workers_still_running() -> None:
    import os

    runs = [(get(name), None) for name in ("linger0", "question", "time-wait")]
    results = run_many(runs, jobs=3)
    first = next(results)
    assert first.capture is not None
    results.close()
    assert own_leftovers(os.getpid(), "no such marker") == []


BATCH_SCRIPT = """
import sys, time
from tcptrace_viz import interrupts
interrupts.install()
try:
    with interrupts.deferred():  # as entry.py: an interrupt inside an import can turn into
        from tcptrace_viz.capture.batch import run_many  # an ImportError
        from tcptrace_viz.scenarios import get
    for done in run_many([(get(name), None) for name in sys.argv[2:]], jobs=2):
        print(done.scenario.name, "ok" if done.capture else done.why, flush=True)
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:  # the caller rendering, the generator suspended
            pass
except KeyboardInterrupt:
    interrupts.stop_listening()
    interrupts.release_all()
    print("interrupted", file=sys.stderr)
    sys.exit(130)
"""
DELAYS = (0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.2, 2.6, 3.0, 3.5)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_at_any_moment_leaves_nothing_behind(tmp_path: Path, signum: int) -> None:
    names = ["linger0", "shutdown", "poll-fin", "question", "time-wait", "close-unread"]
    for start in range(0, len(DELAYS), 5):
        started = []
        for delay in DELAYS[start:start + 5]:
            marker = str(tmp_path / f"run-{delay}")  # names the process, for own_leftovers
            process = subprocess.Popen([sys.executable, "-c", BATCH_SCRIPT, marker, *names],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True, env=unmeasured_env())
            started.append((delay, time.monotonic(), marker, process))
        for delay, began, _, process in started:
            wait = began + delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)  # the moment to send the signal is what is under test
            if process.poll() is None:
                process.send_signal(signum)
        ended = [(delay, marker, process, process.communicate(timeout=60)[1])
                 for delay, _, marker, process in started]  # all of them, before any assert
        for delay, marker, process, stderr in ended:
            label = f"{signal.Signals(signum).name} at {delay} s: "
            # Five interpreters starting at once on two CPUs: a signal in the first moments
            # can meet CPython's own start, before the script's first line (see test_signals).
            in_cpython = process.returncode == -signum and stderr == "" and delay < STARTUP_S
            assert "Traceback" not in stderr, label + stderr
            assert process.returncode in (0, 130) or in_cpython, label + stderr
            assert own_leftovers(process.pid, marker) == [], label


def test_a_run_past_its_timeout_is_an_error_and_is_killed() -> None:
    import os

    runs = [(get("question"), None)] * 2  # its steps pause twice for 0.2 s
    results = list(run_many(runs, jobs=2, timeout_s=0.3))
    assert [done.why.split(";")[0] for done in results] == [
        "the capture worker did not finish within 0.3 s"] * 2
    assert "a step waited on something that never came" in results[0].why
    assert own_leftovers(os.getpid(), "no such marker") == []
