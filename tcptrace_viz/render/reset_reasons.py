"""The kernel's reason for each reset the trace holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace


def reset_reasons(trace: Trace) -> dict[int, str]:
    """Packet row -> the kernel's reason for that RST (``packets.reason``, set by the capture
    from ``tcp:tcp_send_reset`` for the very segment it sent); RSTs without one are left out."""
    packets = trace.packets
    if not len(packets):
        return {}
    reasons = packets["reason"].astype(str).to_numpy()
    return {int(i): str(reasons[i]) for i in np.flatnonzero(reasons != "")}
