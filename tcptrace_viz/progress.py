"""Progress of long work, shown on a terminal only: a percentage while reading, then phases.

Reading a large capture is quick, but finding its connections, inferring their states and
rendering them can take seconds more; a user at a terminal sees which step is running.  When
the stream is not a terminal (CI, a pipe, a log file) nothing is written.
"""

from __future__ import annotations

import sys
import time
from typing import Final, TextIO

_MB: Final = 1 << 20
_REDRAW_S: Final = 0.1  # redraw the percentage at most this often


class Progress:
    """Writes progress to ``stream`` when ``enabled``; every method is a no-op otherwise."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self._open_line = False
        self._last_draw = 0.0

    @classmethod
    def on_stderr(cls) -> Progress:
        """Progress on standard error, enabled when it is a terminal."""
        return cls(sys.stderr, sys.stderr.isatty())

    def reading(self, label: str, done: int, total: int) -> None:
        """Redraw ``label: 45% (195 of 432 MB)`` in place (throttled; always at the end)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last_draw < _REDRAW_S:
            return
        self._last_draw = now
        percent = min(100 * done // total, 100) if total > 0 else 100
        of = (f" ({min(done, total) / _MB:.0f} of {total / _MB:.0f} MB)" if total >= _MB
              else "")
        self.stream.write(f"\r{label}: {percent}%{of}")
        self.stream.flush()
        self._open_line = True

    def phase(self, text: str) -> None:
        """Start a new step, e.g. ``inferring the TCP states of 2,000 connections``."""
        if not self.enabled:
            return
        self._end_line()
        self.stream.write(f"{text}…\n")
        self.stream.flush()

    def close(self) -> None:
        """End a percentage line left open (before an error message, say)."""
        if self.enabled:
            self._end_line()

    def _end_line(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False
