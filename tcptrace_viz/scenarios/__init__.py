"""The close scenarios, registered in catalogue order (see ``../shared/SCENARIOS.md``).

The built-in modules are imported explicitly here; nothing is discovered dynamically.
"""

from __future__ import annotations

from tcptrace_viz.scenarios import (  # noqa: F401  (imported to register their scenarios)
    abortive,
    bulk,
    crossing,
    local,
    orderly,
    peer_closed,
)
from tcptrace_viz.scenarios.registry import Scenario, get, names

#: Catalogue order, which ``list`` and ``capture --all`` follow.
CATALOGUE: tuple[str, ...] = (
    "close-then-write", "shutdown", "poll-fin", "server-shutdown", "linger0",
    "linger0-data-loss", "close-unread", "socketpair", "pipe", "sigpipe", "connect-refused",
    "simultaneous-close", "time-wait", "question", "bulk-close",
)

assert sorted(CATALOGUE) == sorted(names()), "CATALOGUE and the registry disagree"

__all__ = ["CATALOGUE", "Scenario", "get", "names"]
