"""SO_LINGER {1, 1}: close() waits (at most 1 s) for its data to be acknowledged, then FIN.

    sudo tcptrace-viz capture --file examples/linger_one_second.py

Compare with the built-in linger0 (a zero timeout: RST at once).  With a non-zero timeout
and a peer that reads, the close is the ordinary one: data, FIN, and close() returns once the
data is ACKed.
"""

import socket
import struct

from tcptrace_viz import CallOutcome, Moment, Outcome, ScenarioContext, scenario


@scenario(
    name="linger-one-second",
    title="SO_LINGER {1, 1}: close() blocks until its data is ACKed, then an ordinary FIN",
    teaches=(
        "A linger timeout only matters when data is still unacknowledged: close() then waits "
        "for the ACK (or the timeout). With a peer that reads, the teardown is a plain FIN; "
        "only a zero timeout turns close() into an RST."
    ),
    steps="C sets SO_LINGER {1, 1}; C write(); C close(); S reads to the end",
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s P.", "c2s F*"),
            forbidden=("c2s R*", "s2c R*"),
            calls=(CallOutcome("client", "close", 1, ret="0"),
                   CallOutcome("server", "recv", -1, ret="0")),
        ),
    ),
    key_moments=(
        Moment("client setsockopt", "SO_LINGER {1, 1}: close() may wait up to one second"),
        Moment("c2s F*", "an ordinary FIN: the data was delivered, nothing to abort"),
        Moment("server recv #last", "the server reads to the end: recv() returns 0"),
    ),
)
def linger_one_second(ctx: ScenarioContext) -> None:
    """Set a one-second linger, write, close; the server reads until end of file."""
    client, server = ctx.connected_pair()
    linger = struct.pack("ii", 1, 1)
    ctx.call("client", "setsockopt", client.setsockopt, socket.SOL_SOCKET, socket.SO_LINGER,
             linger, shown_args="SO_LINGER {1, 1}", show=lambda _: "0")
    ctx.send("client", client, b"bye")
    ctx.close("client", client)
    while True:
        ctx.wait_readable(server, "the server", "data or the FIN")
        if not ctx.recv("server", server):
            break
