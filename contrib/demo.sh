#!/bin/bash
# make demo — what libshim does, in one table: sockperf UDP ping-pong and throughput
# with 64-byte messages between two network namespaces joined by a veth pair, first
# on the kernel and then with libshim on both sides (LD_PRELOAD), interleaved over
# a few rounds; p50/p99/p99.9 latency, message rates and libshim/kernel ratios. The
# testbed is created and removed here; builds are make's job.
#   contrib/demo.sh [build-dir] [rounds] [seconds]
B=${1:-build}
ROUNDS=${2:-3}
SECS=${3:-3}
SRC=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$B/libshim.so" ] || { echo "demo: $B/libshim.so missing: run make first"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, veth, XDP)"; exit 1; }
echo "libshim demo: the kernel's UDP stack against libshim's AF_XDP rings"
"$SRC/tests/bench/udp_sockperf.sh" "$B" -r "$ROUNDS" -t "$SECS" -m 64
rc=$?
[ $rc = 77 ] && echo "demo: cannot run here (see above)"
exit $rc
