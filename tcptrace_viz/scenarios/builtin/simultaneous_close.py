"""simultaneous-close: both FINs cross on the wire; both sides go through CLOSING."""

from __future__ import annotations

from collections.abc import Callable

from tcptrace_viz.scenarios.api import (
    Moment,
    Outcome,
    ScenarioContext,
    SocketEntry,
    scenario,
    set_loopback_up,
    wait_for_tick_start,
)


@scenario(
    name="simultaneous-close",
    title="both sides close at the same moment: FINs cross, both go through CLOSING to TIME_WAIT",
    teaches=(
        "When both ends close before either FIN arrives, each receives the other's FIN while "
        "its own is unacknowledged: both go FIN_WAIT1 -> CLOSING -> TIME_WAIT, and both hold "
        "TIME_WAIT. Loopback delivers a segment before send() returns, so the run holds lo "
        "down while both sides call close() within one timer tick; the two probe timers then "
        "expire together and send both FINs before either is delivered."
    ),
    steps="lo down; C close(); S close(); lo up; both FINs leave together",
    outcomes=(Outcome(
        "FINs crossed",
        present=("c2s F*", "s2c F*"),
        forbidden=("c2s R*", "s2c R*"),
        states=("client CLOSING", "server CLOSING", "client TIME_WAIT", "server TIME_WAIT"),
    ),),
    key_moments=(
        Moment("client CLOSING",
               "the FINs crossed: each side got the other's FIN before the ACK of its own"),
        Moment("client TIME_WAIT",
               "both sides end in TIME_WAIT, since both closed actively"),
    ),
)
def simultaneous_close(ctx: ScenarioContext) -> None:
    """Both close while lo is down, so neither FIN can arrive before the other is sent."""
    client, server = ctx.connected_pair()
    client_port = client.getsockname()[1]
    set_loopback_up(False)
    try:
        wait_for_tick_start()  # both probe timers armed in one tick fire in one softirq pass
        ctx.close("client", client)
        ctx.close("server", server)
    finally:
        set_loopback_up(True)
    ctx.facts["note"] = "lo was held down while both sides called close()"
    for what, port in (("client", client_port), ("server", ctx.server_port)):
        ctx.wait_socket_table(_time_wait_on(port), f"the {what}'s TIME_WAIT")


def _time_wait_on(port: int) -> Callable[[SocketEntry], bool]:
    def matches(entry: SocketEntry) -> bool:
        return entry.state == "TIME_WAIT" and entry.local.endswith(f":{port}")

    return matches
