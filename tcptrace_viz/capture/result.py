"""What one capture run gives: its Trace and the raw frames for its pcapng file.

Free of pandas: the capture's parent imports this before it forks its first worker, and the
heavy imports (see :func:`tcptrace_viz.capture.assembly.import_assembly`) happen while that
worker runs.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace


@dataclasses.dataclass
class CaptureResult:
    """A finished run: the Trace plus the raw frames for the pcapng file."""

    trace: Trace
    frames: list[bytes]
    frame_ts_ns: list[int]
