"""Option groups several commands share: which connections, and how the reports are drawn.

Each function adds its options to a click command (a decorator); the command receives them as
keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


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
    return click.option("--port", "-p", type=int, default=None,
                        help="Only connections using this TCP port.")(function)
