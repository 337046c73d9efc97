#!/bin/bash
# Real programs with multicast under libshim: a python3 receiver (IP_ADD_MEMBERSHIP,
# select(), and a blocking recv() on a group-bound socket woken by its join) fed by
# a libshim sender, and sockperf ping-pong (recvfrom and epoll) and throughput to a
# group with libshim on both sides, with proof of offload (ring frames moved, Udp counters of the
# offloading namespace did not).
set -u
. "$SHIM_SRC/tests/integ/udp_lib.sh"
udp_testbed_up "ma$$"
fail=0
G=239.3.$((RANDOM % 250)).3

if command -v python3 >/dev/null; then
	PY=$SHIM_SRC/tests/integ/udp_mcast.py
	port=$((30000 + RANDOM % 1000))
	mkdir -p "$LOGDIR/py"
	sa=$(snmp_udp a)
	sb=$(snmp_udp b)
	bg "$LOGDIR/py.recv" in_ns b shim timeout 30 python3 "$PY" recv "$G" $port 60 "$LOGDIR/py"
	rpid=$LAST_PID
	in_ns a shim timeout 30 python3 "$PY" send "$G" $port 60 "$LOGDIR/py" >"$LOGDIR/py.send" 2>&1 ||
		{ echo "FAIL: python sender"; grep -v ' SHIM ' "$LOGDIR/py.send" | tail -5; fail=1; }
	if wait $rpid && grep -q 'python multicast ok' "$LOGDIR/py.recv"; then
		grep -h 'python multicast ok' "$LOGDIR/py.recv"
		after=$(snmp_udp b)
		[ "${after% *}" = "${sb% *}" ] || { echo "FAIL: python: b's Udp InDatagrams moved ($sb -> $after)"; fail=1; }
		rx=$(ring_frames "$LOGDIR/py.recv")
		[ "${rx%% *}" -ge 120 ] 2>/dev/null || { echo "FAIL: python: ring rx frames '${rx:-none}'"; fail=1; }
		after=$(snmp_udp a)
		[ "${after#* }" = "${sa#* }" ] || { echo "FAIL: python: a's Udp OutDatagrams moved ($sa -> $after)"; fail=1; }
	else
		echo "FAIL: python receiver"; grep -v ' SHIM ' "$LOGDIR/py.recv" | tail -8; fail=1
	fi
else
	echo "python3 not installed: python case skipped"
fi

if command -v sockperf >/dev/null; then
	sa=$(snmp_udp a)
	sb=$(snmp_udp b)
	# pp-epoll: both sides wait in epoll_wait (-F e, the group from a feed file).
	for t in pp pp-epoll tp; do
		port=$((12000 + RANDOM % 1000))
		dest=(-i "$G" -p $port)
		if [ $t = pp-epoll ]; then
			echo "U:$G:$port" >"$LOGDIR/feed.$port"
			dest=(-f "$LOGDIR/feed.$port" -F e)
		fi
		bg "$LOGDIR/sp.server.$t" in_ns b shim sockperf sr "${dest[@]}" --mc-rx-if 198.18.0.2 --mc-tx-if 198.18.0.2
		server=$LAST_PID
		wait_for "$LOGDIR/sp.server.$t" "using recvfrom\|using epoll\|listen on" 10 || { fail=1; continue; }
		log=$LOGDIR/sp.client.$t
		if ! timeout 30 "$TB" exec "$N" a env LD_PRELOAD="$SHIM_LIB" SHIM_TRACELEVEL=4 sockperf ${t%-epoll} "${dest[@]}" \
			--mc-rx-if 198.18.0.1 --mc-tx-if 198.18.0.1 -m 64 -t 1 >"$log" 2>&1; then
			echo "FAIL: sockperf $t to $G"; grep -v ' SHIM ' "$log" | tail -5; fail=1
		fi
		case $t in
		pp*)	grep -q 'dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0' "$log" ||
				{ echo "FAIL: sockperf $t to a group lost, duplicated or reordered messages"; fail=1; }
			echo "sockperf $t to $G: $(grep -o 'Latency is [0-9.]* usec' "$log"), p50 $(sed -n 's/.*percentile 50.000 = *//p' "$log") usec" ;;
		tp)	grep -q 'Message Rate is [0-9]' "$log" || { echo "FAIL: sockperf tp to a group: no rate"; fail=1; }
			echo "sockperf tp to $G: $(grep -o 'Message Rate is [0-9]* \[msg/sec\]' "$log")" ;;
		esac
		child=$(pgrep -P "$server")
		kill -INT ${child:-$server} 2>/dev/null
		wait "$server" 2>/dev/null
	done
	proof a "$LOGDIR/sp.client.pp" "$sa" || fail=1
	proof b "$LOGDIR/sp.server.tp" "$sb" || fail=1
else
	echo "sockperf not installed: sockperf cases skipped"
fi
[ $fail = 0 ] && echo "multicast applications passed"
exit $fail
