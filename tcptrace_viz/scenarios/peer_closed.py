"""Writing to a TCP socket whose peer already called close(): the puzzle behind the project."""

from __future__ import annotations

import os
import time

from tcptrace_viz.scenarios.context import ScenarioContext, fork_child, join_child
from tcptrace_viz.scenarios.expectation import CallOutcome, Outcome
from tcptrace_viz.scenarios.registry import scenario

#: The original program's pauses, shortened from seconds to a fraction of one.
QUESTION_PAUSE_S = 0.2

_LINUX_CLOSE_THEN_WRITE = Outcome(
    "Linux",
    wire=("c2s F.", "s2c P.", "c2s R"),
    calls=(CallOutcome("server", "send", 1, ret="3"),
           CallOutcome("server", "send", 2, errno="EPIPE")),
    states=("server CLOSE_WAIT", "client FIN_WAIT2"),
)


@scenario(
    name="close-then-write",
    title="peer closed, first write succeeds, RST comes back, second write fails with EPIPE",
    teaches=(
        "A TCP endpoint only knows what the wire has told it. After the client's close() the "
        "server's socket sits in CLOSE_WAIT; its write is accepted and leaves as a PSH segment. "
        "The client's socket is gone, so the client's kernel answers with RST. Only the write "
        "after that RST fails (EPIPE on Linux: an RST received in CLOSE_WAIT maps to EPIPE)."
    ),
    steps="C connects; C close(); S write() \"123\"; S write() again",
    outcomes=(_LINUX_CLOSE_THEN_WRITE,),
)
def close_then_write(ctx: ScenarioContext) -> None:
    """The client closes; the server writes twice."""
    client, server = ctx.connected_pair()
    ctx.close("client", client)
    ctx.wait_fin("server", server)
    ctx.send("server", server, b"123")
    ctx.wait_error("server", server)
    ctx.send("server", server, b"456")


@scenario(
    name="sigpipe",
    title="as close-then-write, but without MSG_NOSIGNAL: the writer dies of SIGPIPE",
    teaches=(
        "Without MSG_NOSIGNAL and with SIGPIPE at its default disposition, the write that would "
        "return EPIPE instead kills the process with signal 13 (SIGPIPE). The first write, "
        "before the peer's RST, still succeeds."
    ),
    steps="like close-then-write, the second write in a child process with SIGPIPE at SIG_DFL",
    outcomes=(Outcome(
        "Linux",
        wire=("c2s F.", "s2c P.", "c2s R"),
        calls=(CallOutcome("server", "send", 1, ret="3"),
               CallOutcome("server", "send", 2, errno=None, signal="SIGPIPE")),
    ),),
)
def sigpipe(ctx: ScenarioContext) -> None:
    """The second write happens in a child whose SIGPIPE disposition is the default."""
    client, server = ctx.connected_pair()
    ctx.close("client", client)
    ctx.wait_fin("server", server)
    ctx.send("server", server, b"123", flags=0)
    ctx.wait_error("server", server)

    def write_again() -> None:
        ctx.send("server", server, b"456", flags=0)

    child = fork_child(ctx, write_again, restore_sigpipe=True)
    join_child(ctx, child, fatal_call=("server", "send", "b'456'"))


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
