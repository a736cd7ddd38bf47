"""The close scenarios (see ``../shared/SCENARIOS.md``) and their registry.

The built-ins are imported explicitly, in catalogue order, by :mod:`.builtin`; nothing is
discovered dynamically.
"""

from __future__ import annotations

from tcptrace_viz.scenarios import builtin  # noqa: F401  (imported to register the built-ins)
from tcptrace_viz.scenarios.registry import Scenario, get, names

#: Catalogue order, which ``list`` and ``capture --all`` follow: the built-ins' registration
#: order, i.e. the import list in :mod:`tcptrace_viz.scenarios.builtin`.
CATALOGUE: tuple[str, ...] = tuple(names())

__all__ = ["CATALOGUE", "Scenario", "get", "names"]
