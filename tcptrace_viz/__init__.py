"""tcptrace-viz: make TCP connection teardown visible.

Packets on the wire, the kernel's TCP states and each system call's result, on one timeline.
"""

from __future__ import annotations

from tcptrace_viz._version import __version__

TYPE_CHECKING = False  # not typing's: importing typing here would slow every start (see entry.py)

__all__ = ["Trace", "__version__", "read_capture"]

if TYPE_CHECKING:
    from pathlib import Path

    from tcptrace_viz.notebook import Trace


def read_capture(path: str | Path) -> Trace:
    """Load a capture folder (trace.pcapng + trace.json) or any pcap/pcapng file as a Trace.

    Raises:
        BadInputError: the path does not exist or is not a capture (one sentence why).
    """
    from tcptrace_viz.notebook import Trace
    from tcptrace_viz.store import read_capture as _read

    return Trace.of(_read(path))


def __getattr__(name: str) -> object:
    if name == "Trace":  # imported on first use: pandas is not needed to ask for the version
        from tcptrace_viz.notebook import Trace

        return Trace
    raise AttributeError(name)
