"""fin-wait2-linger2: TCP_LINGER2 bounds how long an orphaned FIN_WAIT2 waits for the peer.

The client closes with TCP_LINGER2 set to 1 s; the server acknowledges the FIN but keeps its
side open.  The kernel hands the orphaned connection to a timewait mini-socket in its FIN_WAIT2
substate (the state tracepoint shows the full socket closing at once; the socket table still
lists the connection in FIN_WAIT2).  One second later the mini-socket is gone, and the server's
late data is answered with an RST.
"""

from __future__ import annotations

import socket
import time

from tcptrace_viz.scenarios.api import (
    CallOutcome,
    Moment,
    Outcome,
    ScenarioContext,
    scenario,
)

LINGER2_S = 1


@scenario(
    name="fin-wait2-linger2",
    title="TCP_LINGER2 = 1 s: the orphaned FIN_WAIT2 gives up, the peer's late data gets an RST",
    teaches=(
        "After close() the client waits in FIN_WAIT2 for the server's FIN, but no program owns "
        "the socket any more: TCP_LINGER2 (else net.ipv4.tcp_fin_timeout, 60 s) bounds that "
        "wait. Linux hands the orphan to a small timewait socket that still answers as "
        "FIN_WAIT2 (the socket table lists it; the state tracepoint only sees the full socket "
        "close). When the timeout ends it is gone without a segment: the server, still in "
        "CLOSE_WAIT, learns it only when its late data is answered with an RST."
    ),
    steps=f"C setsockopt(TCP_LINGER2, {LINGER2_S}); C close(); S recv() = 0; "
          f"the client's FIN_WAIT2 ends after {LINGER2_S} s; S send() \"late\"",
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s F.", "s2c .", "s2c P.", "c2s R"),
            forbidden=("s2c F*",),
            states=("client FIN_WAIT2", "server CLOSE_WAIT"),
            calls=(CallOutcome("server", "recv", 1, ret="0"),
                   CallOutcome("server", "send", 1, ret="4")),
        ),
    ),
    key_moments=(
        Moment("client close", f"the client closes: an orphan, kept in FIN_WAIT2 for at most "
                               f"TCP_LINGER2 = {LINGER2_S} s"),
        Moment("server CLOSE_WAIT", "the server reads the FIN but does not close"),
        Moment("server send", "the server's late data finds no socket: the FIN_WAIT2 ended "
                              "silently"),
        Moment("c2s R", "the client's kernel answers with an RST"),
    ),
    waits_s=float(LINGER2_S),
)
def fin_wait2_linger2(ctx: ScenarioContext) -> None:
    """Close with a short TCP_LINGER2, wait until the FIN_WAIT2 is gone, then send late data."""
    client, server = ctx.connected_pair()
    port = client.getsockname()[1]
    ctx.call("client", "setsockopt", client.setsockopt, socket.IPPROTO_TCP, socket.TCP_LINGER2,
             LINGER2_S, shown_args=f"TCP_LINGER2 {LINGER2_S}", show=lambda _: "0")
    ctx.close("client", client)
    ctx.wait_fin("server", server)
    ctx.recv("server", server)
    ctx.wait_socket_table(lambda entry: entry.state == "FIN_WAIT2"
                          and entry.local.endswith(f":{port}"), "the client's FIN_WAIT2")
    seen = time.monotonic()
    ctx.wait_socket_gone(lambda entry: entry.local.endswith(f":{port}"),
                         "the client's FIN_WAIT2")
    ctx.facts["note"] = (f"the socket table listed the client's port in FIN_WAIT2 (a timewait "
                         f"mini-socket) after close(), then no more "
                         f"{(time.monotonic() - seen) * 1000:.0f} ms later")
    ctx.send("server", server, b"late")
    ctx.wait_error("server", server)
