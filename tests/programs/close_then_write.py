"""close-then-write without tcptrace-viz: the client closes, the server writes twice.

The first write succeeds (the server's kernel only knows of a FIN); the client's kernel answers
it with RST, and the second write fails with EPIPE.  Each step waits for the event it needs.
"""

import select
import socket

POLLRDHUP = 0x2000

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
client = socket.create_connection(listener.getsockname())
server, _ = listener.accept()
client.close()
waiting = select.poll()
waiting.register(server, select.POLLIN | POLLRDHUP)
waiting.poll(5000)  # the client's FIN
server.send(b"123", socket.MSG_NOSIGNAL)
waiting.modify(server, 0)
waiting.poll(5000)  # POLLERR/POLLHUP: the client's RST
try:
    server.send(b"456", socket.MSG_NOSIGNAL)
except BrokenPipeError:
    print("second write: EPIPE")
