"""keepalive-timeout: keepalive probes go unanswered and the connection times out.

The client turns keepalive on with one-second timers and a single probe.  Every bare ACK the
server sends is lost here, so the probe is never answered: the client's kernel resets the
connection and its blocked recv() fails with ETIMEDOUT.
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

IDLE_S = 1
INTERVAL_S = 1
PROBES = 1


@scenario(
    name="keepalive-timeout",
    title="keepalive probes go unanswered: the kernel resets, recv() fails with ETIMEDOUT",
    teaches=(
        "An idle connection sends nothing, so a vanished peer goes unnoticed until keepalive "
        f"asks. With SO_KEEPALIVE, TCP_KEEPIDLE = {IDLE_S} s, TCP_KEEPINTVL = {INTERVAL_S} s "
        f"and TCP_KEEPCNT = {PROBES}, the client probes after {IDLE_S} s of silence (a bare "
        "ACK re-sending an old byte number, which the peer must answer). Every answer is "
        "lost here: when the probes are used up the client's kernel sends an RST and the "
        "recv() blocked on the connection fails with ETIMEDOUT."
    ),
    steps=f"C setsockopt(SO_KEEPALIVE, TCP_KEEPIDLE {IDLE_S}, TCP_KEEPINTVL {INTERVAL_S}, "
          f"TCP_KEEPCNT {PROBES}); C recv() blocks; every bare ACK from the server is lost",
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s .", "s2c .", "c2s R*"),
            forbidden=("c2s F*", "s2c F*", "s2c R*"),
            calls=(CallOutcome("client", "recv", 1, errno="ETIMEDOUT"),),
        ),
    ),
    key_moments=(
        Moment("c2s . #2", f"after {IDLE_S} s of silence the client sends a keepalive probe"),
        Moment("s2c .", "the server answers, but the answer is lost"),
        Moment("c2s R*", "the probes are used up: the client's kernel resets the connection"),
        Moment("client recv", "the blocked recv() fails with ETIMEDOUT"),
    ),
    losses=(LossRule("server", ".", count=0),),
    waits_s=float(IDLE_S + INTERVAL_S * PROBES),
)
def keepalive_timeout(ctx: ScenarioContext) -> None:
    """Turn keepalive on with short timers and block in recv() until it gives up."""
    client, _server = ctx.connected_pair()
    for option, value, name in ((socket.TCP_KEEPIDLE, IDLE_S, "TCP_KEEPIDLE"),
                                (socket.TCP_KEEPINTVL, INTERVAL_S, "TCP_KEEPINTVL"),
                                (socket.TCP_KEEPCNT, PROBES, "TCP_KEEPCNT")):
        ctx.call("client", "setsockopt", client.setsockopt, socket.IPPROTO_TCP, option, value,
                 shown_args=f"{name} {value}", show=lambda _: "0")
    ctx.call("client", "setsockopt", client.setsockopt, socket.SOL_SOCKET,
             socket.SO_KEEPALIVE, 1, shown_args="SO_KEEPALIVE 1", show=lambda _: "0")
    ctx.recv("client", client)
