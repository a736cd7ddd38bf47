"""Compiled text columns (``_text.c``); ``texts.py`` has the same in numpy and Python."""

import numpy as np
import numpy.typing as npt

def payload_texts(matrix: npt.NDArray[np.uint8], lengths: npt.NDArray[np.int64],
                  width: int) -> list[str]: ...
def timestamp_texts(keys: npt.NDArray[np.uint64]) -> list[str]: ...
