"""Exit codes and the exceptions that carry them.

Every error a user can cause or meet (bad input, missing privilege, a kernel feature that is
absent, a scenario that timed out) is one of these exceptions.  The CLI turns it into one
sentence on stderr and the exit code it carries; nothing else prints a traceback.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes, as documented in ``tcptrace-viz --help``."""

    OK = 0
    EXPECTATION_FAILED = 1  # the kernel behaved differently from the scenario's expectation
    BAD_INPUT = 2  # usage error or unreadable input file
    MISSING_PRIVILEGE = 3  # not root, no namespaces, no tracefs, ...
    INTERRUPTED = 130  # Ctrl-C or SIGTERM


class TcptraceVizError(Exception):
    """Base class: a one-sentence message for the user plus an exit code."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInputError(TcptraceVizError):
    """A file or argument the tool cannot use (exit code 2)."""

    exit_code = ExitCode.BAD_INPUT


class PrivilegeError(TcptraceVizError):
    """A privilege or kernel feature is missing (exit code 3)."""

    exit_code = ExitCode.MISSING_PRIVILEGE


class ScenarioError(TcptraceVizError):
    """A scenario step failed unexpectedly or timed out waiting for the kernel (exit code 1)."""

    exit_code = ExitCode.EXPECTATION_FAILED


class Interrupted(TcptraceVizError):
    """The run was interrupted by SIGINT or SIGTERM (exit code 130)."""

    exit_code = ExitCode.INTERRUPTED
