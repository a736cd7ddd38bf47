"""close-then-write: the peer closed, yet the first write succeeds; only the next one fails.

The puzzle behind the project: a TCP endpoint learns that its peer is gone only from the
peer's RST, which answers the first write.
"""

from __future__ import annotations

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario

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
    key_moments=(
        Moment("client close",
               "the client closes: its kernel sends a FIN; the server only learns \"no more "
               "data from the client\""),
        Moment("server send #1",
               "the write succeeds (3 bytes): when it was made, the server's kernel knew "
               "only of a FIN; the RST came back while send() was finishing"),
        Moment("c2s R",
               "the client's kernel has no socket for the data and answers with RST"),
        Moment("server send #2",
               "only now does a write fail: the RST arrived in CLOSE_WAIT, which Linux "
               "reports as EPIPE"),
    ),
)
def close_then_write(ctx: ScenarioContext) -> None:
    """The client closes; the server writes twice."""
    client, server = ctx.connected_pair()
    ctx.close("client", client)
    ctx.wait_fin("server", server)
    ctx.send("server", server, b"123")
    ctx.wait_error("server", server)
    ctx.send("server", server, b"456")
