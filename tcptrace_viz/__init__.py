"""tcptrace-viz: make TCP connection teardown visible.

Packets on the wire, the kernel's TCP states and each system call's result, on one timeline.
"""

from __future__ import annotations

from tcptrace_viz._version import __version__

TYPE_CHECKING = False  # not typing's: importing typing here would slow every start (see entry.py)

__all__ = ["SERVER_PORT", "TH_ACK", "TH_FIN", "TH_PSH", "TH_RST", "TH_SYN", "UNUSED_PORT",
           "CallOutcome", "LossRule", "Moment", "Outcome", "Parameter", "RawTcp",
           "ScenarioContext", "SeenSegment", "SocketEntry", "Trace", "__version__",
           "fork_child", "join_child", "load_scenario_file", "read_capture", "scenario",
           "set_loopback_up", "unload_scenario_file", "wait_for_tick_start"]

if TYPE_CHECKING:
    from pathlib import Path

    from tcptrace_viz.notebook import Trace
    from tcptrace_viz.scenarios.api import (
        SERVER_PORT,
        TH_ACK,
        TH_FIN,
        TH_PSH,
        TH_RST,
        TH_SYN,
        UNUSED_PORT,
        CallOutcome,
        LossRule,
        Moment,
        Outcome,
        Parameter,
        RawTcp,
        ScenarioContext,
        SeenSegment,
        SocketEntry,
        fork_child,
        join_child,
        scenario,
        set_loopback_up,
        wait_for_tick_start,
    )
    from tcptrace_viz.scenarios.files import load_scenario_file, unload_scenario_file

_SCENARIO_API = frozenset({"CallOutcome", "LossRule", "Moment", "Outcome", "Parameter",
                           "RawTcp", "SERVER_PORT", "ScenarioContext", "SeenSegment",
                           "SocketEntry", "TH_ACK", "TH_FIN", "TH_PSH", "TH_RST", "TH_SYN",
                           "UNUSED_PORT", "fork_child", "join_child", "scenario",
                           "set_loopback_up", "wait_for_tick_start"})
"""The scenario-writing API (:mod:`tcptrace_viz.scenarios.api`), imported on first use."""


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
    if name in _SCENARIO_API:
        from tcptrace_viz.scenarios import api

        return getattr(api, name)
    if name in ("load_scenario_file", "unload_scenario_file"):
        from tcptrace_viz.scenarios import files

        return getattr(files, name)
    raise AttributeError(name)
