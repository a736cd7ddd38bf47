"""Why the kernel's counters and the frames on lo differ, said in words."""

from __future__ import annotations

import pytest


@pytest.mark.root
def test_simultaneous_close_measures_what_lo_dropped() -> None:
    """Its two first FINs leave while lo is down: counted as sent, dropped by lo, resent."""
    from capturing import capture

    from tcptrace_viz.render.console import console_summary

    trace = capture("simultaneous-close").trace
    stats = trace.meta.stats
    assert stats["lo_drops"] == stats["kernel_sent_segs"] - stats["kernel_in_segs"] == 2
    assert trace.meta.verdict == "pass"  # named, but not a failure: lo is down on purpose
    summary = " ".join(console_summary(trace, []).split())  # as one line, unwrapped
    assert ("2 segments sent while lo was down (dropped by the device, lo's tx_dropped, then "
            "retransmitted)") in summary


@pytest.mark.root
def test_other_scenarios_drop_nothing_on_lo() -> None:
    from capturing import capture

    stats = capture("close-then-write").trace.meta.stats
    assert stats["lo_drops"] == stats["lost"] == 0
