"""The command line: parse arguments, show progress, print, write files, choose the exit code.

This is the only module that talks to the user.  Each command is a short list of steps: run or
read, render, write, print.  Errors are one sentence on stderr and an exit code from
:class:`tcptrace_viz.errors.ExitCode`; a traceback is a bug.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import click

from tcptrace_viz._version import __version__
from tcptrace_viz.command_errors import user_errors
from tcptrace_viz.command_options import (
    connection_filters,
    load_files,
    report_choices,
    scenario_names,
    scenario_options,
)
from tcptrace_viz.connection_triage import drawing_options, open_for_report, reading_note
from tcptrace_viz.errors import ExitCode
from tcptrace_viz.outputs import report_format
from tcptrace_viz.progress import Progress
from tcptrace_viz.render import FORMATS
from tcptrace_viz.scenario_choice import chosen, run_chosen

F = TypeVar("F", bound=Callable[..., Any])


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
      tcptrace-viz export pcaps/ --parquet fleet
      sudo tcptrace-viz run -- python3 myclient.py

    \b
    Exit codes: 0 ok, 1 an expectation failed or a scenario crashed, 2 usage or
    bad input, 3 missing privilege or kernel feature, 130 interrupted (Ctrl-C or
    SIGTERM).
    """


@main.command("list")
@click.option("--file", "file_scenarios", multiple=True, is_eager=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path), callback=load_files,
              help="Also list a scenario file's scenarios (repeatable).")
def list_command(file_scenarios: list[str]) -> None:
    """List the close scenarios with a one-line summary each, and the --set parameters.

    \b
    Examples:
      tcptrace-viz list
      tcptrace-viz list --file lesson.py
    """
    from tcptrace_viz.scenarios import CATALOGUE, get

    shown = [*CATALOGUE, *(name for name in file_scenarios if name not in CATALOGUE)]
    width = max(len(name) for name in shown)
    for name in shown:
        click.echo(f"{name:<{width}}  {get(name).title}")
        for parameter in get(name).parameters:  # what --set NAME=VALUE can change
            click.echo(f"{'':<{width}}    --set {parameter.describe()}")


def _echoes() -> tuple[Callable[[str], None], Callable[[str], None]]:
    """Where a run prints: its summaries on stdout, its progress on stderr."""
    return click.echo, partial(click.echo, err=True)



@main.command("capture")
@scenario_options(load_files)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("captures"), show_default=True,
              help="Where capture folders are written.")
@click.option("--reports", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports"), show_default=True,
              help="Where reports (txt, html, svg, png) and index.html are written.")
@report_choices
def capture_command(scenarios: tuple[str, ...], run_all: bool, ipv6: bool,
                    sets: tuple[str, ...], sysctls: tuple[str, ...], drops: tuple[str, ...],
                    jobs: int | None, file_scenarios: list[str], out: Path, reports: Path,
                    style: str, proportional: bool, quiz: bool) -> None:
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
      sudo tcptrace-viz capture --file lesson.py      # a scenario file's scenarios
      sudo tcptrace-viz capture -s linger0 --style projector --quiz
      sudo tcptrace-viz capture -s time-wait --sysctl net.ipv4.tcp_fin_timeout=2
      sudo tcptrace-viz capture -s close-then-write --drop server:F   # a FIN lost once
    """
    from tcptrace_viz.render.options import ReportChoices

    with user_errors():
        names = chosen(scenario_names(), scenarios, run_all, "capture", file_scenarios)
        failed = run_chosen(names, ipv6, out, reports, sets, jobs, _echoes(),
                            choices=ReportChoices(style, proportional, quiz), sysctls=sysctls,
                            drops=drops)
    sys.exit(int(ExitCode.EXPECTATION_FAILED if failed else ExitCode.OK))


@main.command("check")
@scenario_options(load_files)
@click.option("--verbose", "-v", is_flag=True,
              help="Print each scenario's text ladder and full verdict, as capture does.")
def check_command(scenarios: tuple[str, ...], run_all: bool, ipv6: bool,
                  sets: tuple[str, ...], sysctls: tuple[str, ...], drops: tuple[str, ...],
                  jobs: int | None, file_scenarios: list[str], verbose: bool) -> None:
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
      sudo tcptrace-viz check --file lesson.py        # a kernel-behaviour regression suite
    """
    with user_errors():
        names = chosen(scenario_names(), scenarios, run_all, "check", file_scenarios)
        failed = run_chosen(names, ipv6, None, None, sets, jobs, _echoes(), brief=not verbose,
                            sysctls=sysctls, drops=drops)
    sys.exit(int(ExitCode.EXPECTATION_FAILED if failed else ExitCode.OK))


@main.command("run", context_settings={"allow_interspersed_args": False})
@click.option("--name", default=None, metavar="NAME",
              help="The report's name (default: from the program, e.g. echo for python3 echo.py).")
@click.option("--server", default=None, metavar="CMD",
              help="A server command line, started first (give --client too).")
@click.option("--client", default=None, metavar="CMD",
              help="A client command line, started once something listens; its exit status "
                   "is the run's.")
@click.option("--sysctl", "sysctls", multiple=True, metavar="NAME=VALUE",
              help="A per-namespace TCP setting for the run's namespace (repeatable).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("captures"), show_default=True, help="Where capture folders go.")
@click.option("--reports", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports"), show_default=True, help="Where reports go.")
@report_choices
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run_command(command: tuple[str, ...], name: str | None, server: str | None,
                client: str | None, sysctls: tuple[str, ...], out: Path, reports: Path,
                style: str, proportional: bool, quiz: bool) -> None:
    """Run your own program in a fresh network namespace and show its teardown.

    Records every TCP segment on the namespace's loopback, the kernel's TCP state changes
    and RST reasons, and the program's socket system calls (from the kernel's syscall
    tracepoints, for it and everything it forks: no ptrace), until the command exits or
    Ctrl-C (the trace is kept, marked interrupted). Writes captures/NAME/<UTC time>/ and
    reports/NAME.* as capture does. Without root or tracefs: packets and sampled states only.

    Exit code: the program's own (the client's with --server/--client; 128+N when signal N
    killed it), 130 when interrupted, 2 when the command does not exist.

    \b
    Examples:
      sudo tcptrace-viz run -- python3 close_then_write.py
      sudo tcptrace-viz run --name refused -- ./connect_refused
      sudo tcptrace-viz run --server "python3 -m http.server" --client "curl -s 127.0.0.1:8000"
    """
    from tcptrace_viz.program_runner import make_plan, run_and_report
    from tcptrace_viz.render.options import ReportChoices

    with user_errors():
        plan = make_plan(command, server, client, name, scenario_names())
        code = run_and_report(plan, out, reports, ReportChoices(style, proportional, quiz),
                              sysctls, _echoes())
    sys.exit(code)


@main.command("report")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format (default: from -o's suffix, else html).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: reports/<name>.<format>; '-' for stdout).")
@drawing_options
@connection_filters
@report_choices
def report_command(path: Path, fmt: str | None, output: Path | None, connection: tuple[int, ...],
                   all_connections: bool, absolute_time: bool, style: str, proportional: bool,
                   quiz: bool, **filters: Any) -> None:
    """Render a capture folder or any pcap/pcapng file.

    Of a capture with several connections it draws the most telling one (of those the filters
    keep) and says why; or those named with --connection N..., or all with --all-connections.

    \b
    Examples:
      tcptrace-viz report captures/linger0/20261125T120000Z
      tcptrace-viz report trace.pcapng -o ticket.md
      tcptrace-viz report trace.pcapng --port 8080 --format txt -o -
      tcptrace-viz report trace.pcapng --rst --all-connections -o resets.html
      tcptrace-viz report captures/linger0/20261125T120000Z -f pdf --style projector
    """
    from tcptrace_viz.analysis.frame_memo import remembering  # the report's answers, once
    progress = Progress.on_stderr()
    with user_errors(), contextlib.closing(progress), remembering():
        fmt = report_format(fmt, output)
        from tcptrace_viz.analysis.triage import Filters
        from tcptrace_viz.connection_triage import drawing_and_trace, render_drawing

        with open_for_report(path, progress) as capture:
            drawing, trace = drawing_and_trace(capture, connection, all_connections,
                                               Filters(**filters), progress.phase)
        for line in drawing.lines():
            click.echo(f"tcptrace-viz: {line}", err=True)
        from tcptrace_viz.outputs import attached_capture, default_report, write_report
        from tcptrace_viz.render import RenderOptions

        options = attached_capture(path) if fmt == "html" else RenderOptions()
        progress.phase(f"rendering {fmt}")
        content = render_drawing(trace, drawing, fmt, dataclasses.replace(options, quiz=quiz),
                                 (style, proportional, absolute_time))
        if output is not None and str(output) == "-":
            _echo_content(content)
            reading_note(trace)
            return
        target = output or default_report(path, fmt)
        write_report(target, content, make_folder=output is None)
        reading_note(trace)
        click.echo(f"wrote {target}")


@main.command("diff")
@click.argument("first", type=click.Path(path_type=Path))
@click.argument("second", type=click.Path(path_type=Path))
@click.option("--format", "-f", "fmt", type=click.Choice(["txt", "md", "html"]), default=None,
              help="Output format (default: from -o's suffix, else txt).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout.")
@click.option("--connection", "-c", "connections", type=click.IntRange(min=0), multiple=True,
              metavar="N", help="The connection compared (default: each file's most telling); "
                                "given twice: A's, then B's.")
def diff_command(first: Path, second: Path, fmt: str | None, output: Path | None,
                 connections: tuple[int, ...]) -> None:
    """Compare two runs (capture folders or pcaps): where the wire, the TCP states and the
    system call results differ. Exits 1 when they differ, so it can guard a kernel upgrade.
    Of a capture with several connections one is compared, and the output says which.

    \b
    Examples:
      tcptrace-viz diff captures/linger0/20261201T100000Z captures/linger0/20261202T100000Z
      tcptrace-viz diff before.pcapng after.pcapng -o diff.html
      tcptrace-viz diff before.pcap after.pcap -c 3 -c 5    # A's connection 3, B's 5
    """
    from tcptrace_viz.diff_command import run_diff

    sys.exit(int(run_diff(first, second, fmt, output, connections)))


@main.command("connections")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "-f", "fmt", type=click.Choice(["txt", "csv", "json", "md"]),
              default="txt", show_default=True, help="Output format.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True,
              help="Rows listed at most in txt and md (csv and json list all).")
@connection_filters
def connections_command(path: Path, fmt: str, limit: int, **filters: Any) -> None:
    """List the connections of a capture: a summary line, then one row each.

    \b
    Examples:
      tcptrace-viz connections trace.pcapng
      tcptrace-viz connections trace.pcapng --rst --port 443
      tcptrace-viz connections trace.pcapng --format csv > connections.csv
    """
    from tcptrace_viz.analysis.frame_memo import remembering  # the report's answers, once
    progress = Progress.on_stderr()
    with user_errors(), contextlib.closing(progress), remembering():
        from tcptrace_viz.analysis.triage import Filters
        from tcptrace_viz.connection_triage import connections_output

        with open_for_report(path, progress) as capture:
            progress.phase("listing connections")
            output = connections_output(capture.trace, Filters(**filters), fmt, limit)
    click.echo(output, nl=False)
    reading_note(capture.trace)


def _echo_content(content: str | bytes) -> None:
    if isinstance(content, bytes):
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        click.echo(content, nl=not content.endswith("\n"))


@main.command("export")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--parquet", "out_dir", required=True, metavar="DIR", type=click.Path(
    file_okay=False, path_type=Path), help="Write DIR/<table>/capture=<name>/part-0.parquet.")
def export_command(paths: tuple[Path, ...], out_dir: Path) -> None:
    """Export the packets and connections of captures (pcap, pcapng, gzip/zstd/lz4, capture
    folders; folders are searched) as Parquet, one partition per capture. Exits 2 if any failed.

    \b
    Examples:
      tcptrace-viz export pcaps/ more.pcap.gz --parquet fleet
      duckdb -c "SELECT capture, count(*) FROM 'fleet/connections/*/*.parquet' GROUP BY 1"
    """
    from tcptrace_viz.export_parquet import run_export

    sys.exit(int(run_export(list(paths), out_dir)))
