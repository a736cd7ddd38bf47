"""Whether the reader uses its compiled fast paths (``_speedups.c``).

It does whenever the extension was built, unless ``TCPTRACE_VIZ_NO_EXTENSIONS`` is set to
anything but ``0``: then the numpy/Python twins run instead (to compare the two, or to rule the
extension out when a result looks wrong).  The variable is read when the reader is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final

NO_EXTENSIONS_ENV: Final = "TCPTRACE_VIZ_NO_EXTENSIONS"


def compiled_allowed() -> bool:
    """False when the user asked for the pure numpy/Python reader."""
    return os.environ.get(NO_EXTENSIONS_ENV, "") in ("", "0")


def compiled_function(name: str) -> Callable[..., Any] | None:
    """The compiled twin called ``name`` from ``_speedups``; None when the extension was not
    built (no C compiler) or is switched off."""
    if not compiled_allowed():
        return None
    try:
        from tcptrace_viz.pcap import _speedups
    except ImportError:
        return None
    function: Callable[..., Any] = getattr(_speedups, name)
    return function
