"""Option groups several commands share: which connections, how the reports are drawn, and
the scenario files to load.

Each function adds its options to a click command (a decorator); the command receives them as
keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tcptrace_viz.command_errors import user_errors

F = TypeVar("F", bound=Callable[..., Any])


def load_files(ctx: click.Context, param: click.Parameter,
                paths: tuple[Path, ...]) -> list[str]:
    """``--file``'s callback: run each scenario file now (before ``--scenario`` names are
    checked); the names of the scenarios they registered."""
    from tcptrace_viz.scenarios.files import load_scenario_file

    loaded: list[str] = []
    with user_errors():
        for path in paths:
            loaded += [name for name in load_scenario_file(path) if name not in loaded]
    return loaded


def report_choices(function: F) -> F:
    """--style, --proportional-time and --quiz, for the commands that draw reports."""
    function = click.option("--quiz", is_flag=True,
                            help="HTML reports open in quiz mode: each syscall's result and "
                                 "each new state is hidden until the reader reveals "
                                 "it.")(function)
    function = click.option("--proportional-time", "proportional", is_flag=True,
                            help="Draw time to scale on the ladder (as far as events leave "
                                 "room), instead of one row per event.")(function)
    function = click.option("--style", type=click.Choice(["default", "projector"]),
                            default="default", show_default=True,
                            help="projector: larger type and thicker arrows, for a "
                                 "room.")(function)
    return function


def connection_filters(function: F) -> F:
    """The filters of ``connections`` and ``report`` (all given must hold)."""
    for flag, words in (("--retrans", "with retransmissions"), ("--incomplete",
                        "never closed in the capture"), ("--refused", "refused (SYN answered "
                        "by RST)"), ("--rst", "ended by or seeing an RST")):
        function = click.option(flag, is_flag=True, help=f"Only connections {words}.")(function)
    function = click.option("--host", "-H", default=None, metavar="ADDRESS",
                            help="Only connections with this address.")(function)
    return click.option("--port", "-p", type=click.IntRange(0, 65535), default=None,
                        help="Only connections using this TCP port.")(function)


def scenario_names() -> list[str]:
    """The built-ins and the scenarios of the files --file loaded."""
    from tcptrace_viz.scenarios import names

    return names()


class ScenarioChoice(click.ParamType):  # type: ignore[type-arg]
    """A scenario name, checked lazily (listing them imports the scenario modules)."""

    name = "scenario"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        names = scenario_names()
        if value not in names:
            self.fail(f"unknown scenario {value!r}; `tcptrace-viz list` shows the built-in "
                      "ones (a scenario file's scenarios need --file FILE)", param, ctx)
        return str(value)


def scenario_options(on_file: Callable[..., list[str]]) -> Callable[[F], F]:
    """The options of ``capture`` and ``check``: which scenarios, how, and ``--file`` (loaded
    by ``on_file`` at once, so that ``--scenario`` knows the file's names)."""
    return lambda function: _scenario_options(function, on_file)


def _scenario_options(function: F, on_file: Callable[..., list[str]]) -> F:
    function = click.option("--file", "file_scenarios", multiple=True, is_eager=True,
                            type=click.Path(dir_okay=False, path_type=Path),
                            callback=on_file, metavar="FILE",
                            help="A scenario file (Python, see the README): its scenarios "
                                 "run (all of them, unless --scenario names some); "
                                 "repeatable.")(function)
    function = click.option("--all", "run_all", is_flag=True,
                            help="Run every built-in scenario, in catalogue order (and "
                                 "those of --file).")(function)
    function = click.option("--scenario", "-s", "scenarios", multiple=True,
                            type=ScenarioChoice(), metavar="NAME",
                            help="Scenario to run (repeatable); see `tcptrace-viz list`.")(function)
    function = click.option("--ipv6", is_flag=True,
                            help="Use IPv6 instead of IPv4 (capture names the files "
                                 "<scenario>-ipv6, beside the IPv4 ones).")(function)
    function = click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                            help="Set a scenario parameter (repeatable), e.g. --set "
                                 "bytes=160MiB for bulk-close (sizes take KiB, MiB, GiB); "
                                 "`tcptrace-viz list` shows each scenario's parameters and "
                                 "defaults.")(function)
    function = click.option("--sysctl", "sysctls", multiple=True, metavar="NAME=VALUE",
                            help="Set a per-namespace TCP setting in each run's own network "
                                 "namespace (repeatable), e.g. --sysctl "
                                 "net.ipv4.tcp_fin_timeout=2; the machine's own settings are "
                                 "untouched.")(function)
    function = click.option("--drop", "drops", multiple=True, metavar="SIDE:FLAGS[#N]",
                            help="Lose one segment once, in the run's namespace (repeatable): "
                                 "server:F loses the server's first FIN, client:P#2 the "
                                 "client's second PSH segment (tcpdump's letters F S R P . U E "
                                 "W, every one given must be set; . alone: a bare ACK). Its "
                                 "retransmission is then on the wire; the lost copy is drawn "
                                 "where it died, with the kernel's drop reason. Needs the nft "
                                 "tool.")(function)
    function = click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
                            metavar="N",
                            help="Scenarios captured and drawn at once, each in its own "
                                 "namespace (default: the CPU count); runs that wait on a "
                                 "kernel timer run beside them; the output stays in "
                                 "catalogue order.")(function)
    return function
