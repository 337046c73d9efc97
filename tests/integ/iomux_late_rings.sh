#!/bin/bash
# A thread asleep in poll, epoll_wait or select over a UDP socket that has no rings
# yet is woken when another thread's first send binds and offloads the socket, and the
# peer's echo (arriving on the new rings) is what wakes it. Proof: the kernel's UDP
# counters of the poller's namespace do not move. Then sockperf's under-load mode
# (whose receiver thread polls before the first send) runs with both sides under
# libshim without losing a reply.
set -u
N=lr$$
. "${SHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/iomux_lib.sh"
PROG=$B/tests/integ/iomux_late_rings
PEER=$B/tests/integ/udp_peer
[ -x "$PROG" ] && [ -x "$PEER" ] || { echo "build the test programs first"; exit 1; }
fail=0
inb "$PEER" echo 7500 -t 60 >"$WORK/echo" 2>&1 &
pids+=($!)
for i in $(seq 100); do grep -q "echo ready" "$WORK/echo" && break; sleep 0.05; done
# A short spin, so each poller is asleep in the kernel when the socket gains rings.
export SHIM_SELECT_POLL=1000 SHIM_RX_POLL=1000
for m in poll epoll select recv; do
	before=$(udp_in)
	if ina env LD_PRELOAD="$LIB" SHIM_STATS_FILE="$WORK/st.$m" timeout 20 "$PROG" "$m" "$IP_B" 7500 \
		>"$WORK/$m" 2>&1; then
		grep woken "$WORK/$m"
	else
		echo "FAIL: $m"
		grep -v ' SHIM ' "$WORK/$m" | tail -5
		fail=1
		continue
	fi
	after=$(udp_in)
	rx=$(offloaded_rx "$WORK/st.$m")
	if [ "$before" != "$after" ] || [ "$rx" = 0 ]; then
		echo "FAIL: $m: the echo was not received offloaded (kernel Udp In $before -> $after, offloaded rx $rx)"
		fail=1
	fi
done
exit $fail
