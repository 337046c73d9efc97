#!/bin/bash
# ring_xdp.sh — the AF_XDP ring on the veth testbed, driven directly (no sockets):
# datagrams both ways with a kernel UDP peer checked byte for byte, proof of offload
# (ring counters grew, namespace a's /proc/net/snmp Udp counters did not), ARP, ICMP
# and other UDP ports still served by the kernel, IPv4 fragments of offloaded and of
# kernel ports, a second process on the interface refused without disturbing the
# first, kill -9 cleanup, generic mode, zero-copy refused on veth, allocation
# logic, and a ring covering two queues.
set -u
N=rx$$
. "$(dirname "$0")/ring_lib.sh"

fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

# Udp InDatagrams and OutDatagrams of namespace $1.
udp_counters() {
	"$TB" exec "$N" "$1" awk '/^Udp:/ { if (h) { print $2, $5; exit } h = 1 }' /proc/net/snmp
}
stat_of() { sed -n "s/^ring\.$2=//p" "$1"; }

"$TB" up "$N" >/dev/null || exit 1
IFA=$("$TB" info "$N" a if)
MB=$("$TB" info "$N" b mac)

# Python client in b: COUNT datagrams of random sizes to PORT on a, each echoed back
# byte for byte. Exit status 0 when all came back intact.
client_b() {	# port count [max size]
	"$TB" exec "$N" b python3 - "$@" <<'EOF'
import os, random, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
maxsz = int(sys.argv[3]) if len(sys.argv) > 3 else 1472
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
bad = 0
for i in range(count):
    n = 0 if i == 0 else maxsz if i == 1 else random.randint(0, maxsz)
    msg = os.urandom(n)
    s.sendto(msg, ("198.18.0.1", port))
    try:
        data, _ = s.recvfrom(65536)
    except socket.timeout:
        print("datagram %d (%d bytes): no echo" % (i, n)); bad += 1; continue
    if data != msg:
        print("datagram %d: %d bytes sent, %d back, differ" % (i, n, len(data))); bad += 1
print("client: %d datagrams, %d bad" % (count, bad))
sys.exit(1 if bad else 0)
EOF
}

# 1. ring -> kernel: the ring in a sends, a kernel echo in b answers.
"$TB" exec "$N" b "$KU" echo 7000 >"$LOG/kecho" 2>&1 &
pids+=($!)
wait_ready "$LOG/kecho" || fail "kernel echo in b did not start"
before=$(udp_counters a)
"$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7001 -m "$MB" -d 198.18.0.2 -p 7000 \
	-n 500 check >"$LOG/check" 2>&1 || { cat "$LOG/check"; fail "ring -> kernel exchange"; }
after=$(udp_counters a)
grep '^check' "$LOG/check"
[ "$(stat_of "$LOG/check" rx_packets)" -ge 500 ] && [ "$(stat_of "$LOG/check" tx_packets)" -ge 500 ] ||
	{ cat "$LOG/check"; fail "ring counters did not grow"; }
[ "$before" = "$after" ] || fail "namespace a kernel UDP counters moved: $before -> $after"
ok "ring -> kernel: 500 datagrams intact, ring rx/tx $(stat_of "$LOG/check" rx_packets)/$(stat_of "$LOG/check" tx_packets), a's Udp In/Out unchanged ($after)"
# b resolved a's address through ARP, answered by a's kernel (XDP_PASS).
"$TB" exec "$N" b ip neigh show 198.18.0.1 | grep -q lladdr || fail "b has no ARP entry for a"
ok "ARP: a's kernel answered b ($("$TB" exec "$N" b ip neigh show 198.18.0.1))"

# 2. kernel -> ring: a ring echo in a serves a kernel client in b.
SHIM_STATS_SHMEM_DIR=$LOG "$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7000 -b -S echo \
	>"$LOG/echo" 2>&1 &
echo_pid=$!
pids+=($echo_pid)
wait_ready "$LOG/echo" || fail "ring echo did not start"
before=$(udp_counters a)
client_b 7000 300 || fail "kernel -> ring exchange"
after=$(udp_counters a)
[ "$before" = "$after" ] || fail "namespace a kernel UDP counters moved: $before -> $after"
ok "kernel -> ring (blocking on the wake fd): 300 datagrams intact, a's Udp In/Out unchanged"
# The ring's counters in the stats segment, as shim_stats shows them.
if [ -x "$B/shim_stats" ]; then
	sleep 0.3	# published every 100 ms by the internal thread
	"$B/shim_stats" --dir="$LOG" -p "$echo_pid" -v 2 -c 1 >"$LOG/stats" 2>&1
	v() { grep -o "$1 [0-9]*" "$LOG/stats" | head -1 | cut -d' ' -f2; }
	[ "$(v rx_packets)" -ge 300 ] 2>/dev/null && [ "$(v tx_packets)" -ge 300 ] &&
		[ "$(v wakeups_received)" -gt 0 ] 2>/dev/null ||
		{ cat "$LOG/stats"; fail "ring counters not in the stats segment"; }
	ok "shim_stats: ring rx_packets $(v rx_packets), tx_packets $(v tx_packets), wakeups_received $(v wakeups_received), fill_level $(v fill_level)"
fi

# 3. While the ring owns 7000: another UDP port, ICMP and ARP still reach a's kernel.
"$TB" exec "$N" a "$KU" echo 7002 >"$LOG/kecho2" 2>&1 &
pids+=($!)
wait_ready "$LOG/kecho2" || fail "kernel echo in a did not start"
before=$(udp_counters a)
client_b 7002 20 200 || fail "kernel UDP on another port of the offloaded interface"
after=$(udp_counters a)
[ "$before" != "$after" ] || fail "kernel UDP on port 7002 did not count in a's kernel"
ok "XDP_PASS: kernel UDP port 7002 in a served by the kernel ($before -> $after)"
"$TB" exec "$N" b python3 - <<'EOF' || fail "ICMP echo to a"
import os, socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(2)
hdr = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + b"ringtest"
pkt = hdr[:2] + struct.pack("!H", csum(hdr)) + hdr[4:]
s.sendto(pkt, ("198.18.0.1", 0))
while True:
    data, addr = s.recvfrom(2048)
    ihl = (data[0] & 15) * 4
    if addr[0] == "198.18.0.1" and data[ihl] == 0:
        print("ICMP echo reply from", addr[0]); sys.exit(0)
EOF
ok "ICMP echo answered by a's kernel"
"$TB" exec "$N" a ip neigh flush dev "$IFA"
"$TB" exec "$N" a python3 -c '
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("198.18.0.2", 9))'
sleep 0.2
"$TB" exec "$N" a ip neigh show 198.18.0.2 | grep -q lladdr || fail "a's kernel could not resolve b"
ok "ARP: a's kernel resolves b while the ring is attached"

# IPv4 fragments: those of the offloaded port follow their first fragment to the
# ring (the program learns src/dst/id from it); those of a kernel port stay kernel.
reasm() { "$TB" exec "$N" a awk '/^Ip:/ { if (h) { print $15; exit } h = 1 }' /proc/net/snmp; }
r0=$(reasm)
"$TB" exec "$N" b python3 -c '
import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5): s.sendto(bytes(3000), ("198.18.0.1", 7000))'
"$TB" exec "$N" b python3 -c '
import os, socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
for i in range(5):
    m = os.urandom(3000); s.sendto(m, ("198.18.0.1", 7002))
    if s.recvfrom(65536)[0] != m: sys.exit(1)' || fail "fragmented datagrams to a kernel port"
r1=$(reasm)
[ $((r1 - r0)) -eq 15 ] || fail "a's kernel reassembly requests $r0 -> $r1, expected +15 (kernel port only)"
ok "fragments: offloaded port's fragments bypass a's kernel, kernel port's reassembled there ($r0 -> $r1)"

# 4. A second process on the same interface is refused; the first keeps working.
"$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7003 -n 1 echo >"$LOG/second" 2>&1 &
pids+=($!)
wait $! ; rc=$?
[ $rc -ne 0 ] || { cat "$LOG/second"; fail "second process attached"; }
grep -q "already has an XDP program" "$LOG/second" || { cat "$LOG/second"; fail "no reason logged"; }
client_b 7000 50 || fail "first process disturbed by the second"
ok "second process refused with: $(grep -o 'already has an XDP program.*' "$LOG/second" | head -1)"

kill -TERM "$echo_pid"
{ wait "$echo_pid"; } 2>/dev/null
[ "$(stat_of "$LOG/echo" rx_frags)" = 15 ] || { cat "$LOG/echo"; fail "ring saw $(stat_of "$LOG/echo" rx_frags) fragments, expected 15"; }
ok "fragments: the ring received all 15 fragments of the 5 offloaded datagrams"

# 5. kill -9: the link goes with the process, the kernel serves port 7000 at once.
"$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7000 echo >"$LOG/echo9" 2>&1 &
echo_pid=$!
pids+=($echo_pid)
wait_ready "$LOG/echo9" || fail "ring echo did not start"
client_b 7000 10 || fail "ring echo before kill -9"
kill -9 "$echo_pid"
{ wait "$echo_pid"; } 2>/dev/null
"$TB" exec "$N" a ip link show "$IFA" | grep -q xdp && fail "XDP program still attached after kill -9"
"$TB" exec "$N" a "$KU" echo 7000 >"$LOG/kecho3" 2>&1 &
pids+=($!)
wait_ready "$LOG/kecho3" || fail "kernel echo on 7000 did not start"
client_b 7000 20 200 || fail "kernel UDP after kill -9"
ok "kill -9: nothing left attached, kernel UDP on port 7000 works at once"
disown -a; kill -9 "${pids[@]}" 2>/dev/null
pids=()

# Packets still held when their ring closes (a socket queue flushed after the last
# ring_put): freeing them afterwards must be harmless.
"$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7000 -n 40 -H echo >"$LOG/hold" 2>&1 &
hold_pid=$!
pids+=($hold_pid)
wait_ready "$LOG/hold" || fail "holding ring echo did not start"
client_b 7000 40 || fail "holding ring echo"
{ wait "$hold_pid"; } 2>/dev/null
rc=$?
[ $rc -eq 0 ] && grep -q "freed the held packets after close" "$LOG/hold" ||
	{ cat "$LOG/hold"; fail "freeing packets after their ring closed (exit $rc)"; }
ok "packets freed after their ring closed: no harm"

# A forked child that inherits the ring and exits leaves the parent's ring working.
"$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7000 -F -n 0 echo >"$LOG/fork" 2>&1 &
fork_pid=$!
pids+=($fork_pid)
wait_ready "$LOG/fork" || fail "forking ring echo did not start"
client_b 7000 50 || fail "ring after a child exited"
kill "$fork_pid"
{ wait "$fork_pid"; } 2>/dev/null
ok "fork: a child inheriting the ring exited, the parent's ring still echoes"

# 6. Generic (skb) mode on request; zero-copy demanded where veth has none fails
# cleanly; the registry hands one shared ring to every allocation logic.
"$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7000 -M generic -n 0 echo >"$LOG/gen" 2>&1 &
gen_pid=$!
pids+=($gen_pid)
wait_ready "$LOG/gen" || fail "generic mode ring did not start"
"$TB" exec "$N" a ip link show "$IFA" | grep -q xdpgeneric || fail "not attached in generic mode"
client_b 7000 50 || fail "generic mode exchange"
kill "$gen_pid"
{ wait "$gen_pid"; } 2>/dev/null
ok "generic mode: 50 datagrams echoed"
"$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7000 -Z 1 -n 1 echo >"$LOG/zc" 2>&1 &&
	fail "zero-copy required on veth succeeded"
grep -q "SHIM_XDP_ZEROCOPY=1" "$LOG/zc" || { cat "$LOG/zc"; fail "no zero-copy message"; }
"$TB" exec "$N" a ip link show "$IFA" | grep -q xdp && fail "failed ring left XDP attached"
ok "zero-copy required: refused with one clear line, nothing left attached"
if command -v setpriv >/dev/null; then
	"$TB" exec "$N" a setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$PP" -i "$IFA" -s 198.18.0.1 -l 7000 -n 1 echo >"$LOG/nocap" 2>&1
	rc=$?
	[ $rc -eq 77 ] && grep -q "not offloaded: AF_XDP needs CAP_NET_ADMIN" "$LOG/nocap" ||
		{ cat "$LOG/nocap"; fail "unprivileged ring: exit $rc"; }
	ok "unprivileged: $(grep -o 'not offloaded: .*' "$LOG/nocap")"
fi
for L in 0 10 20 30; do
	"$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7000 -L $L alloc >"$LOG/alloc" 2>&1 ||
		{ cat "$LOG/alloc"; fail "allocation logic $L"; }
	grep -q "socket rings shared, tx ring shared, refs 3" "$LOG/alloc" ||
		{ cat "$LOG/alloc"; fail "allocation logic $L"; }
done
"$TB" exec "$N" a ip link show "$IFA" | grep -q xdp && fail "XDP left attached after the last ring_put"
ok "allocation logic 0/10/20/30: one shared ring per interface (xdp), released with the last user"

# 7. Load: a raw ring in b floods a ring sink in a for a second (TX batches of 32,
# completions, refills); TX must not stall, and what does not arrive is counted.
IFB=$("$TB" info "$N" b if)
MA=$("$TB" info "$N" a mac)
RX_WRE=16384 BATCH=64 "$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7000 sink >"$LOG/sink" 2>&1 &
pids+=($!)
wait_ready "$LOG/sink" || fail "ring sink did not start"
"$TB" exec "$N" b "$PP" -i "$IFB" -s 198.18.0.2 -l 7001 -m "$MA" -d 198.18.0.1 -p 7000 -t 1 \
	-z 64 flood >"$LOG/flood" 2>&1 || { cat "$LOG/flood"; fail "ring flood"; }
{ wait "${pids[-1]}"; } 2>/dev/null
read -r got sent < <(sed -n 's/^sink: received \([0-9]*\) of \([0-9]*\).*/\1 \2/p' "$LOG/sink")
# On a loaded machine the sink may fall behind: every datagram must then be either
# received or counted by the kernel as dropped at the socket.
kdrop=$(( $(stat_of "$LOG/sink" k_rx_dropped) + $(stat_of "$LOG/sink" k_rx_ring_full) ))
[ "${got:-0}" -gt 20000 ] && [ $((got + kdrop)) -ge $((sent * 99 / 100)) ] ||
	{ cat "$LOG/flood" "$LOG/sink"; fail "flood: $got of $sent arrived, $kdrop counted dropped"; }
ok "load: $(grep '^flood' "$LOG/flood" | cut -d: -f2); $(grep '^sink' "$LOG/sink" | cut -d: -f2), $kdrop dropped by the kernel (fill ring empty)"

# 8. Two queues: one ring with an XSK per queue; clients on many source ports.
"$TB" down "$N"
"$TB" up "$N" -q 2 >/dev/null || exit 1
IFA=$("$TB" info "$N" a if)
"$TB" exec "$N" a "$PP" -i "$IFA" -s 198.18.0.1 -l 7000 echo >"$LOG/echo2" 2>&1 &
pids+=($!)
wait_ready "$LOG/echo2" || fail "ring echo on two queues did not start"
grep -q "2 queue(s)" "$LOG/echo2" || { cat "$LOG/echo2"; fail "ring does not cover both queues"; }
# veth picks the receive queue from the sender's transmit queue (a hash of the
# socket): keep adding clients until both queues carried redirected frames.
redirects() {
	"$TB" exec "$N" a ethtool -S "$IFA" 2>/dev/null |
		awk -v q="rx_queue_$1_xdp_redirect:" '$1 == q { print $2 }'
}
for i in $(seq 16); do
	client_b 7000 10 300 >/dev/null || fail "two-queue exchange ($i)"
	[ "$(redirects 0)" -gt 0 ] 2>/dev/null && [ "$(redirects 1)" -gt 0 ] 2>/dev/null && break
done
[ "$(redirects 0)" -gt 0 ] 2>/dev/null && [ "$(redirects 1)" -gt 0 ] 2>/dev/null ||
	fail "frames were not redirected on both queues ($(redirects 0)/$(redirects 1))"
ok "two queues: $i clients echoed intact, redirected on queue 0/1: $(redirects 0)/$(redirects 1)"
exit 0
