"""A process that imports matplotlib at once and draws one ladder's SVG and PNG when asked.

``capture --scenario X`` spends a fifth of its time importing matplotlib and another in drawing
the diagram.  Forked when the capture starts (before this process imports pandas), the service
imports matplotlib on the other CPU while this one imports pandas and the capture runs; once the
Trace's ladder is laid out it is sent over, and the service draws the Figure, saves it as SVG
and PNG and sends both back, while this side renders the text reports.  The ladder model is
plain dataclasses: the service never needs pandas.

>>> service = FigureService()                       # doctest: +SKIP
>>> ... the capture, the Trace, prepared = prepare(trace) ...
>>> service.request(prepared.ladder())              # doctest: +SKIP
>>> prepared.use_drawn(*service.receive())          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
from typing import TYPE_CHECKING

from tcptrace_viz.forked import ForkedCall

if TYPE_CHECKING:
    from tcptrace_viz.render.ladder_model import Ladder

_LENGTH = struct.Struct("=Q")


class FigureService:
    """The forked drawing process; one request, one reply (SVG text and PNG bytes)."""

    def __init__(self) -> None:
        """Fork the service; it starts importing matplotlib at once."""
        reader, writer = os.pipe()
        self._writer = writer
        self._call: ForkedCall[tuple[str, bytes] | None] = ForkedCall(
            lambda: _serve(reader, writer))
        os.close(reader)

    def request(self, ladder: Ladder, style: str = "default") -> None:
        """Send ``ladder`` to be drawn (once), in ``style``."""
        data = pickle.dumps((ladder, style), protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(_LENGTH.pack(len(data)) + data)
        try:
            while view:
                view = view[os.write(self._writer, view):]
        finally:
            self._close_writer()

    def receive(self, timeout_s: float = 600.0) -> tuple[str, bytes]:
        """The requested ladder's SVG text and PNG bytes (TcptraceVizError if it failed)."""
        drawn = self._call.receive(timeout_s)
        if drawn is None:  # pragma: no cover - only when no ladder was sent
            raise ValueError("receive() without request()")
        return drawn

    def close(self) -> None:
        """Stop the service (idempotent); a service never asked ends here too."""
        self._close_writer()
        self._call.close()

    def _close_writer(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._writer)


def _serve(reader: int, writer: int) -> tuple[str, bytes] | None:  # pragma: no cover - child
    """In the service: import matplotlib, wait for the ladder, draw it."""
    os.close(writer)  # the request's end is the other side's to close
    from tcptrace_viz.render.figure_style import style_named
    from tcptrace_viz.render.ladder_figure import figure_png, figure_svg, ladder_figure

    # Length first: every process forked after the service holds a copy of the request's
    # write end, so its end of file cannot say the request is whole.
    data = b""
    while len(data) < _LENGTH.size or len(data) < _LENGTH.size + _LENGTH.unpack_from(data)[0]:
        chunk = os.read(reader, 1 << 20)
        if not chunk:  # never asked: the run ended first
            return None
        data += chunk
    ladder, style = pickle.loads(data[_LENGTH.size:])
    figure = ladder_figure(ladder, style_named(style))
    return figure_svg(figure), figure_png(figure)
