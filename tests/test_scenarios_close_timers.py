"""The close cases that turn on a lost segment, a timer or a setting, run ten times in a row.

Each runs for real (root: a network namespace, nft loss rules, tracefs), so each must behave the
same way every time on this kernel, IPv4 and IPv6 alike.
"""

from __future__ import annotations

import socket

import pytest
from capturing import capture

pytestmark = pytest.mark.root

TIMER_CASES = ("close-syn-sent", "fin-wait2-linger2", "fin-user-timeout",
               "keepalive-timeout", "accept-overflow-abort")


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
@pytest.mark.parametrize("name", TIMER_CASES)
def test_the_timer_teardowns_pass_ten_runs_in_a_row(name: str, family: int) -> None:
    """Every one of ten runs matches the outcome the scenario declares."""
    for run in range(10):
        trace = capture(name, family).trace
        assert trace.meta.verdict == "pass", (run, trace.meta.verdict_detail)
