"""Placeholder: not written yet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tcptrace_viz.errors import BadInputError

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace


def render_index(entries: Sequence[tuple[Trace, str]]) -> str:
    """Not available yet."""
    raise BadInputError("the index is not available yet.")
