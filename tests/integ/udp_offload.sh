#!/bin/bash
# UDP through libshim between the testbed namespaces, every direction: libshim client
# with a kernel echo server, kernel client with a libshim server, libshim on both
# sides. Each run sends every size class 0..65507 (fragmented above 1472) with
# random payloads, checked byte for byte, over one and over many sockets, and proves
# the offload: libshim's rings moved the frames and the offloading namespace's
# /proc/net/snmp Udp InDatagrams/OutDatagrams did not move.
set -u
. "$SHIM_SRC/tests/integ/udp_lib.sh"
udp_testbed_up "uo$$"
fail=0

# case NAME SERVER_MODE CLIENT_MODE NSOCK CLIENT_ARGS...
case_run() {
	local name=$1 smode=$2 cmode=$3 nsock=$4
	shift 4
	local port=$((7000 + RANDOM % 1000)) slog=$LOGDIR/$name.server clog=$LOGDIR/$name.client
	local sa sb
	rm -f "$LOGDIR"/stats.*
	sa=$(snmp_udp a)
	sb=$(snmp_udp b)
	bg "$slog" in_ns b "$smode" "$PEER" echo "$port" -n "$nsock" -t 10
	wait_for "$slog" "echo ready" || { fail=1; return; }
	if ! in_ns a "$cmode" "$PEER" integrity 198.18.0.2 "$port" -n "$nsock" "$@" >"$clog" 2>&1; then
		echo "FAIL $name:"
		grep -v ' SHIM ' "$clog" | tail -5
		fail=1
		return
	fi
	wait "$LAST_PID"
	echo "$name: $(grep 'integrity ok' "$clog")"
	if [ "$cmode" = shim ]; then proof a "$clog" "$sa" || fail=1; fi
	if [ "$smode" = shim ]; then proof b "$slog" "$sb" || fail=1; fi
	grep -q "echoed" "$slog" || { echo "FAIL $name: server did not finish"; fail=1; }
}

case_run shim-client kernel shim 1
case_run shim-client-connected-8 kernel shim 8 -c
case_run shim-server shim kernel 1
case_run shim-server-8 shim kernel 8 -c
case_run shim-both shim shim 1 -r 2
case_run shim-both-16 shim shim 16 -c

[ $fail = 0 ] && echo "all UDP offload cases passed"
exit $fail
