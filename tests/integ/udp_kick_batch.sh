#!/bin/bash
# TX kick batching (SHIM_TX_KICK_BATCH): a libshim sender sends bursts of numbered
# datagrams and then goes quiet without calling into the library (or exits at once);
# a kernel receiver must get every datagram, in order, and the last one within the
# documented bound (about 1 ms by the internal thread; 50 ms allowed for a loaded
# machine). Proof of offload: the ring sent them all, the kernel's UDP counters of
# the sending namespace did not move.
set -u
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
. "$SHIM_SRC/tests/integ/udp_lib.sh"
udp_testbed_up "kb$$"
PY=$SHIM_SRC/tests/integ/udp_kick_batch.py
COUNT=3001
port=7650

case_run() {	# quiet|exit
	local sa frames sent got lag
	port=$((port + 1))
	sa=$(snmp_udp a)
	bg "$LOGDIR/server.$1" in_ns b kernel python3 "$PY" server $port $COUNT
	wait_for "$LOGDIR/server.$1" ready 10 || return 1
	if ! timeout 60 "$TB" exec "$N" a env LD_PRELOAD="$SHIM_LIB" SHIM_TRACELEVEL=4 \
		SHIM_TX_KICK_BATCH=64 SHIM_TX_KICK_USEC=1000 \
		python3 "$PY" client 198.18.0.2 $port $COUNT 3 "$1" >"$LOGDIR/client.$1" 2>&1; then
		echo "FAIL ($1): client"
		grep -v ' SHIM ' "$LOGDIR/client.$1" | tail -15
		return 1
	fi
	if ! wait "$LAST_PID"; then
		echo "FAIL ($1): the receiver did not get all $COUNT datagrams"
		tail -5 "$LOGDIR/server.$1"
		return 1
	fi
	grep -q 'ordered True' "$LOGDIR/server.$1" || { echo "FAIL ($1): datagrams out of order"; return 1; }
	sent=$(sed -n 's/^last_send \([0-9.]*\).*/\1/p' "$LOGDIR/client.$1")
	got=$(sed -n 's/^last_arrival \([0-9.]*\).*/\1/p' "$LOGDIR/server.$1")
	lag=$(awk -v a="$sent" -v b="$got" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
	echo "$1: all $COUNT datagrams in order; last one $lag ms after its send"
	awk -v l="$lag" 'BEGIN { exit !(l < 50) }' || { echo "FAIL ($1): the last datagram waited $lag ms"; return 1; }
	frames=$(ring_frames "$LOGDIR/client.$1")
	[ "${frames#* }" = "$COUNT" ] || { echo "FAIL ($1): ring sent '${frames#* }' frames, not $COUNT"; return 1; }
	[ "$(snmp_udp a)" = "$sa" ] || { echo "FAIL ($1): the kernel's UDP counters moved on a"; return 1; }
	echo "$1: offloaded, $COUNT frames through the ring, kernel Udp In/Out unchanged"
}

case_run quiet && case_run exit
