"""question: the original question's program, forked client and server synchronised by pauses."""

from __future__ import annotations

import os
import time

from tcptrace_viz.scenarios.api import (
    CallOutcome,
    Moment,
    Outcome,
    ScenarioContext,
    fork_child,
    join_child,
    scenario,
)

#: The original program's pauses, shortened from seconds to a fraction of one.
QUESTION_PAUSE_S = 0.2


@scenario(
    name="question",
    title="the original question's program: forked client and server, pauses, write after close",
    teaches=(
        "The program from the original question: a forked client connects and closes; a forked "
        "server accepts, pauses, then writes. The write returns 3: the data was accepted by the "
        "kernel and sent, and only the peer's RST tells the server the other end is gone. A "
        "second write after the pause fails with EPIPE."
    ),
    steps="fork client and server; C connect(), close(); S accept(), pause, write() \"123\", "
          "pause, write() \"123\"",
    outcomes=(Outcome(
        "Linux",
        wire=("c2s F.", "s2c P.", "c2s R"),
        calls=(CallOutcome("server", "write", 1, ret="3"),
               CallOutcome("server", "write", 2, errno="EPIPE")),
    ),),
    key_moments=(
        Moment("client close",
               "the client closes: a FIN goes to the server"),
        Moment("server write #1",
               "the server's write succeeds: a FIN says only that the client sends no more"),
        Moment("c2s R",
               "the client's kernel answers the data with RST"),
        Moment("server write #2",
               "the next write fails with EPIPE: the kernel has seen the RST"),
    ),
    waits_s=2 * QUESTION_PAUSE_S,
)
def question(ctx: ScenarioContext) -> None:
    """Two forked processes, synchronised the way the original was: by pauses."""
    listener = ctx.listen()

    def client_process() -> None:
        time.sleep(QUESTION_PAUSE_S / 2)  # the original client's sleep(1) before connecting
        client = ctx.connect()
        ctx.close("client", client)

    def server_process() -> None:
        server = ctx.accept(listener)
        time.sleep(QUESTION_PAUSE_S)  # the original server's sleep(60)
        fd = server.fileno()
        ctx.call("server", "write", os.write, fd, b"123", shown_args="b'123'")
        time.sleep(QUESTION_PAUSE_S)
        ctx.call("server", "write", os.write, fd, b"123", shown_args="b'123'")
        ctx.close("server", server)

    client = fork_child(ctx, client_process)
    server = fork_child(ctx, server_process)
    join_child(ctx, client)
    join_child(ctx, server)
    ctx.close_quietly(listener)
