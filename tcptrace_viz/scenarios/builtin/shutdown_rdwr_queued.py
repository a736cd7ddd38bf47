"""shutdown-rdwr-queued: SHUT_RDWR with data still queued; the FIN leaves with the last data.

The receiver's small buffer holds the sender back, so send() queues data the peer has not yet
acknowledged; shutdown(SHUT_RDWR) then queues the FIN behind it.  Nothing is discarded: the
data drains as the receiver reads, and the last segment carries the FIN (``FP.``).
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

RECEIVER_BUFFER = 4096


@scenario(
    name="shutdown-rdwr-queued",
    title="shutdown(SHUT_RDWR) with data still queued: the FIN leaves with the last data (FP.)",
    teaches=(
        "shutdown() does not throw queued data away: the FIN is queued behind it and leaves "
        "on the last data segment (flags FP.). The receiver reads every byte send() accepted, "
        "then 0. Only close() with unread received data, or SO_LINGER {1, 0}, discards."
    ),
    steps="S small receive buffer; C send()s until the buffer is full; C shutdown(SHUT_RDWR); "
          "S reads to the end",
    parameters=(Parameter("bytes", "size", 64 << 10, "what the client writes before shutdown",
                          minimum=8 << 10, maximum=16 << 20),),
    burst_bytes=lambda params: int(params["bytes"]),
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s FP.",),
            forbidden=("c2s R*", "s2c R*"),
            calls=(CallOutcome("client", "shutdown", 1, ret="0"),
                   CallOutcome("server", "recv", -1, ret="0")),
        ),
    ),
    key_moments=(
        Moment("client shutdown",
               "shutdown(SHUT_RDWR) while data is still queued: the FIN waits behind it"),
        Moment("c2s FP.", "the last data segment carries the FIN"),
        Moment("server recv #last", "the server read every byte, then 0: nothing was lost"),
    ),
)
def shutdown_rdwr_queued(ctx: ScenarioContext) -> None:
    """Fill the path, shut down both ways, read everything on the server."""
    client, server = ctx.connected_pair(rcvbuf=RECEIVER_BUFFER)
    client.setblocking(False)  # send() accepts what fits and no more
    wanted, accepted = int(ctx.params["bytes"]), 0
    while accepted < wanted:
        try:
            sent = ctx.send("client", client, b"x" * min(16384, wanted - accepted))
        except BlockingIOError:
            break
        accepted += sent or 0
    ctx.shutdown("client", client, socket.SHUT_RDWR)
    delivered = 0
    while True:
        ctx.wait_readable(server, "the server", "data or the FIN")
        data = ctx.recv("server", server, 1 << 20)
        if not data:
            break
        delivered += len(data)
    ctx.facts["bytes_accepted"], ctx.facts["bytes_delivered"] = accepted, delivered
