#!/bin/bash
# tcp_interop.sh — offloaded TCP against the Linux kernel and against itself on the
# testbed: libshim client -> kernel server, kernel client -> libshim server, libshim
# -> libshim. Each moves 100 MB (1 GiB with SHIM_LONG_TESTS=1) checked by sha256, and
# proves the offload: the engine counted the segments, and the kernel TCP counters of
# every offloading namespace (ActiveOpens PassiveOpens InSegs OutSegs) did not move.
N=ti$$
. "$(dirname "$0")/tcp_lib.sh"
tcp_testbed_up

SIZE=${TCP_XFER_SIZE:-100M}
[ "${SHIM_LONG_TESTS:-0}" = 1 ] && SIZE=1G
PORT=5001

# transfer NAME CLIENT_HOW SERVER_HOW: client in a sends to the server in b, or the
# other way round for a kernel client (the offloaded side is always namespace a).
transfer() {
	local name=$1 chow=$2 show=$3 cside=a sside=b dst=$IP_B
	if [ "$chow" = kernel ]; then cside=b; sside=a; dst=$IP_A; fi
	PORT=$((PORT + 1))
	local ka0 kb0 ka1 kb1
	ka0=$(kernel_tcp a); kb0=$(kernel_tcp b)
	in_ns $sside "$show" timeout 120 "$XF" recv $PORT 2>"$LOG/$name.srv" |
		sha256sum >"$LOG/$name.dst" &
	wait_ready "$LOG/$name.srv" || fail "$name: server did not start"
	head -c "$SIZE" /dev/urandom | tee >(sha256sum >"$LOG/$name.src") |
		in_ns $cside "$chow" timeout 120 "$XF" send $dst $PORT 2>"$LOG/$name.cli"
	local rc=${PIPESTATUS[2]}
	wait
	[ "$rc" = 0 ] || { cat "$LOG/$name.cli" "$LOG/$name.srv"; fail "$name: client exit $rc"; }
	for _ in $(seq 50); do [ -s "$LOG/$name.src" ] && break; sleep 0.02; done
	cmp -s <(cut -d' ' -f1 "$LOG/$name.src") <(cut -d' ' -f1 "$LOG/$name.dst") ||
		fail "$name: sha256 differs: $(cat "$LOG/$name.src") vs $(cat "$LOG/$name.dst")"
	ka1=$(kernel_tcp a); kb1=$(kernel_tcp b)
	[ "$ka0" = "$ka1" ] || fail "$name: namespace a kernel TCP counters moved: $ka0 -> $ka1"
	if [ "$chow" = shim ] && [ "$show" = shim ]; then
		[ "$kb0" = "$kb1" ] || fail "$name: namespace b kernel TCP counters moved: $kb0 -> $kb1"
	fi
	local f segs
	for f in "$LOG/$name.cli" "$LOG/$name.srv"; do
		grep -q 'SHIM' "$f" || continue
		segs=$(sed -n 's/.*tcp: engine: .* \([0-9]*\) segments in.*/\1/p' "$f")
		[ -n "$segs" ] && [ "$segs" -gt 0 ] || { cat "$f"; fail "$name: engine counted no segments"; }
	done
	echo "ok: $name ($SIZE, sha256 $(cut -c1-16 "$LOG/$name.src"), kernel TCP counters in a unchanged: $ka1)"
}

transfer shim-client-kernel-server shim kernel
transfer kernel-client-shim-server kernel shim
transfer shim-client-shim-server shim shim

# A client that closes and exits at once: what is still queued must reach the peer
# (the kernel would deliver it after the process is gone; libshim drains at exit).
if command -v python3 >/dev/null; then
	PORT=$((PORT + 1))
	in_ns b kernel timeout 30 "$XF" recv $PORT 2>"$LOG/exit.srv" | wc -c >"$LOG/exit.count" &
	wait_ready "$LOG/exit.srv" || fail "exit: server did not start"
	SHIM_TRACELEVEL=3 in_ns a shim timeout 30 python3 -c "
import socket
s = socket.create_connection(('$IP_B', $PORT))
s.sendall(b'x' * 3000000)
s.close()" || fail "exit: client failed"
	wait
	[ "$(cat "$LOG/exit.count")" = 3000000 ] ||
		fail "exit: the peer got $(cat "$LOG/exit.count") of 3000000 bytes sent before close and exit"
	echo "ok: a client that closes and exits at once still delivers everything"
fi
