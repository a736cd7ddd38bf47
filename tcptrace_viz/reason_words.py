"""The kernel's reset and drop reasons in plain words, for a reader who has not read tcp_input.c.

Names are those of Linux's ``enum sk_rst_reason`` (``include/net/rstreason.h``, reported by the
``tcp:tcp_send_reset`` tracepoint) and ``enum skb_drop_reason`` (``include/net/dropreason-core.h``,
``skb:kfree_skb``).  A name not listed here has no gloss: the report shows the kernel's name
alone rather than a guess.
"""

from __future__ import annotations

from typing import Final

GLOSSES: Final[dict[str, str]] = {
    # sk_rst_reason
    "NOT_SPECIFIED": "the kernel gave no specific reason",
    "NO_SOCKET": "no socket here wanted the segment: nothing listens on that port, "
                 "or the connection is already gone",
    "TCP_INVALID_ACK_SEQUENCE": "the segment acknowledged a sequence number that is not "
                                "acceptable in this state",
    "TCP_RFC7323_PAWS": "the segment's timestamp was older than the last one seen "
                        "(PAWS, RFC 7323)",
    "TCP_TOO_OLD_ACK": "the segment acknowledged data older than anything still outstanding",
    "TCP_ACK_UNSENT_DATA": "the segment acknowledged data that was never sent",
    "TCP_FLAGS": "the segment's flags are not allowed in this state",
    "TCP_OLD_ACK": "a stale ACK arrived for a connection still being set up",
    "TCP_ABORT_ON_DATA": "data arrived for a socket whose program had closed it (or shut it down "
                         "both ways), so nothing could ever read it",
    "TCP_TIMEWAIT_SOCKET": "a segment arrived that a connection in TIME_WAIT cannot accept; "
                           "the TIME_WAIT entry answers with RST and is removed",
    "INVALID_SYN": "a SYN arrived on a connection that is already open",
    "TCP_ABORT_ON_CLOSE": "the program closed the socket with received data still unread; "
                          "that data is thrown away",
    "TCP_ABORT_ON_LINGER": "the closed socket's FIN_WAIT2 time (TCP_LINGER2) ran out",
    "TCP_ABORT_ON_MEMORY": "the kernel was short of memory for sockets already closed",
    "TCP_STATE": "the connection was aborted where it stood instead of ended with a FIN "
                 "(close() with SO_LINGER {1, 0}, a listener closed with it still queued, "
                 "connect(AF_UNSPEC))",
    "TCP_KEEPALIVE_TIMEOUT": "keepalive probes went unanswered",
    "TCP_DISCONNECT_WITH_DATA": "the program disconnected (connect(AF_UNSPEC)) with data "
                                "still queued",
    # skb_drop_reason, those a close scenario can meet
    "TCP_CLOSE": "the socket the segment was for is closed",
    "TCP_RESET": "the segment was an RST, which ends the connection",
    "TCP_INVALID_SEQUENCE": "the segment lies outside the receive window",
    "TCP_OLD_DATA": "the segment holds only data already received",
    "TCP_ZEROWINDOW": "the receiver's window was full",
    "NETFILTER_DROP": "a firewall rule dropped it",
    "SOCKET_RCVBUFF": "the receiving socket's buffer was full",
}


def gloss(reason: str) -> str:
    """``reason`` in plain words, or ``""`` when there is no gloss for it."""
    return GLOSSES.get(reason.strip(), "")
