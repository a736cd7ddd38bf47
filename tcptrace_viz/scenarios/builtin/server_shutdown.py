"""server-shutdown: a write after one's own shutdown(SHUT_WR) fails at once with EPIPE."""

from __future__ import annotations

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario


@scenario(
    name="server-shutdown",
    title="a write after one's own shutdown(SHUT_WR) fails at once with EPIPE",
    teaches=(
        "After its own shutdown(SHUT_WR) a socket may not send: the write fails immediately "
        "with EPIPE and nothing new goes on the wire."
    ),
    steps="S shutdown(SHUT_WR); S send()",
    outcomes=(Outcome(
        "Linux",
        wire=("s2c F.",),
        forbidden=("s2c P*",),
        calls=(CallOutcome("server", "send", 1, errno="EPIPE"),),
    ),),
    key_moments=(
        Moment("server shutdown",
               "the server shuts down its own sending side: its FIN goes out"),
        Moment("server send",
               "writing after one's own shutdown(SHUT_WR) fails at once with EPIPE; nothing "
               "goes on the wire"),
    ),
)
def server_shutdown(ctx: ScenarioContext) -> None:
    """The server shuts down its own sending side, then tries to send."""
    _client, server = ctx.connected_pair()
    ctx.shutdown("server", server)
    ctx.send("server", server, b"123")
