"""What a format parser hands back for one window of the file: frames plus where it stopped."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


@dataclasses.dataclass
class ParseStep:
    """Records found in one buffer window (arrays index the window's buffer)."""

    start: I64
    """Buffer offset of each frame's first link-layer byte."""
    caplen: I64
    """Captured length of each frame."""
    wirelen: I64
    """Length of each frame on the wire."""
    linktype: I64
    """Link type of each frame (-1 for an interface of unknown link type)."""
    ts_ns: I64
    """Timestamp of each frame, ns since the epoch."""
    frame: I64
    """1-based record number of each frame in the file."""
    comment: npt.NDArray[np.object_] | None
    """Packet comments, or None when no frame of the window has one."""
    stop: int
    """Buffer offset just after the last record consumed."""
    need: int = 0
    """Bytes needed from ``stop`` before the next record can be parsed (0: unknown)."""
    problem: str = ""
    """Damage found at ``stop`` (a phrase without the file name); reading ends there."""

    @classmethod
    def empty(cls, stop: int, need: int = 0, problem: str = "") -> ParseStep:
        """A step that found no frames."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, none, none, none, None, stop, need, problem)

    def cut(self, count: int, problem: str, stop: int) -> ParseStep:
        """Keep only the first ``count`` frames: the record after them is damaged."""
        return ParseStep(self.start[:count], self.caplen[:count], self.wirelen[:count],
                         self.linktype[:count], self.ts_ns[:count], self.frame[:count],
                         None if self.comment is None else self.comment[:count], stop, 0,
                         problem)
