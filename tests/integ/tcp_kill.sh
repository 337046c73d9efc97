#!/bin/bash
# tcp_kill.sh — kill -9 of a process with open offloaded connections. Its kernel
# twins die with it, so the peer's next segment reaches the kernel of namespace a,
# which answers RST (the peer sees ECONNRESET), and the port can be bound again.
# Both sides: a libshim client and a libshim server, each killed under a kernel peer.
N=tk$$
. "$(dirname "$0")/tcp_lib.sh"
tcp_testbed_up

# Client side: libshim in a connects to a kernel peer in b, then dies.
in_ns b kernel timeout 30 "$XF" expect-rst - 7001 "$LOG/go1" >"$LOG/peer1" 2>"$LOG/peer1.err" &
wait_ready "$LOG/peer1.err" || fail "kernel peer did not start"
(in_ns_exec a shim "$XF" hold $IP_B 7001 >"$LOG/hold1" 2>"$LOG/hold1.err") &
hold=$!
pids+=("$hold")
for _ in $(seq 250); do grep -q connected "$LOG/hold1" && break; sleep 0.02; done
grep -q connected "$LOG/hold1" || { cat "$LOG/hold1.err"; fail "libshim client did not connect"; }
lport=$(ip netns exec "$N-b" ss -Htn state established "( sport = :7001 )" | awk '{ print $4 }' | sed 's/.*://')
rst0=$(ip netns exec "$N-a" awk '/^Tcp:/ { if (h) print $15; h = 1 }' /proc/net/snmp)
kill -9 "$hold"
wait "$hold" 2>/dev/null
touch "$LOG/go1"
wait %1 || { cat "$LOG/peer1" "$LOG/peer1.err"; fail "kernel peer of a killed libshim client saw no RST"; }
rst1=$(ip netns exec "$N-a" awk '/^Tcp:/ { if (h) print $15; h = 1 }' /proc/net/snmp)
[ "$rst1" -gt "$rst0" ] || fail "namespace a's kernel sent no RST ($rst0 -> $rst1)"
echo "ok: killed libshim client: peer got RST from the kernel ($(tail -1 "$LOG/peer1"))"
if [ -n "$lport" ]; then
	ip netns exec "$N-a" python3 -c "import socket; s = socket.socket(); s.bind(('$IP_A', $lport))" ||
		fail "port $lport of the killed client cannot be bound again"
	echo "ok: its port $lport can be bound again"
fi

# Server side: libshim listens in a, a kernel client in b connects, the server dies.
(in_ns_exec a shim "$XF" recv 7002 >/dev/null 2>"$LOG/srv2.err") &
srv=$!
pids+=("$srv")
wait_ready "$LOG/srv2.err" || { cat "$LOG/srv2.err"; fail "libshim server did not start"; }
in_ns b kernel timeout 30 "$XF" expect-rst $IP_A 7002 "$LOG/go2" >"$LOG/peer2" 2>"$LOG/peer2.err" &
peer=$!
for _ in $(seq 250); do grep -q connected "$LOG/peer2" && break; sleep 0.02; done
grep -q connected "$LOG/peer2" || { cat "$LOG/peer2.err"; fail "kernel client did not connect"; }
sleep 0.1
kill -9 "$srv"
wait "$srv" 2>/dev/null
touch "$LOG/go2"
wait "$peer" || { cat "$LOG/peer2" "$LOG/peer2.err"; fail "kernel client of a killed libshim server saw no RST"; }
echo "ok: killed libshim server: client got RST from the kernel ($(tail -1 "$LOG/peer2"))"
in_ns a shim timeout 20 "$XF" recv 7002 >/dev/null 2>"$LOG/srv3.err" &
wait_ready "$LOG/srv3.err" || { cat "$LOG/srv3.err"; fail "port 7002 not usable again"; }
echo hi | in_ns b kernel timeout 10 "$XF" send $IP_A 7002 || fail "new server on port 7002 unreachable"
wait
echo "ok: port 7002 serves again after the kill"
