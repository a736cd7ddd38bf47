"""The compiled fast paths (``_speedups.c``) agree with their numpy/Python twins, byte for byte."""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import BASES, MUTATION, mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.pcap import gather as gather_module
from tcptrace_viz.pcap import read_pcap, speedups, texts, walk

COMPILED = walk.COMPILED and gather_module.COMPILED and texts.COMPILED
needs_compiled = pytest.mark.skipif(not COMPILED and os.environ.get("CI") != "true",
                                    reason="the C extension was not built (no C compiler)")


def test_extension_is_built_in_ci():
    """CI must exercise the compiled paths: an install that silently fell back fails here."""
    if os.environ.get("CI") != "true" and not COMPILED:
        pytest.skip("the C extension was not built (no C compiler); fallbacks in use")
    assert COMPILED


def test_the_extension_can_be_switched_off():
    code = ("from tcptrace_viz.pcap import gather, texts, walk;"
            "print(walk.COMPILED, gather.COMPILED, texts.COMPILED)")
    env = {**os.environ, speedups.NO_EXTENSIONS_ENV: "1"}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert run.stdout.split() == ["False", "False", "False"]


def _pcap_records(caplens: list[int], little: bool) -> bytes:
    order = "<" if little else ">"
    return b"".join(struct.pack(order + "IIII", 1, 2, caplen, caplen) + b"\xab" * min(caplen, 64)
                    for caplen in caplens)


def _both(python, compiled, buf, pos, end, big_endian, smallest):
    results = []
    for walker in (python, compiled):
        out = np.full((end - pos) // smallest + 1, -7, dtype=np.int64)
        count, stop = walker(buf, out, pos, end, big_endian)
        results.append((out[:count].tolist(), stop))
    return results


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(caplens=st.lists(st.integers(0, 64) | st.sampled_from([65, 2**31, 2**32 - 1]),
                        max_size=30),
       little=st.booleans(), cut=st.integers(0, 200), start=st.integers(0, 20))
def test_pcap_walkers_agree(caplens, little, cut, start):
    data = _pcap_records(caplens, little)
    buf = np.frombuffer(data + b"\0" * 256, dtype=np.uint8)
    end = max(0, len(data) - cut)
    pos = min(start, end)
    python, compiled = _both(walk.python_pcap_records, walk.compiled_pcap_records, buf, pos,
                             end, not little, 16)
    assert python == compiled


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(blocks=st.lists(st.tuples(st.sampled_from([6, 6, 6, 1, 0x0A0D0D0A]),
                                 st.sampled_from([32, 36, 64, 12, 33, 0, 16 << 20, 2**32 - 4])),
                       max_size=20),
       little=st.booleans(), cut=st.integers(0, 100))
def test_pcapng_walkers_agree(blocks, little, cut):
    order = "<" if little else ">"
    data = b"".join(struct.pack(order + "II", kind, size) + b"\0" * min(max(size - 8, 0), 56)
                    for kind, size in blocks)
    buf = np.frombuffer(data + b"\0" * 256, dtype=np.uint8)
    end = max(0, len(data) - cut)
    python, compiled = _both(walk.python_pcapng_epbs, walk.compiled_pcapng_epbs, buf, 0, end,
                             not little, 32)
    assert python == compiled


@needs_compiled
def test_walkers_stop_when_the_output_is_full():
    data = np.frombuffer(_pcap_records([4] * 10, True), dtype=np.uint8)
    for walker in (walk.python_pcap_records, walk.compiled_pcap_records):
        out = np.zeros(3, dtype=np.int64)
        assert walker(data, out, 0, len(data), False) == (3, 60)
        assert out.tolist() == [0, 20, 40]


@needs_compiled
def test_walk_range_outside_the_buffer_is_refused():
    data = np.zeros(10, dtype=np.uint8)
    with pytest.raises(ValueError, match="outside the buffer"):
        walk.compiled_pcap_records(data, np.zeros(4, dtype=np.int64), 0, 11, False)


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=1, max_size=200), width=st.integers(1, 40),
       starts=st.lists(st.integers(-5, 210), max_size=20))
def test_gathers_agree(data, width, starts):
    buf = np.frombuffer(data, dtype=np.uint8)
    offsets = np.array(starts, dtype=np.int64)
    outcomes = []
    for gather in (gather_module.python_gather, gather_module.compiled_gather):
        out = np.zeros((len(offsets), width), dtype=np.uint8)
        try:
            gather(buf, offsets, width, out)
        except IndexError:
            outcomes.append("IndexError")
        else:
            outcomes.append(out.tolist())
    assert outcomes[0] == outcomes[1]
    inside = all(0 <= start <= len(data) - width for start in starts)
    assert (outcomes[0] != "IndexError") == inside


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.binary(min_size=8, max_size=8), max_size=30),
       lengths=st.lists(st.integers(-3, 12), max_size=30))
def test_payload_texts_agree(rows, lengths):
    count = min(len(rows), len(lengths))
    matrix = np.frombuffer(b"".join(rows[:count]), dtype=np.uint8).reshape(count, 8)
    wanted = np.array(lengths[:count], dtype=np.int64)
    python = texts.python_payload_texts(matrix, wanted, 8)
    assert python == texts.compiled_payload_texts(matrix, wanted, 8)
    assert all(len(text) == max(0, min(8, n)) for text, n in zip(python, wanted, strict=True))


@needs_compiled
def test_timestamp_texts_agree_at_the_edges():
    keys = np.array([0, 1, 2**32 - 1, 2**32, 2**64 - 1, 1234567890 << 32 | 4000000000],
                    dtype=np.uint64)
    python = texts.python_timestamp_texts(keys)
    assert python == texts.compiled_timestamp_texts(keys)
    assert python[-1] == "nop,nop,TS val 1234567890 ecr 4000000000"
    assert python[4] == "nop,nop,TS val 4294967295 ecr 4294967295"


@contextlib.contextmanager
def python_fallbacks() -> Iterator[None]:
    """Make the reader use the numpy/Python twins, as on a machine without a C compiler."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(walk, "_pcap_records", walk.python_pcap_records)
        patch.setattr(walk, "_pcapng_epbs", walk.python_pcapng_epbs)
        patch.setattr(gather_module, "_gather", gather_module.python_gather)
        patch.setattr(texts, "_payload_texts", texts.python_payload_texts)
        patch.setattr(texts, "_timestamp_texts", texts.python_timestamp_texts)
        yield


def _outcome(path: Path) -> tuple[str, pd.DataFrame | None, tuple[object, ...]]:
    try:
        result = read_pcap(path)
    except BadInputError as error:
        return error.message, None, ()
    return result.problem, result.packets, (result.partial, result.frames_total,
                                            result.skipped)


@needs_compiled
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(sorted(BASES)), mutations=st.lists(MUTATION, max_size=3))
def test_reader_gives_the_same_result_without_the_extension(base, mutations):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / base
        path.write_bytes(mutate(BASES[base], mutations))
        compiled = _outcome(path)
        with python_fallbacks():
            fallback = _outcome(path)
    assert compiled[0] == fallback[0]
    assert compiled[2] == fallback[2]
    if compiled[1] is None or fallback[1] is None:
        assert compiled[1] is fallback[1]
    else:
        pd.testing.assert_frame_equal(compiled[1], fallback[1])


@needs_compiled
@pytest.mark.parametrize("which", ["python", "compiled"])
def test_gather_refuses_what_it_cannot_do_safely(which):
    gather = getattr(gather_module, f"{which}_gather")
    data = np.arange(24, dtype=np.uint8)
    starts = np.array([8, 0], dtype=np.int64)
    with pytest.raises(ValueError, match="overlap"):
        gather(data, starts, 8, data[:16])
    with pytest.raises(ValueError, match="len\\(starts\\) \\* width"):
        gather(data, starts, 8, np.zeros(15, dtype=np.uint8))
    with pytest.raises(ValueError, match="len\\(starts\\) \\* width"):
        gather(data, starts[:0], 8, np.zeros(1, dtype=np.uint8))
    with pytest.raises(ValueError, match="width"):
        gather(data, starts, 0, np.zeros(0, dtype=np.uint8))
    out = np.full((2, 8), 7, dtype=np.uint8)
    with pytest.raises(IndexError):
        gather(data, np.array([0, 17], dtype=np.int64), 8, out)
    assert (out == 7).all()  # nothing written before the bad window was found


@needs_compiled
def test_compiled_functions_check_the_kind_of_their_arrays():
    data = np.zeros(64, dtype=np.uint8)
    misaligned = np.zeros(9 * 8 + 1, dtype=np.uint8)[1:].view(np.int64)
    for bad in (misaligned, np.zeros(8, dtype=np.float64), np.zeros(8, dtype=np.int32)):
        with pytest.raises(ValueError, match="int64"):
            walk.compiled_pcap_records(data, bad, 0, 64, False)
        with pytest.raises(ValueError, match="int64"):
            gather_module.compiled_gather(data, bad, 4, np.zeros(len(bad) * 4, dtype=np.uint8))
        with pytest.raises(ValueError, match="int64"):
            texts.compiled_payload_texts(np.zeros((len(bad), 4), np.uint8), bad, 4)
    for which in ("python", "compiled"):
        with pytest.raises(ValueError, match="uint64"):
            getattr(texts, f"{which}_timestamp_texts")(np.array([-1], dtype=np.int64))
        with pytest.raises(ValueError, match="walk range"):
            getattr(walk, f"{which}_pcap_records")(data, np.zeros(4, np.int64), 10, 5, False)


@needs_compiled
def test_sizes_that_would_overflow_are_refused():
    starts = np.zeros(1 << 20, dtype=np.int64)  # 2**20 rows of 2**44 bytes: 2**64 wraps to 0
    with pytest.raises(ValueError, match="len\\(starts\\) \\* width"):
        gather_module.compiled_gather(np.zeros(64, np.uint8), starts, 1 << 44,
                                      np.zeros(0, np.uint8))
    with pytest.raises(ValueError, match="len\\(lengths\\) \\* width"):
        texts.compiled_payload_texts(np.zeros(0, np.uint8), starts, 1 << 44)
