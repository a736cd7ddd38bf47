"""time-wait: in an ordinary close the side that closes first holds TIME_WAIT."""

from __future__ import annotations

from tcptrace_viz.scenarios.api import Moment, Outcome, ScenarioContext, scenario


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
    key_moments=(
        Moment("client close",
               "the client closes first: it is the active closer"),
        Moment("server CLOSE_WAIT",
               "the server's socket waits in CLOSE_WAIT until its program closes too"),
        Moment("client TIME_WAIT",
               "the active closer holds TIME_WAIT, so late segments of this connection are "
               "not mistaken for a new one"),
    ),
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
