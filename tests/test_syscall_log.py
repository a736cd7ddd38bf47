"""The scenarios' syscall log: each row names its socket's connection, asked of the kernel."""

from __future__ import annotations

import socket

from tcptrace_viz.kernel.syscalls import SyscallLog
from tcptrace_viz.render.text_columns import wrap_text
from tcptrace_viz.vocabulary import socket_endpoint


def test_each_call_names_the_connection_its_socket_is() -> None:
    log = SyscallLog(sample_states=False)
    listener = socket.create_server(("127.0.0.1", 0))
    log.call("server", "listen", listener.listen, 1)
    client = socket.socket()
    log.call("client", "connect", client.connect, listener.getsockname())
    accepted = log.call("server", "accept", listener.accept)
    assert accepted is not None
    server = accepted[0]
    log.call("client", "send", client.send, b"abc")
    mine, peer = socket_endpoint(client.getsockname()), socket_endpoint(client.getpeername())
    log.call("client", "setsockopt", client.setsockopt, socket.SOL_SOCKET,
             socket.SO_KEEPALIVE, 1)
    log.call("client", "close", client.close)  # named after the fd is gone
    server.close()
    listener.close()
    rows = {(row.call, row.local, row.remote) for row in log.records}
    assert ("listen", peer, "") in rows  # a listener: its own endpoint only
    assert ("connect", mine, peer) in rows and ("send", mine, peer) in rows
    assert ("accept", peer, mine) in rows  # the connection accept() returned, not the listener
    assert ("close", mine, peer) in rows
    assert [row.ret for row in log.records if row.call == "setsockopt"] == ["0"]  # not "None"


def test_a_word_longer_than_a_line_breaks_after_an_underscore() -> None:
    lines = wrap_text("RST: TCP_ABORT_ON_DATA", 16, indent="  ")
    assert lines == ["RST:", "  TCP_ABORT_ON_", "  DATA"]
