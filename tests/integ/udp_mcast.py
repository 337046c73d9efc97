#!/usr/bin/env python3
"""python3 multicast programs for udp_mcast_apps.sh.
`recv GROUP PORT COUNT DIR`: one socket bound to 0.0.0.0:PORT joined with
IP_ADD_MEMBERSHIP and read through select(), and one bound to GROUP:PORT+1 whose
blocking recv() starts in a thread before the socket joins (the join must wake it);
writes DIR/ready once both joined, then checks COUNT datagrams on each.
`send GROUP PORT COUNT DIR`: waits for DIR/ready, sends COUNT datagrams to each port
through IP_MULTICAST_IF 198.18.0.1."""
import os, select, socket, struct, sys, threading, time


def payload(i, n):
    return (b"%06d:" % i) + bytes((i * 7 + k) & 0xFF for k in range(n))


def recv(group, port, count, d):
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    a.bind(("0.0.0.0", port))
    mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("198.18.0.2"))
    a.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    b.bind((group, port + 1))
    got_b = []

    def blocking():
        for _ in range(count):
            data, peer = b.recvfrom(65535)
            got_b.append((data, peer))

    t = threading.Thread(target=blocking)
    t.start()
    time.sleep(0.3)  # the thread sleeps in recv() before the join
    b.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    open(os.path.join(d, "ready"), "w").close()
    print("ready", flush=True)
    got = 0
    deadline = time.time() + 20
    while got < count and time.time() < deadline:
        r, _, _ = select.select([a], [], [], 0.5)
        if a in r:
            data, peer = a.recvfrom(65535)
            assert data == payload(got, 100 + 37 * got), f"select socket: datagram {got} wrong"
            assert peer[0] == "198.18.0.1", f"from {peer}"
            got += 1
    t.join(20)
    assert got == count, f"select socket got {got} of {count}"
    assert not t.is_alive() and len(got_b) == count, f"blocking socket got {len(got_b)} of {count}"
    for i, (data, peer) in enumerate(got_b):
        assert data == payload(i, 100 + 37 * i), f"blocking socket: datagram {i} wrong"
    a.close()
    b.close()
    print("python multicast ok:", got, "+", len(got_b), flush=True)


def send(group, port, count, d):
    for _ in range(200):
        if os.path.exists(os.path.join(d, "ready")):
            break
        time.sleep(0.05)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("198.18.0.1"))
    for i in range(count):
        for p in (port, port + 1):
            s.sendto(payload(i, 100 + 37 * i), (group, p))
            time.sleep(0.001)
    print("sent", flush=True)


f = recv if sys.argv[1] == "recv" else send
f(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
