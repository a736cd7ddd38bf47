"""close-syn-sent: the client closes while its SYN is still unanswered.

A socket in SYN_SENT has nothing to reset: close() sends nothing and the socket is gone at once.
The server, which did answer (its first SYN-ACK is lost here), retransmits its SYN-ACK about a
second later; the client's kernel no longer knows the connection and answers with an RST.
"""

from __future__ import annotations

import time

from tcptrace_viz.scenarios.api import (
    CallOutcome,
    LossRule,
    Moment,
    Outcome,
    ScenarioContext,
    scenario,
)

_SYN_RECV = "03"
"""The request socket's state in /proc/net/tcp."""


@scenario(
    name="close-syn-sent",
    title="close() in SYN_SENT sends nothing; the late SYN-ACK is answered with an RST",
    teaches=(
        "close() of a socket whose connect() is still in progress (SYN_SENT) sends no RST and "
        "no FIN: the socket simply goes away. The server had answered (its first SYN-ACK was "
        "lost), so it retransmits the SYN-ACK about a second later, and the client's kernel, "
        "which no longer has a socket for it, answers with an RST: that RST ends the "
        "server's half-open request."
    ),
    steps="S listen(); C connect() non-blocking = EINPROGRESS; the server's SYN-ACK is lost; "
          "C close() in SYN_SENT; the SYN-ACK is retransmitted",
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s S", "s2c S.", "s2c S.", "c2s R"),
            states=("client SYN_SENT",),
            calls=(CallOutcome("client", "connect", 1, errno="EINPROGRESS"),
                   CallOutcome("client", "close", 1, ret="0")),
        ),
    ),
    key_moments=(
        Moment("client connect", "connect() returns at once: EINPROGRESS, the SYN is sent"),
        Moment("client close", "close() in SYN_SENT: no segment goes out, the socket is gone"),
        Moment("s2c S. #2", "the server retransmits its SYN-ACK (the first one was lost)"),
        Moment("c2s R", "no socket for it any more: the client's kernel answers with an RST"),
    ),
    losses=(LossRule("server", "S"),),
    waits_s=1.0,
)
def close_syn_sent(ctx: ScenarioContext) -> None:
    """Connect without blocking, close in SYN_SENT, wait until the server's request is gone."""
    ctx.listen()
    client = ctx.tcp_socket()
    client.bind((ctx.client_host, 0))
    client.setblocking(False)
    address = (ctx.server_host, ctx.server_port)
    ctx.call("client", "connect", client.connect, address,
             shown_args=f"{ctx.server_host}:{ctx.server_port}, O_NONBLOCK", show=lambda _: "0")
    ctx.wait_state(client, ("SYN_SENT",), "the client's SYN_SENT")
    ctx.close("client", client)
    _wait_request_gone(ctx)


def _wait_request_gone(ctx: ScenarioContext) -> None:
    """Until the server's half-open request has been removed (bounded): the RST arrived."""
    deadline = time.monotonic() + ctx.timeout_s
    while _has_request():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{ctx.name}: the server's SYN_RECV request never went away")
        time.sleep(0.005)  # polling the kernel's table, bounded by the deadline


def _has_request() -> bool:
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path, encoding="ascii") as table:
            if any(line.split()[3] == _SYN_RECV for line in table.read().splitlines()[1:]):
                return True
    return False
