"""Compiled record walkers (``_walk.c``); ``walk.py`` has the same in Python."""

import numpy as np
import numpy.typing as npt

def pcap_records(data: npt.NDArray[np.uint8], out: npt.NDArray[np.int64], pos: int, end: int,
                 big_endian: bool) -> tuple[int, int]: ...
def pcapng_epbs(data: npt.NDArray[np.uint8], out: npt.NDArray[np.int64], pos: int, end: int,
                big_endian: bool) -> tuple[int, int]: ...
