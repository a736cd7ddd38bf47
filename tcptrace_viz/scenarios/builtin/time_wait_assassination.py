"""time-wait-assassination: with tcp_rfc1337 = 0 an RST ends TIME_WAIT early (RFC 1337's hazard).

A connection closes normally and the client holds TIME_WAIT; the server's socket is gone.  An
old duplicate, a delayed copy of the bare ACK the server sent before the FINs, arrives: the
scenario sends it by hand from a raw socket, with the sequence numbers the raw socket saw.  The
TIME_WAIT socket answers an out-of-window segment with an ACK; the server has no socket for
it, so its kernel answers with an RST whose sequence number is exactly the one TIME_WAIT
expects.  Linux's default (``net.ipv4.tcp_rfc1337 = 0``) accepts that RST and kills the
TIME_WAIT: a second copy of the old segment then finds no socket and draws the client
kernel's RST.  :mod:`time_wait_rfc1337` runs the same steps with the protection on.
"""

from __future__ import annotations

from tcptrace_viz.scenarios.api import (
    TH_ACK,
    TH_FIN,
    TH_RST,
    CallOutcome,
    Moment,
    Outcome,
    RawTcp,
    ScenarioContext,
    SeenSegment,
    SocketEntry,
    scenario,
)

STEPS = ("C close(); S recv() = 0; S close(): the client holds TIME_WAIT; an old duplicate "
         "of the server's ACK (sent by hand, twice) reaches the TIME_WAIT")
SYSCTLS = {"net.ipv4.tcp_invalid_ratelimit": "0"}
"""TIME_WAIT's answers to out-of-window segments are rate-limited (500 ms by default): off, so
the second copy is answered too."""
CALLS = (CallOutcome("server", "inject", 1, ret=None), CallOutcome("server", "inject", 2))
STATES = ("client TIME_WAIT", "server LAST_ACK")
FIRST_MOMENTS = (
    Moment("client TIME_WAIT", "the client closed first: it holds TIME_WAIT"),
    Moment("server inject", "an old duplicate of the server's ACK from before the FINs arrives "
                            "(sent by hand from a raw socket)"),
)
"""What both TIME_WAIT scenarios show first; then each its own."""


@scenario(
    name="time-wait-assassination",
    title="tcp_rfc1337 = 0: an old duplicate draws an RST that kills TIME_WAIT",
    teaches=(
        "TIME_WAIT exists to absorb old duplicates of the connection. But when one arrives, "
        "the TIME_WAIT socket answers it with an ACK; the peer, whose socket is long gone, "
        "answers that ACK with an RST, and the RST carries exactly the sequence number "
        "TIME_WAIT expects. With Linux's default net.ipv4.tcp_rfc1337 = 0 the RST is accepted "
        "and TIME_WAIT ends at once (RFC 1337's 'TIME-WAIT assassination'): the next old "
        "segment finds no socket at all and is answered with an RST, where a new connection "
        "on the same ports could have accepted it."
    ),
    steps=STEPS,
    outcomes=(
        Outcome(
            "Linux",
            wire=("c2s F.", "s2c F.", "c2s .", "s2c .", "c2s .", "s2c R", "s2c .", "c2s R"),
            states=STATES,
            calls=CALLS,
        ),
    ),
    key_moments=(
        *FIRST_MOMENTS,
        Moment("c2s . #3", "TIME_WAIT answers the out-of-window segment with an ACK"),
        Moment("s2c R", "the server has no socket: its kernel resets, with the sequence "
                        "number TIME_WAIT expects; tcp_rfc1337 = 0 lets it kill TIME_WAIT"),
        Moment("c2s R", "the second copy finds no socket: the client's kernel answers with an "
                        "RST"),
    ),
    sysctls={"net.ipv4.tcp_rfc1337": "0", **SYSCTLS},
)
def time_wait_assassination(ctx: ScenarioContext) -> None:
    """Close normally, then send an old duplicate to the TIME_WAIT twice."""
    old_duplicate_twice(ctx)


def old_duplicate_twice(ctx: ScenarioContext) -> None:
    """The steps of both TIME_WAIT scenarios: a normal close with the client in TIME_WAIT,
    then twice an old duplicate of the server's last ACK before the FINs, each followed to its
    last answer (the socket table's view after the first is a fact of the report)."""
    raw = ctx.raw_tcp()  # before connecting: it learns the sequence numbers
    client, server = ctx.connected_pair()
    port = client.getsockname()[1]
    ctx.close("client", client)
    ctx.wait_fin("server", server)
    ctx.recv("server", server)
    ctx.close("server", server)

    def time_wait(entry: SocketEntry) -> bool:
        return entry.state == "TIME_WAIT" and entry.local.endswith(f":{port}")

    ctx.wait_socket_table(time_wait, "the client's TIME_WAIT")
    ctx.wait_socket_gone(lambda entry: entry.local.endswith(f":{ctx.server_port}"),
                         "the server's LAST_ACK")
    fin = _server_fin(ctx, raw, port)
    for copy in (1, 2):  # ctx.raw_tcp() pinned the run: an answer seen is one TCP handled
        mark = raw.mark()
        ctx.inject("server", raw, sport=ctx.server_port, dport=port, seq=fin.seq,
                   ack=fin.ack - 1, flags=TH_ACK,
                   shown_args=f"old duplicate #{copy}: the ACK from before the FINs")
        answer = raw.wait_for(mark, ctx.timeout_s, "answer from the client's port", sport=port)
        if not answer.flags & TH_RST:  # TIME_WAIT's ACK: the server's kernel resets it
            raw.wait_for(mark, ctx.timeout_s, "RST from the server's port",
                         sport=ctx.server_port, flags=TH_RST)
        if copy == 1:
            listed = any(time_wait(entry) for entry in ctx.socket_table())
            ctx.facts["note"] = ("right after the server's RST the socket table "
                                 + ("still listed" if listed else "no longer listed")
                                 + " the client's TIME_WAIT")


def _server_fin(ctx: ScenarioContext, raw: RawTcp, port: int) -> SeenSegment:
    for segment in reversed(raw.read()):
        if segment.sport == ctx.server_port and segment.dport == port and (
                segment.flags & TH_FIN):
            return segment
    raise RuntimeError(f"{ctx.name}: the raw socket never saw the server's FIN")

