"""Placeholder: not written yet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from tcptrace_viz.errors import BadInputError

if TYPE_CHECKING:
    from tcptrace_viz.model import Trace


class HtmlReport:
    """Not available yet."""

    fmt: Final = "html"
    binary: Final = False

    def render(self, trace: Trace, *, connection: int | None = None) -> str:
        """Not available yet."""
        raise BadInputError("format html is not available yet.")
