#!/bin/bash
# UDP multicast through libshim between the testbed namespaces. A kernel sender in a
# and five receivers in b (mcast_peer recv: two sockets on one group and port, one
# on another group, IP_MULTICAST_ALL on and off, leaves before the second phase),
# every size class fragmented ones included, checked byte for byte, with the group
# in IP_PKTINFO. The receivers run first under the kernel (what they must see), then
# under libshim with proof of offload (ring and socket counters moved, b's Udp
# InDatagrams did not); then a libshim sender to kernel receivers (a's Udp
# OutDatagrams did not move), libshim on both sides, loopback inside one process,
# and bad joins and option read-back compared with the kernel's answers.
set -u
. "$SHIM_SRC/tests/integ/udp_lib.sh"
MP=$SHIM_BUILD/tests/integ/mcast_peer
udp_testbed_up "mc$$"
fail=0
G1=239.1.$((RANDOM % 250)).1
G2=239.2.$((RANDOM % 250)).2
NDG=38		# two rounds of the size classes per group and phase
for s in a b; do
	"$TB" exec "$N" $s ip route add 224.0.0.0/4 dev "$("$TB" info "$N" $s if)"
done

# Rx frames of libshim's IP layer from its exit dump in LOG.
rx_frames() { ring_frames "$1" | cut -d' ' -f1; }
tx_frames() { ring_frames "$1" | cut -d' ' -f2; }

# case NAME SENDER_MODE RECEIVER_MODE
case_run() {
	local name=$1 smode=$2 rmode=$3 port=$((20000 + RANDOM % 10000))
	local d=$LOGDIR/$name sa sb
	mkdir -p "$d"
	rm -f "$LOGDIR"/stats.*
	sa=$(snmp_udp a)
	sb=$(snmp_udp b)
	bg "$d/recv" in_ns b "$rmode" env ${RULES:+SHIM_CONFIG_FILE=$RULES} "$MP" recv "$G1" "$G2" "$port" "$NDG" 198.18.0.2 "$d"
	local rpid=$LAST_PID
	if ! in_ns a "$smode" "$MP" send "$G1" "$G2" "$port" "$NDG" 198.18.0.1 "$d" >"$d/send" 2>&1; then
		echo "FAIL $name: sender"; grep -v ' SHIM ' "$d/send" | tail -5; fail=1
	fi
	if ! wait "$rpid"; then
		echo "FAIL $name: receivers"; grep -v ' SHIM ' "$d/recv" | tail -8; fail=1; return
	fi
	echo "$name: $(grep -v ' SHIM ' "$d/recv" | grep -E '^[A-H]:' | tr '\n' ' ')"
	if [ "$rmode" = shim ]; then
		local after rx sock
		after=$(snmp_udp b)
		rx=$(rx_frames "$d/recv")
		sock=$(socket_offload b)
		if [ "${rx:-0}" = 0 ] || [ "${sock%% *}" = 0 ] || [ -z "$sock" ] || [ "${sa#* }${sb% *}" = x ]; then
			echo "FAIL $name: no proof of receive offload (ring rx '${rx:-none}', sockets rx/tx '${sock:-none}')"; fail=1
		elif [ "${after% *}" != "${sb% *}" ]; then
			echo "FAIL $name: b's Udp InDatagrams went from ${sb% *} to ${after% *}"; fail=1
		else
			echo "  offloaded on b: ring rx frames $rx, socket rx packets ${sock%% *}, Udp InDatagrams unchanged (${after% *})"
		fi
		grep -q "mc_groups\|Mc groups\|groups" "$d/recv" >/dev/null || true
	fi
	if [ "$smode" = shim ]; then
		local after tx
		after=$(snmp_udp a)
		tx=$(tx_frames "$d/send")
		if [ "${tx:-0}" = 0 ]; then
			echo "FAIL $name: no proof of send offload (ring tx '${tx:-none}')"; fail=1
		elif [ "${after#* }" != "${sa#* }" ]; then
			echo "FAIL $name: a's Udp OutDatagrams went from ${sa#* } to ${after#* }"; fail=1
		else
			echo "  offloaded on a: ring tx frames $tx, Udp OutDatagrams unchanged (${after#* })"
		fi
	fi
}

case_run kernel-to-kernel kernel kernel
case_run kernel-to-shim kernel shim
case_run shim-to-kernel shim kernel
case_run shim-to-shim shim shim
# A feed handler's rules: groups offloaded, every other port with the kernel. Sockets
# bound to 0.0.0.0 are decided per group they join (udp_receiver GROUP:PORT).
RULES=$LOGDIR/feed.conf
printf 'use shim udp_receiver 239.0.0.0/8:*\nuse os udp_receiver *:*\n' >"$RULES"
case_run kernel-to-shim-rules kernel shim
RULES=

# Loopback inside one libshim process (the kernel run says what to expect).
for mode in kernel shim; do
	if ! in_ns b $mode "$MP" loop "$G1" 19000 20 198.18.0.2 >"$LOGDIR/loop.$mode" 2>&1; then
		echo "FAIL loop ($mode):"; grep -v ' SHIM ' "$LOGDIR/loop.$mode" | tail -4; fail=1
	else
		echo "loop ($mode): $(grep -v ' SHIM ' "$LOGDIR/loop.$mode" | grep '^loop [01]' | tr '\n' ' ')"
	fi
done

# SHIM_WAIT_AFTER_JOIN_MSEC holds the first send to a group joined just before.
in_ns b shim env SHIM_WAIT_AFTER_JOIN_MSEC=400 "$MP" loop "$G1" 19001 5 198.18.0.2 >"$LOGDIR/wait" 2>&1
ms=$(sed -n 's/^first send took \([0-9]*\) ms/\1/p' "$LOGDIR/wait")
first=$(sed -n 's/^first send took \([0-9]*\) ms/\1/p' "$LOGDIR/loop.shim")
if [ "${ms:-0}" -ge 300 ] && [ "${first:-999}" -lt 300 ]; then
	echo "SHIM_WAIT_AFTER_JOIN_MSEC=400: first send held ${ms} ms (${first} ms without)"
else
	echo "FAIL: SHIM_WAIT_AFTER_JOIN_MSEC=400: first send took '${ms:-?}' ms, '${first:-?}' ms without"; fail=1
fi

# Bad joins and option read-back: libshim answers exactly as the kernel.
in_ns b kernel "$MP" errors 198.18.0.2 >"$LOGDIR/err.kernel" 2>&1
in_ns b shim "$MP" errors 198.18.0.2 >"$LOGDIR/err.shim" 2>&1
if ! diff <(grep -v ' SHIM ' "$LOGDIR/err.kernel") <(grep -v ' SHIM ' "$LOGDIR/err.shim"); then
	echo "FAIL: bad joins or option read-back differ from the kernel's"; fail=1
else
	echo "bad joins and options as the kernel: $(grep -c ': ' "$LOGDIR/err.kernel") answers"
fi
n=$(grep -c 'multicast group 239.9.9.10 .*stays with the kernel' "$LOGDIR/err.shim")
if [ "$n" != 1 ]; then
	echo "FAIL: a join on lo should leave one log line, found $n"; grep ' SHIM ' "$LOGDIR/err.shim" | tail -5; fail=1
fi

# Per-socket stats name the groups (shim_stats -v 4, the group membership view).
bg "$LOGDIR/hold" in_ns b shim "$MP" hold "$G1" "$G2" 19100 198.18.0.2 3
hpid=$LAST_PID
if wait_for "$LOGDIR/hold" holding 5; then
	sleep 0.3
	"$TB" exec "$N" b "$SHIM_BUILD/shim_stats" -n mcast_peer -v 4 -c 1 >"$LOGDIR/hold.stats" 2>&1
	if grep -q "\[$G1\]" "$LOGDIR/hold.stats" && grep -q "\[$G2\]" "$LOGDIR/hold.stats"; then
		echo "shim_stats shows the socket's groups: $(grep -c '^\[239' "$LOGDIR/hold.stats") memberships"
	else
		echo "FAIL: shim_stats -v 4 does not list both groups:"; cat "$LOGDIR/hold.stats"; fail=1
	fi
else
	fail=1
fi
wait $hpid

[ $fail = 0 ] && echo "all multicast cases passed"
exit $fail
