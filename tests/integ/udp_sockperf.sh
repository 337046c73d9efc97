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
# One server per case: a server still draining a throughput flood answers the
# next client late, which is not what each case measures.
# ul goes through epoll (-F e needs a feed file): its receiver thread sleeps in
# epoll_wait before the first send gives the socket rings.
echo "U:198.18.0.2:11111" >"$LOGDIR/feed"
for t in "pp" "tp" "ul --mps 1000"; do
	bg "$LOGDIR/server" in_ns b shim sockperf sr -i 198.18.0.2 -p 11111
	server=$LAST_PID
	wait_for "$LOGDIR/server" "using recvfrom\|listen on" 10 || exit 1
	log=$LOGDIR/client.${t%% *}
	dest="-i 198.18.0.2 -p 11111"
	[ "${t%% *}" = ul ] && dest="-f $LOGDIR/feed -F e"
	if ! timeout 30 "$TB" exec "$N" a env LD_PRELOAD="$SHIM_LIB" sockperf $t $dest \
		-m 64 -t 1 >"$log" 2>&1; then
		echo "FAIL: sockperf $t"
		grep -v ' SHIM ' "$log" | tail -5
		fail=1
	fi
	case $t in
	ul*)	# sockperf's ul receiver thread polls the socket before the first send
		# binds and offloads it: the replies must still reach that thread.
		if grep -q 'No messages were received' "$log"; then
			echo "FAIL: sockperf ul: no replies seen by the client's poll() thread"
			fail=1
		elif ! grep -q 'dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0' "$log"; then
			echo "FAIL: sockperf ul lost, duplicated or reordered messages"
			fail=1
		else
			echo "sockperf ul: $(grep -o 'Latency is [0-9.]* usec' "$log"), p50 $(sed -n 's/.*percentile 50.000 = *//p' "$log") usec"
		fi ;;
	pp)	grep -q 'dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0' "$log" ||
			{ echo "FAIL: sockperf $t lost, duplicated or reordered messages"; fail=1; }
		echo "sockperf ${t%% *}: $(grep -o 'Latency is [0-9.]* usec' "$log"), p50 $(sed -n 's/.*percentile 50.000 = *//p' "$log") usec" ;;
	tp)	echo "sockperf tp: $(grep -o 'Message Rate is [0-9]* \[msg/sec\]' "$log")" ;;
	esac
	child=$(pgrep -P "$server")
	kill -INT ${child:-$server} 2>/dev/null
	wait "$server" 2>/dev/null
done
# The last client run proves side a, the last server side b (its dump comes at exit).
proof a "$log" "$sa" || fail=1
proof b "$LOGDIR/server" "$sb" || fail=1
exit $fail
