"""udp_prefork.py — a UDP socket shared across fork(), run under libshim by
tests/integ/udp_prefork.sh.

  udp_prefork.py prefork IP PORT WORKERS recv|poll
      the parent binds, forks WORKERS children that receive (blocked in recvfrom,
      or waiting in poll first) and answer "hi <pid>"; the parent never receives
  udp_prefork.py mcprefork GROUP PORT WORKERS recv|poll
      the same with a socket bound to INADDR_ANY:PORT that joined GROUP on 198.18.0.1
  udp_prefork.py bystander IP PORT
      the parent binds and answers itself, after a fork whose child never touches
      the socket
Each prints "ready" once bound and runs until killed."""
import os
import select
import socket
import sys
import time


def serve(s, how):
    p = None
    if how == "poll":
        p = select.poll()
        p.register(s.fileno(), select.POLLIN)
    while True:
        if p and not p.poll(1000):
            continue
        data, peer = s.recvfrom(2048)
        s.sendto(b"hi %d " % os.getpid() + data, peer)


def main():
    mode, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if mode == "mcprefork":
        s.bind(("0.0.0.0", port))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     socket.inet_aton(ip) + socket.inet_aton("198.18.0.1"))
        mode = "prefork"
    else:
        s.bind((ip, port))
    if mode == "prefork":
        for _ in range(int(sys.argv[4])):
            if os.fork() == 0:
                serve(s, sys.argv[5])
                os._exit(0)
        print("ready", flush=True)
        while True:
            time.sleep(1)
    pid = os.fork()
    if pid == 0:
        time.sleep(0.2)
        os._exit(0)
    os.waitpid(pid, 0)
    print("ready", flush=True)
    serve(s, "recv")


main()
