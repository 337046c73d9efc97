#!/usr/bin/env python3
"""Damaged UDP/IPv4 frames for udp_faults.sh, sent as raw Ethernet frames (AF_PACKET)
from the peer namespace so every header field is ours to break: bad IP and UDP
checksums, truncated headers, bogus lengths, fragments that never complete and
overlapping fragments, between two good datagrams that must arrive intact.
usage: udp_faults.py IFNAME SRC_MAC DST_MAC SRC_IP DST_IP PORT"""
import socket, struct, sys, time

ifname, smac, dmac, sip, dip, port = sys.argv[1:7]
port = int(port)
mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
eth = mac(dmac) + mac(smac) + b"\x08\x00"
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF


def ip_hdr(payload_len, ident=0x1234, frag=0x4000, ihl=5, tot=None, fix=True, proto=17):
    tot = 4 * ihl + payload_len if tot is None else tot
    h = struct.pack("!BBHHHBBH4s4s", (4 << 4) | ihl, 0, tot, ident, frag, 64, proto, 0,
                    socket.inet_aton(sip), socket.inet_aton(dip))
    h += b"\0" * (4 * ihl - 20)
    if fix:
        h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h


def udp(data, ulen=None, good=True):
    ulen = 8 + len(data) if ulen is None else ulen
    pseudo = socket.inet_aton(sip) + socket.inet_aton(dip) + struct.pack("!BBH", 0, 17, 8 + len(data))
    h = struct.pack("!HHHH", 40000, port, ulen, 0)
    c = csum(pseudo + struct.pack("!HHHH", 40000, port, 8 + len(data), 0) + data) or 0xFFFF
    if not good:
        c ^= 0x5A5A
    return h[:6] + struct.pack("!H", c) + data


def send(frame):
    s.send(eth + frame)
    time.sleep(0.01)


def good(text):
    d = udp(text.encode())
    send(ip_hdr(len(d)) + d)


good("good-1")
d = udp(b"bad ip checksum")
h = ip_hdr(len(d))
send(h[:10] + struct.pack("!H", struct.unpack("!H", h[10:12])[0] ^ 0x1111) + h[12:] + d)
d = udp(b"bad udp checksum", good=False)
send(ip_hdr(len(d)) + d)
d = udp(b"ip total length beyond the frame")
send(ip_hdr(len(d), tot=len(d) + 20 + 200) + d)
d = udp(b"ihl beyond the frame")
send(ip_hdr(len(d), ihl=15)[:20] + d[:8])
d = udp(b"udp length beyond ip payload", ulen=200)
send(ip_hdr(len(d)) + d)
d = udp(b"udp length below eight", ulen=4)
send(ip_hdr(len(d)) + d)
send(ip_hdr(4) + udp(b"")[:4])                 # IP payload shorter than a UDP header
# A 3000-byte datagram of which only the first fragment ever comes.
big = udp(b"F" * 3000)
send(ip_hdr(1480, ident=0x7001, frag=0x2000) + big[:1480])
# ... and one of which only the last fragment comes.
send(ip_hdr(len(big) - 2960, ident=0x7002, frag=2960 // 8) + big[2960:])
# Overlapping fragments: the second starts inside the first.
send(ip_hdr(1480, ident=0x7003, frag=0x2000) + big[:1480])
send(ip_hdr(1480, ident=0x7003, frag=0x2000 | (1472 // 8)) + big[1472:2952])
# Bad IP checksum on a fragment.
h = ip_hdr(1480, ident=0x7004, frag=0x2000)
send(h[:10] + b"\xde\xad" + h[12:] + big[:1480])
# Let the incomplete ones time out (ipfrag_time is 1 s in the receiver's namespace).
time.sleep(2.5)
good("good-2")
print("sent")
