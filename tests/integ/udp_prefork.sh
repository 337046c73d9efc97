#!/bin/bash
# udp_prefork.sh — a UDP socket shared across fork(), under libshim in namespace a:
# workers that receive on the inherited socket (blocked in recvfrom, or in poll
# first) must get every datagram from namespace b (their first receive hands the
# port back to the kernel, which the parent's ring would otherwise keep), while a
# parent whose child never touches the socket keeps receiving through its ring (the
# kernel's Udp InDatagrams of namespace a do not move).
set -u
N=up$$
. "${SHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/iomux_lib.sh"
PY=$SRC/tests/integ/udp_prefork.py
PORT=$((9100 + RANDOM % 500))

server() {	# LOGNAME ARGS...: the python server under libshim in a; waits for "ready"
	local name=$1
	shift
	ina env LD_PRELOAD="$LIB" SHIM_TRACELEVEL=3 python3 "$PY" "$@" >"$WORK/$name" 2>&1 &
	pids+=($!)
	for _ in $(seq 150); do grep -q '^ready' "$WORK/$name" && return 0; sleep 0.02; done
	cat "$WORK/$name"
	echo "FAIL: $name did not start"
	exit 1
}
stop_server() {	# CMDLINE
	pkill -9 -f "$1"
	for _ in $(seq 100); do pgrep -f "$1" >/dev/null || break; sleep 0.02; done
}
ask() {	# PORT COUNT [TO]: one datagram at a time, each answered within 2 s
	inb python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('$IP_B'))
s.settimeout(2)
for i in range($2):
    s.sendto(b'q%d' % i, ('${3:-$IP_A}', $1))
    try:
        print(s.recv(2048).decode())
    except socket.timeout:
        print('lost q%d' % i)
"
}

GROUP=239.9.9.9
for how in recv poll mcast; do
	PORT=$((PORT + 1))
	if [ $how = mcast ]; then
		server "prefork-$how" mcprefork $GROUP $PORT 2 recv
		out=$(ask $PORT 20 $GROUP)
	else
		server "prefork-$how" prefork "$IP_A" $PORT 2 $how
		out=$(ask $PORT 20)
	fi
	n=$(grep -c '^hi ' <<<"$out")
	if [ "$n" != 20 ] || ! grep -q 'inherited over fork() is received on' "$WORK/prefork-$how"; then
		grep -v '^hi ' <<<"$out" | head -3
		grep -v DEBUG "$WORK/prefork-$how" | tail -5
		echo "FAIL: prefork $how: $n of 20 datagrams answered"
		exit 1
	fi
	echo "ok: prefork workers ($how): 20 of 20 answered by $(cut -d' ' -f2 <<<"$out" | sort -u | wc -l) worker(s)"
	pkill -9 -f "$PY [a-z]*prefork [0-9.]* $PORT "
	for _ in $(seq 100); do pgrep -f "$PY [a-z]*prefork [0-9.]* $PORT " >/dev/null || break; sleep 0.02; done
done

PORT=$((PORT + 1))
server bystander bystander "$IP_A" $PORT
before=$(udp_in)
out=$(ask $PORT 10)
after=$(udp_in)
[ "$(grep -c '^hi ' <<<"$out")" = 10 ] || { echo "FAIL: bystander: $out"; exit 1; }
[ "$before" = "$after" ] || { echo "FAIL: bystander: the socket lost its offload after fork (kernel Udp InDatagrams $before -> $after)"; exit 1; }
echo "ok: a fork child that never receives leaves the socket offloaded (kernel Udp InDatagrams stayed $before)"
stop_server "$PY bystander $IP_A $PORT"
exit 0
