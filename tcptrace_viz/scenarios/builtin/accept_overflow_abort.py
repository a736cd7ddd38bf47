"""accept-overflow-abort: a full accept queue with net.ipv4.tcp_abort_on_overflow = 1.

The server listens with a backlog of 0 (room for one connection) and never accepts.  The first
client's handshake ACK is lost, so its connection is still a half-open request when the second
client's handshake fills the queue.  When the server retransmits its SYN-ACK and the first
client acknowledges it again, there is no room: with tcp_abort_on_overflow set, the server
answers that ACK with an RST instead of quietly ignoring it.
"""

from __future__ import annotations

import socket

from tcptrace_viz.scenarios.api import (
    CallOutcome,
    LossRule,
    Moment,
    Outcome,
    ScenarioContext,
    scenario,
)


@scenario(
    name="accept-overflow-abort",
    title="a full accept queue with tcp_abort_on_overflow = 1: the last ACK is answered by RST",
    teaches=(
        "The accept queue holds connections whose handshake is done but which no program has "
        "accepted yet; listen()'s backlog bounds it. When the client's last handshake ACK "
        "arrives and the queue is full, Linux by default drops that ACK and lets the client "
        "retry; with net.ipv4.tcp_abort_on_overflow = 1 it answers with an RST at once. The "
        "client's connect() had already returned 0: it learns of the refusal only from its "
        "next call, ECONNRESET."
    ),
    steps="S listen() backlog 0, never accept(); C1 connect() (its ACK is lost); C2 connect() "
          "fills the queue; S retransmits the SYN-ACK to C1; C1's ACK meets the full queue",
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s S", "s2c S.", "c2s .", "c2s S", "s2c S.", "c2s .", "s2c S.", "c2s .",
                  "s2c R"),
            calls=(CallOutcome("client", "connect", 1, ret="0"),
                   CallOutcome("client", "connect", 2, ret="0"),
                   CallOutcome("client", "recv", 1, errno="ECONNRESET")),
        ),
    ),
    key_moments=(
        Moment("client connect #1", "the first client is connected as far as it knows; its "
                                    "ACK was lost, the server still holds a half-open request"),
        Moment("client connect #2", "the second client's handshake fills the accept queue"),
        Moment("s2c S. #3", "the server retransmits its SYN-ACK to the first client"),
        Moment("s2c R", "the first client's ACK meets a full queue: tcp_abort_on_overflow "
                        "answers with an RST"),
        Moment("client recv", "the first client learns it only now: ECONNRESET"),
    ),
    losses=(LossRule("client", ".", count=1),),
    sysctls={"net.ipv4.tcp_abort_on_overflow": "1"},
    waits_s=1.0,
)
def accept_overflow_abort(ctx: ScenarioContext) -> None:
    """Fill a backlog-0 queue behind a half-open request, then read on the refused client."""
    listener = ctx.tcp_socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((ctx.server_host, ctx.server_port))
    ctx.call("server", "listen", listener.listen, 0, shown_args="0", show=lambda _: "0")
    first = ctx.connect()
    ctx.connect()
    ctx.wait_error("client", first)
    ctx.recv("client", first)
