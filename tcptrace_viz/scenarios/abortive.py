"""Abortive closes: RST instead of FIN (SO_LINGER 0, unread data) and refused connections."""

from __future__ import annotations

import select
import socket

from tcptrace_viz.scenarios.context import UNUSED_PORT, ScenarioContext
from tcptrace_viz.scenarios.expectation import CallOutcome, Outcome
from tcptrace_viz.scenarios.registry import scenario

BURST_CHUNK = 256 * 1024
RECEIVER_BUFFER = 64 * 1024  # small, so most of the burst waits in the sender's queue
SENDER_BUFFER = 4 * 1024 * 1024


@scenario(
    name="linger0",
    title="SO_LINGER {1, 0}: close() sends RST at once; the peer's send fails with ECONNRESET",
    teaches=(
        "With SO_LINGER {on, 0 s}, close() aborts the connection: the kernel sends RST instead "
        "of FIN (the trace shows the kernel's reason) and the socket is gone at once, no "
        "TIME_WAIT. The peer's next send() fails with ECONNRESET, not EPIPE."
    ),
    steps="C sets SO_LINGER {1, 0}; C close(); S send()",
    outcomes=(Outcome(
        "Linux",
        wire=("c2s R*",),
        forbidden=("c2s F*",),
        calls=(CallOutcome("server", "send", 1, errno="ECONNRESET"),),
    ),),
)
def linger0(ctx: ScenarioContext) -> None:
    """Abortive close by the client."""
    client, server = ctx.connected_pair()
    ctx.set_linger_zero("client", client)
    ctx.close("client", client)
    ctx.wait_error("server", server)
    ctx.send("server", server, b"123")


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
    ctx.meta["bytes_accepted"] = accepted
    ctx.meta["bytes_delivered"] = delivered


@scenario(
    name="close-unread",
    title="close() with unread data sends RST, not FIN (RFC 2525 s2.17)",
    teaches=(
        "Closing a socket whose receive buffer still holds unread data tells the peer that "
        "data was lost: the kernel sends RST instead of FIN (RFC 2525 section 2.17). The "
        "peer's next write fails with ECONNRESET."
    ),
    steps="S sends data C does not read; C close(); S write()",
    outcomes=(Outcome(
        "Linux",
        wire=("s2c P.", "c2s R*"),
        forbidden=("c2s F*",),
        calls=(CallOutcome("server", "send", 2, errno="ECONNRESET"),),
    ),),
)
def close_unread(ctx: ScenarioContext) -> None:
    """The client closes with the server's data unread."""
    client, server = ctx.connected_pair()
    ctx.send("server", server, b"hello")
    ctx.wait_readable(client, "the client", "the server's data")
    ctx.close("client", client)
    ctx.wait_error("server", server)
    ctx.send("server", server, b"123")


@scenario(
    name="connect-refused",
    title="connecting to a port nobody listens on: SYN answered by RST, ECONNREFUSED",
    teaches=(
        "A SYN to a port with no listener is answered by RST; connect() fails with "
        "ECONNREFUSED. No connection ever existed, so there is nothing to close."
    ),
    steps="C connects to a port nobody listens on",
    outcomes=(Outcome(
        "Linux",
        wire=("c2s S", "s2c R."),
        calls=(CallOutcome("client", "connect", 1, errno="ECONNREFUSED"),),
    ),),
)
def connect_refused(ctx: ScenarioContext) -> None:
    """connect() to a closed port."""
    ctx.server_port = UNUSED_PORT
    ctx.connect(UNUSED_PORT)
