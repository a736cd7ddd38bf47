"""A bulk transfer then a close: proves the capture keeps every segment exactly once."""

from __future__ import annotations

import socket
import threading

from tcptrace_viz.scenarios.context import ScenarioContext
from tcptrace_viz.scenarios.expectation import CallOutcome, Outcome
from tcptrace_viz.scenarios.registry import scenario

BULK_BYTES = 40 * 1024 * 1024  # about 29,000 segments of 1448 bytes at lo's 1500-byte MTU
READ_CHUNK = 1024 * 1024


@scenario(
    name="bulk-close",
    title="tens of thousands of segments, then an orderly close: nothing dropped",
    teaches=(
        "A 40 MiB transfer then an orderly close. Its purpose is the capture itself: every "
        "segment the kernel sent is on the wire exactly once, with zero drops, and the frame "
        "count matches the kernel's own TCP segment counter."
    ),
    steps="C sends 40 MiB while S reads; C close(); S reads 0; S close()",
    outcomes=(Outcome(
        "Linux",
        wire=("c2s F*", "s2c F*"),
        forbidden=("c2s R*", "s2c R*"),
        calls=(CallOutcome("client", "sendall", 1, ret=str(BULK_BYTES)),
               CallOutcome("server", "read-until-eof", 1, ret=str(BULK_BYTES))),
    ),),
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
    payload = b"\x00" * BULK_BYTES
    ctx.call("client", "sendall", client.sendall, payload,
             shown_args=f"{BULK_BYTES} bytes", show=lambda _: str(BULK_BYTES))
    ctx.close("client", client)
    reader.join(ctx.timeout_s * 4)
    if reader.is_alive():
        server.shutdown(socket.SHUT_RDWR)
        reader.join()
    ctx.close("server", server)
    ctx.meta["bytes_sent"] = BULK_BYTES
    ctx.meta["bytes_received"] = received[0] if received else 0
