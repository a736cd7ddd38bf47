"""linger0 without tcptrace-viz: SO_LINGER {1, 0}, then close(): an RST instead of a FIN.

The server's send() afterwards fails with ECONNRESET.
"""

import select
import socket
import struct

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
client = socket.create_connection(listener.getsockname())
server, _ = listener.accept()
client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
client.close()
waiting = select.poll()
waiting.register(server, 0)
waiting.poll(5000)  # POLLERR/POLLHUP: the client's RST
try:
    server.send(b"123", socket.MSG_NOSIGNAL)
except ConnectionResetError:
    print("send: ECONNRESET")
