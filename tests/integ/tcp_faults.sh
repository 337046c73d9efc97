#!/bin/bash
# tcp_faults.sh — offloaded TCP over a faulty wire, every direction, each transfer
# checked by sha256 and by the proof of offload (our engine counted the segments, the
# libshim namespace's kernel TCP counters did not move):
#   libshim client -> kernel server, kernel client -> libshim server: 1% and 5% loss
#     both ways (tc program tests/bpf/tcp_loss.bpf.c on the kernel peer's veth for
#     what the kernel receives; for the data it sends, tests/integ/xdp_fault on the
#     libshim host, since a tc egress drop is only a local drop the kernel retries),
#     and reordering of one data segment in 20: kernel-sent data by a tc egress
#     program on the kernel peer's veth (tests/bpf/tcp_reorder.bpf.c) detouring it
#     through an ifb; libshim-sent data by xdp_fault as the kernel peer's XDP program,
#     detouring it through the other CPU's cpumap thread (see below).
#   libshim <-> libshim: 1% and 5% loss, injected by tests/integ/xdp_fault chained
#     ahead of libshim's own XDP steering on both hosts (a tc program never sees these
#     frames: AF_XDP transmit bypasses tc egress and XDP runs before tc ingress), one
#     transfer each way so that each end is once the retransmitting sender.
#   libshim <-> libshim reordering: the same injector sends one data segment in 20
#     to the sender's host by XDP_TX (an XDP program cannot hold a frame), whose
#     injector reflects it from a cpumap thread, later; back home it is steered
#     behind the segments that overtook it. It reaches libshim's AF_XDP ring through
#     the receiving veth's own NAPI, as every frame does: no other context ever
#     writes that ring.
# Loss must show as retransmissions of the sender (our engine's, or the kernel's
# RetransSegs); reordering as the receiver's out-of-order count (the kernel's
# TCPOFOQueue, our engine's closing report). Sizes: 8 MB (1% loss), 4 MB (5%), 8 MB
# (reordering); 1 GiB each with SHIM_LONG_TESTS=1.
N=tf$$
. "$(dirname "$0")/tcp_lib.sh"
command -v tc >/dev/null || { echo "tc (iproute2) not installed"; exit 77; }
tcp_testbed_up
SIZE1=${TCP_FAULT_SIZE:-8M}
SIZE5=${TCP_FAULT_SIZE:-4M}
SIZER=${TCP_FAULT_SIZE:-8M}
if [ "${SHIM_LONG_TESTS:-0}" = 1 ]; then SIZE1=1G; SIZE5=1G; SIZER=1G; fi
VA=$("$TB" info "$N" a if)
VB=$("$TB" info "$N" b if)
FAULT=$B/tests/integ/xdp_fault
REORDER_OBJ=$B/tests/bpf/tcp_reorder.o
DETOUR_IFINDEX=4242	# as built into tcp_reorder.o
PORT=5400
[ -x "$FAULT" ] || fail "$FAULT not built"
[ -f "$REORDER_OBJ" ] || fail "$REORDER_OBJ not built"
ip netns exec "$N-b" ip link add ifbr$$ index $DETOUR_IFINDEX type ifb 2>/dev/null ||
	{ echo "cannot create an ifb device (needed to reorder)"; exit 77; }
ip netns exec "$N-b" ip link set ifbr$$ up || fail "ifb up"

tc_b() { "$TB" exec "$N" b tc "$@"; }

set_tc() {	# loss10|loss50[-in]|reorder-egress|none on the kernel host
	tc_b qdisc del dev "$VB" clsact 2>/dev/null
	[ "$1" = none ] && return
	tc_b qdisc add dev "$VB" clsact || fail "cannot add clsact on $VB"
	case $1 in
	loss*)
		local rate=${1#loss}
		local obj=$B/tests/bpf/tcp_loss_${rate%-in}.o
		[ -f "$obj" ] || fail "$obj not built"
		tc_b filter add dev "$VB" ingress bpf da obj "$obj" sec tc ||
			{ echo "cannot attach a tc BPF program here"; exit 77; }
		[ "$rate" = "${rate%-in}" ] || return 0
		tc_b filter add dev "$VB" egress bpf da obj "$obj" sec tc || fail "egress filter" ;;
	reorder-egress)
		tc_b filter add dev "$VB" egress bpf da obj "$REORDER_OBJ" sec tc ||
			{ echo "cannot attach a tc BPF program here"; exit 77; } ;;
	esac
}

# A kernel counter of a namespace: netstat NS TcpExt FIELD, or snmp NS Tcp FIELD.
kstat() {
	local f=/proc/net/netstat
	[ "$1" = snmp ] && f=/proc/net/snmp
	ip netns exec "$N-$2" awk -v g="$3:" -v k="$4" \
		'$1 == g { if (!h) { for (i = 2; i <= NF; i++) if ($i == k) c = i; h = 1 } else print $c + 0 }' $f
}

# A number from libshim's closing engine report in a log: engine LOG WORDS...
engine() {
	local pat=$2
	sed -n "s/.*tcp: engine: .*[ ,;]\([0-9][0-9]*\) $pat.*/\1/p" "$1" | tail -1
}

# Chain the loss injector on a libshim host's steering (waits for the program).
fault_on() {	# side xdp_fault-options...
	local side=$1 v=$VA
	[ "$side" = b ] && v=$VB
	shift
	ip netns exec "$N-$side" "$FAULT" "$@" "$v" >"$LOG/fault-$side" 2>&1 &
	local p=$!
	pids+=("$p")
	eval "FAULT_PID_$side=$p"
}

fault_wait() {	# side: until chained; exit 77 when the kernel refuses the program
	local p
	eval "p=\$FAULT_PID_$1"
	for _ in $(seq 250); do
		grep -q '^attached' "$LOG/fault-$1" && return 0
		kill -0 "$p" 2>/dev/null || break
		sleep 0.02
	done
	wait "$p"
	local rc=$?
	cat "$LOG/fault-$1"
	[ "$rc" = 3 ] && { echo "the kernel refuses the XDP fault program"; exit 77; }
	fail "xdp_fault on $1 did not attach (exit $rc)"
}

fault_off() {	# side: detach; SEEN DROPPED SENT BACK REFLECTED say what it did
	local p
	eval "p=\$FAULT_PID_$1"
	kill -TERM "$p"
	wait "$p" || fail "xdp_fault on $1 exited with $?"
	read -r SEEN DROPPED < <(sed -n 's/^xdp_fault: \([0-9]*\) TCP frames seen, \([0-9]*\) dropped/\1 \2/p' "$LOG/fault-$1")
	read -r SENT BACK REFLECTED < <(sed -n 's/^xdp_fault: .*(\([0-9]*\) sent away, \([0-9]*\) back), \([0-9]*\) of.*/\1 \2 \3/p' "$LOG/fault-$1")
}

# The offloading namespace's kernel TCP saw nothing of the connection. One exception:
# a segment that arrives after the process exited (its steering gone with it) finds
# no socket: under loss, the peer's retransmitted FIN when our final ACK was lost
# (no TIME_WAIT outlives the process), which the kernel answers with RST; with
# reordering, also the RSTs a libshim peer sends to segments that reach it after
# the connection ended, which the kernel takes silently. Allowed: no opens, every
# segment out an RST, at most 2 segments in plus the RSTs the libshim peer sent.
offload_held() {	# name side "opens passive in out" rsts_before peer_rsts
	local a0 p0 i0 o0 a1 p1 i1 o1
	read -r a0 p0 i0 o0 <<<"$3"
	read -r a1 p1 i1 o1 < <(kernel_tcp $2)
	local rst=$(($(kstat snmp $2 Tcp OutRsts) - $4))
	[ "$a0 $p0 $i0 $o0" = "$a1 $p1 $i1 $o1" ] && return 0
	if [ "$a0 $p0" = "$a1 $p1" ] && [ $((i1 - i0)) -le $((2 + ${5:-0})) ] &&
	   [ $((o1 - o0)) = "$rst" ]; then
		echo "note: $1: $((i1 - i0)) late segment(s) reached the kernel in $2 after exit" \
			"($rst answered with RST; the libshim peer sent ${5:-0} RSTs)"
		return 0
	fi
	fail "$1: the kernel's TCP counters moved in $2: $3 -> $a1 $p1 $i1 $o1" \
		"($rst RSTs out, the libshim peer sent ${5:-0} RSTs)"
}

# transfer NAME CSIDE CHOW SSIDE SHOW [HOOK]: SIZE bytes from the client to the
# server, sha256 compared; HOOK (a function) runs once the server listens. Leaves the
# logs in $LOG/NAME.{cli,srv} and the shim namespaces' kernel TCP counters checked.
transfer() {
	local name=$1 cside=$2 chow=$3 sside=$4 show=$5 hook=${6:-} dst=$IP_A s
	[ "$sside" = b ] && dst=$IP_B
	PORT=$((PORT + 1))
	declare -A k0 rst0
	for s in a b; do k0[$s]=$(kernel_tcp $s) rst0[$s]=$(kstat snmp $s Tcp OutRsts); done
	in_ns "$sside" "$show" timeout 120 "$XF" recv $PORT 2>"$LOG/$name.srv" |
		sha256sum >"$LOG/$name.dst" &
	local srv=$!
	wait_ready "$LOG/$name.srv" || fail "$name: server did not start"
	[ -n "$hook" ] && $hook
	local t0=$SECONDS
	head -c "$SIZE" /dev/urandom | tee >(sha256sum >"$LOG/$name.src") |
		in_ns "$cside" "$chow" timeout 120 "$XF" send $dst $PORT 2>"$LOG/$name.cli"
	local rc=${PIPESTATUS[2]}
	wait $srv
	[ "$rc" = 0 ] || { grep -v INFO "$LOG/$name.cli" "$LOG/$name.srv" | tail; fail "$name: client exit $rc"; }
	for _ in $(seq 50); do [ -s "$LOG/$name.src" ] && break; sleep 0.02; done
	cmp -s <(cut -d' ' -f1 "$LOG/$name.src") <(cut -d' ' -f1 "$LOG/$name.dst") ||
		fail "$name: sha256 differs"
	# Proof of offload on each libshim side.
	local side how log peer plog prst
	for side in "$cside:$chow:cli:$show:srv" "$sside:$show:srv:$chow:cli"; do
		IFS=: read -r s how log peer plog <<<"$side"
		[ "$how" = shim ] || continue
		prst=0
		[ "$peer" = shim ] && prst=$(engine "$LOG/$name.$plog" 'resets sent')
		offload_held "$name" $s "${k0[$s]}" "${rst0[$s]}" "${prst:-0}"
		[ "$(engine "$LOG/$name.$log" 'segments in')" -gt 0 ] 2>/dev/null ||
			fail "$name: no engine report with segments in from the libshim $log"
	done
	ELAPSED=$((SECONDS - t0))
}

# --- libshim <-> kernel peer: loss and reordering by tc on the kernel host -------
# Kernel-sent data dropped by tc egress is no loss at all: the qdisc layer reports the
# drop to TCP, which sends the segment again as new data (no retransmission counted).
# So data the kernel sends to libshim is dropped where it really arrives, by the XDP
# injector chained on the libshim host, and tc drops only what the kernel receives.
xdp_loss_a() { fault_on a -l "$LOSS"; fault_wait a; }
for loss in 10 50; do
	LOSS=$loss SIZE=$SIZE1
	[ $loss = 50 ] && SIZE=$SIZE5
	echo "loss $((loss / 10))% each way:"
	set_tc loss$loss	# libshim's data on arrival at the kernel, the kernel's ACKs
	transfer "l$loss-shim-client" a shim b kernel
	rtx=$(engine "$LOG/l$loss-shim-client.cli" retransmitted)
	[ "${rtx:-0}" -gt 0 ] || fail "l$loss-shim-client: the libshim sender retransmitted nothing"
	echo "ok: l$loss-shim-client: $SIZE intact in $ELAPSED s, libshim sender retransmitted $rtx segments"
	set_tc loss$loss-in	# libshim's ACKs on arrival; the kernel's data at libshim's XDP
	r0=$(kstat snmp b Tcp RetransSegs)
	transfer "l$loss-shim-server" b kernel a shim xdp_loss_a
	fault_off a
	rtx=$(($(kstat snmp b Tcp RetransSegs) - r0))
	[ "$rtx" -gt 0 ] && [ "${DROPPED:-0}" -gt 0 ] ||
		fail "l$loss-shim-server: kernel sender retransmitted $rtx, injector dropped ${DROPPED:-0}"
	echo "ok: l$loss-shim-server: $SIZE intact in $ELAPSED s, kernel sender retransmitted" \
		"$rtx segments ($DROPPED of $SEEN frames dropped at libshim's XDP)"
done
set_tc none

echo "reordering (1 data segment in 20 delayed):"
SIZE=$SIZER
# libshim-sent data, reordered on arrival at the kernel host: xdp_fault on its own as
# the kernel peer's XDP program hands the segment to the cpumap thread of the other
# CPU, which gives it to the kernel's stack later. (Detours that stay on the CPU, an
# ifb at tc ingress or a bounce off libshim's host, reorder seldom here: each frame
# of libshim's AF_XDP transmit is processed to the end, detour included, in the
# softirq that its own transmit raises, before the next frame is sent.)
# Detours stop halfway through, so that none is still travelling when the
# connection ends (a late duplicate would find it gone and draw an RST).
MAX_DETOURS=$(($(numfmt --from=iec "$SIZER") / 1448 / 20 / 2))
detour_kernel_rx() { fault_on b -s -c -r 20 -n $MAX_DETOURS; fault_wait b; }
o0=$(kstat netstat b TcpExt TCPOFOQueue)
transfer r-shim-client a shim b kernel detour_kernel_rx
fault_off b
ofo=$(($(kstat netstat b TcpExt TCPOFOQueue) - o0))
[ "${BACK:-0}" -gt 0 ] || fail "r-shim-client: no segment detoured"
[ "$ofo" -gt 0 ] || fail "r-shim-client: the kernel receiver queued nothing out of order"
echo "ok: r-shim-client: $SIZE intact in $ELAPSED s, $BACK segments detoured through a cpumap" \
	"thread, kernel receiver TCPOFOQueue +$ofo," \
	"libshim sender retransmitted $(engine "$LOG/r-shim-client.cli" retransmitted)"
# kernel-sent data, reordered on leaving the kernel host: tc egress detours through
# an ifb, whose tasklet sends the segment after the rest of the kernel's burst.
set_tc reorder-egress		# kernel-sent data, reordered on leaving the kernel host
transfer r-shim-server b kernel a shim
ofo=$(engine "$LOG/r-shim-server.srv" 'out-of-order segments')
[ "${ofo:-0}" -gt 0 ] || fail "r-shim-server: the libshim receiver queued nothing out of order"
echo "ok: r-shim-server: $SIZE intact in $ELAPSED s, libshim receiver queued $ofo segments out of order"
set_tc none

# --- libshim <-> libshim: loss chained ahead of our own XDP steering ------------
# The steering program appears when the server listens (its side) and when the
# client connects (the other side): chain on the server's host first, then the
# client's host as soon as its program is there (SYN and SYN-ACK may be lost too).
chain_both() {
	fault_on "$SSIDE" $FAULT_OPTS
	fault_wait "$SSIDE"
	fault_on "$CSIDE" $FAULT_OPTS
}
for loss in 10 50; do
	FAULT_OPTS="-l $loss" SIZE=$SIZE1 CSIDE=a SSIDE=b
	[ $loss = 50 ] && { SIZE=$SIZE5; CSIDE=b; SSIDE=a; }
	echo "libshim <-> libshim, loss $((loss / 10))% each way (XDP chained injector):"
	transfer "x$loss" $CSIDE shim $SSIDE shim chain_both
	fault_wait "$CSIDE"
	fault_off "$SSIDE"
	seen_s=$SEEN drop_s=$DROPPED
	fault_off "$CSIDE"
	seen_c=$SEEN drop_c=$DROPPED
	[ "${drop_s:-0}" -gt 0 ] && [ "${drop_c:-0}" -gt 0 ] ||
		fail "x$loss: nothing dropped (server host $drop_s/$seen_s, client host $drop_c/$seen_c)"
	rtx=$(engine "$LOG/x$loss.cli" retransmitted)
	[ "${rtx:-0}" -gt 0 ] || fail "x$loss: the libshim sender retransmitted nothing"
	echo "ok: x$loss: $SIZE $CSIDE->$SSIDE intact in $ELAPSED s; dropped $drop_s of $seen_s" \
		"frames on the receiving host, $drop_c of $seen_c on the sending host;" \
		"sender retransmitted $rtx, receiver $(engine "$LOG/x$loss.srv" retransmitted)"
done

echo "libshim <-> libshim reordering (1 data segment in 20 bounced off the sender's host):"
FAULT_OPTS="-r 20 -c -n $MAX_DETOURS" SIZE=$SIZER CSIDE=a SSIDE=b
# Both ends block when idle instead of spinning (SHIM_RX_POLL=0): on two cores, two
# spinning processes starve the cpumap thread until they exit, and the reflections
# would all come back after the connection is gone.
SHIM_RX_POLL=0 transfer xr a shim b shim chain_both
fault_wait a
fault_off b
sent=$SENT back=$BACK
fault_off a
refl=$REFLECTED
ofo=$(engine "$LOG/xr.srv" 'out-of-order segments')
[ "$back" -gt 0 ] && [ "$refl" -gt 0 ] ||
	fail "xr: no segment made the trip (sent $sent, reflected $refl, back $back)"
[ "${ofo:-0}" -gt 0 ] || fail "xr: the libshim receiver queued nothing out of order"
echo "ok: xr: $SIZE intact in $ELAPSED s; $back of $sent detoured segments came back" \
	"($refl reflected by the sender's host), receiver queued $ofo segments out of order," \
	"sender retransmitted $(engine "$LOG/xr.cli" retransmitted)"
