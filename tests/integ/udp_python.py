#!/usr/bin/env python3
"""python3 UDP programs for udp_python.sh: `server PORT` echoes until it gets b"quit";
`client IP PORT` sends datagrams of many sizes (fragmented ones included) through
sendto/recvfrom, send/recv on a connected socket, and sendmsg/recvmsg with scatter
buffers, and checks every echo byte for byte. Blocking sockets without timeouts,
so every call goes straight to the socket (no poll underneath)."""
import os, socket, sys


def server(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)
    n = 0
    while True:
        data, peer = s.recvfrom(65535)
        if data == b"quit":
            break
        s.sendto(data, peer)
        n += 1
    print("echoed", n, flush=True)


def client(ip, port):
    sizes = [0, 1, 100, 1472, 1473, 5000, 30000, 65507]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    ok = 0
    for n in sizes:
        data = os.urandom(n)
        s.sendto(data, (ip, port))
        back, peer = s.recvfrom(65535)
        assert back == data and peer == (ip, port), f"sendto/recvfrom {n}"
        ok += 1
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.connect((ip, port))
    for n in sizes:
        data = os.urandom(n)
        c.send(data)
        assert c.recv(65535) == data, f"send/recv {n}"
        ok += 1
    for n in sizes:
        data = os.urandom(n)
        c.sendmsg([data[: n // 2], data[n // 2 :]])
        a, b = bytearray(n // 3 + 1), bytearray(65535)
        got, _, flags, _ = c.recvmsg_into([a, b])
        assert got == n and bytes(a + b)[:n] == data and not flags & socket.MSG_TRUNC, f"recvmsg {n}"
        ok += 1
    s.sendto(b"quit", (ip, port))
    print("python client ok:", ok, "echoes", flush=True)


if sys.argv[1] == "server":
    server(int(sys.argv[2]))
else:
    client(sys.argv[2], int(sys.argv[3]))
