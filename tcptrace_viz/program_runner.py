"""``tcptrace-viz run``: a user's program captured, reported and indexed like a scenario.

The command checks what it was given (every program exists and is executable, the name is a
usable file name), runs the program (:func:`tcptrace_viz.capture.program_session.run_program`),
writes its capture folder and report set and its row of ``reports/index.html`` as ``capture``
does for a scenario, prints the console summary and returns the exit code: the program's own
(the client's, with two), 130 when the run was interrupted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tcptrace_viz.capture.program_run import default_name, safe_name
from tcptrace_viz.errors import BadInputError, ExitCode

if TYPE_CHECKING:
    from tcptrace_viz.capture.program_run import ProgramPlan
    from tcptrace_viz.render.options import ReportChoices

def check_program(argv: Sequence[str], role: str) -> None:
    """BadInputError, one sentence, unless ``argv[0]`` can be executed."""
    if not argv:
        raise BadInputError(f"no {role} to run: put it after --, e.g. tcptrace-viz run -- "
                            "python3 client.py")
    program = argv[0]
    if "/" in program:
        if not os.path.isfile(program):
            raise BadInputError(f"{program}: no such file")
        if not os.access(program, os.X_OK):
            raise BadInputError(f"{program}: not executable (chmod +x it, or run it with its "
                                "interpreter)")
    elif shutil.which(program) is None:
        raise BadInputError(f"{program}: command not found")


def make_plan(command: Sequence[str], server: str | None, client: str | None,
              name: str | None, taken: Sequence[str]) -> ProgramPlan:
    """The plan for ``run``'s arguments; BadInputError, one sentence, when they do not fit."""
    import shlex

    from tcptrace_viz.capture.program_run import ProgramPlan

    if (server is None) != (client is None):
        raise BadInputError("--server and --client go together: give both, or neither and "
                            "a COMMAND after --")
    if server is not None and client is not None:
        if command:
            raise BadInputError("give either --server and --client, or a COMMAND after --, "
                                "not both")
        try:
            server_argv, client_argv = shlex.split(server), shlex.split(client)
        except ValueError as exc:
            raise BadInputError(f"cannot split the command line: {exc}") from None
        check_program(server_argv, "server")
        check_program(client_argv, "client")
        chosen = name or default_name(client_argv)
        plan = ProgramPlan(chosen, server=tuple(server_argv), client=tuple(client_argv))
    else:
        check_program(command, "command")
        plan = ProgramPlan(name or default_name(command), command=tuple(command))
    if safe_name(plan.name) != plan.name:
        raise BadInputError(f"--name {plan.name!r}: use letters, digits, '.', '_' and '-' only")
    if plan.name in taken:
        raise BadInputError(f"--name {plan.name}: a built-in scenario has that name; choose "
                            "another so its reports stay its own")
    return plan


def run_and_report(plan: ProgramPlan, out: Path, reports: Path, choices: ReportChoices,
                   sysctls: Sequence[str], echoes: tuple[Callable[[str], None],
                                                         Callable[[str], None]]) -> int:
    """Run ``plan``, write its capture folder, reports and index row; the exit code."""
    from tcptrace_viz.capture.program_session import run_program
    from tcptrace_viz.index_state import INDEX_NAME
    from tcptrace_viz.kernel.sysctls import check_settings, parse_settings
    from tcptrace_viz.runner import render_capture, write_drawn
    from tcptrace_viz.store import new_capture_folder, report_name

    echo, progress = echoes
    settings = parse_settings(sysctls)
    check_settings(settings)
    progress(f"running {plan.shown} in a fresh network namespace (Ctrl-C ends it; the trace "
             "is kept)")
    result = run_program(plan, sysctls=settings)
    progress(f"{plan.name}: {result.capture.trace.meta.exit_status or 'ended'}, drawing...")
    folder = new_capture_folder(out, plan.name)
    drawn = render_capture(result.capture, report_name(plan.name), folder, reports, None,
                           choices)
    written = write_drawn(drawn, reports)
    echo(drawn.summary + "".join(f"  wrote {path}\n" for path in written))
    echo(f"index: {reports / INDEX_NAME}")
    if result.interrupted:
        return int(ExitCode.INTERRUPTED)
    return result.exit_code
