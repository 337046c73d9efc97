#!/bin/bash
# python3 UDP programs under libshim on both sides of the testbed (sendto/recvfrom,
# connected send/recv, scattered sendmsg/recvmsg_into, fragmented sizes), with
# proof of offload in both namespaces.
set -u
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
. "$SHIM_SRC/tests/integ/udp_lib.sh"
udp_testbed_up "up$$"
PY=$SHIM_SRC/tests/integ/udp_python.py
sa=$(snmp_udp a)
sb=$(snmp_udp b)
bg "$LOGDIR/server" in_ns b shim python3 "$PY" server 7600
wait_for "$LOGDIR/server" ready 10 || exit 1
if ! timeout 60 "$TB" exec "$N" a env LD_PRELOAD="$SHIM_LIB" SHIM_TRACELEVEL=4 \
	python3 "$PY" client 198.18.0.2 7600 >"$LOGDIR/client" 2>&1; then
	echo "FAIL: python client"
	grep -v ' SHIM ' "$LOGDIR/client" | tail -15
	exit 1
fi
wait "$LAST_PID"
grep -h 'python client ok\|^echoed' "$LOGDIR/client" "$LOGDIR/server"
proof a "$LOGDIR/client" "$sa" && proof b "$LOGDIR/server" "$sb"
