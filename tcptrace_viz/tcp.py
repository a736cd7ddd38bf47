"""TCP's own words: header flag bits, tcpdump's letters for them, the kernel's state numbers.

Free of pandas and numpy, so the layers that run before any Trace exists (the kernel
primitives, the scenarios) can use them without paying for those imports.
"""

from __future__ import annotations

from typing import Final

# --- TCP header flags (RFC 9293 s3.1, RFC 3168) -------------------------------------------------
TH_FIN: Final = 0x01  # no more data from sender
TH_SYN: Final = 0x02  # synchronise sequence numbers
TH_RST: Final = 0x04  # reset the connection
TH_PSH: Final = 0x08  # push: deliver to the application now
TH_ACK: Final = 0x10  # acknowledgment field is significant
TH_URG: Final = 0x20  # urgent pointer field is significant
TH_ECE: Final = 0x40  # ECN echo
TH_CWR: Final = 0x80  # congestion window reduced

# tcpdump's order and letters; ACK is the trailing dot ("P." = PSH+ACK).
_FLAG_LETTERS: Final = ((TH_FIN, "F"), (TH_SYN, "S"), (TH_RST, "R"), (TH_PSH, "P"),
                        (TH_ACK, "."), (TH_URG, "U"), (TH_ECE, "E"), (TH_CWR, "W"))


def tcp_flags_to_str(bits: int) -> str:
    """Return tcpdump's letters for TCP flag bits: ``0x18`` -> ``"P."``, ``0`` -> ``"none"``."""
    text = "".join(letter for bit, letter in _FLAG_LETTERS if bits & bit)
    return text or "none"


# --- TCP states, numbered as in include/net/tcp_states.h ----------------------------------------
TCP_STATES: Final[dict[int, str]] = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING",
    12: "NEW_SYN_RECV",
}

#: Where a state change came from.
STATE_SOURCES: Final = ("tracepoint", "socket-table", "sampled", "inferred")
#: The sources that saw the kernel's own state; the others are guesses.
OBSERVED_SOURCES: Final = frozenset({"tracepoint", "socket-table"})
