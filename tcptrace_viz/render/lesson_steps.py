"""The report's steps: one per timeline row, each with a caption in plain words and what the
state machine shows after it.  The report's script plays them; they reach the page as JSON.

A step is a dict (short keys: the page holds one per row):

- ``ref``: the row's ``data-ref`` and the diagram's ``tv-<ref>`` ids (``p3``, ``s0``, ``c4``);
- ``kind``: ``packet``, ``state``, ``call`` (a call's start) or ``syscall`` (its result);
- ``lane``: 0 or 1 for the endpoint it belongs to (a packet's sender), -1 for neither;
- ``caption``: what just happened; ``quiz``: the question asked before it is revealed (only
  results and state changes are asked);
- ``st``: each endpoint's RFC 9293 state after the step (``""`` while unknown); ``edge``: the
  state-machine transition the step takes (``""`` for none); for a state change ``was``:
  the endpoint's state before it (what quiz mode shows until the change is revealed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from tcptrace_viz.analysis.selection import rows_of
from tcptrace_viz.render.fsm import rfc_state, transition_id
from tcptrace_viz.render.prepared import TIMELINE_MAX

Record = Mapping[Any, Any]
"""One row of a Trace's table, as ``DataFrame.to_dict('records')`` gives it."""

if TYPE_CHECKING:
    from markupsafe import Markup

    from tcptrace_viz.render.prepared import Prepared

ARGS_SHOWN: Final = 60
"""Characters of a call's arguments the caption repeats."""

STATE_MEANING: Final[dict[str, str]] = {
    "LISTEN": "it waits for connections",
    "SYN_SENT": "it sent SYN and waits for the answer",
    "SYN_RECV": "a SYN arrived and was answered; it waits for the final ACK",
    "NEW_SYN_RECV": "a SYN arrived and was answered; it waits for the final ACK",
    "ESTABLISHED": "the connection is open in both directions",
    "FIN_WAIT1": "it sent FIN and waits for that FIN's ACK",
    "FIN_WAIT2": "its FIN was acknowledged; it waits for the peer's FIN (the peer may still "
                 "send)",
    "CLOSE_WAIT": "the peer sent FIN; this application has not closed yet and may still write",
    "LAST_ACK": "it closed after the peer and waits for the ACK of its FIN",
    "CLOSING": "both sides sent FIN at the same time",
    "TIME_WAIT": "it waits (2 × MSL) so that stray segments die out",
    "CLOSE": "the socket is gone; a segment arriving for it is answered with RST",
}
STATE_KNOWS: Final[dict[str, str]] = {
    "ESTABLISHED": "as far as it knows, the connection is open",
    "CLOSE_WAIT": "it only knows the peer sent a FIN",
    "FIN_WAIT2": "its FIN is acknowledged and the peer may still send",
    "LAST_ACK": "its FIN still waits for the peer's ACK",
    "TIME_WAIT": "the connection is over; the socket only lingers",
    "CLOSE": "the connection is gone",
}
"""What an endpoint knows in a state, said after a call's result."""
ERRNO_MEANING: Final[dict[str, str]] = {
    "EPIPE": "the connection is gone: this side can no longer write (an RST came back, or it "
             "shut down writing)",
    "ECONNRESET": "the peer reset the connection (RST): data still queued was thrown away",
    "ECONNREFUSED": "nobody listens on that port: the peer answered the SYN with RST",
    "ETIMEDOUT": "the peer stopped answering and the kernel gave up retransmitting",
    "EAGAIN": "nothing can be done right now on this non-blocking socket",
    "ENOTCONN": "the socket is not connected",
    "EBADF": "the file descriptor is already closed",
    "EINTR": "a signal interrupted the call",
}
_SENDS: Final = frozenset({"send", "write", "sendto", "sendmsg", "writev", "sendfile"})
_RECEIVES: Final = frozenset({"recv", "read", "recvfrom", "recvmsg", "readv"})
_SUCCESS: Final[dict[str, str]] = {
    "close": "the application let go of the socket; the kernel finishes (or aborts) the "
             "connection on its own",
    "shutdown": "that direction is closed; the kernel tells the peer with FIN",
    "connect": "the three-way handshake completed",
    "accept": "a connection came out of the listen queue",
    "listen": "the socket now accepts connections",
    "setsockopt": "the option is set",
    "poll": "the socket is ready (readable, writable or in error)",
}
_FLAG_WORDS: Final = (("S", "SYN"), ("F", "FIN"), ("R", "RST"), ("P", "PSH"), (".", "ACK"))
_ORDINALS: Final = ("first", "second", "third", "fourth", "fifth")


def flag_words(flags: str) -> str:
    """tcpdump's letters in words: ``"F."`` -> ``"FIN+ACK"``."""
    return "+".join(word for letter, word in _FLAG_WORDS if letter in flags) or "no flags"


def _packet_caption(who: str, packet: Record) -> str:
    flags, length = str(packet["flags"]), int(packet["len"])
    if "R" in flags:
        reason = str(packet.get("reason") or "")
        meaning = "reset: the connection is aborted and data still queued is thrown away"
        if reason:
            meaning += f" (the kernel's reason: {reason})"
    elif "S" in flags:
        meaning = ("accepts the connection and sends its own SYN" if "." in flags
                   else "asks to open a connection")
    elif "F" in flags:
        meaning = "“I will send no more data”; the other side may still send"
        if length:
            meaning = f"the last {length} bytes, then {meaning}"
    elif length:
        meaning = f"carries {length} bytes of data"
    else:
        meaning = f"acknowledges every byte before {int(packet['rel_ack'])}"
    return f"{who}: {flag_words(flags)} — {meaning}."


def _state_caption(side: str, change: Record) -> str:
    old, new = str(change["old"]), str(change["new"])
    text = f"{side}: {old} → {new} — {STATE_MEANING.get(new, 'a new TCP state')}"
    if change.get("reason"):
        text += f" ({change['reason']})"
    if str(change.get("source")) == "inferred":
        text += " [inferred from the packets]"
    return text + "."


def _call_name(call: Record) -> str:
    return str(call["call"])


def _result_caption(side: str, call: Record, state: str) -> str:
    name = _call_name(call)
    if call.get("signal"):
        text = f"{side}: {name}() was killed by {call['signal']} — the process got the signal " \
               "instead of an error"
    elif call.get("errno"):
        errno = str(call["errno"])
        text = f"{side}: {name}() failed with {errno} — " \
               f"{ERRNO_MEANING.get(errno, 'the kernel refused the call')}"
    else:
        ret = str(call.get("ret", ""))
        if name in _SENDS:
            meaning = ("the kernel accepted the bytes into its send buffer; that does not mean "
                       "the peer received them")
        elif name in _RECEIVES:
            meaning = ("end of file: the peer sent FIN, nothing more will come" if ret == "0"
                       else "bytes read from the receive buffer")
        else:
            meaning = _SUCCESS.get(name, "the call succeeded")
        text = f"{side}: {name}() returned {ret} — {meaning}"
    text += "."
    if state:
        knows = STATE_KNOWS.get(state)
        text += f" Its socket is in {state}" + (f": {knows}." if knows else ".")
    return text


def _question(side: str, call: Record, nth: int, total: int) -> str:
    name = _call_name(call)
    if total > 1:
        ordinal = _ORDINALS[nth - 1] if nth <= len(_ORDINALS) else f"#{nth}"
        return f"What does the {side}'s {ordinal} {name}() return?"
    return f"What does the {side}'s {name}() return?"


def steps(prepared: Prepared) -> list[dict[str, Any]]:
    """One step per row of the report's timeline table, in its order."""
    trace = prepared.selection.trace
    sides = trace.sides
    lanes = {side: lane for lane, side in enumerate(sides[:2])}
    table = prepared.timeline.head(TIMELINE_MAX)
    # only the packets the table lists: a user's capture may hold millions
    listed = sorted({int(row) for row in table.loc[table["kind"] == "packet", "row"]})
    packets = dict(zip(listed, trace.packets.iloc[listed].to_dict("records"), strict=True))
    changes = trace.states.to_dict("records")
    calls = trace.syscalls.to_dict("records")
    linux = ["", ""]  # each endpoint's Linux state; before its first change, that change's old
    for change in reversed(changes):
        if change["side"] in lanes:
            linux[lanes[change["side"]]] = str(change["old"])
    totals: dict[tuple[str, str], int] = {}
    for item in calls:
        key = (str(item["side"]), _call_name(item))
        totals[key] = totals.get(key, 0) + 1
    seen: dict[tuple[str, str], int] = {}
    out: list[dict[str, Any]] = []
    for item in rows_of(table):
        row, kind, side = int(item.row), str(item.kind), str(item.side)
        lane = lanes.get(side, -1)
        caption, quiz, edge, was = "", "", "", ""
        if kind == "packet":
            ref = f"p{row}"
            packet = packets[row]
            lane = {"c2s": 0, "s2c": 1}.get(str(packet["dir"]), lane)
            who = f"{sides[lane]} → {sides[1 - lane]}" if lane >= 0 and len(sides) > 1 else side
            caption = _packet_caption(who, packet)
        elif kind == "state":
            ref = f"s{row}"
            change = changes[row]
            caption = _state_caption(side, change)
            if lane >= 0:
                quiz = f"{side} is in {linux[lane] or 'an unknown state'}: what comes next?"
                was = rfc_state(linux[lane])
                linux[lane] = str(change["new"])
            edge = transition_id(change["old"], change["new"])
        elif kind == "call":
            ref = f"c{row}s"
            args = str(calls[row].get("args", ""))
            if len(args) > ARGS_SHOWN:
                args = args[:ARGS_SHOWN] + "…"
            caption = f"{side} calls {_call_name(calls[row])}({args}); it returns later."
        else:
            ref = f"c{row}"
            key = (side, _call_name(calls[row]))
            seen[key] = seen.get(key, 0) + 1
            state = linux[lane] if lane >= 0 else ""
            caption = _result_caption(side, calls[row], state)
            quiz = _question(side, calls[row], seen[key], totals.get(key, 1))
        step = {"ref": ref, "kind": kind, "lane": lane, "caption": caption, "quiz": quiz,
                "st": [rfc_state(name) for name in linux], "edge": edge}
        if kind == "state":
            step["was"] = was
        out.append(step)
    return out


def steps_json(items: list[dict[str, Any]]) -> Markup:
    """``items`` as JSON to sit inside ``<script type="application/json">``: ``<``, ``>`` and
    ``&`` as ``\\u003c`` etc., so no capture text can close the element or open a comment."""
    from markupsafe import Markup

    text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
