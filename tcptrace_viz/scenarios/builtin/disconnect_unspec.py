"""disconnect-unspec: connect(AF_UNSPEC) on a connected socket resets the connection.

connect() with an AF_UNSPEC address "dissolves the association" (POSIX); on Linux that is
tcp_disconnect(): the connection is aborted with an RST and the socket can connect again.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct

from tcptrace_viz.scenarios.api import CallOutcome, Moment, Outcome, ScenarioContext, scenario


def _disconnect(sock: socket.socket) -> int:
    """connect(fd, {AF_UNSPEC}) through libc (Python's connect() wants a real address)."""
    libc = ctypes.CDLL(None, use_errno=True)
    address = struct.pack("=H14x", socket.AF_UNSPEC)
    if libc.connect(sock.fileno(), address, len(address)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return 0


@scenario(
    name="disconnect-unspec",
    title="connect(AF_UNSPEC) on a connected socket: the connection is reset",
    teaches=(
        "A connected TCP socket can be disconnected without closing it: connect() with the "
        "address family AF_UNSPEC aborts the connection with an RST (no FIN), and the socket "
        "returns to CLOSE, ready to connect again. The peer's next recv() fails with "
        "ECONNRESET."
    ),
    steps="C connects; C connect(AF_UNSPEC); S recv()",
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s R*",),
            forbidden=("c2s F*",),
            calls=(CallOutcome("client", "connect", 2, ret="0"),
                   CallOutcome("server", "recv", 1, errno="ECONNRESET")),
        ),
    ),
    key_moments=(
        Moment("client connect #2", "connect(AF_UNSPEC): the client's socket disconnects"),
        Moment("c2s R*", "an RST, not a FIN: the connection is aborted"),
        Moment("server recv", "the server's recv() fails with ECONNRESET"),
    ),
)
def disconnect_unspec(ctx: ScenarioContext) -> None:
    """Disconnect the client with AF_UNSPEC; the server reads."""
    client, server = ctx.connected_pair()
    ctx.call("client", "connect", _disconnect, client, shown_args="AF_UNSPEC",
             show=lambda _: "0")
    ctx.wait_error("server", server)
    ctx.recv("server", server)
