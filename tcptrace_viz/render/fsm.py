"""The TCP state machine of RFC 9293 (s3.3.2, Figure 5) as an inline SVG the report lights up.

Static geometry, drawn by hand: eleven states and the transitions between them, each labelled
``event / what is sent``.  Every state node is ``<g id="fsm-n-STATE" data-state="STATE">`` and
every transition ``<g id="fsm-t-OLD-NEW">``; the report's script adds ``on-0`` / ``on-1`` to the
nodes the two endpoints are in and ``lit-0`` / ``lit-1`` to the transition just taken.  Like
RFC 9293's figure, CLOSED is drawn twice (top and bottom); both nodes carry its name.

Linux's names (``tcptrace_viz.tcp.TCP_STATES``) differ from the RFC's: :func:`rfc_state` maps
them.  Linux also leaves any state for CLOSE on an RST, an abort or a timeout the RFC figure does
not draw: those take the one dashed transition ``fsm-t-ANY-CLOSED``.
"""

from __future__ import annotations

import math
from html import escape
from typing import Final

RFC_STATES: Final = ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED",
                     "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK",
                     "TIME_WAIT")
"""The states of RFC 9293, spelt with underscores."""

LINUX_TO_RFC: Final[dict[str, str]] = {
    "ESTABLISHED": "ESTABLISHED", "SYN_SENT": "SYN_SENT", "SYN_RECV": "SYN_RECEIVED",
    "NEW_SYN_RECV": "SYN_RECEIVED", "FIN_WAIT1": "FIN_WAIT_1", "FIN_WAIT2": "FIN_WAIT_2",
    "TIME_WAIT": "TIME_WAIT", "CLOSE": "CLOSED", "CLOSE_WAIT": "CLOSE_WAIT",
    "LAST_ACK": "LAST_ACK", "LISTEN": "LISTEN", "CLOSING": "CLOSING",
}
"""Every state of ``include/net/tcp_states.h`` to the RFC node that shows it (NEW_SYN_RECV is
Linux's request socket for a SYN_RECEIVED connection)."""

WIDTH: Final = 480
HEIGHT: Final = 620
_NODE_W: Final = 118
_NODE_H: Final = 30

# centre of each node; "CLOSED-2" is the second drawing of CLOSED, at the bottom
_NODES: Final[dict[str, tuple[float, float]]] = {
    "CLOSED": (240, 30), "LISTEN": (240, 116), "SYN_RECEIVED": (82, 206),
    "SYN_SENT": (398, 206), "ESTABLISHED": (240, 296), "FIN_WAIT_1": (82, 386),
    "CLOSE_WAIT": (398, 386), "FIN_WAIT_2": (82, 476), "CLOSING": (240, 476),
    "LAST_ACK": (398, 476), "TIME_WAIT": (82, 566), "CLOSED-2": (398, 566),
}

Point = tuple[float, float]
# (old, new, polyline, label lines, label position, text-anchor)
_EDGES: Final[tuple[tuple[str, str, tuple[Point, ...], tuple[str, ...], Point, str], ...]] = (
    ("CLOSED", "LISTEN", ((248, 45), (248, 101)), ("passive open",), (254, 76), "start"),
    ("LISTEN", "CLOSED", ((232, 101), (232, 45)), ("close",), (226, 76), "end"),
    ("CLOSED", "SYN_SENT", ((299, 24), (388, 24), (388, 191)), ("active open", "/ SYN"),
     (382, 52), "end"),
    ("SYN_SENT", "CLOSED", ((412, 191), (412, 36), (299, 36)), ("close,", "rcv RST"),
     (418, 120), "start"),
    ("LISTEN", "SYN_RECEIVED", ((190, 131), (108, 191)), ("rcv SYN", "/ SYN,ACK"),
     (128, 146), "end"),
    ("SYN_RECEIVED", "LISTEN", ((126, 191), (204, 131)), ("rcv RST",), (176, 176), "start"),
    ("LISTEN", "SYN_SENT", ((290, 131), (366, 191)), ("send / SYN",), (312, 146), "start"),
    ("SYN_SENT", "SYN_RECEIVED", ((339, 210), (141, 210)), ("rcv SYN / SYN,ACK",),
     (240, 226), "middle"),
    ("SYN_RECEIVED", "ESTABLISHED", ((112, 221), (196, 281)), ("rcv ACK", "of SYN"),
     (140, 262), "end"),
    ("SYN_SENT", "ESTABLISHED", ((368, 221), (284, 281)), ("rcv SYN,ACK", "/ ACK"),
     (340, 262), "start"),
    ("SYN_RECEIVED", "FIN_WAIT_1", ((40, 221), (40, 371)), ("close", "/ FIN"), (34, 296), "end"),
    ("ESTABLISHED", "FIN_WAIT_1", ((200, 311), (112, 371)), ("close", "/ FIN"),
     (142, 326), "end"),
    ("ESTABLISHED", "CLOSE_WAIT", ((280, 311), (368, 371)), ("rcv FIN", "/ ACK"),
     (338, 326), "start"),
    ("CLOSE_WAIT", "LAST_ACK", ((398, 401), (398, 461)), ("close / FIN",), (404, 435), "start"),
    ("FIN_WAIT_1", "FIN_WAIT_2", ((82, 401), (82, 461)), ("rcv ACK", "of FIN"),
     (76, 428), "end"),
    ("FIN_WAIT_1", "CLOSING", ((120, 401), (214, 461)), ("rcv FIN", "/ ACK"),
     (176, 416), "start"),
    ("FIN_WAIT_1", "TIME_WAIT", ((141, 394), (150, 394), (150, 520), (120, 551)),
     ("rcv FIN+ACK", "/ ACK"), (156, 524), "start"),
    ("FIN_WAIT_2", "TIME_WAIT", ((82, 491), (82, 551)), ("rcv FIN", "/ ACK"),
     (76, 518), "end"),
    ("CLOSING", "TIME_WAIT", ((240, 491), (240, 540), (141, 566)), ("rcv ACK", "of FIN"),
     (246, 520), "start"),
    ("LAST_ACK", "CLOSED", ((398, 491), (398, 551)), ("rcv ACK", "of FIN"), (404, 518), "start"),
    ("TIME_WAIT", "CLOSED", ((141, 580), (339, 580)), ("timeout 2 MSL",), (240, 575), "middle"),
)
_ANY_CLOSED: Final = "fsm-t-ANY-CLOSED"
_ANY_POINTS: Final = ((440, 614), (440, 583))


def rfc_state(name: object) -> str:
    """The RFC 9293 node for a Linux (or RFC) state name; ``""`` when there is none."""
    text = str(name or "").strip().upper().replace("-", "_")
    if text in RFC_STATES:
        return text
    return LINUX_TO_RFC.get(text, "")


def node_id(state: str) -> str:
    """The id of the (first) node drawing RFC state ``state``."""
    return f"fsm-n-{state}"


def transition_id(old: object, new: object) -> str:
    """The id of the transition a Linux state change takes; ``""`` when the figure has none
    (an unknown state, or no change)."""
    a, b = rfc_state(old), rfc_state(new)
    if not a or not b or a == b:
        return ""
    if (a, b) in _EDGE_KEYS:
        return f"fsm-t-{a}-{b}"
    return _ANY_CLOSED if b == "CLOSED" else ""


_EDGE_KEYS: Final = frozenset((old, new) for old, new, *_ in _EDGES)


def transition_ids() -> list[str]:
    """Every transition's id."""
    return [f"fsm-t-{old}-{new}" for old, new, *_ in _EDGES] + [_ANY_CLOSED]


def _f(value: float) -> str:
    return f"{value:g}"


def _arrowhead(tip: Point, before: Point) -> str:
    angle = math.atan2(tip[1] - before[1], tip[0] - before[0])
    size, spread = 9.0, 0.42
    left = (tip[0] - size * math.cos(angle - spread), tip[1] - size * math.sin(angle - spread))
    right = (tip[0] - size * math.cos(angle + spread), tip[1] - size * math.sin(angle + spread))
    return (f'<path class="head" d="M {_f(tip[0])} {_f(tip[1])} L {left[0]:.1f} {left[1]:.1f} '
            f'L {right[0]:.1f} {right[1]:.1f} z"/>')


def _label(lines: tuple[str, ...], at: Point, anchor: str) -> str:
    spans = "".join(f'<tspan x="{_f(at[0])}" dy="{0 if i == 0 else 12}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return (f'<text class="label" x="{_f(at[0])}" y="{_f(at[1])}" '
            f'text-anchor="{anchor}">{spans}</text>')


def _edge(edge_id: str, points: tuple[Point, ...], lines: tuple[str, ...], at: Point,
          anchor: str, extra: str = "") -> str:
    path = " L ".join(f"{_f(x)} {_f(y)}" for x, y in points)
    return (f'<g id="{edge_id}" class="fsm-edge{extra}"><path class="line" d="M {path}"/>'
            f"{_arrowhead(points[-1], points[-2])}{_label(lines, at, anchor)}</g>")


def _badge(lane: int, letter: str, x: float, y: float) -> str:
    return (f'<g class="badge badge-{lane}"><circle cx="{_f(x)}" cy="{_f(y)}" r="9"/>'
            f'<text x="{_f(x)}" y="{_f(y + 4)}" text-anchor="middle">{escape(letter)}</text></g>')


def _node(key: str, centre: Point, letters: tuple[str, str]) -> str:
    state = key.removesuffix("-2")
    x, y = centre[0] - _NODE_W / 2, centre[1] - _NODE_H / 2
    return (f'<g id="fsm-n-{key}" class="fsm-node" data-state="{state}">'
            f'<rect x="{_f(x)}" y="{_f(y)}" width="{_NODE_W}" height="{_NODE_H}" rx="7"/>'
            f'<text class="name" x="{_f(centre[0])}" y="{_f(centre[1] + 4.5)}" '
            f'text-anchor="middle">{state}</text>'
            f"{_badge(0, letters[0], x + 2, y + 2)}{_badge(1, letters[1], x + _NODE_W - 2, y + 2)}"
            "</g>")


def badge_letters(sides: list[str]) -> tuple[str, str]:
    """One letter per endpoint for the badges (``C``, ``S``), distinct even for look-alikes."""
    first = [(side or "?")[:1].upper() for side in [*sides, "", ""][:2]]
    if first[0] == first[1]:
        return ("1", "2")
    return (first[0], first[1])


def fsm_svg(sides: list[str]) -> str:
    """The state machine as a standalone SVG document (no script, no link, no event handler).

    ``sides`` names the two endpoints; their initials mark the state each one is in.
    """
    letters = badge_letters(sides)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'id="fsm-svg" class="fsm" role="img" '
             f'aria-labelledby="fsm-title"><title id="fsm-title">TCP state machine '
             f"(RFC 9293): states and the events that move between them</title>"]
    parts += [_edge(f"fsm-t-{old}-{new}", points, lines, at, anchor)
              for old, new, points, lines, at, anchor in _EDGES]
    parts.append(_edge(_ANY_CLOSED, _ANY_POINTS, ("RST, abort or timeout, from any state",),
                       (432, 612), "end", " any"))
    parts += [_node(key, centre, letters) for key, centre in _NODES.items()]
    parts.append("</svg>")
    return "".join(parts)
