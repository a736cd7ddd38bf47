"""Pipes and socketpairs: the other end is known, so a write after its close fails at once."""

from __future__ import annotations

import os
import socket

from tcptrace_viz.scenarios.context import ScenarioContext, fork_child, join_child
from tcptrace_viz.scenarios.expectation import CallOutcome, Outcome
from tcptrace_viz.scenarios.registry import scenario


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


@scenario(
    name="pipe",
    title="pipe: write after the read end closed gives EPIPE, or kills the writer with SIGPIPE",
    teaches=(
        "A pipe's writer learns at once that the reader is gone: write() fails with EPIPE when "
        "SIGPIPE is ignored, and with the default disposition the kernel kills the writer with "
        "SIGPIPE (signal 13) instead. That is why servers ignore SIGPIPE or use MSG_NOSIGNAL."
    ),
    steps="pipe(); close read end; write (SIGPIPE ignored); write again in a child with "
          "SIGPIPE at its default",
    outcomes=(Outcome("Linux", calls=(
        CallOutcome("writer", "write", 1, errno="EPIPE"),
        CallOutcome("writer", "write", 2, errno=None, signal="SIGPIPE"),
    )),),
    wire=False,
    sides=("writer", "reader"),
)
def pipe(ctx: ScenarioContext) -> None:
    """EPIPE with SIGPIPE ignored, then death by SIGPIPE with the default disposition."""
    read_end, write_end = ctx.call("writer", "pipe", os.pipe, shown_args="",
                                   show=lambda fds: f"[fd {fds[0]}, fd {fds[1]}]")
    ctx.call("reader", "close", os.close, read_end, shown_args=f"fd {read_end}",
             show=lambda _: "0")
    ctx.call("writer", "write", os.write, write_end, b"123",
             shown_args=f"fd {write_end}, b'123'")

    def write_with_default_sigpipe() -> None:
        ctx.call("writer", "write", os.write, write_end, b"123",
                 shown_args=f"fd {write_end}, b'123'")

    child = fork_child(ctx, write_with_default_sigpipe, restore_sigpipe=True)
    join_child(ctx, child, fatal_call=("writer", "write", f"fd {write_end}, b'123'"))
    os.close(write_end)
