#!/bin/bash
# tcp_api.sh — the socket API of offloaded TCP against the kernel's own answers: the
# same checks (tcp_api.c: non-blocking connect, ECONNREFUSED, addresses, MSG_PEEK,
# MSG_WAITALL, MSG_DONTWAIT, FIONREAD, SIOCOUTQ, TCP_INFO, options, SO_RCVTIMEO,
# EINTR, half-close, ECONNRESET, EPIPE/SIGPIPE, MSG_NOSIGNAL, full send buffer,
# linger 0) run under libshim and on the kernel, against a kernel server.
N=tp$$
. "$(dirname "$0")/tcp_lib.sh"
tcp_testbed_up
API=$B/tests/integ/tcp_api
[ -x "$API" ] || fail "$API not built"

(in_ns_exec b kernel "$API" server 7100 >"$LOG/srv" 2>"$LOG/srv.err") &
srv=$!
pids+=("$srv")
wait_ready "$LOG/srv.err" || fail "server did not start"

# libshim first, so that late segments of the kernel's own run cannot touch the
# counters measured around it.
k0=$(kernel_tcp a)
in_ns a shim timeout 60 "$API" client $IP_B 7100 7199 >"$LOG/shim" 2>"$LOG/shim.err"
rc=$?
k1=$(kernel_tcp a)
in_ns a kernel timeout 60 "$API" client $IP_B 7100 7199 >"$LOG/kernel" 2>&1 ||
	{ cat "$LOG/kernel"; fail "the checks fail on the kernel itself"; }
cat "$LOG/shim"
[ "$rc" = 0 ] || { grep -v INFO "$LOG/shim.err" | tail -5; fail "$rc check(s) differ from the kernel under libshim"; }
[ "$k0" = "$k1" ] || fail "namespace a kernel TCP counters moved: $k0 -> $k1"
[ "$(grep -c '^close: reset' "$LOG/srv")" -ge 2 ] || { cat "$LOG/srv"; fail "linger 0 close did not reset the peer"; }
echo "ok: linger 0 close reached the peer as a reset; kernel TCP counters of a unchanged ($k1)"
