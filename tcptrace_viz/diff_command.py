"""``diff``'s steps: read both runs, compare them, print or write the result."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from tcptrace_viz.analysis.frame_memo import remembering
from tcptrace_viz.command_errors import user_errors
from tcptrace_viz.connection_triage import load_capture
from tcptrace_viz.errors import BadInputError, ExitCode
from tcptrace_viz.outputs import report_format
from tcptrace_viz.progress import Progress


def run_diff(first: Path, second: Path, fmt: str | None, output: Path | None,
             connections: tuple[int, ...] = ()) -> ExitCode:
    """Compare ``first`` and ``second`` as ``tcptrace-viz diff`` does (``connections``: one
    connection number for both, or A's and B's); the exit code (1 when they differ)."""
    progress = Progress.on_stderr()
    with user_errors(), contextlib.closing(progress), remembering():
        chosen = fmt or (report_format(None, output) if output else "txt")
        if chosen not in ("txt", "md", "html"):
            raise BadInputError(f"diff writes txt, md or html, not {chosen}")
        if len(connections) > 2:
            raise BadInputError("--connection is given once (both files) or twice (A's, then "
                                f"B's), not {len(connections)} times")
        pair = ((connections[0], connections[-1]) if connections else (None, None))
        from tcptrace_viz.connection_triage import diff_output
        from tcptrace_viz.outputs import write_report

        traces = load_capture(first, progress), load_capture(second, progress)
        progress.phase("comparing")
        text, differ = diff_output(*traces, (str(first), str(second)), chosen,
                                   connections=pair)
        if output is None:
            click.echo(text, nl=False)
        else:
            write_report(output, text, make_folder=False)
            click.echo(f"wrote {output}")
    return ExitCode.EXPECTATION_FAILED if differ else ExitCode.OK
