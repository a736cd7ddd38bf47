"""A server that handles each client in a forked child, and a client, in one program.

The child answers and closes; the parent closes its copy of the connection at once and
waits for the child.  Run with tcptrace-viz run, the child's calls appear under its own pid.
"""

import os
import socket

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
client = socket.create_connection(listener.getsockname())
connection, _ = listener.accept()
child = os.fork()
if child == 0:
    connection.sendall(b"hello from the child\n")
    connection.close()
    os._exit(0)
connection.close()  # the parent's copy: the child still holds the connection
os.waitpid(child, 0)
print(client.recv(100).decode().strip())
client.close()
