"""listener-close-queued: the listener is closed with a connection waiting to be accepted.

The handshake of a connection completes in the kernel before the program calls accept(); the
connection waits in the listener's accept queue.  Closing the listener resets every connection
still waiting there: the client, which thought itself connected, gets an RST.
"""

from __future__ import annotations

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario


@scenario(
    name="listener-close-queued",
    title="the listener closes with a connection in its accept queue: that connection is reset",
    teaches=(
        "connect() succeeds as soon as the kernel has done the handshake, before the server "
        "program accepts. Closing the listening socket resets the connections still waiting in "
        "its accept queue: the client's next recv() fails with ECONNRESET."
    ),
    steps="S listen(); C connect(); S close() the listener without accept(); C recv()",
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s S", "s2c S.", "c2s .", "s2c R*"),
            calls=(CallOutcome("client", "connect", 1, ret="0"),
                   CallOutcome("client", "recv", 1, errno="ECONNRESET")),
        ),
    ),
    key_moments=(
        Moment("client connect", "connect() returns 0: the kernel finished the handshake; "
                                 "nobody has called accept() yet"),
        Moment("server close", "the program closes the listening socket"),
        Moment("s2c R*", "the waiting connection is reset"),
        Moment("client recv", "the client learns it only now: ECONNRESET"),
    ),
)
def listener_close_queued(ctx: ScenarioContext) -> None:
    """Connect, close the listener unaccepted, read on the client."""
    listener = ctx.listen()
    client = ctx.connect()
    ctx.call("server", "close", listener.close, shown_args="listening socket",
             show=lambda _: "0")
    ctx.wait_error("client", client)
    ctx.recv("client", client)
