"""The built-in scenarios, one module each, named after the scenario it registers.

This import list is the catalogue: importing a module registers its scenario, so the order
below is the order ``list`` and ``capture --all`` follow.  A new built-in scenario is a new
module here plus one line in this list; nothing is discovered dynamically.
"""

from __future__ import annotations

# The order is the catalogue's, not alphabetical: isort (ruff's I001) must not sort it.
# isort: off
from tcptrace_viz.scenarios.builtin import (  # noqa: F401  (imported to register, in order)
    close_then_write,
    shutdown,
    poll_fin,
    server_shutdown,
    linger0,
    linger0_data_loss,
    close_unread,
    socketpair,
    pipe,
    sigpipe,
    connect_refused,
    simultaneous_close,
    time_wait,
    time_wait_assassination,
    time_wait_rfc1337,
    question,
    bulk_close,
    shutdown_read,
    shutdown_rdwr_queued,
    listener_close_queued,
    rst_before_accept,
    disconnect_unspec,
    close_syn_sent,
    fin_wait2_linger2,
    fin_user_timeout,
    keepalive_timeout,
    accept_overflow_abort,
)
# isort: on
