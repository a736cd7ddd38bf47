"""linger0-data-loss: an abortive close discards what is still queued; bytes are counted."""

from __future__ import annotations

import select
import socket

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario

BURST_CHUNK = 256 * 1024
RECEIVER_BUFFER = 64 * 1024  # small, so most of the burst waits in the sender's queue
SENDER_BUFFER = 4 * 1024 * 1024


@scenario(
    name="linger0-data-loss",
    title="an RST throws away data still queued: fewer bytes delivered than send() accepted",
    teaches=(
        "send() returning a byte count only means the kernel accepted the bytes into its send "
        "buffer. An abortive close (SO_LINGER 0) discards everything still queued there, so the "
        "receiver gets far fewer bytes than the sender's send() calls reported, then "
        "ECONNRESET. Whether data already in the receiver's buffer survives depends on the "
        "kernel: the report records what this one did."
    ),
    steps="C write()s a large burst; C close() with SO_LINGER {1, 0}; S reads until error",
    outcomes=(Outcome(
        "Linux",
        wire=("c2s R*",),
        forbidden=("c2s F*",),
        calls=(CallOutcome("server", "recv", -1, errno="ECONNRESET"),),
    ),),
    key_moments=(
        Moment("client setsockopt",
               "close() with SO_LINGER {1, 0}: everything still queued is thrown away"),
        Moment("c2s R*",
               "the RST ends the connection; the bytes send() had accepted but not yet "
               "delivered are lost"),
        Moment("server recv #last",
               "the server reads what arrived, then ECONNRESET"),
    ),
)
def linger0_data_loss(ctx: ScenarioContext) -> None:
    """Fill the client's send queue, abort, and count what arrives."""
    client, server = ctx.connected_pair(rcvbuf=RECEIVER_BUFFER)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SENDER_BUFFER)
    client.setblocking(False)
    accepted = 0
    while True:
        sent = ctx.send("client", client, b"x" * BURST_CHUNK)
        if sent is None:  # EAGAIN: the send buffer is full
            break
        accepted += sent
    client.setblocking(True)
    ctx.set_linger_zero("client", client)
    ctx.close("client", client)
    delivered = 0
    while True:
        ctx.poll("server", server, select.POLLIN, "data or the RST")
        data = ctx.recv("server", server, 1024 * 1024)
        if not data:
            break
        delivered += len(data)
    ctx.facts["bytes_accepted"] = accepted
    ctx.facts["bytes_delivered"] = delivered
