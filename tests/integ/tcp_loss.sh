#!/bin/bash
# tcp_loss.sh — offloaded TCP over a lossy wire: a tc BPF program (tests/bpf/
# tcp_loss.bpf.c) on the peer's veth drops 1%, then 5%, of the TCP segments in both
# directions, and transfers both ways (libshim client -> kernel server, kernel
# client -> libshim server) must still arrive intact (sha256). 10 MB each (1 GiB with
# SHIM_LONG_TESTS=1). libshim on both ends is not run here: its XDP program sees
# frames before tc ingress and AF_XDP transmit bypasses tc egress, so a tc injector
# on a libshim host never touches them.
N=tl$$
. "$(dirname "$0")/tcp_lib.sh"
tcp_testbed_up
command -v tc >/dev/null || { echo "tc (iproute2) not installed"; exit 77; }
SIZE1=${TCP_LOSS_SIZE:-10M}
SIZE5=${TCP_LOSS_SIZE:-4M}
if [ "${SHIM_LONG_TESTS:-0}" = 1 ]; then SIZE1=1G; SIZE5=1G; fi
VB=$("$TB" info "$N" b if)
PORT=5400

set_loss() {	# permille: 0 removes the injector
	"$TB" exec "$N" b tc qdisc del dev "$VB" clsact 2>/dev/null
	[ "$1" = 0 ] && return
	local obj=$B/tests/bpf/tcp_loss_$1.o
	[ -f "$obj" ] || fail "$obj not built"
	"$TB" exec "$N" b tc qdisc add dev "$VB" clsact || fail "cannot add clsact on $VB"
	"$TB" exec "$N" b tc filter add dev "$VB" ingress bpf da obj "$obj" sec tc ||
		{ echo "cannot attach a tc BPF program here"; exit 77; }
	"$TB" exec "$N" b tc filter add dev "$VB" egress bpf da obj "$obj" sec tc || fail "egress filter"
}

transfer() {	# NAME CLIENT_HOW SERVER_HOW
	local name=$1 chow=$2 show=$3 cside=a sside=b dst=$IP_B
	if [ "$chow" = kernel ]; then cside=b; sside=a; dst=$IP_A; fi
	PORT=$((PORT + 1))
	in_ns $sside "$show" timeout 120 "$XF" recv $PORT 2>"$LOG/$name.srv" |
		sha256sum >"$LOG/$name.dst" &
	wait_ready "$LOG/$name.srv" || fail "$name: server did not start"
	local t0=$SECONDS
	head -c "$SIZE" /dev/urandom | tee >(sha256sum >"$LOG/$name.src") |
		in_ns $cside "$chow" timeout 120 "$XF" send $dst $PORT 2>"$LOG/$name.cli"
	local rc=${PIPESTATUS[2]}
	wait
	[ "$rc" = 0 ] || { grep -v INFO "$LOG/$name.cli" "$LOG/$name.srv" | tail; fail "$name: client exit $rc"; }
	for _ in $(seq 50); do [ -s "$LOG/$name.src" ] && break; sleep 0.02; done
	cmp -s <(cut -d' ' -f1 "$LOG/$name.src") <(cut -d' ' -f1 "$LOG/$name.dst") ||
		fail "$name: sha256 differs"
	local rtx
	rtx=$(cat "$LOG/$name.cli" "$LOG/$name.srv" | sed -n 's/.*out, \([0-9]*\) retransmitted.*/\1/p' | paste -sd+ | bc)
	echo "ok: $name: $SIZE intact in $((SECONDS - t0)) s (libshim retransmitted ${rtx:-0} segments)"
}

for loss in 10 50; do
	set_loss $loss
	SIZE=$SIZE1
	[ $loss = 50 ] && SIZE=$SIZE5
	echo "loss $((loss / 10))% each way:"
	transfer "l$loss-shim-client" shim kernel
	transfer "l$loss-shim-server" kernel shim
done
set_loss 0
