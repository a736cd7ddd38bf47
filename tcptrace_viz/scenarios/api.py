"""Everything a scenario is written with, built-in or in a user's scenario file.

Import it from the package itself (``from tcptrace_viz import scenario, ScenarioContext``);
the built-ins import these very names from here, so a scenario file has every tool they have.

- :func:`scenario` registers a function as a scenario's steps, with its title, what it teaches,
  its steps in catalogue notation, its acceptable :class:`Outcome` values, its
  :class:`Parameter` list and its key :class:`Moment` values;
- :class:`ScenarioContext` (``ctx``) is what the steps use: sockets on the run's addresses,
  logged calls (``ctx.send``, ``ctx.recv``, ``ctx.close``, ``ctx.shutdown``, ``ctx.poll``,
  ``ctx.call`` for any other), bounded waits (``ctx.wait_fin``, ``ctx.wait_error``,
  ``ctx.wait_state``, ``ctx.wait_socket_table``), ``ctx.params`` and ``ctx.facts``;
- :func:`fork_child` / :func:`join_child` run steps in a process of their own;
- :class:`LossRule` loses chosen segments on purpose (``losses=`` of :func:`scenario`), and
  ``sysctls=`` sets per-namespace TCP settings for the run;
- :data:`SERVER_PORT`, :data:`UNUSED_PORT`, :class:`SocketEntry`, :func:`set_loopback_up` and
  :func:`wait_for_tick_start` for the rarer cases (a refused connection, the socket table,
  holding ``lo`` down, arming two kernel timers in one tick);
- ``ctx.raw_tcp()`` (a :class:`RawTcp`: every TCP segment received, as :class:`SeenSegment`)
  and ``ctx.inject`` with the ``TH_*`` flag bits send a segment no socket would (an old
  duplicate).
"""

from __future__ import annotations

from tcptrace_viz.kernel.netns import set_loopback_up
from tcptrace_viz.kernel.raw_tcp import RawTcp, SeenSegment
from tcptrace_viz.kernel.segment_loss import LossRule
from tcptrace_viz.kernel.sockettable import SocketEntry
from tcptrace_viz.kernel.ticks import wait_for_tick_start
from tcptrace_viz.scenarios.context import (
    SERVER_PORT,
    UNUSED_PORT,
    ScenarioContext,
    fork_child,
    join_child,
)
from tcptrace_viz.scenarios.expectation import CallOutcome, Outcome
from tcptrace_viz.scenarios.moments import Moment
from tcptrace_viz.scenarios.params import Parameter
from tcptrace_viz.scenarios.registry import scenario
from tcptrace_viz.tcp import TH_ACK, TH_FIN, TH_PSH, TH_RST, TH_SYN

__all__ = ["SERVER_PORT", "TH_ACK", "TH_FIN", "TH_PSH", "TH_RST", "TH_SYN", "UNUSED_PORT",
           "CallOutcome", "LossRule", "Moment", "Outcome", "Parameter", "RawTcp",
           "ScenarioContext", "SeenSegment", "SocketEntry", "fork_child", "join_child",
           "scenario", "set_loopback_up", "wait_for_tick_start"]
