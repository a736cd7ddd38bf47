"""The forked half of a capture run: namespace, sniffer, tracer, the scenario's steps.

:func:`worker_main` runs in the child that :class:`tcptrace_viz.capture.session.CaptureWorker`
forks and never returns: it sends its raw result, length first, through a pipe, removes its
packet socket and tracefs instance, and exits; its network namespace goes with it.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import select
import socket
import struct
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from tcptrace_viz.capture.losses import drop_counters
from tcptrace_viz.capture.ring import QUIET_BLOCKS, blocks_for
from tcptrace_viz.capture.tracefs import KernelTracer
from tcptrace_viz.errors import ScenarioError, TcptraceVizError
from tcptrace_viz.kernel import netns, segment_loss
from tcptrace_viz.kernel.process import die_with_parent
from tcptrace_viz.kernel.sockettable import read_socket_table
from tcptrace_viz.kernel.sysctls import apply_settings, read_settings
from tcptrace_viz.meta import Value
from tcptrace_viz.scenarios.context import ScenarioContext
from tcptrace_viz.scenarios.registry import Scenario

if TYPE_CHECKING:
    from tcptrace_viz.capture.sniffer import LoopbackSniffer as Sniffer

RESULT_LENGTH = struct.Struct("=Q")
GO_TIMEOUT_S = 10.0
"""How long a worker waits for its parent to start the kernel tracer."""
TRACING, SAMPLING = b"T", b"S"
"""What the parent tells a worker before it runs its scenario."""

@dataclasses.dataclass
class TracerPlan:
    """How a run's worker traces the kernel: in which tracefs, or why it samples instead."""

    root: str | None
    """Where tracefs is mounted; None: no tracer, states are sampled after each call."""
    problem: str = ""
    """Why there is no tracer (the report says so)."""


def _counters() -> dict[str, int]:
    """The namespace's TCP segment counters and drop counters, read inside it."""
    return {**netns.tcp_counters(), **drop_counters()}


def _where(exc: BaseException) -> str:
    """`` at lesson.py:14``: the innermost line of the scenario's own code that raised (a
    built-in's, or a scenario file's), else ``""``."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if "/tcptrace_viz/" not in frame.filename.replace("\\", "/")
              or "/scenarios/builtin/" in frame.filename.replace("\\", "/")]
    return f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def send_result(writer: int, result: dict[str, Any]) -> None:
    """The result, length first: the parent knows it is whole before this process exits."""
    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(RESULT_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(writer, view):]


def worker_main(scenario: Scenario, family: int, writer: int, go: int, plan: TracerPlan,
            instance: str, parent: int, params: dict[str, Value],
            sysctls: dict[str, str]) -> None:  # pragma: no cover - forked child
    """The forked half: namespace, tracer, sniffer, scenario; results pickled into ``writer``.

    The parent creates the tracefs instance ``instance`` (when ``plan`` has a root) while this
    process sets up its namespace and sniffer, and says on ``go`` whether it records
    (:data:`TRACING`) or the states must be sampled (:data:`SAMPLING`); the scenario starts
    after that.  The result is sent before the sniffer's socket and the instance are removed,
    so the parent assembles the Trace meanwhile; it reaps this process afterwards and removes
    the instance itself should this process die first.
    """
    result: dict[str, Any]
    sniffer: Sniffer | None = None
    tracer: KernelTracer | None = None
    own_tracer = True  # False once this process has given up its parent's privileges
    try:
        try:
            die_with_parent(parent)
            # Imported while this process is still its parent's user (a run without root
            # becomes another one in its user namespace); at once if the parent preloaded it.
            from tcptrace_viz.capture.sniffer import LoopbackSniffer, preload_scapy

            preload_scapy()
            mode = netns.enter_private_netns()
            # A worker that became another user (the parent is root, the worker not) cannot
            # stop or remove the instance its parent made: the parent does it.
            own_tracer = mode == "netns"
            netns.setup_loopback()
            netns.keep_ipv6_addresses_on_down()
            settings = {**scenario.sysctls, **sysctls}  # --sysctl wins over the scenario's
            apply_settings(settings)  # in this namespace only
            client_host, server_host = netns.run_addresses(family, os.getpid())
            if family == socket.AF_INET6:
                netns.add_ipv6_address(server_host)
            burst = scenario.burst_bytes(params) if scenario.burst_bytes is not None else 0
            before = _counters()
            sniffer = LoopbackSniffer(blocks=blocks_for(burst) if burst else QUIET_BLOCKS)
            sniffer.start()
            if not select.select([go], [], [], GO_TIMEOUT_S)[0]:
                raise ScenarioError("the kernel tracer did not start within "
                                    f"{GO_TIMEOUT_S:.0f} s")
            if os.read(go, 1) == TRACING and plan.root is not None:
                tracer = KernelTracer(plan.root, instance)
            context = ScenarioContext(scenario.name, family, client_host, server_host,
                                      sample_states=tracer is None, params=params)
            segment_loss.install(scenario.losses, context.server_port)
            error = ""
            try:
                scenario.run(context)
            except ScenarioError as exc:
                error = exc.message
            table = read_socket_table()
            table_ns = time.time_ns()
            # The capture and the counters end at the same cut (see LoopbackSniffer.stop).
            sniffed, after = sniffer.stop(_counters)
            end_ns = time.time_ns()
            lost = segment_loss.lost_counts(scenario.losses)
            context.cleanup()
            traced = tracer.stop() if tracer is not None and own_tracer else None
            result = {
                "ok": True, "error": error, "mode": mode,
                "hosts": sorted({client_host, server_host}),
                "server_port": context.server_port, "frames": sniffed.frames,
                "ts_ns": sniffed.ts_ns, "kernel_packets": sniffed.kernel_packets,
                "kernel_drops": sniffed.kernel_drops, "ring_blocks": sniffed.ring_blocks,
                "clock": sniffed.clock, "reader_priority": sniffed.reader_priority,
                "table": table, "table_ns": table_ns, "tables": context.tables,
                "end_ns": end_ns, "records": context.log.records, "samples": context.log.sampled,
                "counters": {key: after[key] - before.get(key, 0) for key in after},
                "facts": context.facts, "traced": traced,
                "sysctls": read_settings(), "sysctls_set": settings,
                "losses": [rule.text for rule in scenario.losses], "lost_counts": lost,
                "parent_stops_tracer": tracer is not None and not own_tracer,
            }
        except KeyboardInterrupt:
            os._exit(130)  # the parent removes the instance
        except TcptraceVizError as exc:
            result = {"ok": False, "error_type": type(exc).__name__, "error": exc.message}
        except segment_loss.LossRuleError as exc:
            result = {"ok": False, "error_type": "ScenarioError", "error": str(exc)}
        except BaseException as exc:
            result = {"ok": False, "error_type": "ScenarioError",
                      "error": f"scenario {scenario.name} crashed{_where(exc)}: {exc!r}",
                      "traceback": traceback.format_exc()}
        send_result(writer, result)
    finally:
        # After the result, while the parent assembles it.  Both wait for RCU grace periods
        # (synchronize_net, the instance's events): side by side, they share them.
        removing = None
        if tracer is not None and own_tracer:
            removing = threading.Thread(target=tracer.close, name="tracer-close", daemon=True)
            removing.start()
        if sniffer is not None:
            sniffer.close()
        if removing is not None:
            removing.join()
        os.close(writer)  # end of file: the parent reaps this process
    os._exit(0)


