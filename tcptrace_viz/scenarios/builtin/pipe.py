"""pipe: a write after the read end closed fails with EPIPE, or SIGPIPE kills the writer."""

from __future__ import annotations

import os

from tcptrace_viz.scenarios.api import (
    CallOutcome,
    Moment,
    Outcome,
    ScenarioContext,
    fork_child,
    join_child,
    scenario,
)


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
    key_moments=(
        Moment("reader close",
               "the reading end is closed"),
        Moment("writer write #1",
               "a pipe knows its reader is gone: the write fails at once with EPIPE"),
        Moment("writer write #2",
               "with SIGPIPE at its default, the write kills the writer instead"),
    ),
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
