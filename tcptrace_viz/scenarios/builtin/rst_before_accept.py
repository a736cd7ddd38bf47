"""rst-before-accept: the client sends data and resets before the server accepts.

accept() does not fail for a connection that was reset while it waited in the queue: the
server gets the socket, reads the data that had arrived, and only then sees ECONNRESET.
"""

from __future__ import annotations

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario


@scenario(
    name="rst-before-accept",
    title="data, then an RST, before accept(): accept() succeeds, the data is read, then reset",
    teaches=(
        "A connection reset while it waits in the accept queue is still handed to accept(). "
        "Linux keeps the data that arrived before the RST: recv() returns it first, and the "
        "next recv() fails with ECONNRESET."
    ),
    steps="S listen(); C connect(); C send() \"hello\"; C close() with SO_LINGER {1, 0}; "
          "S accept(); S recv() twice",
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s P.", "c2s R*"),
            calls=(CallOutcome("server", "accept", 1),
                   CallOutcome("server", "recv", 1, ret="5"),
                   CallOutcome("server", "recv", 2, errno="ECONNRESET")),
        ),
    ),
    key_moments=(
        Moment("c2s R*", "the client resets the connection before the server accepted it"),
        Moment("server accept", "accept() still returns the connection"),
        Moment("server recv #1", "the data that arrived before the RST is read first"),
        Moment("server recv #2", "then the reset: ECONNRESET"),
    ),
)
def rst_before_accept(ctx: ScenarioContext) -> None:
    """Send and reset on the client, then accept and read twice on the server."""
    listener = ctx.listen()
    client = ctx.connect()
    ctx.send("client", client, b"hello")
    ctx.set_linger_zero("client", client)
    ctx.close("client", client)
    server = ctx.accept(listener)
    ctx.recv("server", server)
    ctx.recv("server", server)
