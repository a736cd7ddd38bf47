"""close-then-write without MSG_NOSIGNAL, SIGPIPE left as Python leaves it (ignored), caught by
a handler, or set back to its default (which kills the process): ``sigpipe_fates.py ignore``."""

import contextlib
import select
import signal
import socket
import sys

fate = sys.argv[1]
if fate == "default":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
elif fate == "handler":
    signal.signal(signal.SIGPIPE, lambda number, frame: None)
listener = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(listener.getsockname())
server, _ = listener.accept()
server.close()
poller = select.poll()
poller.register(client, select.POLLIN | 0x2000)  # the server's FIN: POLLRDHUP
poller.poll(5000)
client.send(b"123")
poller.register(client, 0)  # its RST: POLLHUP|POLLERR
poller.poll(5000)
with contextlib.suppress(OSError):
    client.send(b"456")
