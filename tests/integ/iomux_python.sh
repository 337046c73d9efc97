#!/bin/bash
# python3 selectors (epoll, poll, select) and asyncio UDP echo servers on the testbed,
# each loop also serving a pipe and timers: under libshim (the UDP socket offloaded,
# the pipe and timers with the kernel) the transcript equals the kernel-only run, the
# client gets every echo, and the datagrams went through the rings (socket summary)
# while the kernel's Udp InDatagrams in the server's namespace did not move.
set -u
N=imp$$
. "$SHIM_SRC/tests/integ/iomux_lib.sh"
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
require_udp_offload

PY=$SRC/tests/integ/iomux_echo.py
COUNT=300
# run MODE PRELOAD: server in a, client in b; transcript to $WORK/MODE.PRELOAD.txt
run() {
	local mode=$1 pre=$2 port=$((40000 + RANDOM % 10000)) out=$WORK/$1.${2:+shim}.txt
	rm -f "$WORK/stats"
	SHIM_STATS_FILE=$WORK/stats LD_PRELOAD=$pre ip netns exec "$N-a" \
		python3 "$PY" server "$mode" $IP_A $port $COUNT > "$out" 2>"$out.err" &
	local spid=$!
	pids+=($spid)
	for _ in $(seq 100); do grep -q '^ready' "$out" 2>/dev/null && break; sleep 0.05; done
	inb python3 "$PY" client $IP_A $port $COUNT || { echo "$mode ${pre:+libshim}: client failed"; }
	wait $spid || { echo "$mode ${pre:+libshim}: server failed"; cat "$out.err"; return 1; }
	grep -v '^ready' "$out"
}

fail=0
for mode in epoll poll select asyncio; do
	plain=$(run $mode "") || { echo "$plain"; fail=1; continue; }
	before=$(udp_in)
	shim=$(run $mode "$LIB") || { echo "$shim"; fail=1; continue; }
	after=$(udp_in)
	off=$(offloaded_rx "$WORK/stats")
	echo "$mode: offloaded datagrams $off, kernel Udp InDatagrams +$((after - before))"
	echo "$shim" | sed 's/^/  /'
	[ "$plain" = "$shim" ] || { echo "  differs from the kernel run:"; echo "$plain" | sed 's/^/  | /'; fail=1; }
	[ "$off" -ge $COUNT ] && [ $((after - before)) -eq 0 ] || { echo "  not offloaded"; fail=1; }
done
exit $fail
