"""Whether the reader uses its compiled fast paths (``_speedups.c``).

It does whenever the extension was built, unless ``TCPTRACE_VIZ_NO_EXTENSIONS`` is set to
anything but ``0``: then the numpy/Python twins run instead (to compare the two, or to rule the
extension out when a result looks wrong).  The variable is read when the reader is imported.
"""

from __future__ import annotations

import os
from typing import Final

NO_EXTENSIONS_ENV: Final = "TCPTRACE_VIZ_NO_EXTENSIONS"


def compiled_allowed() -> bool:
    """False when the user asked for the pure numpy/Python reader."""
    return os.environ.get(NO_EXTENSIONS_ENV, "") in ("", "0")
