#!/bin/bash
# testbed.sh — two hosts on one machine: network namespaces NAME-a and NAME-b joined
# by a veth pair, 198.18.0.1/24 in a and 198.18.0.2/24 in b (RFC 2544 range). Used by
# make check, make demo and the benchmarks; test traffic never leaves the pair.
#
#   testbed.sh up NAME [-q QUEUES] [-n]   create (-n: static neighbour entries)
#   testbed.sh down NAME                  remove (quiet when already gone)
#   testbed.sh exec NAME a|b CMD...       run CMD inside NAME-a or NAME-b
#   testbed.sh info NAME a|b KEY          print if, mac, ip, peer_mac, peer_ip
#   testbed.sh check                      exit 77 with a reason when it cannot run
#
# Interface names are vNAME-a / vNAME-b cut to 15 characters, so keep NAME short
# and unique (tests use e.g. "rp$$").
set -u

IP_A=198.18.0.1
IP_B=198.18.0.2

die() { echo "testbed: $*" >&2; exit 1; }

ifname() {	# NAME side -> veth name (at most 15 characters)
	local n="v$1"
	n=${n:0:13}
	echo "$n-$2"
}

check() {
	if [ "$(id -u)" != 0 ]; then
		echo "testbed: needs root (network namespaces, veth, XDP)"
		return 77
	fi
	command -v ip >/dev/null || { echo "testbed: iproute2 (ip) not installed"; return 77; }
	if ! ip netns add "tbchk$$" 2>/dev/null; then
		echo "testbed: cannot create network namespaces here"
		return 77
	fi
	ip netns del "tbchk$$"
	return 0
}

up() {
	local name=$1 queues=1 neigh=0
	case $name in
	''|-*|*[!A-Za-z0-9_.]*) die "up: bad testbed name '$name' (letters, digits, _ and . only; options follow the name)" ;;
	esac
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		-q) queues=$2; shift 2 ;;
		-n) neigh=1; shift ;;
		*) die "up: unknown option $1" ;;
		esac
	done
	check >/dev/null || { check; exit 77; }
	local a="$name-a" b="$name-b" va vb
	va=$(ifname "$name" a)
	vb=$(ifname "$name" b)
	down "$name" 2>/dev/null
	ip netns add "$a" || die "cannot create namespace $a"
	ip netns add "$b" || { ip netns del "$a"; die "cannot create namespace $b"; }
	ip -n "$a" link add "$va" numtxqueues "$queues" numrxqueues "$queues" type veth \
		peer name "$vb" netns "$b" numtxqueues "$queues" numrxqueues "$queues" ||
		{ down "$name"; die "cannot create veth pair $va/$vb"; }
	ip -n "$a" addr add "$IP_A/24" dev "$va"
	ip -n "$b" addr add "$IP_B/24" dev "$vb"
	ip -n "$a" link set lo up
	ip -n "$b" link set lo up
	ip -n "$a" link set "$va" up
	ip -n "$b" link set "$vb" up
	if [ "$neigh" = 1 ]; then
		local ma mb
		ma=$(ip netns exec "$a" cat "/sys/class/net/$va/address")
		mb=$(ip netns exec "$b" cat "/sys/class/net/$vb/address")
		ip -n "$a" neigh replace "$IP_B" lladdr "$mb" dev "$va" nud permanent
		ip -n "$b" neigh replace "$IP_A" lladdr "$ma" dev "$vb" nud permanent
	fi
	# Wait for carrier on both ends (veth is immediate, but be safe).
	for _ in $(seq 50); do
		ip -n "$a" link show "$va" | grep -q 'state UP' &&
			ip -n "$b" link show "$vb" | grep -q 'state UP' && break
		sleep 0.02
	done
	echo "testbed $name: $a/$va $IP_A <-> $b/$vb $IP_B ($queues queue(s))"
}

down() {
	local name=$1
	ip netns del "$name-a" 2>/dev/null
	ip netns del "$name-b" 2>/dev/null
	return 0
}

info() {	# NAME side key
	local name=$1 side=$2 key=$3 other
	[ "$side" = a ] && other=b || other=a
	local me peer
	me=$(ifname "$name" "$side")
	peer=$(ifname "$name" "$other")
	case $key in
	if) echo "$me" ;;
	peer_if) echo "$peer" ;;
	mac) ip netns exec "$name-$side" cat "/sys/class/net/$me/address" ;;
	peer_mac) ip netns exec "$name-$other" cat "/sys/class/net/$peer/address" ;;
	ip) [ "$side" = a ] && echo $IP_A || echo $IP_B ;;
	peer_ip) [ "$side" = a ] && echo $IP_B || echo $IP_A ;;
	*) die "info: unknown key $key" ;;
	esac
}

cmd=${1:-}
shift || true
case $cmd in
up) [ $# -ge 1 ] || die "usage: up NAME [-q QUEUES] [-n]"; up "$@" ;;
down) [ $# -ge 1 ] || die "usage: down NAME"; down "$1" ;;
exec)
	[ $# -ge 3 ] || die "usage: exec NAME a|b CMD..."
	name=$1 side=$2
	shift 2
	case $side in a|b) ;; *) die "exec: side must be a or b" ;; esac
	exec ip netns exec "$name-$side" "$@" ;;
info) [ $# -ge 3 ] || die "usage: info NAME a|b KEY"; info "$@" ;;
check) check; exit $? ;;
*) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
