#!/bin/bash
# TX kick batching (SHIM_TX_KICK_BATCH): a libshim sender sends bursts of numbered
# datagrams and then goes quiet without calling into the library; a kernel receiver
# must get every datagram, in order, and the last one within the documented bound
# (~1 ms by the internal thread; 50 ms allowed for a loaded machine).
set -u
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
. "$SHIM_SRC/tests/integ/udp_lib.sh"
udp_testbed_up "kb$$"
PY=$SHIM_SRC/tests/integ/udp_kick_batch.py
COUNT=3001
sa=$(snmp_udp a)
bg "$LOGDIR/server" in_ns b kernel python3 "$PY" server 7650 $COUNT
wait_for "$LOGDIR/server" ready 10 || exit 1
if ! timeout 60 "$TB" exec "$N" a env LD_PRELOAD="$SHIM_LIB" SHIM_TRACELEVEL=4 \
	SHIM_TX_KICK_BATCH=64 SHIM_TX_KICK_USEC=1000 \
	python3 "$PY" client 198.18.0.2 7650 $COUNT 3 >"$LOGDIR/client" 2>&1; then
	echo "FAIL: client"
	grep -v ' SHIM ' "$LOGDIR/client" | tail -15
	exit 1
fi
if ! wait "$LAST_PID"; then
	echo "FAIL: the receiver did not get all $COUNT datagrams"
	tail -5 "$LOGDIR/server"
	exit 1
fi
sent=$(sed -n 's/^last_send \([0-9.]*\).*/\1/p' "$LOGDIR/client")
got=$(sed -n 's/^last_arrival \([0-9.]*\).*/\1/p' "$LOGDIR/server")
grep -q 'ordered True' "$LOGDIR/server" || { echo "FAIL: datagrams out of order"; exit 1; }
lag=$(awk -v a="$sent" -v b="$got" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
echo "all $COUNT datagrams in order; last one $lag ms after its send"
awk -v l="$lag" 'BEGIN { exit !(l < 50) }' || { echo "FAIL: the last datagram waited $lag ms"; exit 1; }
frames=$(ring_frames "$LOGDIR/client")
[ "${frames#* }" = "$COUNT" ] || { echo "FAIL: ring sent '${frames#* }' frames, not $COUNT"; exit 1; }
[ "$(snmp_udp a)" = "$sa" ] || { echo "FAIL: the kernel's UDP counters moved on a"; exit 1; }
echo "offloaded on a: $COUNT frames through the ring, kernel Udp In/Out unchanged"
