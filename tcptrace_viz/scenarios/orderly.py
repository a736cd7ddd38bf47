"""Orderly closes: half-close with shutdown(), detecting FIN, TIME_WAIT."""

from __future__ import annotations

from tcptrace_viz.scenarios.context import ScenarioContext
from tcptrace_viz.scenarios.expectation import CallOutcome, Outcome
from tcptrace_viz.scenarios.registry import scenario


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
)
def poll_fin(ctx: ScenarioContext) -> None:
    """The server notices the FIN without writing."""
    client, server = ctx.connected_pair()
    ctx.close("client", client)
    ctx.wait_fin("server", server)
    ctx.recv("server", server)
    ctx.close("server", server)


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
)
def server_shutdown(ctx: ScenarioContext) -> None:
    """The server shuts down its own sending side, then tries to send."""
    _client, server = ctx.connected_pair()
    ctx.shutdown("server", server)
    ctx.send("server", server, b"123")


@scenario(
    name="time-wait",
    title="the side that closes first holds TIME_WAIT",
    teaches=(
        "In an ordinary close the active closer (the side that sends the first FIN) ends in "
        "TIME_WAIT for 2*MSL, so late segments of this connection cannot be mistaken for a new "
        "one; the passive closer goes through CLOSE_WAIT and LAST_ACK to CLOSE. The kernel's "
        "tracepoint never reports TIME_WAIT: it is read from the namespace's socket table."
    ),
    steps="C close(); S recv() = 0; S close()",
    outcomes=(Outcome(
        "Linux",
        wire=("c2s F.", "s2c F.", "c2s ."),
        forbidden=("c2s R*", "s2c R*"),
        states=("client TIME_WAIT", "server LAST_ACK", "server CLOSE_WAIT"),
    ),),
)
def time_wait(ctx: ScenarioContext) -> None:
    """Client closes, server closes after reading the FIN; the client holds TIME_WAIT."""
    client, server = ctx.connected_pair()
    local = client.getsockname()
    ctx.close("client", client)
    ctx.wait_fin("server", server)
    ctx.recv("server", server)
    ctx.close("server", server)
    port = local[1]
    ctx.wait_socket_table(lambda entry: entry.state == "TIME_WAIT"
                          and entry.local.endswith(f":{port}"), "the client's TIME_WAIT")
