"""iomux_echo.py — a UDP echo server whose event loop also serves a pipe and timers,
for the iomux tests: the UDP socket is offloaded under libshim on the testbed, the pipe
and timers stay kernel descriptors in the same loop.

  iomux_echo.py server MODE IP PORT COUNT   MODE: epoll, poll, select or asyncio
  iomux_echo.py client IP PORT COUNT        send COUNT datagrams, one echo each

The server prints one transcript line per event kind, without timings."""
import asyncio
import os
import selectors
import socket
import sys
import threading
import time

TICK = 0.01


def ticker(wfd, stop):
    while not stop.is_set():
        os.write(wfd, b't')
        time.sleep(TICK)


def serve_selectors(mode, ip, port, count):
    cls = {'epoll': selectors.EpollSelector, 'poll': selectors.PollSelector,
           'select': selectors.SelectSelector}[mode]
    sel = cls()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    s.setblocking(False)
    r, w = os.pipe()
    os.set_blocking(r, False)
    stop = threading.Event()
    threading.Thread(target=ticker, args=(w, stop), daemon=True).start()
    sel.register(s, selectors.EVENT_READ, 'udp')
    sel.register(r, selectors.EVENT_READ, 'pipe')
    print('ready', flush=True)
    echoed = ticks = timeouts = 0
    deadline = time.monotonic() + 30
    while echoed < count and time.monotonic() < deadline:
        events = sel.select(timeout=0.005)
        if not events:
            timeouts += 1
        for key, mask in events:
            if key.data == 'udp':
                while True:
                    try:
                        data, peer = s.recvfrom(2048)
                    except BlockingIOError:
                        break
                    s.sendto(data, peer)
                    echoed += 1
            else:
                ticks += len(os.read(r, 4096))
    stop.set()
    print(f'selector {mode}: echoed {echoed}')
    print(f'pipe ticks seen: {"yes" if ticks > 0 else "no"}')
    print(f'timeouts seen: {"yes" if timeouts > 0 else "no"}')


class Echo(asyncio.DatagramProtocol):
    def __init__(self, count, done):
        self.count, self.done, self.echoed = count, done, 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)
        self.echoed += 1
        if self.echoed >= self.count and not self.done.done():
            self.done.set_result(True)


async def serve_asyncio(ip, port, count):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: Echo(count, done), local_addr=(ip, port))
    r, w = os.pipe()
    os.set_blocking(r, False)
    ticks = timers = 0

    def on_pipe():
        nonlocal ticks
        ticks += len(os.read(r, 4096))

    def on_timer():
        nonlocal timers
        timers += 1
        os.write(w, b't')
        if not done.done():
            loop.call_later(TICK, on_timer)

    loop.add_reader(r, on_pipe)
    loop.call_later(TICK, on_timer)
    print('ready', flush=True)
    await asyncio.wait_for(done, 30)
    await asyncio.sleep(3 * TICK)
    transport.close()
    print(f'asyncio: echoed {proto.echoed}')
    print(f'pipe ticks seen: {"yes" if ticks > 0 else "no"}')
    print(f'timers fired: {"yes" if timers > 0 else "no"}')


def client(ip, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    ok = 0
    deadline = time.monotonic() + 30    # a server that stopped answering ends the run
    for i in range(count):
        if time.monotonic() > deadline:
            break
        msg = b'm%d' % i
        for _ in range(3):
            s.sendto(msg, (ip, port))
            try:
                while s.recv(2048) != msg:
                    pass
                ok += 1
                break
            except socket.timeout:
                continue
        # an occasional pause lets the server sleep, so both paths are taken
        if i % 50 == 49:
            time.sleep(0.03)
    print(f'client: {ok}/{count} echoes')
    return ok == count


def main():
    if sys.argv[1] == 'server':
        mode, ip, port, count = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        if mode == 'asyncio':
            asyncio.run(serve_asyncio(ip, port, count))
        else:
            serve_selectors(mode, ip, port, count)
    else:
        sys.exit(0 if client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])) else 1)


main()
