"""Running the chosen scenarios for ``capture`` and ``check``: side by side, reported in order.

Captures run ``jobs`` at a time (each in its own namespace, see
:func:`tcptrace_viz.capture.batch.run_many`); each finished capture is judged, and its reports
are drawn in a forked child (:class:`tcptrace_viz.forked.ForkedCall`) while the next captures
run and the next reports are drawn.  The parent alone writes files, in catalogue order, each
scenario's capture folder and report set all or nothing, and prints each scenario's summary in
that order too, so the console reads the same whatever ``jobs`` is.  Each scenario's commit
rewrites ``reports/index.html`` too (:mod:`tcptrace_viz.index_state`), so the index always
lists every report in the folder, this run's and earlier ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tcptrace_viz.errors import Interrupted, TcptraceVizError
from tcptrace_viz.forked import ForkedCall

if TYPE_CHECKING:
    from tcptrace_viz.capture.batch import RunResult
    from tcptrace_viz.capture.result import CaptureResult
    from tcptrace_viz.kernel.segment_loss import LossRule
    from tcptrace_viz.meta import Value
    from tcptrace_viz.render.figure_service import FigureService
    from tcptrace_viz.render.index import IndexRow
    from tcptrace_viz.render.options import ReportChoices
    from tcptrace_viz.scenarios.registry import Scenario


@dataclasses.dataclass
class Drawn:
    """What a report child hands back for one scenario (the parent writes it)."""

    summary: str
    """The console summary, without its ``wrote`` lines."""
    report_files: dict[Path, bytes]
    """``reports/<name>.txt``, ``.html``, ``.svg``, ``.png`` (empty for ``check``)."""
    pcapng: bytes = b""
    """The capture folder's ``trace.pcapng``."""
    document: str = ""
    """The capture folder's ``trace.json``."""
    folder: Path | None = None
    """The capture folder's name (not yet created)."""
    index_row: IndexRow | None = None
    """The scenario's row in ``reports/index.html``, thumbnail included."""


@dataclasses.dataclass
class _Pending:
    result: RunResult
    drawing: ForkedCall[Drawn] | None  # None: the run failed (an ERROR line is printed)
    drawn: Drawn | None = None
    failed_drawing: str = ""
    """Why its reports could not be drawn (a bug): the scenario is an ERROR, the others go on."""

    @property
    def done(self) -> bool:
        return self.drawing is None or self.drawn is not None or bool(self.failed_drawing)

    @property
    def why(self) -> str:
        """Why the scenario has no reports."""
        return self.failed_drawing or self.result.why


def run_scenarios(names: Sequence[str], values: dict[str, dict[str, Value]], *, ipv6: bool,
                  out: Path | None, reports: Path | None, jobs: int,
                  echo: Callable[[str], None], progress: Callable[[str], None],
                  brief: bool = False, choices: ReportChoices | None = None,
                  sysctls: Mapping[str, str] | None = None,
                  losses: Sequence[LossRule] = ()) -> list[str]:
    """Capture, judge and report every scenario in ``names``; return those that failed.

    ``out``/``reports`` None: ``check`` (nothing is written).  ``echo`` prints a scenario's
    summary (stdout), or with ``brief`` one line (name, verdict, the first thing not as
    expected) and nothing is drawn; ``progress`` prints a progress line (stderr);
    ``choices``: the reports' style, time scale and quiz mode; ``sysctls``: per-namespace
    settings for every run's namespace; ``losses``: segments every run loses on purpose
    (``--drop``), after the scenario's own.  A
    scenario whose point is a complete capture (bulk-close) runs first and alone, since a
    busy CPU can make lo's backlog drop segments; the others run ``jobs`` at a time, those
    that send the most first.  Everything is printed and written in the order of ``names``.
    A scenario that crashes gets verdict ERROR and the others still run; missing privilege,
    an unwritable file or Ctrl-C stop all.  Each scenario written rewrites the index, which
    lists every report in ``reports`` (this run's crashes in place of older reports).
    """
    from tcptrace_viz import interrupts

    # held: an interrupt inside an extension module's initialisation (pandas, here) would turn
    # into an ImportError and a traceback instead of exit 130
    with interrupts.deferred():
        from tcptrace_viz.capture.batch import run_many
        from tcptrace_viz.index_state import error_row
        from tcptrace_viz.render.options import ReportChoices
        from tcptrace_viz.render.wording import verdict_line
        from tcptrace_viz.scenarios import get
        from tcptrace_viz.scenarios.verdict import judge_run
        from tcptrace_viz.store import remove_partial_folders

    save = out is not None and reports is not None
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    failed: list[str] = []
    width = max(len(name) for name in names)
    if out is not None:
        remove_partial_folders(out)
    runs = [(_with_losses(get(name), losses), values[name]) for name in names]
    total = len(names)
    slots: dict[int, _Pending] = {}  # finished captures by place, until printed
    printed = 0
    # One scenario's diagram is drawn by a process that imports matplotlib beside the capture
    # (several scenarios: the drawing children inherit this process's matplotlib instead).
    service: list[FigureService] = []

    def start_service() -> None:
        from tcptrace_viz.render.figure_service import FigureService

        service.append(FigureService())

    def print_ready() -> None:
        nonlocal printed
        while printed in slots and slots[printed].done:
            item = slots.pop(printed)
            printed += 1
            name = item.result.scenario.name
            if item.drawn is None:
                echo(verdict_line(name, None, item.why, width) if brief
                     else f"verdict: ERROR\n  why: {item.why}\n")
                failed.append(name)
                if save and reports is not None:  # its row says ERROR until it is written
                    _write_index(reports, error_row(name, item.why, ipv6))
                continue
            capture = item.result.capture
            assert capture is not None  # a drawing exists only for a capture
            if brief:
                echo(verdict_line(name, capture.trace.meta, width=width))
            else:
                written = write_drawn(item.drawn, reports) if save and reports else []
                echo(item.drawn.summary + "".join(f"  wrote {path}\n" for path in written))
            if capture.trace.meta.verdict != "pass":
                failed.append(name)

    try:
        number = 0
        single = save and total == 1
        prepare: Callable[[], None] | None = None if brief else functools.partial(
            _import_renderers, matplotlib=not single)  # brief: nothing is drawn
        for phase, alone in _phases(runs):
            if alone:  # a complete capture needs the CPUs: nothing else runs beside it
                while _drawing(slots):
                    _collect(slots, block=True)
                    print_ready()
            part = [runs[index] for index in phase]
            finished = run_many(part, family, 1 if alone else jobs, prepare=prepare,
                                beside_first=start_service if single else None,
                                sysctls=sysctls,
                                ordered=False, start_order=_longest_first(part))
            prepare = None
            for done in finished:
                number += 1
                if done.capture is None:  # it failed: its error is printed in its turn
                    progress(f"[{number}/{total}] {done.scenario.name}: no capture")
                    slots[phase[done.index]] = _Pending(done, None)
                elif brief:  # nothing to draw
                    progress(f"[{number}/{total}] {done.scenario.name}: captured")
                    judge_run(done.capture.trace, done.scenario, done.params)
                    slots[phase[done.index]] = _Pending(done, None, Drawn("", {}))
                else:
                    progress(f"[{number}/{total}] {done.scenario.name}: captured, drawing...")
                    slots[phase[done.index]] = _Pending(
                        done, _draw(done, out, reports, ipv6, service[0] if service else None,
                                    choices or ReportChoices()))
                _collect(slots, block=_drawing(slots) > jobs)
                print_ready()
        while slots:
            _collect(slots, block=True)
            print_ready()
        if save and reports is not None:
            from tcptrace_viz.index_state import INDEX_NAME

            echo(f"index: {reports / INDEX_NAME}")
    finally:
        for item in slots.values():  # left by an error or an interrupt: killed and reaped
            if item.drawing is not None:
                item.drawing.close()
        for helper in service:
            helper.close()
    if total > 1 or brief:
        echo(f"{total - len(failed)} of {total} scenario{'s' * (total != 1)} behaved as "
             "expected"
             + (f"; unexpected: {', '.join(failed)}" if failed else ""))
    return failed


def _with_losses(scenario: Scenario, losses: Sequence[LossRule]) -> Scenario:
    """``scenario`` as this run makes it: ``--drop``'s rules after its own."""
    if not losses:
        return scenario
    return dataclasses.replace(scenario, losses=(*scenario.losses, *losses))


def _phases(runs: Sequence[tuple[Scenario, dict[str, Value]]],
            ) -> list[tuple[list[int], bool]]:
    """The runs in phases: each scenario whose point is a complete capture alone, first (with
    its drawing beside the next phase), then all the others side by side."""
    alone = [index for index, (scenario, _) in enumerate(runs) if scenario.complete]
    shared = [index for index, (scenario, _) in enumerate(runs) if not scenario.complete]
    return [([index], True) for index in alone] + ([(shared, False)] if shared else [])


def _longest_first(runs: Sequence[tuple[Scenario, dict[str, Value]]]) -> list[int]:
    """Start order: the runs that wait longest for kernel timers first (they sit idle beside
    the others), then those that declare the biggest burst (the longest to capture and to
    draw), the others in their order."""
    def length(index: int) -> tuple[float, int]:
        scenario, params = runs[index]
        burst = scenario.burst_bytes(params) if scenario.burst_bytes is not None else 0
        return -scenario.waits_s, -burst

    return sorted(range(len(runs)), key=length)


def _drawing(slots: dict[int, _Pending]) -> int:
    return sum(1 for item in slots.values() if not item.done)


def _collect(slots: dict[int, _Pending], *, block: bool) -> None:
    """Take in the drawings that are finished (waiting for one when ``block``)."""
    import select

    busy = {item.drawing: item for item in slots.values()
            if item.drawing is not None and not item.done}
    if not busy:
        return
    ready, _, _ = select.select(list(busy), [], [], None if block else 0)
    for drawing in ready:
        try:
            busy[drawing].drawn = drawing.result()
        except Interrupted:
            raise
        except TcptraceVizError as exc:  # this scenario's drawing: the others still run
            busy[drawing].failed_drawing = str(exc)


def _import_renderers(*, matplotlib: bool = True) -> None:
    """What drawing needs, imported while the first captures run (forked children inherit
    it); ``matplotlib=False`` when a FigureService draws the diagram.  Only a head start:
    should an import fail here (a user who cannot read part of the library), drawing imports
    it again and says why."""
    from tcptrace_viz import interrupts

    # Signals wait until the imports are done: an interrupt inside an extension module's
    # initialisation would otherwise turn into an ImportError and be lost.
    with interrupts.deferred(), contextlib.suppress(ImportError):
        import PIL.Image  # noqa: F401 - the index's thumbnails

        import tcptrace_viz.index_state
        import tcptrace_viz.outputs
        import tcptrace_viz.render.console
        import tcptrace_viz.render.index
        from tcptrace_viz.render.templating import environment

        for template in ("report.html.j2", "index.html.j2"):  # compiled once, not per child
            environment().get_template(template)
        if matplotlib:
            import tcptrace_viz.render.ladder_figure  # noqa: F401


def _draw(done: RunResult, out: Path | None, reports: Path | None, ipv6: bool,
          service: FigureService | None, choices: ReportChoices) -> ForkedCall[Drawn]:
    """Judge the run, then draw its reports in a forked child (its diagram by ``service``,
    when there is one)."""
    from tcptrace_viz.scenarios.verdict import judge_run

    capture = done.capture
    assert capture is not None
    judge_run(capture.trace, done.scenario, done.params)
    from tcptrace_viz.store import new_capture_folder, report_name

    name = done.scenario.name
    folder = None if out is None else new_capture_folder(out, name, ipv6)
    stem = report_name(name, ipv6)
    return ForkedCall(lambda: render_capture(capture, stem, folder, reports, service, choices))


def render_capture(capture: CaptureResult, stem: str, folder: Path | None,
                   reports: Path | None, service: FigureService | None,
                   choices: ReportChoices) -> Drawn:  # pragma: no cover - a forked child
    from tcptrace_viz.outputs import embedding, render_report_set
    from tcptrace_viz.render import prepare
    from tcptrace_viz.render.console import console_summary
    from tcptrace_viz.render.index import index_row
    from tcptrace_viz.render.thumbnail import thumbnail_uri
    from tcptrace_viz.store import PCAPNG_NAME, capture_json, pcapng_bytes

    # one ladder and one SVG for every output
    prepared = prepare(capture.trace, style=choices.style, proportional=choices.proportional)
    if service is not None:
        service.request(prepared.ladder(), prepared.style)  # drawn there meanwhile
    summary = console_summary(prepared, [])
    if folder is None or reports is None:
        return Drawn(summary, {})
    pcapng = pcapng_bytes(capture.trace, capture.frames, capture.frame_ts_ns)
    options = choices.options(embedding(pcapng, folder / PCAPNG_NAME))
    if service is not None:
        # Should the service have failed, drawing here fails the same way and says why.
        with contextlib.suppress(TcptraceVizError):
            prepared.use_drawn(*service.receive())
    files = render_report_set(prepared, reports, stem, options)
    row = index_row(capture.trace, f"{stem}.html",
                    thumbnail_uri(files[reports / f"{stem}.png"], pixels=prepared.drawn_pixels()))
    return Drawn(summary, files, pcapng, capture_json(capture.trace), folder, row)


def write_drawn(drawn: Drawn, reports: Path) -> list[Path]:
    """Write a scenario's capture folder and report set, and the index with its row, all or
    nothing; list the capture folder and the report set."""
    from tcptrace_viz.index_state import index_files, locked
    from tcptrace_viz.outputs import commit_scenario

    assert drawn.folder is not None and drawn.index_row is not None
    with locked(reports):
        return commit_scenario(drawn.folder, drawn.pcapng, drawn.document, drawn.report_files,
                               index_files=index_files(reports, [drawn.index_row]))


def _write_index(reports: Path, row: IndexRow) -> None:
    """Write the index with ``row`` (a scenario that crashed) in it."""
    from tcptrace_viz.index_state import index_files, locked
    from tcptrace_viz.outputs import write_set

    with locked(reports):
        write_set(index_files(reports, [row]))
