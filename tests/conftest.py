"""Shared fixtures and the rule for privileged tests.

Tests marked ``root`` need root, network namespaces and tracefs.  They skip only where root is
absent and never in CI (``CI=true``), where a missing privilege is a failure.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the factory module


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    if os.environ.get("CI", "").lower() == "true":
        return  # in CI a privileged test runs, and fails if the privilege is missing
    for item in items:
        if "root" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="needs root"))
