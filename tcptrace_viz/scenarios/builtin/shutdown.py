"""shutdown: a half-close sends FIN but keeps reading, so the peer's data is delivered."""

from __future__ import annotations

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario


@scenario(
    name="shutdown",
    title="shutdown(SHUT_WR) sends FIN but keeps reading: the peer's data is delivered",
    teaches=(
        "shutdown(SHUT_WR) sends the same FIN as close(), but the socket still exists and still "
        "reads. The server's later data is delivered and ACKed, not reset: the peer cannot tell "
        "from the FIN alone whether the other side closed or only half-closed."
    ),
    steps="C shutdown(SHUT_WR); S write(); C reads",
    outcomes=(Outcome(
        "Linux",
        wire=("c2s F.", "s2c P.", "c2s ."),
        forbidden=("c2s R*", "s2c R*"),
        calls=(CallOutcome("server", "send", 1, ret="3"),
               CallOutcome("client", "recv", 1, ret="3")),
    ),),
    key_moments=(
        Moment("client shutdown",
               "shutdown(SHUT_WR) sends the same FIN as close(), but the socket stays open "
               "for reading"),
        Moment("server send #1",
               "the server's write succeeds and is delivered"),
        Moment("client recv #1",
               "the client still reads the bytes: no RST, because its socket exists"),
    ),
)
def shutdown(ctx: ScenarioContext) -> None:
    """Half-close, data flows the other way, then both close in order."""
    client, server = ctx.connected_pair()
    ctx.shutdown("client", client)
    ctx.wait_fin("server", server)
    ctx.send("server", server, b"123")
    ctx.poll("client", client, 1, "the server's data")
    ctx.recv("client", client)
    ctx.close("server", server)
    ctx.wait_fin("client", client)
    ctx.recv("client", client)
    ctx.close("client", client)
