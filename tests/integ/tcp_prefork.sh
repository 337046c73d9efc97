#!/bin/bash
# tcp_prefork.sh — a listening socket shared across fork(), under libshim in
# namespace a: python prefork servers whose workers accept through epoll, poll or a
# blocking accept, and nginx with two workers (which drop root before they accept).
# Every connection from namespace b must be answered by a worker: the workers' use
# of the inherited socket hands its port back to the kernel, which spreads the
# connections over them. And a parent whose child never touches the socket (a
# save-to-disk child, as redis forks) keeps its listener offloaded: its connections
# after the fork still do not appear in the kernel's TCP counters of namespace a.
N=tp$$
. "$(dirname "$0")/tcp_lib.sh"
tcp_cleanup_hook() {	# workers (and nginx's) outlive a parent killed with -9
	local p
	for p in $(ip netns pids "$N-a" 2>/dev/null) $(ip netns pids "$N-b" 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
}
tcp_testbed_up
PY=$SRC/tests/integ/tcp_prefork.py
PORT=$((8100 + RANDOM % 500))

ask() {	# PORT COUNT: COUNT connections from b, prints the answers
	in_ns b kernel python3 -c "
import socket, sys
for i in range($2):
    c = socket.create_connection(('$IP_A', $1), timeout=5)
    data = b''
    while not data.endswith(b'\n'):
        d = c.recv(100)
        if not d:
            break
        data += d
    c.close()
    sys.stdout.write(data.decode() or 'nothing\n')
"
}

server() {	# LOGNAME ARGS...: python server under libshim in a, waits for "ready"
	local name=$1
	shift
	(in_ns_exec a shim python3 "$PY" "$@" >"$LOG/$name" 2>&1) &
	pids+=($!)
	wait_ready "$LOG/$name" || fail "$name did not start"
}

stop_server() {	# CMDLINE: the server and its workers; then the next one can take the interface
	pkill -9 -f "$1"
	for _ in $(seq 100); do pgrep -f "$1" >/dev/null || break; sleep 0.02; done
}

for how in epoll poll accept; do
	PORT=$((PORT + 1))
	server "prefork-$how" prefork "$IP_A" $PORT 2 $how
	out=$(ask $PORT 20) || fail "prefork $how: a connection failed: $out"
	n=$(grep -c '^hi ' <<<"$out")
	[ "$n" = 20 ] || fail "prefork $how: $n of 20 connections answered"
	grep -q 'inherited over fork() is used by this process' "$LOG/prefork-$how" ||
		{ grep -v DEBUG "$LOG/prefork-$how"; fail "prefork $how: the workers did not take the listening socket over"; }
	echo "ok: prefork workers ($how): 20 of 20 answered by $(sort -u <<<"$out" | wc -l) worker(s)"
	stop_server "$PY prefork $IP_A $PORT"
done

# A parent that keeps accepting after a fork whose child never uses the socket.
PORT=$((PORT + 1))
server bystander bystander "$IP_A" $PORT
read -r _ p0 _ <<<"$(kernel_tcp a)"
out=$(ask $PORT 10) || fail "bystander: a connection failed: $out"
read -r _ p1 _ <<<"$(kernel_tcp a)"
[ "$(grep -c '^hi ' <<<"$out")" = 10 ] || fail "bystander: not every connection answered: $out"
[ "$p0" = "$p1" ] || fail "bystander: the listener lost its offload after fork (kernel PassiveOpens $p0 -> $p1)"
! grep -q 'inherited over fork() is used' "$LOG/bystander" || fail "bystander: the child took the socket"
echo "ok: a fork child that never uses the listener leaves it offloaded (kernel PassiveOpens stayed $p0)"
stop_server "$PY bystander $IP_A $PORT"

# Fork per connection: an offloaded connection cannot follow its process into a
# child; the child is told so (with the rule that fixes it), and with that rule the
# same server works through the kernel.
PORT=$((PORT + 1))
server perconn perconn "$IP_A" $PORT
out=$(ask $PORT 1 2>&1)
grep -q "^hi " <<<"$out" && fail "fork per connection: a child answered over a connection offloaded by its parent"
grep -q "cannot be used after fork().*'use os tcp_server \*:$PORT'" "$LOG/perconn" ||
	{ grep WARN "$LOG/perconn"; fail "fork per connection: the child did not say why and what to do"; }
stop_server "$PY perconn $IP_A $PORT"
echo "use os tcp_server *:$PORT" >"$LOG/perconn.conf"
export SHIM_CONFIG_FILE=$LOG/perconn.conf
server perconn-rule perconn "$IP_A" $PORT
unset SHIM_CONFIG_FILE
out=$(ask $PORT 5) || fail "fork per connection with the rule: $out"
[ "$(grep -c '^hi ' <<<"$out")" = 5 ] || fail "fork per connection with the rule: $out"
stop_server "$PY perconn $IP_A $PORT"
echo "ok: fork per connection: the child says which rule leaves such connections to the kernel, and with it 5 of 5 answered"

# nginx: master listens, two workers (nobody) accept through epoll with EPOLLEXCLUSIVE.
if command -v nginx >/dev/null; then
	PORT=$((PORT + 1))
	mkdir -p "$LOG/ng"
	cat >"$LOG/ng/nginx.conf" <<NGX
worker_processes 2;
daemon off;
pid $LOG/ng/nginx.pid;
error_log $LOG/ng/error.log info;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $LOG/ng/body; proxy_temp_path $LOG/ng/proxy;
	fastcgi_temp_path $LOG/ng/fcgi; uwsgi_temp_path $LOG/ng/uwsgi; scgi_temp_path $LOG/ng/scgi;
	server { listen $IP_A:$PORT; location / { return 200 "hi nginx\n"; } }
}
NGX
	chmod 755 "$LOG" "$LOG/ng"
	(in_ns_exec a shim nginx -c "$LOG/ng/nginx.conf" >"$LOG/nginx.out" 2>&1) &
	pids+=($!)
	for _ in $(seq 100); do grep -q 'start worker process' "$LOG/ng/error.log" 2>/dev/null && break; sleep 0.05; done
	sleep 0.3
	out=$(in_ns b kernel python3 -c "
import urllib.request
for i in range(20):
    print(urllib.request.urlopen('http://$IP_A:$PORT/', timeout=5).read().decode(), end='')
") || { tail -5 "$LOG/ng/error.log"; fail "nginx: a request failed: $out"; }
	[ "$(grep -c '^hi nginx' <<<"$out")" = 20 ] || fail "nginx: not every request answered: $out"
	echo "ok: nginx with 2 workers answered 20 of 20"
else
	echo "nginx not installed: its part is left out"
fi
exit 0
