"""The renderer registry: one list of formats, their suffixes, and what render() returns."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

import pytest
from factory import make_trace

from tcptrace_viz.errors import BadInputError
from tcptrace_viz.render import (
    FORMATS,
    BinaryFormat,
    TextFormat,
    format_info,
    format_of_suffix,
    render,
)


def test_the_typed_format_names_match_the_registry() -> None:
    assert sorted(get_args(TextFormat) + get_args(BinaryFormat)) == sorted(FORMATS)
    assert all(format_info(fmt).binary for fmt in get_args(BinaryFormat))
    assert not any(format_info(fmt).binary for fmt in get_args(TextFormat))


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_returns_what_its_entry_says(fmt: str) -> None:
    out = render(make_trace(), fmt)
    assert isinstance(out, bytes) == format_info(fmt).binary


def test_suffixes_name_their_format() -> None:
    assert format_of_suffix(".HTM") == "html"
    assert format_of_suffix(".mermaid") == format_of_suffix(".mmd") == "mermaid"
    assert format_of_suffix(".doc") is None
    assert format_info("mermaid").suffix == ".mmd"
    with pytest.raises(BadInputError, match="unknown format"):
        format_info("docx")


def test_importing_the_registry_loads_no_renderer() -> None:
    """The command line reads the format list at start-up: that must not import pandas."""
    code = ("import sys, tcptrace_viz.render, tcptrace_viz.cli;"
            "print(sorted(m for m in ('pandas', 'matplotlib', 'jinja2') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert run.stdout.strip() == "[]"
