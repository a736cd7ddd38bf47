"""close-unread: close() with unread data sends RST, not FIN (RFC 2525 s2.17)."""

from __future__ import annotations

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario


@scenario(
    name="close-unread",
    title="close() with unread data sends RST, not FIN (RFC 2525 s2.17)",
    teaches=(
        "Closing a socket whose receive buffer still holds unread data tells the peer that "
        "data was lost: the kernel sends RST instead of FIN (RFC 2525 section 2.17). The "
        "peer's next write fails with ECONNRESET."
    ),
    steps="S sends data C does not read; C close(); S write()",
    outcomes=(Outcome(
        "Linux",
        wire=("s2c P.", "c2s R*"),
        forbidden=("c2s F*",),
        calls=(CallOutcome("server", "send", 2, errno="ECONNRESET"),),
    ),),
    key_moments=(
        Moment("s2c P.",
               "the server's data arrives; the client's program does not read it"),
        Moment("c2s R*",
               "unread data makes close() send RST, not FIN (RFC 2525 section 2.17)"),
        Moment("server send #2",
               "the server's next send() fails with ECONNRESET"),
    ),
)
def close_unread(ctx: ScenarioContext) -> None:
    """The client closes with the server's data unread."""
    client, server = ctx.connected_pair()
    ctx.send("server", server, b"hello")
    ctx.wait_readable(client, "the client", "the server's data")
    ctx.close("client", client)
    ctx.wait_error("server", server)
    ctx.send("server", server, b"123")
