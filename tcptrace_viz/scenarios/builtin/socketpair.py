"""socketpair: one kernel knows both ends, so a send after the other end closed fails at once."""

from __future__ import annotations

import socket

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario


@scenario(
    name="socketpair",
    title="AF_UNIX socketpair: send after the other end closed fails at once with EPIPE",
    teaches=(
        "A socketpair lives in one kernel, which knows both ends. After one end is closed, a "
        "send on the other fails immediately with EPIPE: no packets, no waiting for the peer "
        "to answer. Compare with close-then-write, where TCP only learns from the wire."
    ),
    steps="AF_UNIX socketpair; close one end; send on the other",
    outcomes=(Outcome("Linux", calls=(CallOutcome("writer", "send", 1, errno="EPIPE"),)),),
    wire=False,
    sides=("writer", "reader"),
    key_moments=(
        Moment("reader close",
               "one end of the socketpair is closed"),
        Moment("writer send",
               "an AF_UNIX socket knows its peer: the send fails at once with EPIPE, no "
               "packet involved"),
    ),
)
def socketpair(ctx: ScenarioContext) -> None:
    """Close one end of a socketpair, send on the other."""
    pair = ctx.call("writer", "socketpair", socket.socketpair, socket.AF_UNIX,
                    socket.SOCK_STREAM, shown_args="AF_UNIX, SOCK_STREAM",
                    show=lambda p: f"[fd {p[0].fileno()}, fd {p[1].fileno()}]")
    writer, reader = pair
    ctx.close("reader", reader)
    ctx.send("writer", writer, b"123")
    writer.close()
