#!/bin/bash
# select, poll and epoll over mixed sets on the testbed: the semantics transcript
# (tests/integ/iomux_semantics.c) with UDP sockets bound to 198.18.0.1 — offloaded
# under libshim, fed from the peer namespace — beside pipes and eventfds, equals the
# kernel's transcript for several spin settings (never, 100 ms, forever; the kernel
# is asked on every call, SHIM_SELECT_SKIP_OS=1: with the default of 4, kernel fds
# may be reported up to three calls late while offloaded sockets are ready, as in
# VMA, which a transcript would show), and the
# datagrams went through the rings: the sockets' summaries count them as offloaded
# and the kernel's Udp InDatagrams in the namespace did not move.
set -u
N=imx$$
. "$SHIM_SRC/tests/integ/iomux_lib.sh"
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
require_udp_offload

prog=$B/tests/integ/iomux_semantics
ina "$prog" udp $IP_A "$NS_B" > "$WORK/kernel.txt" || { echo "kernel run failed"; exit 1; }
fail=0
for poll in 0 100000 -1; do
	rm -f "$WORK/stats"
	before=$(udp_in)
	SHIM_SELECT_POLL=$poll SHIM_SELECT_SKIP_OS=1 SHIM_STATS_FILE=$WORK/stats LD_PRELOAD=$LIB \
		ina "$prog" udp $IP_A "$NS_B" > "$WORK/shim.txt" 2>"$WORK/shim.err" ||
		{ echo "SHIM_SELECT_POLL=$poll: run failed"; cat "$WORK/shim.err"; fail=1; continue; }
	after=$(udp_in)
	if ! diff "$WORK/kernel.txt" "$WORK/shim.txt"; then
		echo "SHIM_SELECT_POLL=$poll: transcript differs from the kernel's"
		fail=1
	fi
	off=$(offloaded_rx "$WORK/stats")
	echo "SHIM_SELECT_POLL=$poll: offloaded datagrams $off, kernel Udp InDatagrams +$((after - before))"
	[ "$off" -gt 0 ] && [ $((after - before)) -eq 0 ] || { echo "  not offloaded"; fail=1; }
done
exit $fail
