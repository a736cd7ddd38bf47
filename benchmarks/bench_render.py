"""Time rendering every format (html, svg, png, md, mermaid, txt) of a set of capture folders.

    /work/venv/bin/python benchmarks/bench_render.py                  # every folder under captures/
    /work/venv/bin/python benchmarks/bench_render.py --captures /tmp/c --repeat 5

Make the captures first, as root: ``tcptrace-viz capture --all --out /tmp/c --reports /tmp/r``.
The newest capture folder of each scenario is loaded (not timed), then each trace is rendered in
every format, best of ``--repeat`` runs.  Imports and the first render (matplotlib's font
cache, jinja2's templates) are excluded; times are CPU seconds.  Two figures per trace:

- ``separate``: each format rendered on its own, from the Trace (what every caller did before
  renderers shared one prepared trace);
- ``shared``: one prepared trace rendered in every format (only where ``render.prepare``
  exists).

This is a measurement, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

FORMATS = ("html", "svg", "png", "md", "mermaid", "txt")


def newest_folders(root: Path) -> list[Path]:
    """The newest capture folder (one holding ``trace.json``) of each scenario under ``root``."""
    folders = []
    for scenario in sorted(p for p in root.iterdir() if p.is_dir()):
        runs = sorted(p.parent for p in scenario.glob("*/trace.json"))
        if runs:
            folders.append(runs[-1])
    return folders


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """The shortest of ``repeat`` runs of ``work``, in CPU seconds of this process (the
    machine is shared: wall time would count other people's work)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    """Parse the arguments, load the traces, print one row per trace and the totals."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captures", type=Path, default=Path("captures"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from tcptrace_viz import render as render_module
    from tcptrace_viz.store import read_capture

    render = render_module.render
    prepare = getattr(render_module, "prepare", None)
    folders = newest_folders(args.captures)
    if not folders:
        raise SystemExit(f"no capture folders under {args.captures}")
    traces = [(folder.parent.name, read_capture(folder)) for folder in folders]
    for fmt in FORMATS:  # warm up: imports, font cache, templates
        render(traces[0][1], fmt)

    def separate(trace: object) -> None:
        for fmt in FORMATS:
            render(trace, fmt)  # type: ignore[arg-type]

    def shared(trace: object) -> None:
        assert prepare is not None
        prepared = prepare(trace)
        for fmt in FORMATS:
            render(prepared, fmt)

    print(f"{'trace':<20} {'packets':>7} {'separate s':>10} {'shared s':>9}")
    totals = [0.0, 0.0]
    for name, trace in traces:
        one = best_of(args.repeat, lambda t=trace: separate(t))
        both = best_of(args.repeat, lambda t=trace: shared(t)) if prepare else float("nan")
        totals[0] += one
        totals[1] += both
        print(f"{name:<20} {len(trace.packets):>7} {one:>10.3f} {both:>9.3f}")
    print(f"{'total':<20} {'':>7} {totals[0]:>10.3f} {totals[1]:>9.3f}")


if __name__ == "__main__":
    main()
