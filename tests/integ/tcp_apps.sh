#!/bin/bash
# tcp_apps.sh — real programs over offloaded TCP on the testbed, each short: iperf3
# (libshim server, kernel client; then libshim on both sides), sockperf --tcp
# ping-pong and throughput with libshim on both sides, redis-server under libshim
# answering redis-benchmark. Each must complete with sane results, and the kernel TCP
# counters of namespace a (the libshim server) must not move. Numbers are printed;
# tests/bench/tcp_*.sh compare them with the kernel.
N=tw$$
. "$(dirname "$0")/tcp_lib.sh"
tcp_testbed_up

server() {	# HOW LOGNAME CMD... in namespace a, in the background
	local how=$1 name=$2
	shift 2
	(in_ns_exec a "$how" "$@" >"$LOG/$name" 2>&1) &
	pids+=($!)
}
stop_servers() {	# [SECONDS]: first give one-shot servers that long to finish
	local p t=${1:-0}
	for ((i = 0; i < t * 20; i++)); do
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && break; done
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	pids=()
}
check_kernel() {	# counters before, step name
	local now
	now=$(kernel_tcp a)
	[ "$1" = "$now" ] || fail "$2: namespace a kernel TCP counters moved: $1 -> $now"
}

ran=0
if command -v iperf3 >/dev/null; then
	for cli in kernel shim; do
		k0=$(kernel_tcp a)
		server shim iperf3.$cli iperf3 -s -B $IP_A -p 5201 -1
		sleep 0.5
		out=$(in_ns b $cli timeout 30 iperf3 -c $IP_A -p 5201 -t 1 -f m 2>&1)
		# iperf3 -s -1 exits after its test: let it close its connections, or the
		# peer's last segments would meet namespace a's kernel after a kill -9.
		stop_servers 5
		rate=$(echo "$out" | awk '/receiver/ { print $(NF-2) }')
		[ -n "$rate" ] && awk -v r="$rate" 'BEGIN { exit !(r > 10) }' ||
			{ echo "$out"; tail -5 "$LOG/iperf3.$cli"; fail "iperf3 with a $cli client"; }
		check_kernel "$k0" "iperf3 ($cli client)"
		echo "ok: iperf3, libshim server, $cli client: $rate Mbit/s"
	done
	ran=1
fi

if command -v sockperf >/dev/null; then
	k0=$(kernel_tcp a)
	server shim sockperf sockperf server --tcp -i $IP_A -p 11111
	sleep 0.5
	out=$(in_ns b shim timeout 30 sockperf ping-pong --tcp -i $IP_A -p 11111 -t 1 -m 64 2>&1)
	p50=$(echo "$out" | awk '/percentile 50.000/ { print $NF }')
	[ -n "$p50" ] || { echo "$out" | tail -5; fail "sockperf ping-pong"; }
	echo "ok: sockperf --tcp ping-pong, libshim both sides: p50 $p50 usec"
	out=$(in_ns b shim timeout 30 sockperf throughput --tcp -i $IP_A -p 11111 -t 1 -m 100 2>&1)
	mps=$(echo "$out" | sed -n 's/.*Summary: Message Rate is \([0-9]*\).*/\1/p')
	[ -n "$mps" ] && [ "$mps" -gt 0 ] || { echo "$out" | tail -5; fail "sockperf throughput"; }
	stop_servers
	check_kernel "$k0" "sockperf"
	echo "ok: sockperf --tcp throughput 100 B, libshim both sides: $mps msg/s"
	ran=1
fi

if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
	k0=$(kernel_tcp a)
	server shim redis redis-server --bind $IP_A --port 6379 --save "" --appendonly no \
		--protected-mode no
	for _ in $(seq 100); do grep -q "Ready to accept" "$LOG/redis" && break; sleep 0.05; done
	out=$(in_ns b kernel timeout 60 redis-benchmark -h $IP_A -p 6379 -n 20000 -c 10 -t set,get -q 2>&1 |
		tr '\r' '\n' | grep -E '^(SET|GET): [0-9.]+ requests')
	stop_servers
	[ "$(echo "$out" | wc -l)" = 2 ] || { tail -5 "$LOG/redis"; fail "redis-benchmark against redis-server under libshim"; }
	check_kernel "$k0" "redis"
	echo "ok: redis-server under libshim: $(echo $out | tr '\n' ' ')"
	ran=1
fi
[ "$ran" = 1 ] || { echo "none of iperf3, sockperf, redis is installed"; exit 77; }
