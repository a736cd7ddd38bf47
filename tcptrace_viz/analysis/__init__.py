"""Analysis of TCP packets: connections, relative numbers, inferred states, findings.

Everything here is pure: DataFrames in, DataFrames (or plain values) out.
"""

from __future__ import annotations

from tcptrace_viz.analysis.annotate import ANNOTATION_COLUMNS, annotate_packets
from tcptrace_viz.analysis.connection_table import CONNECTION_COLUMNS, connections
from tcptrace_viz.analysis.findings import Finding, findings
from tcptrace_viz.analysis.states import infer_all_states, infer_states

__all__ = ["ANNOTATION_COLUMNS", "CONNECTION_COLUMNS", "Finding", "annotate_packets",
           "connections", "findings", "infer_all_states", "infer_states"]
