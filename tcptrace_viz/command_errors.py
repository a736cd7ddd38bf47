"""The tool's exceptions, Ctrl-C and SIGTERM as one sentence on stderr and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

from tcptrace_viz import interrupts
from tcptrace_viz.errors import Interrupted, TcptraceVizError


def fail(error: TcptraceVizError) -> NoReturn:
    """Print ``error``'s sentence (or the stop signal's) and exit with its code."""
    interrupts.stop_listening()
    if isinstance(error, Interrupted):
        interrupts.release_all()
    message = (interrupts.message() if isinstance(error, Interrupted) and interrupts.received()
               else error.message)
    click.echo(f"tcptrace-viz: {message}", err=True)
    interrupts.mark_said()
    sys.exit(int(error.exit_code))


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the tool's exceptions, Ctrl-C and SIGTERM into one sentence and an exit code.

    The signal handling itself is :mod:`tcptrace_viz.interrupts`, which ``tcptrace-viz``
    installs before anything else is imported.
    """
    try:
        yield
    except TcptraceVizError as error:
        fail(error)
    except KeyboardInterrupt:
        fail(Interrupted("interrupted"))
