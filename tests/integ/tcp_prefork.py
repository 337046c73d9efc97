"""tcp_prefork.py — servers that share one listening socket across fork(), run under
libshim by tests/integ/tcp_prefork.sh.

  tcp_prefork.py prefork IP PORT WORKERS epoll|poll|accept
      the parent listens, forks WORKERS children that accept (waiting in epoll, in
      poll, or blocked in accept) and answer "hi <pid>"; the parent never accepts
  tcp_prefork.py bystander IP PORT
      the parent listens and answers itself; it first forks a child that never
      touches the socket (like a save-to-disk child) and waits for it
  tcp_prefork.py perconn IP PORT
      fork per connection (inetd style): the parent accepts, a child answers
Each prints "ready" once listening and runs until killed."""
import os
import select
import socket
import sys
import time


def serve_one(c):
    c.sendall(b"hi %d\n" % os.getpid())
    c.close()


def worker(s, how):
    if how == "epoll":
        ep = select.epoll()
        ep.register(s.fileno(), select.EPOLLIN | select.EPOLLEXCLUSIVE)
        s.setblocking(False)
    elif how == "poll":
        p = select.poll()
        p.register(s.fileno(), select.POLLIN)
        s.setblocking(False)
    while True:
        if how == "epoll":
            if not ep.poll(1):
                continue
        elif how == "poll":
            if not p.poll(1000):
                continue
        try:
            c, _ = s.accept()
        except BlockingIOError:
            continue
        c.setblocking(True)
        serve_one(c)


def main():
    mode, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(128)
    if mode == "perconn":
        print("ready", flush=True)
        while True:
            c, _ = s.accept()
            if os.fork() == 0:
                s.close()
                try:
                    serve_one(c)
                finally:
                    os._exit(0)
            c.close()
            while True:
                try:
                    if os.waitpid(-1, os.WNOHANG) == (0, 0):
                        break
                except ChildProcessError:
                    break
    if mode == "prefork":
        for _ in range(int(sys.argv[4])):
            if os.fork() == 0:
                worker(s, sys.argv[5])
                os._exit(0)
    else:
        pid = os.fork()
        if pid == 0:
            time.sleep(0.2)
            os._exit(0)
        os.waitpid(pid, 0)
    print("ready", flush=True)
    if mode == "prefork":
        while True:
            time.sleep(1)
    while True:
        c, _ = s.accept()
        serve_one(c)


main()
