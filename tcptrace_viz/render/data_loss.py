"""What a run lost, in words: the bytes send() accepted against the bytes the peer received.

A scenario's steps record ``bytes_accepted`` and ``bytes_delivered`` in ``meta.facts`` when
its point is data loss (linger0-data-loss); every renderer says the same sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tcptrace_viz.meta import TraceMeta


def data_loss(meta: TraceMeta) -> tuple[int, int] | None:
    """``(accepted, delivered)`` bytes, when the run counted both."""
    accepted, delivered = meta.facts.get("bytes_accepted"), meta.facts.get("bytes_delivered")
    if not isinstance(accepted, int) or not isinstance(delivered, int) \
            or isinstance(accepted, bool) or isinstance(delivered, bool):
        return None
    return accepted, delivered


def data_loss_sentence(meta: TraceMeta) -> str:
    """``send() accepted 8,237,672 bytes; the peer received 75,296: 8,162,376 bytes lost``,
    or ``""``."""
    counted = data_loss(meta)
    if counted is None:
        return ""
    accepted, delivered = counted
    lost = accepted - delivered
    tail = f"{lost:,} bytes lost" if lost > 0 else "nothing lost"
    return f"send() accepted {accepted:,} bytes; the peer received {delivered:,}: {tail}"
