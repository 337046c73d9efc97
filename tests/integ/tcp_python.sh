#!/bin/bash
# tcp_python.sh — python servers over offloaded TCP: a non-blocking echo server on
# selectors (select, poll, epoll) and on asyncio runs under libshim in namespace a,
# kernel clients in namespace b (3 at once, 200 messages each) check every echo. The
# kernel TCP counters of namespace a must not move: readiness came from the engine.
N=ty$$
. "$(dirname "$0")/tcp_lib.sh"
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
tcp_testbed_up
PY=$SRC/tests/integ/tcp_selectors.py
port=7400
for kind in select poll epoll asyncio; do
	port=$((port + 1))
	k0=$(kernel_tcp a)
	(in_ns_exec a shim timeout 60 python3 "$PY" server $kind $port 3 >"$LOG/$kind" 2>"$LOG/$kind.err") &
	spid=$!
	pids+=($spid)
	for _ in $(seq 250); do grep -q ready "$LOG/$kind" && break; sleep 0.02; done
	grep -q ready "$LOG/$kind" || { grep -v INFO "$LOG/$kind.err" | tail -5; fail "$kind server did not start"; }
	in_ns b kernel timeout 60 python3 "$PY" client $IP_A $port ||
		{ grep -v INFO "$LOG/$kind.err" | tail -5; fail "$kind: echo"; }
	wait $spid || { grep -v INFO "$LOG/$kind.err" | tail -5; fail "$kind server exit"; }
	k1=$(kernel_tcp a)
	[ "$k0" = "$k1" ] || fail "$kind: namespace a kernel TCP counters moved: $k0 -> $k1"
	echo "ok: python $kind server under libshim, 3 kernel clients x 200 echoes"
done
