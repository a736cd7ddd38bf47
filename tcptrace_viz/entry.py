"""The ``tcptrace-viz`` command: signal handling first, then click and the rest.

Importing click, pandas and scapy takes a noticeable fraction of a second, so SIGINT and SIGTERM
are taken over before anything else is imported: an interrupt at any moment ends the process
with one sentence on stderr and exit code 130, never a traceback or click's "Aborted!".
"""

from __future__ import annotations

import _signal  # the interpreter's own, already loaded: the first handler costs no import

_early: list[int] = []
for _number in (_signal.SIGINT, _signal.SIGTERM):  # until interrupts.install() takes over
    _signal.signal(_number, lambda signum, _frame: _early.append(signum))

import os  # noqa: E402
import sys  # noqa: E402
from typing import NoReturn  # noqa: E402

from tcptrace_viz import interrupts  # noqa: E402

interrupts.install(_early[0] if _early else 0)

INTERRUPTED = 130  # tcptrace_viz.errors.ExitCode.INTERRUPTED, without importing it this early
STOPPED_BY_ERROR = (2, 3)  # the command failed (and said why) before the signal came


def _run(args: list[str]) -> int | str | None:
    """Parse ``args`` and run the command; return the exit code (errors are already shown)."""
    with interrupts.deferred():  # a KeyboardInterrupt inside the import machinery can be lost
        import click

        from tcptrace_viz.cli import main as group

    try:
        with group.make_context("tcptrace-viz", args) as context:
            group.invoke(context)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        interrupts.stop_listening()
        error.show()
        return error.exit_code
    except click.Abort:
        raise KeyboardInterrupt from None
    return 0


def main() -> NoReturn:
    """Run the command line; exit with its code (130 after SIGINT or SIGTERM)."""
    code: int | str | None = INTERRUPTED
    try:
        if not interrupts.received():  # a signal while this module was imported: stop now
            code = _run(sys.argv[1:])
    except SystemExit as finished:
        code = finished.code
    except KeyboardInterrupt:
        code = INTERRUPTED
    finally:
        interrupts.stop_listening()  # from here on a signal changes nothing but the exit code
        interrupts.release_all()
    if not isinstance(code, int):
        if code is not None:
            interrupts.say(str(code))
        code = 0 if code is None else 1
    if interrupts.received() and code not in STOPPED_BY_ERROR:
        code = INTERRUPTED
    if code == INTERRUPTED:
        interrupts.say(interrupts.message())
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            continue
    os._exit(code)
