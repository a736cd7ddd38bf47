"""Remember what was computed from a packets frame, while a command reads one capture.

A report asks the same questions of a capture's packets several times (the connection table
to pick the drawn connection, again to choose the ladder, again to list them; which segments
were retransmitted, for the table and for the choice).  On a million packets each answer
costs a fraction of a second.  Inside :func:`remembering` (which the ``report``,
``connections`` and ``diff`` commands open around their work on a capture nobody changes) the
last answer is kept, keyed by the frame itself (held weakly) and its shape.  Outside it,
nothing is kept: a notebook may change a frame in place and ask again.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import pandas as pd

R = TypeVar("R")

_depth = [0]
"""How many :func:`remembering` blocks are open."""
_memories: list[list[Any]] = []
"""Every memoised function's last answer (emptied when the outermost block closes)."""


@contextlib.contextmanager
def remembering() -> Iterator[None]:
    """Keep answers about packet frames until the block ends; the frames must not be changed
    in place inside it."""
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
        if not _depth[0]:
            for memory in _memories:
                memory.clear()


def last_frame_memo(function: Callable[[pd.DataFrame], R]) -> Callable[[pd.DataFrame], R]:
    """``function(frame)``, computed once for the frame it was last called with inside
    :func:`remembering` (every time outside it)."""
    last: list[tuple[weakref.ref[pd.DataFrame], tuple[Any, ...], R]] = []
    _memories.append(last)

    @functools.wraps(function)
    def remembered(frame: pd.DataFrame) -> R:
        if not _depth[0]:
            return function(frame)
        shape = (len(frame), tuple(map(str, frame.columns)))
        if last and last[0][0]() is frame and last[0][1] == shape:
            return last[0][2]
        result = function(frame)
        last[:] = [(weakref.ref(frame), shape, result)]
        return result

    return remembered
