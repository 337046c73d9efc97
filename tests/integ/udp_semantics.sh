#!/bin/bash
# Receive and send semantics of an offloaded UDP socket against a kernel echo peer:
# errno values, MSG_PEEK/MSG_TRUNC/MSG_DONTWAIT, FIONREAD, control messages
# (SO_TIMESTAMPNS, IP_PKTINFO, IP_TTL, IP_TOS), SO_RCVTIMEO, read/write/readv,
# connect/disconnect, recvmmsg with MSG_WAITFORONE, EMSGSIZE, shutdown. The
# transcript under libshim must equal the kernel's, and the traffic must be offloaded.
set -u
. "$SHIM_SRC/tests/integ/udp_lib.sh"
udp_testbed_up "us$$"

run() {	# MODE -> transcript on stdout
	local port=$((8000 + RANDOM % 1000)) slog=$LOGDIR/echo.$1
	bg "$slog" in_ns b kernel "$PEER" echo "$port" -t 10
	wait_for "$slog" "echo ready" || return 1
	in_ns a "$1" "$PEER" semantics 198.18.0.2 "$port" 2>"$LOGDIR/err.$1"
	wait "$LAST_PID"
}

kernel=$(run kernel) || { echo "kernel run failed"; exit 1; }
before=$(snmp_udp a)
shim=$(run shim) || { echo "libshim run failed"; cat "$LOGDIR/err.shim"; exit 1; }
echo "$shim"
if ! diff <(echo "$kernel") <(echo "$shim"); then
	echo "FAIL: transcripts differ (< kernel, > libshim)"
	exit 1
fi
proof a "$LOGDIR/err.shim" "$before"
