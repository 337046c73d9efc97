#!/bin/sh
# Install the Debian packages libshim builds and tests with. Idempotent: when every
# package is present it only asks dpkg, which costs a few milliseconds.
set -e
PKGS="build-essential pkg-config clang llvm libbpf-dev libxdp-dev bpftool \
libnl-3-dev libnl-route-3-dev libconfig-dev check libsubunit-dev libibverbs-dev \
iproute2 sockperf iperf3 redis-server redis-tools memcached nginx python3 ethtool"

missing=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $PKGS 2>/dev/null |
	awk '$2 != "ii" { print $1 }')
# Packages dpkg has never heard of are not listed at all: find them too.
for p in $PKGS; do
	dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing="$missing $p"
done
missing=$(echo $missing | tr ' ' '\n' | sort -u | tr '\n' ' ')
[ -z "${missing% }" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages: $missing" >&2
	echo "install-deps: not root, not installing them (tests that need them will skip)" >&2
	exit 0
fi
echo "install-deps: installing $missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Daemons must not start on their own: the tests start their own instances.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends $missing >/dev/null
