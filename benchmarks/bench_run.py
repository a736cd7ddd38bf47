"""What tracing a program's system calls costs it: ``tcptrace-viz run`` on a request loop.

    sudo python benchmarks/bench_run.py                 # 10,000 requests, 5 rounds, medians
    sudo python benchmarks/bench_run.py --requests 20000 --repeat 9

The program (``programs/request_loop.c``, compiled here with the system compiler) sends N
64-byte requests over one loopback connection to a forked server that answers each with 64
bytes (both pinned to CPU 0 with ``taskset``, so each round wakes the other side alike), and
prints the loop's own wall time, first request to last answer, so the time to start
a run, set up its namespace or draw its report is not in it.  It runs three ways, interleaved
round by round:

- ``plain``: alone, in a network namespace of its own (``unshare --net``, ``lo`` up);
- ``run, no syscalls``: under ``tcptrace_viz.capture.program_session.run_program`` with the
  syscall tracer left out (packets sniffed, TCP states traced);
- ``run``: ``run_program`` as ``tcptrace-viz run`` does it, syscalls traced too.

What the syscall tracing adds is ``run`` over ``run, no syscalls``; what the whole run adds,
``run`` over ``plain``.  Benchmarks only report: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _build(folder: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        sys.exit("bench_run: a C compiler (cc) is needed")
    binary = folder / "request_loop"
    subprocess.run([compiler, "-O2", "-o", str(binary), str(HERE / "programs/request_loop.c")],
                   check=True)
    return binary


PIN = ("taskset", "-c", "0")
"""Client and server on one CPU: the loop's ping-pong wakes the other side directly, the same
way every round, instead of depending on where the scheduler put each side."""


def _plain(binary: Path, requests: int, mode: str) -> float:
    script = f"ip link set lo up && exec {' '.join(PIN)} {binary} {requests} {mode}"
    done = subprocess.run(["unshare", "--net", "sh", "-c", script], check=True,
                          capture_output=True, text=True)
    return float(done.stdout.split()[-1])


def _under_run(binary: Path, requests: int, mode: str,
               syscalls: bool) -> tuple[float, int, int]:
    """The loop's time, the syscall rows and the segments of one run."""
    code = f"""
import sys
from tcptrace_viz import interrupts
interrupts.install()
from tcptrace_viz.capture import program_session
from tcptrace_viz.capture.program_run import ProgramPlan
if not {syscalls!r}:
    program_session._calls_tracer = lambda root, problem: (None, "left out")
command = {PIN!r} + ({str(binary)!r}, "{requests}", "{mode}")
result = program_session.run_program(ProgramPlan("loop", command=command))
trace = result.capture.trace
print(len(trace.syscalls), len(trace.packets), file=sys.stderr)
"""
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True)
    rows, segments = (int(value) for value in done.stderr.split()[-2:])
    return float(done.stdout.split()[-1]), rows, segments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_run: needs root (namespaces, tracefs)")
    with tempfile.TemporaryDirectory() as folder:
        binary = _build(Path(folder))
        for mode, what in (("one", "one connection"), ("connect", "a connection each")):
            _report(binary, args.requests, args.repeat, mode, what)


def _report(binary: Path, requests: int, repeat: int, mode: str, what: str) -> None:
    times: dict[str, list[float]] = {"plain": [], "run, no syscalls": [], "run": []}
    counts: dict[str, tuple[int, int]] = {}
    for _ in range(repeat):
        times["plain"].append(_plain(binary, requests, mode))
        for label, syscalls in (("run, no syscalls", False), ("run", True)):
            seconds, rows, segments = _under_run(binary, requests, mode, syscalls)
            times[label].append(seconds)
            counts[label] = (rows, segments)
    medians = {label: statistics.median(values) for label, values in times.items()}
    print(f"\n{requests:,} requests of 64 bytes, {what}, {repeat} rounds "
          "(medians of the loop's own wall time)\n")
    print("| how | loop s | x plain | syscall rows | segments |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, seconds in medians.items():
        rows, segments = counts.get(label, (0, 0))
        print(f"| {label} | {seconds:.3f} | {seconds / medians['plain']:.2f} | {rows:,} | "
              f"{segments:,} |")
    added = medians["run"] / medians["run, no syscalls"] - 1
    print(f"\nsyscall tracing adds {added:+.1%} to the loop (run over run, no syscalls)")


if __name__ == "__main__":
    main()
