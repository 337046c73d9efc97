#!/bin/bash
# Offloaded UDP sockets closed and replaced by one thread while three others wait on
# them in epoll_wait, poll and select and a peer keeps sending: with the default spin,
# spinning forever (SHIM_SELECT_POLL=-1) and never spinning (0). The process must
# finish on time with exit 0 (no crash, no hang, no event for an unregistered
# descriptor), and the rings must have carried datagrams.
set -u
N=cr$$
. "${SHIM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/iomux_lib.sh"
PROG=$B/tests/integ/iomux_close_race
[ -x "$PROG" ] || { echo "build the test programs first"; exit 1; }
NSOCK=16 SECS=${CLOSE_RACE_SECS:-3} PORT=$((31000 + RANDOM % 2000))
inb python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 3 * ($SECS + 2) + 10
i = 0
while time.time() < end:
    s.sendto(b'x' * 32, ('$IP_A', $PORT + i % $NSOCK))
    i += 1
    if i % 64 == 0:
        time.sleep(0.0005)
" >/dev/null 2>&1 &
pids+=($!)
fail=0
for spin in default -1 0; do
	envs=(LD_PRELOAD="$LIB" SHIM_STATS_FILE="$WORK/st.$spin")
	[ "$spin" != default ] && envs+=(SHIM_SELECT_POLL="$spin")
	if ! ina env "${envs[@]}" timeout $((SECS + 20)) "$PROG" "$IP_A" "$PORT" "$NSOCK" "$SECS" \
		>"$WORK/out.$spin" 2>&1; then
		echo "FAIL: SHIM_SELECT_POLL=$spin: exit status $? (124 = hung)"
		grep -v ' SHIM ' "$WORK/out.$spin" | tail -5
		fail=1
		continue
	fi
	rx=$(offloaded_rx "$WORK/st.$spin")
	echo "SHIM_SELECT_POLL=$spin: $(grep 'close race:' "$WORK/out.$spin"), $rx of them offloaded"
	if [ "$rx" = 0 ]; then
		echo "FAIL: SHIM_SELECT_POLL=$spin: no datagram went through the rings"
		fail=1
	fi
done
exit $fail
