#!/bin/bash
# UDP options and destinations under libshim on the testbed: SO_REUSEPORT spreads a
# peer's datagrams (one source port each) over every socket of the group; IP_TTL and
# IP_TOS set on an offloaded sender arrive in the peer's headers; datagrams to
# 127.0.0.1 and to the host's own address leave an offloaded socket through the
# kernel and arrive.
set -u
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
. "$SHIM_SRC/tests/integ/udp_lib.sh"
udp_testbed_up "uo$$"
PY=$SHIM_SRC/tests/integ/udp_options.py
fail=0

# SO_REUSEPORT: 4 offloaded sockets, 200 datagrams from 200 source ports.
before=$(snmp_udp a)
bg "$LOGDIR/rp" in_ns a shim python3 "$PY" reuseport 7700 4 200
rp=$LAST_PID
wait_for "$LOGDIR/rp" ready 10 || exit 1
in_ns b kernel python3 "$PY" spray 198.18.0.1 7700 200
if wait "$rp"; then
	echo "SO_REUSEPORT $(grep shares "$LOGDIR/rp")"
	[ "$(snmp_udp a)" = "$before" ] || { echo "FAIL: reuseport datagrams went through the kernel"; fail=1; }
else
	echo "FAIL: SO_REUSEPORT spread: $(grep shares "$LOGDIR/rp")"
	fail=1
fi

# IP_TTL / IP_TOS on the wire.
bg "$LOGDIR/ttl" in_ns b kernel python3 "$PY" recvttl 7701
wait_for "$LOGDIR/ttl" ready 10 || exit 1
in_ns a shim python3 "$PY" ttl 198.18.0.2 7701 >"$LOGDIR/ttl.send" 2>&1
wait "$LAST_PID"
if grep -q "received b'ttl' ttl 7 tos 0x20" "$LOGDIR/ttl"; then
	grep received "$LOGDIR/ttl"
	grep -q 'ip: rx 0 tx 1 ' "$LOGDIR/ttl.send" || { echo "FAIL: the TTL datagram was not offloaded"; fail=1; }
else
	echo "FAIL: IP_TTL/IP_TOS not on the wire: $(cat "$LOGDIR/ttl")"
	fail=1
fi

# Same-host destinations from an offloaded socket.
bg "$LOGDIR/peer" in_ns b kernel python3 "$PY" sink 7702 1 0.0.0.0
wait_for "$LOGDIR/peer" ready 10 || exit 1
bg "$LOGDIR/local" in_ns a kernel python3 "$PY" sink 7703 2 0.0.0.0
loc=$LAST_PID
wait_for "$LOGDIR/local" ready 10 || exit 1
in_ns a shim python3 "$PY" local 198.18.0.2 7702 7703 198.18.0.1 >"$LOGDIR/local.send" 2>&1
wait "$loc"
if [ "$(grep -c 'sink got' "$LOGDIR/local")" = 2 ] && grep -q 'sink got' "$LOGDIR/peer"; then
	echo "same host: $(grep -h 'sink got' "$LOGDIR/peer" "$LOGDIR/local" | tr '\n' ' ')"
	grep -q 'ip: rx 0 tx 1 ' "$LOGDIR/local.send" || { echo "FAIL: peer datagram not offloaded"; fail=1; }
else
	echo "FAIL: same-host datagrams: $(cat "$LOGDIR/local" "$LOGDIR/peer")"
	fail=1
fi
exit $fail
