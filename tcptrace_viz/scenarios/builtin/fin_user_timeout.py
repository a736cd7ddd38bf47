"""fin-user-timeout: an orphaned FIN retransmitted until TCP_USER_TIMEOUT gives up.

The client sets TCP_USER_TIMEOUT to 1 s and closes.  Every FIN it sends is lost here, so its
kernel retransmits the FIN with a growing interval until the second is up, then drops the
connection.  The server never saw a FIN: it is still ESTABLISHED, and its next data meets a
client with no socket for it, which answers with an RST.
"""

from __future__ import annotations

import socket

from tcptrace_viz.scenarios.api import (
    CallOutcome,
    LossRule,
    Moment,
    Outcome,
    ScenarioContext,
    scenario,
)

USER_TIMEOUT_MS = 1000


@scenario(
    name="fin-user-timeout",
    title="every FIN is lost: TCP_USER_TIMEOUT ends the orphan, the peer's data gets an RST",
    teaches=(
        "A FIN must be acknowledged like data, so a lost FIN is retransmitted, each time after "
        "twice the wait. TCP_USER_TIMEOUT bounds how long unacknowledged data (or a FIN) may "
        f"wait: here {USER_TIMEOUT_MS} ms, after which the kernel drops the closed, orphaned "
        "connection without a word. The server never received a FIN, so it still thinks the "
        "connection open; its next data is answered with an RST."
    ),
    steps=f"C setsockopt(TCP_USER_TIMEOUT, {USER_TIMEOUT_MS}); C close(); every client FIN is "
          "lost; the client's socket goes; S send() \"late\"",
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s F.", "c2s F.", "c2s F.", "s2c P.", "c2s R"),
            forbidden=("s2c F*",),
            states=("client FIN_WAIT1",),
            calls=(CallOutcome("server", "send", 1, ret="4"),),
        ),
    ),
    key_moments=(
        Moment("client close", f"the client closes with TCP_USER_TIMEOUT = {USER_TIMEOUT_MS} ms"),
        Moment("c2s F. #2", "the FIN was lost: it is retransmitted, each time later"),
        Moment("server send", "the server never saw a FIN and sends data"),
        Moment("c2s R", "the client's socket is gone: its kernel answers with an RST"),
    ),
    losses=(LossRule("client", "F", count=0),),
    waits_s=USER_TIMEOUT_MS / 1000,
)
def fin_user_timeout(ctx: ScenarioContext) -> None:
    """Close with a short user timeout while every FIN is lost, then send from the server."""
    client, server = ctx.connected_pair()
    port = client.getsockname()[1]
    ctx.call("client", "setsockopt", client.setsockopt, socket.IPPROTO_TCP,
             socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS,
             shown_args=f"TCP_USER_TIMEOUT {USER_TIMEOUT_MS}", show=lambda _: "0")
    ctx.close("client", client)
    ctx.wait_socket_gone(lambda entry: entry.local.endswith(f":{port}"),
                         "the client's socket")
    ctx.send("server", server, b"late")
    ctx.wait_error("server", server)
