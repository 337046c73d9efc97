#!/usr/bin/env python3
"""Send a file over one TCP connection on 127.0.0.1 (socket.sendfile, i.e. sendfile(2),
or sendall from a buffer) and print the sha256 of what the receiver got."""
import hashlib, socket, sys, threading

path, how = sys.argv[1], sys.argv[2]
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
result = {}


def receive():
    conn, _ = listener.accept()
    h, n = hashlib.sha256(), 0
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    while True:
        got = conn.recv_into(view)
        if not got:
            break
        h.update(view[:got])
        n += got
    conn.close()
    result["sha"], result["bytes"] = h.hexdigest(), n


t = threading.Thread(target=receive)
t.start()
with socket.create_connection(listener.getsockname()) as s, open(path, "rb") as f:
    if how == "sendfile":
        s.sendfile(f)
    else:
        while chunk := f.read(1 << 16):
            s.sendall(chunk)
t.join()
print(result["sha"], result["bytes"])
