#!/usr/bin/env python3
# udp_kick_batch.py — helper of udp_kick_batch.sh. "server PORT N": a kernel UDP
# receiver that takes N numbered datagrams and prints the arrival time of the last one
# and whether they came in order. "client IP PORT N BURSTS": sends BURSTS bursts of
# numbered datagrams back to back, prints the time of the last send, then sleeps
# without calling into the library (the batched kick must still go out); with a
# last argument "exit" it exits right after the last burst instead.
import socket, struct, sys, time

def server(port, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("198.18.0.2", port))
    s.settimeout(10)
    print("ready", flush=True)
    seq, ordered = 0, True
    while seq < n:
        data = s.recv(2048)
        (k,) = struct.unpack("!I", data[:4])
        if k != seq:
            ordered = False
        seq += 1
    print("last_arrival %.6f ordered %s" % (time.time(), ordered), flush=True)

def client(ip, port, n, bursts, exit_at_once):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    per = n // bursts
    k = 0
    for b in range(bursts):
        for _ in range(per if b < bursts - 1 else n - k):
            s.sendto(struct.pack("!I", k) + b"x" * 60, (ip, port))
            k += 1
        last = time.time()
        if b < bursts - 1 or not exit_at_once:
            time.sleep(0.05)   # quiet: no library call while the last kick is due
    print("last_send %.6f" % last, flush=True)
    if not exit_at_once:
        time.sleep(0.5)

if sys.argv[1] == "server":
    server(int(sys.argv[2]), int(sys.argv[3]))
else:
    client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
           len(sys.argv) > 6 and sys.argv[6] == "exit")
