"""shutdown-read: shutdown(SHUT_RD), then the peer writes; Linux still ACKs and delivers.

packetdrill's close tests pin this down: SHUT_RD sends nothing, and Linux (unlike some other
stacks) neither discards nor resets data that arrives afterwards.
"""

from __future__ import annotations

import socket

from tcptrace_viz.scenarios.api import (
    CallOutcome,
    Moment,
    Outcome,
    Parameter,
    ScenarioContext,
    scenario,
)


@scenario(
    name="shutdown-read",
    title="the client shuts down reading; the server's data is still ACKed and delivered",
    teaches=(
        "shutdown(SHUT_RD) sends nothing on the wire and does not stop the peer: Linux still "
        "ACKs the server's data and a later recv() returns it. No RST, unlike a close() with "
        "data unread."
    ),
    steps="C shutdown(SHUT_RD); S write(); C recv()",
    parameters=(Parameter("payload", "size", 3, "bytes the server writes", minimum=1,
                          maximum=65536),),
    outcomes=(
        Outcome(
            "Linux",
            wire=("s2c P.", "c2s ."),  # the data, then the client's ACK for it
            forbidden=("c2s R*",),  # no reset: the socket still exists
            calls=(CallOutcome("client", "shutdown", 1, ret="0"),
                   CallOutcome("server", "send", 1, ret="{payload}")),
        ),
    ),
    key_moments=(
        Moment("client shutdown", "SHUT_RD: the client will read no more; nothing is sent"),
        Moment("s2c P.", "the server's data arrives anyway"),
        Moment("c2s .", "and the client's kernel ACKs it: no RST"),
    ),
)
def shutdown_read(ctx: ScenarioContext) -> None:
    """Shut the client's reading side, let the server write, then read."""
    client, server = ctx.connected_pair()
    ctx.shutdown("client", client, socket.SHUT_RD)
    size = int(ctx.params["payload"])
    ctx.send("server", server, b"x" * size)
    ctx.wait_readable(client, "the client", "the server's data")
    data = ctx.recv("client", client)
    ctx.facts["note"] = f"after SHUT_RD the client's recv() returned {len(data or b'')} bytes"
