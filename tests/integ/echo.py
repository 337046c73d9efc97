#!/usr/bin/env python3
"""UDP and TCP echo over 127.0.0.1 through python's selectors (select, poll, epoll)
and asyncio. Prints a transcript (what was sent and echoed, digested) that must be
the same with and without libshim: python_echo.sh compares them."""
import asyncio, hashlib, selectors, socket, sys, threading

CLIENTS, MESSAGES = 3, 200


def payload(c, i):
    return (f"client {c} message {i} ".encode() * (1 + (i * 7) % 40))[:1400]


def selector_server(kind, proto, ready, stop):
    sel = {"select": selectors.SelectSelector, "poll": selectors.PollSelector,
           "epoll": selectors.EpollSelector}[kind]()
    if proto == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    if proto == "tcp":
        s.listen(8)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, "listener")
    ready.append(s.getsockname())
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.05):
            sock = key.fileobj
            if proto == "udp":
                data, peer = sock.recvfrom(65536)
                sock.sendto(data, peer)
            elif key.data == "listener":
                conn, _ = sock.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, "conn")
            else:
                data = sock.recv(65536)
                if not data:
                    sel.unregister(sock)
                    sock.close()
                else:
                    sock.sendall(data)
    sel.close()
    s.close()


def run_client(addr, proto, c):
    digest = hashlib.sha256()
    if proto == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        for i in range(MESSAGES):
            m = payload(c, i)
            s.sendto(m, addr)
            data, _ = s.recvfrom(65536)
            assert data == m, (c, i)
            digest.update(data)
    else:
        s = socket.create_connection(addr, timeout=5)
        for i in range(MESSAGES):
            m = payload(c, i)
            s.sendall(m)
            got = b""
            while len(got) < len(m):
                got += s.recv(65536)
            assert got == m, (c, i)
            digest.update(got)
    s.close()
    return digest.hexdigest()[:16]


def with_selectors(kind, proto):
    ready, stop = [], threading.Event()
    t = threading.Thread(target=selector_server, args=(kind, proto, ready, stop))
    t.start()
    while not ready:
        pass
    results = [None] * CLIENTS
    threads = [threading.Thread(target=lambda c=c: results.__setitem__(c, run_client(ready[0], proto, c)))
               for c in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    stop.set()
    t.join()
    return results


class UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self):
        self.queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.queue.put_nowait(data)


async def tcp_echo(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def asyncio_client(addr, proto, c, loop):
    digest = hashlib.sha256()
    if proto == "udp":
        transport, client = await loop.create_datagram_endpoint(UdpClient, remote_addr=addr)
        for i in range(MESSAGES):
            m = payload(c, i)
            transport.sendto(m)
            data = await asyncio.wait_for(client.queue.get(), 5)
            assert data == m, (c, i)
            digest.update(data)
        transport.close()
    else:
        reader, writer = await asyncio.open_connection(*addr)
        for i in range(MESSAGES):
            m = payload(c, i)
            writer.write(m)
            data = await asyncio.wait_for(reader.readexactly(len(m)), 5)
            assert data == m, (c, i)
            digest.update(data)
        writer.close()
        await writer.wait_closed()
    return digest.hexdigest()[:16]


async def with_asyncio(proto):
    loop = asyncio.get_running_loop()
    if proto == "udp":
        transport, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=("127.0.0.1", 0))
        addr = transport.get_extra_info("sockname")
    else:
        server = await asyncio.start_server(tcp_echo, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
    results = await asyncio.gather(*(asyncio_client(addr, proto, c, loop) for c in range(CLIENTS)))
    if proto == "udp":
        transport.close()
    else:
        server.close()
        await server.wait_closed()
    return results


def main():
    modes = sys.argv[1:] or ["select", "poll", "epoll", "asyncio"]
    for mode in modes:
        for proto in ("udp", "tcp"):
            if mode == "asyncio":
                res = asyncio.run(with_asyncio(proto))
            else:
                res = with_selectors(mode, proto)
            print(f"{mode:8} {proto}: {CLIENTS} clients x {MESSAGES} echoes, digests {' '.join(res)}")


if __name__ == "__main__":
    main()
