"""Why the kernel's counters and the frames on lo differ, said in words."""

from __future__ import annotations

import pytest

from tcptrace_viz.accounting import explain_counts


def test_counters_that_agree_need_no_explanation() -> None:
    assert explain_counts({"kernel_sent_segs": 7, "kernel_in_segs": 7}) == []
    assert explain_counts({}) == []


def test_segments_sent_while_lo_was_down() -> None:
    stats = {"kernel_sent_segs": 9, "kernel_in_segs": 7, "lo_tx_dropped": 2,
             "kernel_retrans_segs": 2}
    assert explain_counts(stats) == [
        "2 sent while lo was down (dropped by the device, then retransmitted)"]
    assert explain_counts({**stats, "kernel_retrans_segs": 0}) == [
        "2 sent while lo was down (dropped by the device)"]


@pytest.mark.root
def test_simultaneous_close_measures_what_lo_dropped() -> None:
    """Its two first FINs leave while lo is down: counted as sent, dropped by lo, resent."""
    from tcptrace_viz.capture.session import run_capture
    from tcptrace_viz.cli import _console_summary

    trace = run_capture("simultaneous-close").trace
    stats = trace.meta["stats"]
    assert stats["lo_tx_dropped"] == stats["kernel_sent_segs"] - stats["kernel_in_segs"] == 2
    assert stats["lo_rx_dropped"] == 0
    summary = _console_summary(trace, [])
    assert ("why the counts differ: 2 sent while lo was down (dropped by the device, then "
            "retransmitted)") in summary


@pytest.mark.root
def test_other_scenarios_drop_nothing_on_lo() -> None:
    from tcptrace_viz.capture.session import run_capture

    stats = run_capture("close-then-write").trace.meta["stats"]
    assert stats["lo_tx_dropped"] == stats["lo_rx_dropped"] == 0
