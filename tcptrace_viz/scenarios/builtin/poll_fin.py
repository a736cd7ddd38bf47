"""poll-fin: a FIN is detected by polling for readability and reading 0 bytes."""

from __future__ import annotations

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario


@scenario(
    name="poll-fin",
    title="a FIN is detected by polling for readability and reading 0 bytes",
    teaches=(
        "The peer's FIN makes the socket readable: poll() reports POLLIN (and POLLRDHUP when "
        "asked for), and recv() returns 0, which means end of stream. That is how a server "
        "learns, before writing, that the client has closed."
    ),
    steps="C close(); S poll(POLLIN|POLLRDHUP); S recv()",
    outcomes=(Outcome(
        "Linux",
        wire=("c2s F.",),
        calls=(CallOutcome("server", "poll", 1, ret="POLLIN|POLLRDHUP"),
               CallOutcome("server", "recv", 1, ret="0")),
    ),),
    key_moments=(
        Moment("c2s F.",
               "the client's FIN: nothing more will come from the client"),
        Moment("server poll",
               "poll() reports the socket readable: a FIN counts as something to read"),
        Moment("server recv",
               "recv() returns 0: that is how a program sees the peer's FIN"),
    ),
)
def poll_fin(ctx: ScenarioContext) -> None:
    """The server notices the FIN without writing."""
    client, server = ctx.connected_pair()
    ctx.close("client", client)
    ctx.wait_fin("server", server)
    ctx.recv("server", server)
    ctx.close("server", server)
