"""A server that listens and never exits: only Ctrl-C (SIGINT) ends it."""

import socket

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
client = socket.create_connection(listener.getsockname())
print("listening", flush=True)
listener.accept()
listener.accept()  # nobody else comes
