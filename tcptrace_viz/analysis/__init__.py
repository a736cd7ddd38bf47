"""Analysis of TCP packets: connections, relative numbers, inferred states, findings.

Everything here is pure: DataFrames in, DataFrames (or plain values) out.
"""

from __future__ import annotations

from tcptrace_viz.analysis.annotate import ANNOTATION_COLUMNS, annotate_packets
from tcptrace_viz.analysis.states import infer_states

__all__ = ["ANNOTATION_COLUMNS", "annotate_packets", "infer_states"]
