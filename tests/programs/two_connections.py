"""Two connections to one listener, one after the other: the first closed with FIN by the
server, the second reset by it (SO_LINGER {1, 0}); the client writes after each close."""

import contextlib
import select
import socket
import struct

listener = socket.create_server(("127.0.0.1", 0))
for reset in (False, True):
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    if reset:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.close()
    poller = select.poll()
    poller.register(client, select.POLLIN | 0x2000)
    poller.poll(5000)
    with contextlib.suppress(OSError):
        client.send(b"x")
    client.close()
