"""Fuzz read_pcap with damaged real captures: a result or BadInputError, never anything else."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

from builders import BASES, MUTATION, mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.pcap import DECODED_COLUMNS, PcapReadResult, read_pcap
from tcptrace_viz.pcap import reader as reader_module


def check(path: Path) -> None:
    try:
        result = read_pcap(path)
    except BadInputError as error:
        assert error.message.endswith(".") and "\n" not in error.message
        assert str(path) in error.message
        return
    assert isinstance(result, PcapReadResult)
    assert list(result.packets.columns) == list(DECODED_COLUMNS)
    assert len(result.packets) <= result.frames_total
    assert result.partial <= bool(result.problem)
    if result.problem:
        assert str(path) in result.problem and "\n" not in result.problem


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(sorted(BASES)), mutations=st.lists(MUTATION, min_size=1,
                                                               max_size=4),
       small_windows=st.booleans())
def test_damaged_captures_never_crash(base, mutations, small_windows):
    data = mutate(BASES[base], mutations)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / base
        path.write_bytes(data)
        if small_windows:
            with mock.patch.object(reader_module, "CHUNK", 37):
                check(path)
        else:
            check(path)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), prefix=st.sampled_from(
    [b"", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a",
     b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00"]))
def test_random_bytes_never_crash(data, prefix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.bin"
        path.write_bytes(prefix + data)
        check(path)
