"""The mirror of close-then-write: the *server* closes, the *client* writes twice.

Run it with:

    sudo tcptrace-viz capture --file examples/server_closes_first.py
    sudo tcptrace-viz check --file examples/server_closes_first.py   # exit 1 if the kernel differs

A scenario file is plain Python.  Every function decorated with ``@scenario`` becomes a
scenario; its steps run inside a fresh network namespace while tcptrace-viz captures the
packets, the kernel's TCP states and every system call made through ``ctx``.
"""

from tcptrace_viz import CallOutcome, Moment, Outcome, ScenarioContext, scenario


@scenario(
    name="server-closes-first",
    title="the server closes; the client's first write succeeds, the second fails",
    teaches=(
        "Which side closes does not matter: the side that writes after the other closed learns "
        "of it only from the RST its first write provokes."
    ),
    steps="S close(); C write() \"hi\"; C write() again",
    # What this kernel must do; `check --file` exits 1 when no outcome matches.
    outcomes=(
        Outcome(
            "Linux",
            wire=("s2c F.", "c2s P.", "s2c R"),  # direction and tcpdump-style flags, in order
            calls=(CallOutcome("client", "send", 1, ret="2"),  # the 1st send() returns 2
                   CallOutcome("client", "send", 2, errno="EPIPE")),
            states=("client CLOSE_WAIT", "server FIN_WAIT2"),
        ),
    ),
    # The events the lesson turns on, numbered on the ladder and in the report.
    key_moments=(
        Moment("server close", "the server closes: a FIN goes to the client"),
        Moment("client send #1", "the client's write succeeds: a FIN only says 'no more data'"),
        Moment("s2c R", "the server's kernel has no socket for the data: RST"),
        Moment("client send #2", "now the write fails with EPIPE"),
    ),
)
def server_closes_first(ctx: ScenarioContext) -> None:
    """The steps: each ctx call is logged with its result; every wait is bounded."""
    client, server = ctx.connected_pair()
    ctx.close("server", server)
    ctx.wait_fin("client", client)  # poll until the FIN has arrived (no sleeps)
    ctx.send("client", client, b"hi")
    ctx.wait_error("client", client)  # until the RST has arrived
    ctx.send("client", client, b"hi")
