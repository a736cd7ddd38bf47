"""connect-refused: a SYN to a port nobody listens on is answered by RST (ECONNREFUSED)."""

from __future__ import annotations

from tcptrace_viz.scenarios.api import (
    UNUSED_PORT,
    CallOutcome,
    Moment,
    Outcome,
    ScenarioContext,
    scenario,
)


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
    key_moments=(
        Moment("s2c R.",
               "nothing listens on the port: the kernel answers the SYN with RST"),
        Moment("client connect",
               "connect() fails with ECONNREFUSED"),
    ),
)
def connect_refused(ctx: ScenarioContext) -> None:
    """connect() to a closed port."""
    ctx.server_port = UNUSED_PORT
    ctx.connect(UNUSED_PORT)
