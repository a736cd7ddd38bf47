"""Frames found in one buffer window, and what a format parser hands back for that window."""

from __future__ import annotations

import dataclasses

import numpy as np

from tcptrace_viz.arrays import I64, Obj


@dataclasses.dataclass
class Frames:
    """Captured frames in one buffer (every array indexes that buffer's frames alike)."""

    start: I64
    """Buffer offset of each frame's first link-layer byte."""
    caplen: I64
    """Captured length of each frame."""
    wirelen: I64
    """Length of each frame on the wire (used when an IP length field says 0, as with TSO)."""
    linktype: I64
    """Link type of each frame (-1 for an interface of unknown link type)."""
    ts_ns: I64
    """Timestamp of each frame, ns since the epoch."""
    frame: I64
    """1-based record number of each frame in the file (counting every record)."""
    comment: Obj | None = None
    """Packet comments, or None when no frame has one."""


@dataclasses.dataclass
class ParseStep(Frames):
    """The frames of one buffer window, and where and why the parser stopped."""

    stop: int = 0
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
