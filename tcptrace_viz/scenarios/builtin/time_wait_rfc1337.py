"""time-wait-rfc1337: with tcp_rfc1337 = 1 TIME_WAIT ignores the RST and outlives the hazard.

The steps of :mod:`time_wait_assassination`, with ``net.ipv4.tcp_rfc1337 = 1``: the RST the
old duplicate drew from the server's kernel is dropped by the TIME_WAIT socket (RFC 1337's fix
1), so the second copy of the old segment is absorbed the same way, answered with an ACK, not
an RST.
"""

from __future__ import annotations

from tcptrace_viz.scenarios.api import Moment, Outcome, ScenarioContext, scenario
from tcptrace_viz.scenarios.builtin.time_wait_assassination import (
    CALLS,
    FIRST_MOMENTS,
    STATES,
    STEPS,
    SYSCTLS,
    old_duplicate_twice,
)


@scenario(
    name="time-wait-rfc1337",
    title="tcp_rfc1337 = 1: TIME_WAIT ignores the RST and absorbs the old duplicates",
    teaches=(
        "The same old duplicate as in time-wait-assassination, with net.ipv4.tcp_rfc1337 = 1: "
        "TIME_WAIT still answers it with an ACK and the server's kernel still answers that with "
        "an RST, but TIME_WAIT now ignores RSTs (RFC 1337's first fix), so it survives, and "
        "the second copy is absorbed exactly like the first: ACK, RST, and no RST from the "
        "client. TIME_WAIT does its job for its whole 60 s."
    ),
    steps=STEPS,
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s F.", "s2c F.", "c2s .", "s2c .", "c2s .", "s2c R", "s2c .", "c2s .",
                  "s2c R"),
            forbidden=("c2s R*",),
            states=STATES,
            calls=CALLS,
        ),
    ),
    key_moments=(
        *FIRST_MOMENTS,
        Moment("s2c R", "the server's kernel resets, but tcp_rfc1337 = 1: TIME_WAIT ignores "
                        "the RST"),
        Moment("server inject #2", "the second copy arrives"),
        Moment("c2s . #4", "TIME_WAIT is still there: it answers with an ACK again, not an "
                           "RST"),
    ),
    sysctls={"net.ipv4.tcp_rfc1337": "1", **SYSCTLS},
)
def time_wait_rfc1337(ctx: ScenarioContext) -> None:
    """The steps of time-wait-assassination: only the setting differs."""
    old_duplicate_twice(ctx)
