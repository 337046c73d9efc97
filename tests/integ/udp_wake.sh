#!/bin/bash
# Blocking receive on an offloaded UDP socket, after it has stopped polling and sleeps:
# woken by a datagram from a kernel sender on the same host (it reaches the kernel
# socket, not the ring), and by one from the peer namespace (through the ring's wake
# fd). Then kill -9 of an offloading process: kernel UDP on that interface works at
# once (nothing of ours stays attached).
set -u
. "$SHIM_SRC/tests/integ/udp_lib.sh"
udp_testbed_up "uw$$"
fail=0
export SHIM_RX_POLL=1000	# sleep after a short spin

# Same-host kernel sender.
bg "$LOGDIR/local" in_ns a shim "$PEER" blockwake 7300
wait_for "$LOGDIR/local" blocking || exit 1
sleep 0.5
"$TB" exec "$N" a bash -c 'echo -n local > /dev/udp/127.0.0.1/7300'
if wait_for "$LOGDIR/local" "woken by 5 bytes \"local\"" 3; then
	grep woken "$LOGDIR/local"
	wait "$LAST_PID"	# its rings are gone before the next process offloads
else
	echo "FAIL: a same-host datagram did not wake the blocked receiver"
	fail=1
fi

# Remote sender (through the ring, while the receiver sleeps on the wake fd).
before=$(snmp_udp a)
bg "$LOGDIR/remote" in_ns a shim "$PEER" blockwake 7301
wait_for "$LOGDIR/remote" blocking || exit 1
sleep 0.5
"$TB" exec "$N" b bash -c 'echo -n remote > /dev/udp/198.18.0.1/7301'
if wait_for "$LOGDIR/remote" "woken by 6 bytes \"remote\"" 3; then
	grep woken "$LOGDIR/remote"
	wait "$LAST_PID"
	proof a "$LOGDIR/remote" "$before" >/dev/null 2>&1 || true
	[ "$(snmp_udp a)" = "$before" ] || { echo "FAIL: remote datagram went through the kernel"; fail=1; }
else
	echo "FAIL: a datagram from the peer did not wake the sleeping receiver"
	fail=1
fi

# kill -9 of an offloading echo server, then a kernel echo server on the same port.
bg "$LOGDIR/victim" in_ns a shim "$PEER" echo 7400 -t 30
victim=$LAST_PID
wait_for "$LOGDIR/victim" "echo ready" || exit 1
in_ns b kernel "$PEER" integrity 198.18.0.1 7400 -r 1 >/dev/null 2>&1 &
sleep 1
# $victim is the offloading process itself (the shell execs into it), or its parent.
grep -q "offloaded on" "$LOGDIR/victim" || { echo "FAIL: the echo server was not offloading"; exit 1; }
child=$(pgrep -P "$victim")
kill -9 ${child:-$victim} 2>/dev/null
wait "$victim" 2>/dev/null
start=$(date +%s%N)
bg "$LOGDIR/after" in_ns a kernel "$PEER" echo 7400 -t 5
wait_for "$LOGDIR/after" "echo ready" || exit 1
if in_ns b kernel "$PEER" integrity 198.18.0.1 7400 >"$LOGDIR/after.client" 2>&1; then
	echo "after kill -9: kernel UDP on the interface works ($(grep -o 'integrity ok.*' "$LOGDIR/after.client"), $((($(date +%s%N) - start) / 1000000)) ms after)"
else
	echo "FAIL: kernel UDP broken after kill -9 of an offloading process"
	cat "$LOGDIR/after.client"
	fail=1
fi
exit $fail
