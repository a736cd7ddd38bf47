"""What the ladder's colours say: one per kernel TCP state, one per kind of segment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from tcptrace_viz.render.ladder_model import Event

STATE_COLOURS: Final[dict[str, str]] = {
    "SYN_SENT": "#a6cee3", "SYN_RECV": "#a6cee3", "NEW_SYN_RECV": "#a6cee3",
    "LISTEN": "#b2df8a", "ESTABLISHED": "#33a02c", "FIN_WAIT1": "#ff7f00",
    "FIN_WAIT2": "#fdbf6f", "CLOSE_WAIT": "#6a3d9a", "LAST_ACK": "#cab2d6",
    "CLOSING": "#b15928", "TIME_WAIT": "#1f78b4", "CLOSE": "#bdbdbd",
}
UNKNOWN_STATE_COLOUR: Final = "#e0e0e0"
ARROW_COLOURS: Final[dict[str, str]] = {
    "rst": "#d62728", "fin": "#b35806", "syn": "#1b7837", "data": "#2166ac", "ack": "#4d4d4d",
}
ARROW_LEGEND: Final = (("syn", "SYN (open)"), ("data", "data (PSH)"), ("ack", "ACK only"),
                       ("fin", "FIN (done sending)"), ("rst", "RST (reset)"))
ERROR_COLOUR: Final = "#c00000"
TEXT_COLOUR: Final = "#1a1a1a"
MUTED_COLOUR: Final = "#6b6b6b"


def arrow_kind(event: Event) -> str:
    """``rst``, ``fin``, ``syn``, ``data`` or ``ack``: what an arrow's colour says."""
    flags = event.label.split("]", 1)[0]
    if event.rst:
        return "rst"
    if "F" in flags:
        return "fin"
    if "S" in flags:
        return "syn"
    if " len 0" not in event.label:
        return "data"
    return "ack"
