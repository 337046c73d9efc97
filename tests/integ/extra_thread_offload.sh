#!/bin/bash
# The extra API's thread_offload(): a thread that called thread_offload(0) creates a
# UDP socket that stays with the kernel (the kernel's UDP counters of its namespace
# move, libshim's rings move nothing), while one that called thread_offload(1) gets an
# offloaded socket (rings move, the kernel's counters do not), in the same build and
# testbed. SHIM_OFFLOADED_SOCKETS=0 is the process-wide default the API overrides.
set -u
. "$SHIM_SRC/tests/integ/udp_lib.sh"
APP=$SHIM_BUILD/tests/integ/extra_thread_offload
[ -x "$APP" ] && [ -x "$PEER" ] || { echo "build the test programs first"; exit 1; }
udp_testbed_up "to$$"
fail=0
bg "$LOGDIR/echo" in_ns b kernel "$PEER" echo 7600 -t 60
wait_for "$LOGDIR/echo" "echo ready" || exit 1

# run NAME OFFLOAD [ENV...]: the app under libshim in a; prints "kernel_in_delta rx tx"
run() {
	local name=$1 off=$2 before after
	shift 2
	before=$(snmp_udp a)
	if ! in_ns a shim env "$@" "$APP" "$off" 198.18.0.2 7600 20 >"$LOGDIR/$name" 2>&1; then
		echo "FAIL: $name: $(grep -v ' SHIM ' "$LOGDIR/$name" | tail -3)"
		fail=1
	fi
	after=$(snmp_udp a)
	frames=$(ring_frames "$LOGDIR/$name")
	echo "$name: $(grep -o 'thread_offload([01]).*' "$LOGDIR/$name"); kernel Udp In/Out $before -> $after; ring frames rx/tx ${frames:-none}"
	kin=$(( ${after% *} - ${before% *} ))
	rx=${frames% *}
	rx=${rx:-0}
}

run kernel 0
if [ "$kin" -lt 20 ] || [ "$rx" != 0 ]; then
	echo "FAIL: thread_offload(0): the socket was not left to the kernel"
	fail=1
fi
run offloaded 1 SHIM_OFFLOADED_SOCKETS=0
if [ "$kin" != 0 ] || [ "$rx" -lt 20 ]; then
	echo "FAIL: thread_offload(1) over SHIM_OFFLOADED_SOCKETS=0: the socket was not offloaded"
	fail=1
fi
exit $fail
