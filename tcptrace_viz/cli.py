"""The command line: parse arguments, show progress, print, write files, choose the exit code.

This is the only module that talks to the user.  Each command is a short list of steps: run or
read, render, write, print.  Errors are one sentence on stderr and an exit code from
:class:`tcptrace_viz.errors.ExitCode`; a traceback is a bug.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from tcptrace_viz import interrupts
from tcptrace_viz._version import __version__
from tcptrace_viz.errors import BadInputError, ExitCode, Interrupted, TcptraceVizError
from tcptrace_viz.progress import Progress
from tcptrace_viz.render import FORMATS, format_of_suffix

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace

F = TypeVar("F", bound=Callable[..., Any])


def _fail(error: TcptraceVizError) -> NoReturn:
    interrupts.stop_listening()
    if isinstance(error, Interrupted):
        interrupts.release_all()
    message = (interrupts.message() if isinstance(error, Interrupted) and interrupts.received()
               else error.message)
    click.echo(f"tcptrace-viz: {message}", err=True)
    interrupts.mark_said()
    sys.exit(int(error.exit_code))


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the tool's exceptions, Ctrl-C and SIGTERM into one sentence and an exit code.

    The signal handling itself is :mod:`tcptrace_viz.interrupts`, which ``tcptrace-viz``
    installs before anything else is imported.
    """
    try:
        yield
    except TcptraceVizError as error:
        _fail(error)
    except KeyboardInterrupt:
        _fail(Interrupted("interrupted"))


def _scenario_names() -> Sequence[str]:
    from tcptrace_viz.scenarios import CATALOGUE

    return CATALOGUE


class _ScenarioChoice(click.ParamType):  # type: ignore[type-arg]
    """A scenario name, checked lazily (listing them imports the scenario modules)."""

    name = "scenario"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        names = _scenario_names()
        if value not in names:
            self.fail(f"unknown scenario {value!r}; `tcptrace-viz list` shows the "
                      f"{len(names)} scenarios", param, ctx)
        return str(value)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tcptrace-viz")
def main() -> None:
    """Make TCP connection teardown visible: packets on the wire, the kernel's TCP states and
    each system call's result, on one timeline.

    \b
    Examples:
      tcptrace-viz list
      sudo tcptrace-viz capture --scenario linger0
      sudo tcptrace-viz capture --all
      sudo tcptrace-viz check --all
      tcptrace-viz report captures/linger0/20261125T120000Z -o linger0.html
      tcptrace-viz report trace.pcapng --format md

    \b
    Exit codes: 0 ok, 1 an expectation failed or a scenario crashed, 2 usage or
    bad input, 3 missing privilege or kernel feature, 130 interrupted (Ctrl-C or
    SIGTERM).
    """


@main.command("list")
def list_command() -> None:
    """List the close scenarios with a one-line summary each.

    \b
    Example:
      tcptrace-viz list
    """
    from tcptrace_viz.scenarios import CATALOGUE, get

    width = max(len(name) for name in CATALOGUE)
    for name in CATALOGUE:
        click.echo(f"{name:<{width}}  {get(name).title}")
        for parameter in get(name).parameters:  # what --set NAME=VALUE can change
            click.echo(f"{'':<{width}}    --set {parameter.describe()}")


def _scenario_options(function: F) -> F:
    function = click.option("--all", "run_all", is_flag=True,
                            help="Run every scenario, in catalogue order.")(function)
    function = click.option("--scenario", "-s", "scenarios", multiple=True,
                            type=_ScenarioChoice(), metavar="NAME",
                            help="Scenario to run (repeatable); see `tcptrace-viz list`.")(function)
    function = click.option("--ipv6", is_flag=True,
                            help="Use IPv6 instead of IPv4 (capture names the files "
                                 "<scenario>-ipv6, beside the IPv4 ones).")(function)
    function = click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                            help="Set a scenario parameter (repeatable), e.g. --set "
                                 "bytes=160MiB for bulk-close (sizes take KiB, MiB, GiB); "
                                 "`tcptrace-viz list` shows each scenario's parameters and "
                                 "defaults.")(function)
    function = click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                            metavar="N",
                            help="Scenarios captured and drawn at once, each in its own "
                                 "namespace (default: the CPU count); the output stays in "
                                 "catalogue order.")(function)
    return function


def _chosen(scenarios: tuple[str, ...], run_all: bool, command: str) -> list[str]:
    """The scenarios to run, in the order given (BadInputError: none, or both kinds)."""
    if run_all and scenarios:
        raise BadInputError("give either --scenario NAME or --all, not both")
    if run_all:
        return list(_scenario_names())
    if not scenarios:
        raise BadInputError(f"name a scenario with --scenario NAME (`tcptrace-viz list` shows "
                            f"them), or use --all; see `tcptrace-viz {command} --help`")
    return list(dict.fromkeys(scenarios))


@main.command("capture")
@_scenario_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("captures"), show_default=True,
              help="Where capture folders are written.")
@click.option("--reports", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports"), show_default=True,
              help="Where reports (txt, html, svg, png) and index.html are written.")
def capture_command(scenarios: tuple[str, ...], run_all: bool, ipv6: bool,
                    sets: tuple[str, ...], jobs: int | None, out: Path, reports: Path) -> None:
    """Run scenarios for real, each in its own network namespace, and save what happened.

    Name the scenarios with --scenario (repeatable) or run them all with --all. Needs root
    (or unprivileged user namespaces, without kernel state tracing). For each scenario:
    captures/<scenario>/<UTC time>/trace.pcapng and trace.json, reports/<scenario>.txt,
    .html, .svg and .png, a text ladder and the verdict on stdout. An IPv6 run's files are
    named <scenario>-ipv6 (its capture folder <UTC time>-ipv6), beside the IPv4 ones.
    reports/index.html is rewritten after each scenario: it lists every report in the
    folder, from this run and earlier ones, with a thumbnail of each ladder.

    \b
    Examples:
      sudo tcptrace-viz capture --scenario linger0
      sudo tcptrace-viz capture -s linger0 --ipv6     # reports/linger0-ipv6.*
      sudo tcptrace-viz capture -s close-then-write -s shutdown
      sudo tcptrace-viz capture --all --out /tmp/captures --reports /tmp/reports
      sudo tcptrace-viz capture --all -j 1            # one scenario at a time
      sudo tcptrace-viz capture -s bulk-close --set bytes=160MiB
    """
    with _user_errors():
        names = _chosen(scenarios, run_all, "capture")
        failed = _run_scenarios(names, ipv6, out, reports, sets, jobs)
    sys.exit(int(ExitCode.EXPECTATION_FAILED if failed else ExitCode.OK))


@main.command("check")
@_scenario_options
@click.option("--verbose", "-v", is_flag=True,
              help="Print each scenario's text ladder and full verdict, as capture does.")
def check_command(scenarios: tuple[str, ...], run_all: bool, ipv6: bool,
                  sets: tuple[str, ...], jobs: int | None, verbose: bool) -> None:
    """Run scenarios and compare the kernel's behaviour with the expectation; write nothing.

    Name the scenarios with --scenario (repeatable) or check them all with --all. Prints one
    line per scenario: its name, PASS, FAIL or ERROR and, when it did not pass, the first
    thing that was not as expected; -v prints the ladders and full verdicts instead. Exits 1
    when any scenario's outcome differs from what it expects.

    \b
    Examples:
      sudo tcptrace-viz check --all
      sudo tcptrace-viz check --scenario close-then-write --ipv6
      sudo tcptrace-viz check -s linger0 -v           # with the ladder
    """
    with _user_errors():
        names = _chosen(scenarios, run_all, "check")
        failed = _run_scenarios(names, ipv6, None, None, sets, jobs, brief=not verbose)
    sys.exit(int(ExitCode.EXPECTATION_FAILED if failed else ExitCode.OK))


def _run_scenarios(names: list[str], ipv6: bool, out: Path | None, reports: Path | None,
                   sets: Sequence[str], jobs: int | None, brief: bool = False) -> list[str]:
    """Capture each scenario (``jobs`` at a time); print its ladder and verdict in catalogue
    order; return the names that failed (see :func:`tcptrace_viz.runner.run_scenarios`)."""
    from tcptrace_viz.capture.batch import default_jobs
    from tcptrace_viz.runner import run_scenarios
    from tcptrace_viz.scenarios import get
    from tcptrace_viz.scenarios.params import resolve_all

    values = resolve_all([get(name) for name in names], sets)  # refused before any run
    jobs = min(jobs or default_jobs(), len(names))
    click.echo(f"[1/1] {names[0]}: capturing..." if len(names) == 1 else
               f"[0/{len(names)}] capturing {len(names)} scenarios, {jobs} at a time...",
               err=True)
    return run_scenarios(names, values, ipv6=ipv6, out=out, reports=reports, jobs=jobs,
                         echo=click.echo, progress=partial(click.echo, err=True), brief=brief)


@main.command("report")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (default: from -o's suffix, else html).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: reports/<name>.<format>; '-' for stdout).")
@click.option("--connection", "-c", type=int, default=None,
              help="Draw only this connection (see the report's connection table).")
@click.option("--port", "-p", type=int, default=None,
              help="Draw only the first connection using this TCP port.")
def report_command(path: Path, fmt: str | None, output: Path | None, connection: int | None,
                   port: int | None) -> None:
    """Render a capture folder or any pcap/pcapng file.

    \b
    Examples:
      tcptrace-viz report captures/linger0/20261125T120000Z
      tcptrace-viz report trace.pcapng -o ticket.md
      tcptrace-viz report trace.pcapng --port 8080 --format txt -o -
    """
    progress = Progress.on_stderr()
    with _user_errors(), contextlib.closing(progress):
        fmt = _report_format(fmt, output)
        trace = _load_with_progress(path, progress)
        if port is not None:
            connection = _connection_for_port(trace, port)
        if connection is not None and connection not in set(trace.packets["conn"].tolist()):
            raise BadInputError(f"{path} has no connection {connection}")
        from tcptrace_viz.outputs import attached_capture, default_report, write_report
        from tcptrace_viz.render import RenderOptions, render

        options = attached_capture(path) if fmt == "html" else RenderOptions()
        progress.phase(f"rendering {fmt}")
        content = render(trace, fmt, options, connection=connection)
        if output is not None and str(output) == "-":
            _echo_content(content)
            return
        target = output or default_report(path, fmt)
        write_report(target, content, make_folder=output is None)
        if trace.meta.partial:
            click.echo(f"tcptrace-viz: partial: {trace.meta.problem}", err=True)
        click.echo(f"wrote {target}")


def _report_format(fmt: str | None, output: Path | None) -> str:
    if fmt is not None:
        return fmt
    if output is not None and str(output) != "-":
        guessed = format_of_suffix(output.suffix)
        if guessed is None:
            raise BadInputError(f"cannot tell the format from {output.name!r}; add --format "
                                f"({', '.join(FORMATS)})")
        return guessed
    return "html" if output is None else "txt"


def _load_with_progress(path: Path, progress: Progress) -> Trace:
    from tcptrace_viz.store import read_capture

    def reading(done: int, total: int) -> None:
        progress.reading(f"reading {path.name}", done, total)

    return read_capture(path, progress=reading, status=progress.phase)


def _connection_for_port(trace: Trace, port: int) -> int:
    packets = trace.packets
    chosen = packets[(packets["sport"] == port) | (packets["dport"] == port)]
    if not len(chosen):
        raise BadInputError(f"no TCP connection uses port {port}")
    return int(chosen["conn"].iloc[0])


def _echo_content(content: str | bytes) -> None:
    if isinstance(content, bytes):
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        click.echo(content, nl=not content.endswith("\n"))
