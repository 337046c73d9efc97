#!/usr/bin/env python3
"""Echo over TCP between the testbed namespaces, for offloaded sockets under python's
selectors (select, poll, epoll) and asyncio.
  tcp_selectors.py server KIND PORT CONNS   KIND: select|poll|epoll|asyncio; serve CONNS
                                            connections, print "ready" first
  tcp_selectors.py client IP PORT           3 clients x 200 messages at once; exit 1 on a
                                            wrong echo"""
import asyncio, selectors, socket, sys, threading

CLIENTS, MESSAGES = 3, 200


def payload(c, i):
    return (f"client {c} message {i} ".encode() * (1 + (i * 7) % 200))[:4000]


def selector_server(kind, port, conns):
    sel = {"select": selectors.SelectSelector, "poll": selectors.PollSelector,
           "epoll": selectors.EpollSelector}[kind]()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(16)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, None)
    print("ready", flush=True)
    done = 0
    while done < conns:
        for key, _ in sel.select(timeout=5):
            if key.data is None:
                c, _ = ls.accept()
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, bytearray())
                continue
            c, out = key.fileobj, key.data
            try:
                data = c.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(c)
                c.close()
                done += 1
                continue
            out += data
            while out:
                try:
                    n = c.send(out)
                except BlockingIOError:
                    sel.select(timeout=0.01)
                    continue
                del out[:n]


def asyncio_server(port, conns):
    async def main():
        left = [conns]
        finished = asyncio.Event()

        async def handle(r, w):
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
            w.close()
            left[0] -= 1
            if not left[0]:
                finished.set()

        srv = await asyncio.start_server(handle, "0.0.0.0", port)
        print("ready", flush=True)
        await finished.wait()
        srv.close()
    asyncio.run(main())


def client(ip, port):
    errors = []

    def one(c):
        s = socket.create_connection((ip, port))
        for i in range(MESSAGES):
            p = payload(c, i)
            s.sendall(p)
            got = b""
            while len(got) < len(p):
                d = s.recv(len(p) - len(got))
                if not d:
                    break
                got += d
            if got != p:
                errors.append(f"client {c} message {i}: {len(got)} of {len(p)} bytes back")
                break
        s.close()
    ts = [threading.Thread(target=one, args=(c,)) for c in range(CLIENTS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    if sys.argv[1] == "server":
        if sys.argv[2] == "asyncio":
            asyncio_server(int(sys.argv[3]), int(sys.argv[4]))
        else:
            selector_server(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(client(sys.argv[2], int(sys.argv[3])))
