"""What keeps a million-packet report small and quick gives the same answers as before.

The connection table, close facts and retransmissions are kept for the frame last asked
about; packets already in time order are not copied; equal payload previews share one object.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from builders import close_then_write, linger0, merge, retransmission

from tcptrace_viz.analysis import annotate_packets, connections
from tcptrace_viz.analysis.fields import in_time_order, time_order
from tcptrace_viz.analysis.frame_memo import last_frame_memo, remembering
from tcptrace_viz.pcap.column_arrays import TextPool


def test_a_remembered_answer_is_for_that_frame_only() -> None:
    calls: list[int] = []

    @last_frame_memo
    def rows(frame: pd.DataFrame) -> int:
        calls.append(1)
        return len(frame)

    first = pd.DataFrame({"a": [1, 2, 3]})
    with remembering():
        assert rows(first) == 3 and rows(first) == 3 and len(calls) == 1
        second = pd.DataFrame({"a": [1, 2]})
        assert rows(second) == 2 and len(calls) == 2
        second["b"] = 0  # a frame given a new column is asked again
        assert rows(second) == 2 and len(calls) == 3
    assert rows(second) == 2 and len(calls) == 4  # outside the block nothing is kept


def test_a_frame_changed_in_place_outside_a_command_gets_a_fresh_table() -> None:
    """A notebook may edit a Trace's packets and ask again: no stale answer."""
    packets = annotate_packets(merge(close_then_write(), linger0(), retransmission()))
    before = connections(packets)
    packets.loc[packets["conn"] == 0, "src"] = "10.9.9.9"
    after = connections(packets)
    assert before.loc[0, "client"] != after.loc[0, "client"]


def test_the_connection_table_asked_twice_is_the_same_and_a_callers_edit_stays_theirs() -> None:
    packets = annotate_packets(merge(close_then_write(), linger0(), retransmission()))
    with remembering():
        first = connections(packets)
        first.loc[0, "summary"] = "edited by the caller"
        second = connections(packets)
    assert second.loc[0, "summary"] != "edited by the caller"
    fresh = connections(packets.copy())  # another frame: computed again, same answer
    pd.testing.assert_frame_equal(second, fresh)


def test_time_order_takes_the_quick_way_only_when_rows_are_in_order() -> None:
    frame = pd.DataFrame({"ts_ns": [5, 5, 7, 9], "frame": [1, 2, 3, 4]})
    assert time_order(frame).tolist() == [0, 1, 2, 3]
    assert in_time_order(frame) is frame
    times = np.array([1_700_000_000_000_000_000, -9_000_000_000_000_000_000])
    huge_gap = pd.DataFrame({"ts_ns": times, "frame": [1, 2]})  # their difference overflows
    assert time_order(huge_gap).tolist() == [1, 0]
    shuffled = pd.DataFrame({"ts_ns": [7, 5, 9, 5], "frame": [3, 2, 4, 1]})
    assert time_order(shuffled).tolist() == [3, 1, 0, 2]
    assert in_time_order(shuffled)["frame"].tolist() == [1, 2, 3, 4]
    same_time = pd.DataFrame({"ts_ns": [5, 5], "frame": [2, 1]})  # ties: by frame number
    assert time_order(same_time).tolist() == [1, 0]


def test_equal_payload_previews_share_one_object_batch_after_batch() -> None:
    pool = TextPool()
    batch = np.array(["GET / HTTP/1.1", "".join(["GET / ", "HTTP/1.1"]), "other"], dtype=object)
    assert batch[0] is not batch[1]
    shared = pool.shared(batch)
    assert shared.tolist() == batch.tolist() and shared[0] is shared[1]
    later = pool.shared(np.array(["".join(["oth", "er"])], dtype=object))
    assert later[0] is shared[2]
