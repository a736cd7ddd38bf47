"""Words every layer writes the same way."""

from __future__ import annotations

import math

import pytest

from tcptrace_viz.vocabulary import duration_text, endpoint, segment_text


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (1.2e-05, "12 µs"), (2.5e-4, "250 µs"), (0.0009999, "1 ms"), (0.0123, "12.3 ms"),
    (1.5, "1.5 s"), (150, "2.5 min"), (7200, "2 h"), (4e-9, "4 ns"), (math.nan, ""),
])
def test_durations_in_human_units(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_endpoints() -> None:
    assert endpoint("fd00::1", 5555) == "[fd00::1]:5555"
    assert endpoint("::ffff:127.0.0.1", 80) == "127.0.0.1:80"


def test_segments_in_words() -> None:
    assert segment_text("c2s F.") == "client→server F."
    assert segment_text("s2c R*") == "server→client RST (with any other flags)"
    assert segment_text("c2s FP*") == "client→server FIN+PSH (with any other flags)"
    assert segment_text("c2s *") == "client→server any segment"
    assert segment_text("c2s [RF]*") == "client→server [RF]*"  # no words for a class: as written
    assert segment_text("s2c S.", ("writer", "reader")) == "reader→writer S."
