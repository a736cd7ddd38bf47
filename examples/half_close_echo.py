"""A half-close used on purpose: the client says "that is all" and still reads the answer.

    sudo tcptrace-viz capture --file examples/half_close_echo.py --set request=5
    sudo tcptrace-viz check --file examples/half_close_echo.py

Shows a parameter (``--set request=N``), a fact for the report (``ctx.facts``) and an outcome
built from the parameter (``ret="{request}"``).
"""

import socket

from tcptrace_viz import CallOutcome, Moment, Outcome, Parameter, ScenarioContext, scenario


@scenario(
    name="half-close-echo",
    title="the client shuts down writing, then reads the server's whole answer",
    teaches=(
        "shutdown(SHUT_WR) is how a client says 'end of request' without giving up the "
        "answer: the server reads until recv() returns 0, replies, and closes; the client "
        "reads the reply, then 0. Two FINs, no RST."
    ),
    steps="C send() a request; C shutdown(SHUT_WR); S reads to the end; S send()s it back; "
          "S close(); C reads to the end",
    parameters=(Parameter("request", "size", 3, "the request's size in bytes", minimum=1,
                          maximum=65536),),
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s P.", "c2s F.", "s2c P.", "s2c F."),
            forbidden=("c2s R*", "s2c R*"),
            calls=(CallOutcome("server", "send", 1, ret="{request}"),
                   CallOutcome("client", "recv", -1, ret="0")),
        ),
    ),
    key_moments=(
        Moment("client shutdown", "SHUT_WR: a FIN says the request is complete"),
        Moment("server send", "the server still writes: the client only stopped sending"),
        Moment("client recv #last", "the client read the whole answer, then the server's FIN"),
    ),
)
def half_close_echo(ctx: ScenarioContext) -> None:
    """Request, half-close, echo, close, read to the end."""
    client, server = ctx.connected_pair()
    ctx.send("client", client, b"x" * int(ctx.params["request"]))
    ctx.shutdown("client", client, socket.SHUT_WR)
    request = b""
    while True:
        ctx.wait_readable(server, "the server", "the request or its end")
        data = ctx.recv("server", server)
        if not data:
            break
        request += data
    ctx.send("server", server, request)
    ctx.close("server", server)
    answer = 0
    while True:
        ctx.wait_readable(client, "the client", "the answer or its end")
        data = ctx.recv("client", client)
        if not data:
            break
        answer += len(data)
    ctx.facts["note"] = f"the client read back {answer} bytes"
