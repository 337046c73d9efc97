#!/bin/bash
# sockperf server on the testbed watching 100 UDP addresses/ports (-f feed) with
# select, poll and epoll (-F s, -F p, -F e) under libshim; ping-pong clients from the
# peer namespace, under the kernel and under libshim, finish with no dropped,
# duplicated or out-of-order message, and the server's datagrams went through the
# rings (socket summaries) while the kernel's Udp InDatagrams in its namespace did
# not move. A spin-forever server (SHIM_SELECT_POLL=-1) ends cleanly on SIGINT.
set -u
N=ims$$
. "$SHIM_SRC/tests/integ/iomux_lib.sh"
command -v sockperf >/dev/null || { echo "sockperf not installed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
require_udp_offload

T=${SOCKPERF_TIME:-1}
base=$((20000 + RANDOM % 20000))
for i in $(seq 0 99); do echo "U:$IP_A:$((base + i))"; done > "$WORK/feed"

# server MUX [env...]: start it in a under libshim, wait until it blocks
server() {
	local mux=$1
	shift
	rm -f "$WORK/stats"
	env "$@" SHIM_STATS_FILE=$WORK/stats LD_PRELOAD=$LIB ip netns exec "$N-a" \
		sockperf server -f "$WORK/feed" -F "$mux" > "$WORK/server.log" 2>&1 &
	spid=$!
	pids+=($spid)
	for _ in $(seq 100); do
		grep -q 'using .* to block' "$WORK/server.log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "server -F $mux did not start"; sed 's/^/    /' "$WORK/server.log" | tail -5
	return 1
}

client() {	# PRELOAD MUX
	LD_PRELOAD=$1 timeout 60 ip netns exec "$N-b" sockperf ping-pong -f "$WORK/feed" -F "$2" \
		-t "$T" --data-integrity > "$WORK/client.log" 2>&1 || return 1
	grep -q 'Summary: Latency is' "$WORK/client.log" || return 1
	sed -n 's/.*\(# dropped messages = [0-9]*; # duplicated messages = [0-9]*; # out-of-order messages = [0-9]*\).*/\1/p' "$WORK/client.log"
}

fail=0
for mux in s p e; do
	server $mux || { fail=1; continue; }
	before=$(udp_in)
	for who in kernel libshim; do
		pre=
		[ $who = libshim ] && pre=$LIB
		v=$(client "$pre" $mux) || { echo "-F $mux client ($who) failed"; grep -v " SHIM DEBUG" "$WORK/client.log" | tail -25; fail=1; continue; }
		echo "-F $mux client under $who: $v"
		[ "$v" = "# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0" ] || fail=1
	done
	after=$(udp_in)
	kill -INT $spid; wait $spid 2>/dev/null
	off=$(offloaded_rx "$WORK/stats")
	echo "-F $mux server: offloaded datagrams $off, kernel Udp InDatagrams +$((after - before))"
	[ "$off" -gt 0 ] && [ $((after - before)) -eq 0 ] || { echo "  not offloaded"; fail=1; }
done

# Spinning forever (SHIM_SELECT_POLL=-1): SIGINT still ends the blocked epoll_wait.
server e SHIM_SELECT_POLL=-1 || exit 1
sleep 0.3
kill -INT $spid
for _ in $(seq 50); do kill -0 $spid 2>/dev/null || break; sleep 0.1; done
if kill -0 $spid 2>/dev/null; then
	echo "spinning server did not stop on SIGINT"
	fail=1
else
	echo "spinning server stopped on SIGINT"
fi
exit $fail
