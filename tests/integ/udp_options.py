#!/usr/bin/env python3
"""UDP socket options and destinations for udp_options.sh:
  reuseport PORT N COUNT  N sockets with SO_REUSEPORT on one port, non-blocking,
                          read until COUNT datagrams; print each socket's share
  spray IP PORT COUNT     COUNT datagrams, each from a new socket (new source port)
  recvttl PORT            receive one datagram, print its TTL and TOS
  ttl IP PORT             send one datagram with IP_TTL 7 and IP_TOS 0x20
  local IP PORT LPORT     send to the peer (offloaded), then to 127.0.0.1:LPORT and to
                          our own address IP:LPORT (same host: the kernel's path)
  sink PORT COUNT ADDR    receive COUNT datagrams on ADDR:PORT, print them"""
import socket, sys, time

mode = sys.argv[1]
if mode == "reuseport":
    port, n, count = map(int, sys.argv[2:5])
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("0.0.0.0", port))
        s.setblocking(False)
        socks.append(s)
    print("ready", flush=True)
    got, total, end = [0] * n, 0, time.time() + 20
    while total < count and time.time() < end:
        for i, s in enumerate(socks):
            try:
                s.recv(100)
                got[i] += 1
                total += 1
            except BlockingIOError:
                pass
    print("shares:", " ".join(map(str, got)), "total", total, flush=True)
    sys.exit(0 if total == count and min(got) > 0 else 1)
elif mode == "spray":
    ip, port, count = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"x%d" % i, (ip, port))
        s.close()
        time.sleep(0.002)
elif mode == "recvttl":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_RECVTTL", 12), 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    print("ready", flush=True)
    data, anc, _, _ = s.recvmsg(100, 256)
    out = {}
    for level, typ, val in anc:
        if typ == socket.IP_TTL:
            out["ttl"] = int.from_bytes(val[:4], sys.byteorder)
        elif typ == socket.IP_TOS:
            out["tos"] = val[0]
    print("received %r ttl %d tos 0x%02x" % (data, out.get("ttl", -1), out.get("tos", -1)), flush=True)
elif mode == "ttl":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 7)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x20)
    s.sendto(b"ttl", (sys.argv[2], int(sys.argv[3])))
elif mode == "local":
    ip, port, lport = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"to the peer", (ip, port))
    s.sendto(b"to loopback", ("127.0.0.1", lport))
    s.sendto(b"to our address", (sys.argv[5], lport))
elif mode == "sink":
    port, count, addr = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", flush=True)
    for _ in range(count):
        print("sink got", s.recv(100), flush=True)
