"""linger0: SO_LINGER {1, 0} makes close() send RST; the peer's send fails, ECONNRESET."""

from __future__ import annotations

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario


@scenario(
    name="linger0",
    title="SO_LINGER {1, 0}: close() sends RST at once; the peer's send fails with ECONNRESET",
    teaches=(
        "With SO_LINGER {on, 0 s}, close() aborts the connection: the kernel sends RST instead "
        "of FIN (the trace shows the kernel's reason) and the socket is gone at once, no "
        "TIME_WAIT. The peer's next send() fails with ECONNRESET, not EPIPE."
    ),
    steps="C sets SO_LINGER {1, 0}; C close(); S send()",
    outcomes=(Outcome(
        "Linux",
        wire=("c2s R*",),
        forbidden=("c2s F*",),
        calls=(CallOutcome("server", "send", 1, errno="ECONNRESET"),),
    ),),
    key_moments=(
        Moment("client setsockopt",
               "SO_LINGER {1, 0}: close() will abort the connection instead of ending it"),
        Moment("c2s R*",
               "close() sends RST at once, no FIN"),
        Moment("server send",
               "the server's send() fails with ECONNRESET (not EPIPE): an RST arrived on an "
               "open connection"),
    ),
)
def linger0(ctx: ScenarioContext) -> None:
    """Abortive close by the client."""
    client, server = ctx.connected_pair()
    ctx.set_linger_zero("client", client)
    ctx.close("client", client)
    ctx.wait_error("server", server)
    ctx.send("server", server, b"123")
