"""Remember what was computed from a packets frame, for as long as that frame lives.

A report asks the same questions of a capture's packets several times (the connection table
to pick the drawn connection, again to choose the ladder, again to list them; which segments
were retransmitted, for the table and for the choice).  On a million packets each answer
costs a fraction of a second, so the last answer is kept, keyed by the frame itself (held
weakly) and its shape: a frame changed in place must not be asked about again.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

R = TypeVar("R")


def last_frame_memo(function: Callable[[pd.DataFrame], R]) -> Callable[[pd.DataFrame], R]:
    """``function(frame)``, computed once for the frame it was last called with."""
    last: list[tuple[weakref.ref[pd.DataFrame], tuple[Any, ...], R]] = []

    @functools.wraps(function)
    def remembered(frame: pd.DataFrame) -> R:
        shape = (len(frame), tuple(map(str, frame.columns)))
        if last and last[0][0]() is frame and last[0][1] == shape:
            return last[0][2]
        result = function(frame)
        last[:] = [(weakref.ref(frame), shape, result)]
        return result

    return remembered
