#!/bin/bash
# udp_sockperf.sh — benchmark: sockperf UDP ping-pong and throughput, 64-byte
# messages, between the two namespaces of the testbed, the kernel against libshim on
# both sides (LD_PRELOAD), interleaved round by round so both see the same machine.
# Prints one table of medians over the rounds with libshim/kernel ratios, and the
# issue's targets (ping-pong p50 <= 0.6x, p99.9 <= 0.25x, throughput >= 2.5x).
# Not a pass/fail test. contrib/demo.sh runs it for `make demo`.
#   tests/bench/udp_sockperf.sh [BUILD_DIR] [-r ROUNDS] [-t SECONDS] [-m BYTES] [-P]
#                               [-o pp|tp] [-e VAR=VALUE]... [-T VAR=VALUE|none] [-g GROUP]
# -g runs every test to a multicast group (e.g. 239.1.1.1) instead of the server's
# address: both sides join it (--mc-rx-if) and send through their veth (--mc-tx-if).
# -o runs only ping-pong or only throughput; -e adds a SHIM_* setting to every libshim
# run (both sides); -T replaces the setting of the libshim throughput runs only, by
# default SHIM_SPEC=throughput (what a packet-rate user sets: it batches TX kicks,
# see SHIM_TX_KICK_BATCH); -T none runs them with the defaults. Ping-pong always runs
# with the defaults (plus -e).
# The server is pinned to the last CPU and the client to the first (both for the
# kernel and for libshim), so two busy-polling processes never share a core; -P
# leaves placement to the scheduler.
set -u
B=build
ROUNDS=3 SECS=3 SIZE=64 PIN=1 ONLY= GROUP=
SHIM_ENV=() TP_ENV=(SHIM_SPEC=throughput)
[ $# -gt 0 ] && [ "${1#-}" = "$1" ] && { B=$1; shift; }
while [ $# -gt 0 ]; do
	case $1 in
	-r) ROUNDS=$2; shift 2 ;;
	-t) SECS=$2; shift 2 ;;
	-m) SIZE=$2; shift 2 ;;
	-P) PIN=0; shift ;;
	-o) ONLY=$2; shift 2 ;;
	-e) SHIM_ENV+=("$2"); shift 2 ;;
	-T) TP_ENV=(); [ "$2" != none ] && TP_ENV=("$2"); shift 2 ;;
	-g) GROUP=$2; shift 2 ;;
	*) echo "usage: $0 [BUILD_DIR] [-r ROUNDS] [-t SECONDS] [-m BYTES] [-P] [-o pp|tp] [-e VAR=VALUE]... [-T VAR=VALUE|none] [-g GROUP]"; exit 2 ;;
	esac
done
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TB=$SRC/contrib/testbed.sh
LIB=$(cd "$B" 2>/dev/null && pwd)/libshim.so
command -v sockperf >/dev/null || { echo "sockperf is not installed (contrib/install-deps.sh)"; exit 77; }
[ -f "$LIB" ] || { echo "$LIB missing: run make first"; exit 1; }
"$TB" check >/dev/null || { "$TB" check; exit 77; }
N=bu$$
DIR=$(mktemp -d /tmp/shim-bench.XXXXXX)
SERVER=
cleanup() {
	[ -n "$SERVER" ] && kill -INT $(pgrep -P "$SERVER") "$SERVER" 2>/dev/null
	wait 2>/dev/null
	"$TB" down "$N"
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$TB" up "$N" >/dev/null || { echo "testbed would not come up"; exit 1; }
. "$SRC/tests/bench/noise_lib.sh"
noise_measure "$B"

# Run one sockperf client test against a fresh server: MODE (kernel|shim) TEST (pp|tp).
one() {
	local mode=$1 test=$2 pre=() port=$((11000 + RANDOM % 1000)) out=$DIR/$1.$2.$3
	local pin_s=() pin_c=()
	[ "$mode" = shim ] && pre=(LD_PRELOAD="$LIB" "${SHIM_ENV[@]}")
	[ "$mode" = shim ] && [ "$test" = tp ] && pre+=("${TP_ENV[@]}")
	if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then
		pin_s=(taskset -c $(($(nproc) - 1)))
		pin_c=(taskset -c 0)
	fi
	local to_s=(-i 198.18.0.2) to_c=(-i 198.18.0.2)
	if [ -n "$GROUP" ]; then
		to_s=(-i "$GROUP" --mc-rx-if 198.18.0.2 --mc-tx-if 198.18.0.2)
		to_c=(-i "$GROUP" --mc-rx-if 198.18.0.1 --mc-tx-if 198.18.0.1)
	fi
	"$TB" exec "$N" b "${pin_s[@]}" env "${pre[@]}" sockperf sr "${to_s[@]}" -p $port >"$DIR/server.log" 2>&1 &
	SERVER=$!
	for _ in $(seq 100); do grep -q "using\|listen on" "$DIR/server.log" 2>/dev/null && break; sleep 0.05; done
	sleep 0.2
	timeout $((SECS + 30)) "$TB" exec "$N" a "${pin_c[@]}" env "${pre[@]}" sockperf "$test" "${to_c[@]}" -p $port \
		-m "$SIZE" -t "$SECS" >"$out" 2>&1
	kill -INT $(pgrep -P "$SERVER") "$SERVER" 2>/dev/null
	wait "$SERVER" 2>/dev/null
	SERVER=
}

pct() { sed -n "s/.*percentile $2 = *\([0-9.]*\).*/\1/p" "$1" | tail -1; }
obs() { sed -n 's/.*Total \([0-9]*\) observations.*/\1/p' "$1" | tail -1; }
rate() { sed -n 's/.*Message Rate is \([0-9]*\).*/\1/p' "$1" | tail -1; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "sockperf UDP, ${SIZE}-byte messages, namespace a (198.18.0.1) -> b (198.18.0.2) over veth${GROUP:+, to multicast group $GROUP}"
echo "machine: $(nproc) cores; under libshim each sockperf process busy-polls, so the two of them"
echo "use both cores (client on CPU 0, server on CPU $(($(nproc) - 1)) unless -P): figures are noisy,"
echo "compare the ratios of this one run"
echo "$ROUNDS rounds x ${SECS} s per test, kernel and libshim interleaved; medians over the rounds"
echo "libshim settings: ping-pong ${SHIM_ENV[*]:-defaults}; throughput ${SHIM_ENV[*]} ${TP_ENV[*]:-defaults}"
for r in $(seq "$ROUNDS"); do
	for mode in kernel shim; do
		[ "$ONLY" != tp ] && one $mode pp $r
		[ "$ONLY" != pp ] && one $mode tp $r
	done
	printf '  round %d/%d done\n' "$r" "$ROUNDS" >&2
done

declare -A V
for mode in kernel shim; do
	for p in 50.000 99.000 99.900; do
		V[$mode.$p]=$(for r in $(seq "$ROUNDS"); do pct "$DIR/$mode.pp.$r" $p; done | median)
	done
	V[$mode.rtt]=$(for r in $(seq "$ROUNDS"); do o=$(obs "$DIR/$mode.pp.$r"); [ -n "$o" ] && echo $((o / SECS)); done | median)
	V[$mode.tp]=$(for r in $(seq "$ROUNDS"); do rate "$DIR/$mode.tp.$r"; done | median)
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a + 0 == 0) print "-"; else printf "%.2f", b / a }'; }
echo
printf '%-34s %12s %12s %16s\n' "" kernel libshim "libshim/kernel"
row() { printf '%-34s %12s %12s %16s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
row "ping-pong latency p50 (usec)" "${V[kernel.50.000]}" "${V[shim.50.000]}"
row "ping-pong latency p99 (usec)" "${V[kernel.99.000]}" "${V[shim.99.000]}"
row "ping-pong latency p99.9 (usec)" "${V[kernel.99.900]}" "${V[shim.99.900]}"
row "ping-pong round trips (msg/s)" "${V[kernel.rtt]}" "${V[shim.rtt]}"
row "throughput, sender rate (msg/s)" "${V[kernel.tp]}" "${V[shim.tp]}"
echo
verdict() { awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN { if (r == "-") print "n/a"; else if ((op == "le" && r <= t) || (op == "ge" && r >= t)) print "met"; else print "not met" }'; }
p50r=$(ratio "${V[kernel.50.000]}" "${V[shim.50.000]}")
p999r=$(ratio "${V[kernel.99.900]}" "${V[shim.99.900]}")
tpr=$(ratio "${V[kernel.tp]}" "${V[shim.tp]}")
echo "targets: p50 <= 0.60x: $p50r $(verdict "$p50r" le 0.6); p99.9 <= 0.25x: $p999r $(verdict "$p999r" le 0.25); throughput >= 2.5x: $tpr $(verdict "$tpr" ge 2.5)"
noise_report "${V[shim.50.000]}"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the tail)"
