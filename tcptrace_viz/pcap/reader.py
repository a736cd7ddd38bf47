"""Read pcap and pcapng files (placeholder until the streaming reader lands)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import pandas as pd


@dataclasses.dataclass
class PcapReadResult:
    """What ``read_pcap`` found in a file."""

    packets: pd.DataFrame
    partial: bool
    problem: str
    frames_total: int
    linktypes: list[int]
    file_format: str
    comments: list[str]


def read_pcap(path: str | os.PathLike[str],
              progress: Callable[[int, int], None] | None = None) -> PcapReadResult:
    """Read a pcap or pcapng file (not implemented yet)."""
    raise NotImplementedError(os.fspath(path))
