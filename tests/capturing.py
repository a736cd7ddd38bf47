"""Real captures for the tests: a built-in scenario run and judged, as ``capture`` does."""

from __future__ import annotations

import socket
from collections.abc import Mapping

from tcptrace_viz.capture.result import CaptureResult
from tcptrace_viz.capture.session import run_capture
from tcptrace_viz.scenarios import get
from tcptrace_viz.scenarios.params import Value
from tcptrace_viz.scenarios.verdict import judge_run


def capture(name: str, family: int = socket.AF_INET,
            params: Mapping[str, Value] | None = None) -> CaptureResult:
    """Run the built-in scenario ``name`` once; its Trace carries the verdict."""
    scenario = get(name)
    result = run_capture(scenario, family, params)
    judge_run(result.trace, scenario, params)
    return result
