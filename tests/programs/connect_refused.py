"""connect-refused without tcptrace-viz: connect() to a port nobody listens on."""

import socket

unused = socket.socket()
unused.bind(("127.0.0.1", 0))  # a port that is free, and stays unlistened
port = unused.getsockname()[1]
client = socket.socket()
try:
    client.connect(("127.0.0.1", port))
except ConnectionRefusedError:
    print("connect: ECONNREFUSED")
