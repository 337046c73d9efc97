#!/bin/bash
# tcp_conns.sh — many short offloaded connections, both ways: 1,000 connections that
# each send 100 bytes, half-close, read the echo and EOF, close; a libshim client
# against a kernel echo server, then a kernel client against a libshim server. Then
# a connect to a closed port must fail with ECONNREFUSED. The kernel TCP counters of
# namespace a (where libshim runs) must not move.
N=tn$$
. "$(dirname "$0")/tcp_lib.sh"
tcp_testbed_up
COUNT=${TCP_CONNS:-1000}
k0=$(kernel_tcp a)

in_ns b kernel timeout 60 "$XF" echo 6001 "$COUNT" 2>"$LOG/srv1" &
wait_ready "$LOG/srv1" || fail "kernel echo server did not start"
start=$(date +%s.%N)
in_ns a shim timeout 60 "$XF" conns $IP_B 6001 "$COUNT" 2>"$LOG/cli1" ||
	{ tail -5 "$LOG/cli1"; fail "libshim client -> kernel server"; }
wait
echo "ok: $COUNT libshim client connections to a kernel server ($(echo "$(date +%s.%N) - $start" | bc) s)"

in_ns a shim timeout 60 "$XF" echo 6002 "$COUNT" 2>"$LOG/srv2" &
wait_ready "$LOG/srv2" || { cat "$LOG/srv2"; fail "libshim echo server did not start"; }
start=$(date +%s.%N)
in_ns b kernel timeout 60 "$XF" conns $IP_A 6002 "$COUNT" 2>"$LOG/cli2" ||
	{ tail -5 "$LOG/cli2" "$LOG/srv2"; fail "kernel client -> libshim server"; }
wait
grep -q "passive opens" "$LOG/srv2" && ! grep -q " 0 passive opens" "$LOG/srv2" ||
	{ tail -3 "$LOG/srv2"; fail "libshim server: the engine accepted nothing"; }
echo "ok: $COUNT kernel client connections to a libshim server ($(echo "$(date +%s.%N) - $start" | bc) s)"

in_ns a shim timeout 20 "$XF" refused $IP_B 6009 2>"$LOG/ref" ||
	{ tail -3 "$LOG/ref"; fail "connect to a closed port"; }
echo "ok: ECONNREFUSED from a closed port"

k1=$(kernel_tcp a)
[ "$k0" = "$k1" ] || fail "namespace a kernel TCP counters moved: $k0 -> $k1"
echo "ok: kernel TCP counters of namespace a unchanged ($k1)"

# Rules that keep TCP with the kernel: the same traffic is then the kernel's, bit for
# bit pass-through, and its counters show it.
printf 'use os tcp_client *:*\nuse os tcp_server *:*\n' >"$LOG/os.conf"
in_ns b kernel timeout 60 "$XF" echo 6003 10 2>"$LOG/srv3" &
wait_ready "$LOG/srv3" || fail "kernel echo server did not start"
SHIM_CONFIG_FILE=$LOG/os.conf in_ns a shim timeout 60 "$XF" conns $IP_B 6003 10 2>"$LOG/cli3" ||
	{ tail -5 "$LOG/cli3"; fail "libshim client with tcp_client rules to the kernel"; }
wait
SHIM_CONFIG_FILE=$LOG/os.conf in_ns a shim timeout 60 "$XF" echo 6004 10 2>"$LOG/srv4" &
wait_ready "$LOG/srv4" || fail "libshim echo server (rules: os) did not start"
in_ns b kernel timeout 60 "$XF" conns $IP_A 6004 10 2>"$LOG/cli4" ||
	{ tail -5 "$LOG/cli4"; fail "kernel client to a libshim server left to the kernel by rules"; }
wait
k2=$(kernel_tcp a)
read -r ao0 po0 _ _ <<<"$k1"
read -r ao2 po2 _ _ <<<"$k2"
[ $((ao2 - ao0)) = 10 ] && [ $((po2 - po0)) = 10 ] ||
	fail "rules 'use os': want 10 kernel active and 10 passive opens, counters $k1 -> $k2"
echo "ok: with 'use os' rules the kernel carried the connections (counters $k1 -> $k2)"
