"""``teardown_table``: the connection table with the moments of each connection's ending.

``connections()`` says how each connection ended in words a person reads (``closed_by``,
``close_kind``, ``rst_from``); a query over thousands of captures also wants the moments: when
each side's first FIN and first RST went out, and whether data followed a FIN.  Both come from
``close_facts``, so this table and the connection table never disagree.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from tcptrace_viz.analysis.closing import close_facts
from tcptrace_viz.analysis.connection_arrays import ensure_annotated
from tcptrace_viz.analysis.connection_table import CONNECTION_COLUMNS, connections

_NEVER: Final = np.iinfo(np.int64).max

#: The columns ``teardown_table`` adds to ``CONNECTION_COLUMNS``, with their meaning.  Moments
#: are nanoseconds since the Unix epoch, missing (null) when it never happened.
TEARDOWN_COLUMNS: Final[dict[str, str]] = {
    "first_fin_from": "who sent the first FIN: client, server, both (the same moment) or ''",
    "first_fin_ts_ns": "when the first FIN was sent",
    "fin_client_ts_ns": "when the client sent its first FIN",
    "fin_server_ts_ns": "when the server sent its first FIN",
    "first_rst_from": "who sent the first RST: client, server, both (the same moment) or ''",
    "first_rst_ts_ns": "when the first RST was sent",
    "rst_client_ts_ns": "when the client sent its first RST",
    "rst_server_ts_ns": "when the server sent its first RST",
    "never_closed": "no FIN and no RST in the capture (close_kind 'open')",
    "reset_after_fin": "an RST came after a FIN (a close that lost data, or a late write)",
    "data_after_fin_bytes": "payload bytes a side sent after the other side's first FIN",
}


def _moment(values: np.ndarray) -> pd.Series:
    """int64 nanoseconds with the ``close_facts`` sentinel as a missing value."""
    return pd.Series(values, dtype="Int64").mask(values == _NEVER)


def _first_of(client: np.ndarray, server: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The earlier of two moments, and who it belongs to."""
    first = np.minimum(client, server)
    who = np.select([(client == first) & (server == first), client == first,
                     server == first], ["both", "client", "server"], "")
    return np.where(first == _NEVER, _NEVER, first), np.where(first == _NEVER, "", who)


def _data_after_fin(packets: pd.DataFrame, facts: pd.DataFrame) -> pd.Series:
    """Bytes each connection's sides sent after the peer's first FIN (summed over both)."""
    conn = packets["conn"].to_numpy(dtype=np.int64)
    from_client = packets["dir"].to_numpy(dtype=object) != "s2c"
    peer_fin = np.where(from_client,
                        facts["fin_server_ts"].reindex(conn).to_numpy(dtype=np.int64),
                        facts["fin_client_ts"].reindex(conn).to_numpy(dtype=np.int64))
    length = packets["len"].to_numpy(dtype=np.int64)
    late = np.where(packets["ts_ns"].to_numpy(dtype=np.int64) > peer_fin, length, 0)
    return pd.Series(late, index=conn).groupby(level=0).sum().reindex(facts.index,
                                                                      fill_value=0)


def teardown_table(packets: pd.DataFrame) -> pd.DataFrame:
    """One row per connection: ``CONNECTION_COLUMNS`` then ``TEARDOWN_COLUMNS``.

    Moments are nullable ``Int64`` (missing when that packet never went out).
    """
    packets = ensure_annotated(packets)
    all_facts = close_facts(packets) if len(packets) else None
    table = connections(packets)
    if all_facts is None or not len(table):
        empty = {name: pd.Series(dtype="Int64" if name.endswith("_ns") else
                                 "int64" if name.endswith("_bytes") else
                                 "bool" if name in ("never_closed", "reset_after_fin")
                                 else "object") for name in TEARDOWN_COLUMNS}
        return pd.concat([table, pd.DataFrame(empty)], axis=1)
    facts = all_facts.reindex(table["conn"].to_numpy())
    fin_c, fin_s = (facts[f"fin_{side}_ts"].to_numpy(dtype=np.int64)
                    for side in ("client", "server"))
    rst_c, rst_s = (facts[f"rst_{side}_ts"].to_numpy(dtype=np.int64)
                    for side in ("client", "server"))
    first_fin, fin_from = _first_of(fin_c, fin_s)
    first_rst, rst_from = _first_of(rst_c, rst_s)
    out = table.copy()
    out["first_fin_from"] = fin_from.astype(object)
    out["first_fin_ts_ns"] = _moment(first_fin)
    out["fin_client_ts_ns"], out["fin_server_ts_ns"] = _moment(fin_c), _moment(fin_s)
    out["first_rst_from"] = rst_from.astype(object)
    out["first_rst_ts_ns"] = _moment(first_rst)
    out["rst_client_ts_ns"], out["rst_server_ts_ns"] = _moment(rst_c), _moment(rst_s)
    out["never_closed"] = (out["close_kind"] == "open").to_numpy(dtype=bool)
    out["reset_after_fin"] = (first_fin != _NEVER) & (first_rst != _NEVER) & \
        (first_rst > first_fin)
    out["data_after_fin_bytes"] = _data_after_fin(packets, facts).to_numpy(dtype=np.int64)
    return out[[*CONNECTION_COLUMNS, *TEARDOWN_COLUMNS]]
