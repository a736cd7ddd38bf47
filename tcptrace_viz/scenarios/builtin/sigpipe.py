"""sigpipe: close-then-write without MSG_NOSIGNAL, so the second write dies of SIGPIPE."""

from __future__ import annotations

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
    key_moments=(
        Moment("client close",
               "the client closes: a FIN goes to the server"),
        Moment("server send #1",
               "the first write succeeds: the kernel only knows of a FIN"),
        Moment("c2s R",
               "the client's kernel answers the data with RST"),
        Moment("server send #2",
               "the next write raises SIGPIPE, whose default action kills the process"),
    ),
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
