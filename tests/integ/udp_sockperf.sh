#!/bin/bash
# sockperf UDP ping-pong, throughput and under-load between the testbed namespaces,
# libshim on both sides, short runs: no errors, no loss or reordering reported in
# ping-pong, and proof of offload in both namespaces. Figures are in tests/bench.
set -u
command -v sockperf >/dev/null || { echo "sockperf not installed"; exit 77; }
. "$SHIM_SRC/tests/integ/udp_lib.sh"
udp_testbed_up "sk$$"
export SHIM_TRACELEVEL=4
fail=0
sa=$(snmp_udp a)
sb=$(snmp_udp b)
bg "$LOGDIR/server" in_ns b shim sockperf sr -i 198.18.0.2 -p 11111
server=$LAST_PID
wait_for "$LOGDIR/server" "using recvfrom\|listen on" 10 || exit 1
for t in "pp" "tp" "ul --mps 20000"; do
	log=$LOGDIR/client.${t%% *}
	if ! timeout 30 "$TB" exec "$N" a env LD_PRELOAD="$SHIM_LIB" sockperf $t -i 198.18.0.2 -p 11111 \
		-m 64 -t 1 >"$log" 2>&1; then
		echo "FAIL: sockperf $t"
		grep -v ' SHIM ' "$log" | tail -5
		fail=1
		continue
	fi
	case $t in
	pp|ul*)	grep -q 'dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0' "$log" ||
			{ echo "FAIL: sockperf $t lost, duplicated or reordered messages"; fail=1; }
		echo "sockperf ${t%% *}: $(grep -o 'Latency is [0-9.]* usec' "$log"), p50 $(sed -n 's/.*percentile 50.000 = *//p' "$log") usec" ;;
	tp)	echo "sockperf tp: $(grep -o 'Message Rate is [0-9]* \[msg/sec\]' "$log")" ;;
	esac
done
# The last client run proves the client side; the server's dump comes at its exit.
proof a "$log" "$sa" || fail=1
child=$(pgrep -P "$server")
kill -INT ${child:-$server} 2>/dev/null
wait "$server" 2>/dev/null
proof b "$LOGDIR/server" "$sb" || fail=1
exit $fail
