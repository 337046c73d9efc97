#!/bin/bash
# iomux_sockperf.sh — sockperf UDP ping-pong on the testbed with -F e, -F p and -F s,
# both sides under libshim against both sides under the kernel, interleaved round by
# round in the same run; prints the median p50 and p99.9 half-RTT of each and the
# libshim/kernel ratios (targets: p50 <= 0.6x, p99.9 <= 0.25x). A benchmark, not a
# test: numbers on a shared 2-core machine are noisy (two spinning processes take
# both cores); compare the ratios, not the absolute figures.
#
#   tests/bench/iomux_sockperf.sh [ROUNDS] [SECONDS]     (root; build first)
set -u
ROUNDS=${1:-3}
SECS=${2:-2}
SHIM_SRC=${SHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
SHIM_BUILD=${SHIM_BUILD:-$SHIM_SRC/build}
N=ib$$
. "$SHIM_SRC/tests/integ/iomux_lib.sh"
command -v sockperf >/dev/null || { echo "sockperf not installed"; exit 77; }
offload_note=$( (require_udp_offload) 2>&1 | tail -n1)
[ -n "$offload_note" ] && echo "note: $offload_note (libshim figures are pass-through)"

. "$SHIM_SRC/tests/bench/noise_lib.sh"
noise_measure "$SHIM_BUILD"
port=$((20000 + RANDOM % 20000))
# one PRELOAD MUX: a ping-pong run; prints "p50 p99.9" in usec
one() {
	local pre=$1 mux=$2
	echo "U:$IP_A:$port" > "$WORK/feed"
	LD_PRELOAD=$pre ip netns exec "$N-a" sockperf server -f "$WORK/feed" -F "$mux" \
		> "$WORK/server.log" 2>&1 &
	local spid=$!
	pids+=($spid)
	for _ in $(seq 100); do grep -q 'using .* to block' "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
	LD_PRELOAD=$pre timeout $((SECS + 30)) ip netns exec "$N-b" sockperf ping-pong \
		-f "$WORK/feed" -F "$mux" -t "$SECS" > "$WORK/client.log" 2>&1
	kill -INT $spid 2>/dev/null
	wait $spid 2>/dev/null
	port=$((port + 1))
	awk '/percentile 50.000/ { p50 = $NF } /percentile 99.900/ { p999 = $NF }
	     END { if (p50 == "") print "- -"; else print p50, p999 }' "$WORK/client.log"
}

median() { tr ' ' '\n' | grep -v '^-$' | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

printf '%-6s %10s %10s %10s %10s %8s %8s\n' mux k_p50 k_p99.9 s_p50 s_p99.9 r_p50 r_p99.9
for mux in e p s; do
	k50=() k999=() s50=() s999=()
	for r in $(seq "$ROUNDS"); do
		read -r a b < <(one "" $mux); k50+=("$a"); k999+=("$b")
		read -r a b < <(one "$LIB" $mux); s50+=("$a"); s999+=("$b")
	done
	K50=$(echo "${k50[@]}" | median); K999=$(echo "${k999[@]}" | median)
	S50=$(echo "${s50[@]}" | median); S999=$(echo "${s999[@]}" | median)
	printf '%-6s %10s %10s %10s %10s %8s %8s\n' "-F $mux" "$K50" "$K999" "$S50" "$S999" \
		"$(ratio "$S50" "$K50")" "$(ratio "$S999" "$K999")"
done
noise_report "$S50"
