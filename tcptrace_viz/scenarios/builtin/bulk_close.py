"""bulk-close: a bulk transfer then a close, proving the capture keeps every segment once.

"Complete" means: every TCP segment the namespace sent (``OutSegs + RetransSegs``) was captured
once, and none was lost on the way or dropped after capture: no frame dropped by the packet
ring, none by lo's receive backlog or device (lo's rx/tx drop counters), none discarded by IP
or TCP (``InDiscards``, ``TCPBacklogDrop``, ...).  A segment lo's backlog drops is a real kernel
drop the TCP retransmits: the data still arrives whole, but the run fails all the same, naming
where it was lost, because the capture then lacks the dropped original.
"""

from __future__ import annotations

import socket
import threading

from tcptrace_viz.scenarios.api import (
    CallOutcome,
    Moment,
    Outcome,
    Parameter,
    ScenarioContext,
    scenario,
)

BULK_BYTES = 40 * 1024 * 1024  # about 29,000 segments of 1448 bytes at lo's 1500-byte MTU
READ_CHUNK = 1024 * 1024


@scenario(
    name="bulk-close",
    title="tens of thousands of segments, then an orderly close: nothing dropped",
    teaches=(
        "A bulk transfer (40 MiB unless --set bytes=SIZE) then an orderly close. Its purpose "
        "is the capture itself: every segment the kernel sent is on the wire exactly once, "
        "none is lost in the capture ring or lo's backlog or dropped by TCP, and the frame "
        "count matches the kernel's own TCP segment counter."
    ),
    steps="C sends `bytes` (40 MiB) while S reads; C close(); S reads 0; S close()",
    parameters=(Parameter("bytes", "size", BULK_BYTES, "how much the client sends",
                          minimum=1, maximum=1 << 30),),
    burst_bytes=lambda values: int(values["bytes"]),
    complete=True,
    outcomes=(Outcome(
        "Linux",
        wire=("c2s F*", "s2c F*"),
        forbidden=("c2s R*", "s2c R*"),
        calls=(CallOutcome("client", "sendall", 1, ret="{bytes}"),
               CallOutcome("server", "read-until-eof", 1, ret="{bytes}")),
    ),),
    key_moments=(
        Moment("c2s F*",
               "the client's FIN leaves behind all its data"),
        Moment("server read-until-eof",
               "the server read every byte the client's send() accepted"),
    ),
)
def bulk_close(ctx: ScenarioContext) -> None:
    """Client streams; a server thread reads until EOF; then both close."""
    client, server = ctx.connected_pair()
    received: list[int] = []

    def read_until_eof() -> int:
        total = 0
        while chunk := server.recv(READ_CHUNK):
            total += len(chunk)
        return total

    def server_side() -> None:
        received.append(ctx.call("server", "read-until-eof", read_until_eof,
                                 shown_args="recv() until it returns 0") or 0)

    reader = threading.Thread(target=server_side, name="bulk-reader")
    reader.start()
    size = int(ctx.params.get("bytes", BULK_BYTES))
    payload = b"\x00" * size
    ctx.call("client", "sendall", client.sendall, payload,
             shown_args=f"{size} bytes", show=lambda _: str(size))
    ctx.close("client", client)
    reader.join(ctx.timeout_s * 4)
    if reader.is_alive():
        server.shutdown(socket.SHUT_RDWR)
        reader.join()
    ctx.close("server", server)
    ctx.facts["bytes_sent"] = size
    ctx.facts["bytes_received"] = received[0] if received else 0
