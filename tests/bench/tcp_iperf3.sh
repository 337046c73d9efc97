#!/bin/bash
# tcp_iperf3.sh — iperf3, one stream between the testbed namespaces: both sides under
# libshim against both sides under the kernel (and a libshim server with a kernel
# client), interleaved round by round in one run; prints the medians and the
# libshim/kernel ratio (target >= 1). veth keeps its offloads, so the kernel side
# sends 64 KB GSO segments; TCP_TB_TX_CSUM=off takes checksum and segmentation
# offload away from both paths. A benchmark, not a test.
#
#   tests/bench/tcp_iperf3.sh [ROUNDS] [SECONDS]     (root; build first)
set -u
ROUNDS=${1:-3}
SECS=${2:-3}
N=tib$$
SHIM_SRC=${SHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SHIM_SRC/tests/integ/tcp_lib.sh"
command -v iperf3 >/dev/null || { echo "iperf3 not installed"; exit 77; }
tcp_testbed_up
export SHIM_TRACELEVEL=3

one() {	# SERVER_HOW CLIENT_HOW: prints Mbit/s at the receiver
	local port=$((20000 + RANDOM % 20000))
	(in_ns_exec a "$1" iperf3 -s -B $IP_A -p $port -1 >"$LOG/srv" 2>&1) &
	local spid=$!
	sleep 0.5
	in_ns b "$2" timeout $((SECS + 30)) iperf3 -c $IP_A -p $port -t "$SECS" -f m 2>&1 |
		awk '/receiver/ { print $(NF-2) }'
	kill -9 $spid 2>/dev/null
	wait $spid 2>/dev/null
}
median() { sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "nan" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

for r in $(seq "$ROUNDS"); do
	one kernel kernel >>"$LOG/kk"
	one shim shim >>"$LOG/ss"
	one shim kernel >>"$LOG/sk"
	echo "round $r: kernel $(tail -1 "$LOG/kk") Mbit/s, libshim $(tail -1 "$LOG/ss") Mbit/s," \
		"libshim server + kernel client $(tail -1 "$LOG/sk") Mbit/s"
done
kk=$(median <"$LOG/kk"); ss=$(median <"$LOG/ss"); sk=$(median <"$LOG/sk")
echo "iperf3 one stream: kernel $kk Mbit/s, libshim both sides $ss Mbit/s, ratio $(ratio "$ss" "$kk") (target >= 1)"
echo "iperf3 one stream: libshim server with a kernel client $sk Mbit/s, ratio $(ratio "$sk" "$kk")"
