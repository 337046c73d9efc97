#!/bin/bash
# make demo — sockperf UDP ping-pong over 127.0.0.1, first on the kernel alone, then
# with both ends under LD_PRELOAD=libshim.so, and the two latency summaries side by
# side. Loopback traffic stays with the kernel (nothing is offloaded on lo), so this
# shows the library running a real program transparently; the netns testbed
# comparison replaces it once UDP offload exists.
#   contrib/demo.sh [build-dir] [seconds]
B=${1:-build}
T=${2:-3}
LIB=$(cd "$B" && pwd)/libshim.so
command -v sockperf >/dev/null || { echo "demo: sockperf is not installed (contrib/install-deps.sh)"; exit 1; }
[ -f "$LIB" ] || { echo "demo: $LIB missing: run make first"; exit 1; }
dir=$(mktemp -d /tmp/shim-demo.XXXXXX)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

run() {	# label, LD_PRELOAD value (empty for the kernel)
	local port=$((20000 + RANDOM % 20000)) i
	LD_PRELOAD=$2 sockperf server -i 127.0.0.1 -p $port > "$dir/server.log" 2>&1 &
	server=$!
	for i in $(seq 50); do
		grep -q 'using .* to block' "$dir/server.log" 2>/dev/null && break
		sleep 0.1
	done
	LD_PRELOAD=$2 sockperf ping-pong -i 127.0.0.1 -p $port -t "$T" -m 64 > "$dir/$1.log" 2>&1
	kill $server 2>/dev/null; wait $server 2>/dev/null; server=
	grep -q 'Summary: Latency' "$dir/$1.log" || { echo "demo: $1 run failed:"; cat "$dir/$1.log"; exit 1; }
}

echo "sockperf ping-pong, UDP, 64-byte messages, 127.0.0.1, ${T}s each"
run kernel ""
run libshim "$LIB"
printf '\n%-10s %12s %12s %12s %12s\n' "" "avg usec" "p50" "p99" "p99.9"
for r in kernel libshim; do
	awk -v name=$r '
		/Summary: Latency is/ { for (i = 1; i <= NF; i++) if ($i == "is") avg = $(i + 1) }
		/percentile 50.000/ { p50 = $NF } /percentile 99.000/ { p99 = $NF } /percentile 99.900/ { p999 = $NF }
		END { printf "%-10s %12s %12s %12s %12s\n", name, avg, p50, p99, p999 }' "$dir/$r.log"
done
echo
echo "Both runs go through the kernel's loopback: libshim interposes every socket call"
echo "and hands these sockets back to the kernel. Offloaded runs come with UDP offload."
