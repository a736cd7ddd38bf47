"""Time ``tcptrace-viz capture`` end to end against the import line, in one run (needs root).

    sudo python benchmarks/bench_capture.py                # 3 rounds, median
    sudo python benchmarks/bench_capture.py --repeat 5 --jobs 1,2
    sudo python benchmarks/bench_capture.py --no-all       # linger0 only

What is timed, each as a fresh process (wall clock, outputs into temporary folders):

- ``import``: ``python -c "import scapy.all, pandas, matplotlib.pyplot"``, the yardstick: what
  any scapy + pandas + matplotlib tool pays before doing anything;
- ``linger0``: ``tcptrace-viz capture --scenario linger0 --out DIR --reports DIR``;
- ``all -jN``: ``tcptrace-viz capture --all -j N --out DIR --reports DIR`` (every scenario and
  every report; ``-j 1`` one capture at a time with one report being drawn beside it, the
  default ``-j`` is the CPU count).

The rounds interleave the commands (import, linger0, all, ... then again), so a machine that gets
busier or quieter during the run shifts all of them alike; the figures are medians, and the
ratios are medians over the import line's median.  Benchmarks only report: nothing here asserts
a time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT_LINE = "import scapy.all, pandas, matplotlib.pyplot"

def _cli() -> list[str]:
    """The installed ``tcptrace-viz`` next to this interpreter, else ``python -m``."""
    beside = Path(sys.executable).with_name("tcptrace-viz")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "tcptrace_viz"]


def _timed(command: list[str]) -> float:
    """Wall seconds of ``command`` (output discarded); a failure stops the benchmark."""
    with tempfile.TemporaryDirectory(prefix="bench-capture-") as scratch:
        filled = [part.replace("{tmp}", scratch) for part in command]
        began = time.perf_counter()
        run = subprocess.run(filled, check=False, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        took = time.perf_counter() - began
    # capture exits 1 when a scenario behaved otherwise: timed all the same, but said.
    if run.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed ({run.returncode}): {run.stderr.strip()[-500:]}")
    if run.returncode == 1:
        print(f"  note: {' '.join(command[-5:])} exited 1 (a scenario behaved otherwise)",
              file=sys.stderr)
    return took


def commands(with_all: bool, jobs: list[int]) -> dict[str, list[str]]:
    """The commands to time, by label (``{tmp}``: a fresh temporary folder per run)."""
    cli = _cli()
    found = {"import": [sys.executable, "-c", IMPORT_LINE],
             "linger0": [*cli, "capture", "--scenario", "linger0", "--out", "{tmp}/c",
                         "--reports", "{tmp}/r"]}
    if with_all:
        for count in jobs:
            found[f"all -j{count}"] = [*cli, "capture", "--all", "-j", str(count), "--out",
                                       "{tmp}/c", "--reports", "{tmp}/r"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median of them)")
    parser.add_argument("--no-all", action="store_true", help="skip capture --all")
    parser.add_argument("--jobs", default=f"1,{os.cpu_count() or 1}",
                        help="comma-separated -j values for the capture --all rows")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_capture.py captures for real: run it as root")
    jobs = [int(part) for part in args.jobs.split(",") if part.strip()]
    todo = commands(not args.no_all, jobs)
    times: dict[str, list[float]] = {label: [] for label in todo}
    _timed(todo["import"])  # warm the page cache and the bytecode caches first
    for round_number in range(1, args.repeat + 1):
        for label, command in todo.items():
            times[label].append(_timed(command))
            print(f"round {round_number}: {label}: {times[label][-1]:.2f} s", file=sys.stderr,
                  flush=True)
    base = statistics.median(times["import"])
    print(f"\n{args.repeat} rounds, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| command | median s | runs s | x import line |")
    print("| --- | ---: | --- | ---: |")
    for label, runs in times.items():
        middle = statistics.median(runs)
        print(f"| {label} | {middle:.2f} | {', '.join(f'{run:.2f}' for run in runs)} | "
              f"{middle / base:.2f} |")


if __name__ == "__main__":
    main()
