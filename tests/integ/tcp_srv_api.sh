#!/bin/bash
# tcp_srv_api.sh — server-side socket API of offloaded TCP against the kernel's own
# answers: tcp_srv_api.c (EAGAIN on an empty non-blocking listener, accept4 flags and
# addresses, a same-host client through the listener's kernel twin, plain accept),
# run on the kernel and under libshim, with kernel clients in namespace b.
N=tv$$
. "$(dirname "$0")/tcp_lib.sh"
tcp_testbed_up
SRV=$B/tests/integ/tcp_srv_api
[ -x "$SRV" ] || fail "$SRV not built"

run() {	# HOW PORT
	local how=$1 port=$2 out=$LOG/$1.out
	(in_ns_exec a "$how" timeout 30 "$SRV" $port $IP_A >"$out" 2>"$LOG/$how.err") &
	local spid=$!
	pids+=($spid)
	for _ in $(seq 250); do grep -q '^next' "$out" 2>/dev/null && break; sleep 0.02; done
	in_ns b kernel timeout 10 "$XF" conns $IP_A $port 1 || fail "$how: first remote client"
	for _ in $(seq 250); do [ "$(grep -c '^next' "$out")" = 2 ] && break; sleep 0.02; done
	in_ns b kernel timeout 10 "$XF" conns $IP_A $port 1 || fail "$how: second remote client"
	wait $spid
	local rc=$?
	[ "$rc" = 0 ] || { cat "$out"; grep -v INFO "$LOG/$how.err" | tail -5; fail "$how: $rc check(s) failed"; }
}

run kernel 7301
run shim 7302
grep '^ok' "$LOG/shim.out"
grep -q "passive opens" "$LOG/shim.err" && ! grep -q " 0 passive opens" "$LOG/shim.err" ||
	fail "libshim: the engine accepted nothing"
echo "ok: the same checks pass on the kernel and under libshim"
