#!/bin/bash
# tcp_sockperf.sh — sockperf --tcp on the testbed, both sides under libshim against
# both sides under the kernel, interleaved round by round in one run: ping-pong with
# 64-byte messages (median p50 and p99.9 half-RTT) and throughput with 100-byte
# messages (median message rate), with the libshim/kernel ratios (targets: p50 <=
# 0.6x, p99.9 <= 0.25x, throughput >= 2x). A benchmark, not a test: two spinning
# processes take both cores of a shared 2-core machine, so compare ratios only.
#
#   tests/bench/tcp_sockperf.sh [ROUNDS] [SECONDS]     (root; build first)
set -u
ROUNDS=${1:-3}
SECS=${2:-3}
N=tsb$$
SHIM_SRC=${SHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SHIM_SRC/tests/integ/tcp_lib.sh"
command -v sockperf >/dev/null || { echo "sockperf not installed"; exit 77; }
tcp_testbed_up
. "$SHIM_SRC/tests/bench/noise_lib.sh"
noise_measure "$B"
export SHIM_TRACELEVEL=3

# one HOW MODE: prints "p50 p99.9" (pp) or "msg/s" (tp)
one() {
	local how=$1 mode=$2 port=$((20000 + RANDOM % 20000)) out
	(in_ns_exec a "$how" sockperf server --tcp -i $IP_A -p $port >"$LOG/srv" 2>&1) &
	local spid=$!
	for _ in $(seq 100); do grep -q 'to block' "$LOG/srv" 2>/dev/null && break; sleep 0.05; done
	if [ "$mode" = pp ]; then
		out=$(in_ns b "$how" timeout $((SECS + 30)) sockperf ping-pong --tcp -i $IP_A -p $port \
			-t "$SECS" -m 64 2>&1)
		echo "$out" | awk '/percentile 50.000/ { p50 = $NF } /percentile 99.900/ { p999 = $NF }
			END { print p50, p999 }'
	else
		out=$(in_ns b "$how" timeout $((SECS + 30)) sockperf throughput --tcp -i $IP_A -p $port \
			-t "$SECS" -m 100 2>&1)
		echo "$out" | sed -n 's/.*Summary: Message Rate is \([0-9]*\).*/\1/p'
	fi
	kill -9 $spid 2>/dev/null
	wait $spid 2>/dev/null
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "nan" }'; }

for r in $(seq "$ROUNDS"); do
	for how in kernel shim; do
		one $how pp >>"$LOG/pp.$how"
		one $how tp >>"$LOG/tp.$how"
	done
	echo "round $r: kernel pp $(tail -1 "$LOG/pp.kernel") tp $(tail -1 "$LOG/tp.kernel");" \
		"libshim pp $(tail -1 "$LOG/pp.shim") tp $(tail -1 "$LOG/tp.shim")"
done
for how in kernel shim; do
	eval "p50_$how=$(cut -d' ' -f1 "$LOG/pp.$how" | median)"
	eval "p999_$how=$(cut -d' ' -f2 "$LOG/pp.$how" | median)"
	eval "tp_$how=$(median <"$LOG/tp.$how")"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
echo "ping-pong 64 B p50:   kernel ${p50_kernel} us, libshim ${p50_shim} us, ratio $(ratio "$p50_shim" "$p50_kernel") (target <= 0.6)"
echo "ping-pong 64 B p99.9: kernel ${p999_kernel} us, libshim ${p999_shim} us, ratio $(ratio "$p999_shim" "$p999_kernel") (target <= 0.25)"
echo "throughput 100 B:     kernel ${tp_kernel} msg/s, libshim ${tp_shim} msg/s, ratio $(ratio "$tp_shim" "$tp_kernel") (target >= 2)"
noise_report "$p50_shim"
