#!/bin/bash
# shim_rules.sh — the shim_rules tool end to end: `check` on good, bad and
# warning-only files (messages, normalised output that parses back the same, exit
# codes), `explain` for every role with the deciding section and line, application
# ids, defaults from the environment, and every kind of bad argument (exit 2).
set -u
B=${SHIM_BUILD:-build}
SRC=${SHIM_SRC:-.}
T=$B/shim_rules
[ -x "$T" ] || { echo "shim_rules not built ($T)"; exit 77; }
D=$(mktemp -d /tmp/shim-rules-integ.XXXXXX)
trap 'rm -rf "$D"' EXIT
fails=0

# run EXPECTED_RC cmd... : runs, keeps stdout in $D/out and stderr in $D/err.
run() {
	local want=$1; shift
	"$@" >"$D/out" 2>"$D/err"
	local rc=$?
	if [ "$rc" != "$want" ]; then
		echo "FAIL: '$*' exited $rc, expected $want"
		sed 's/^/  out| /' "$D/out"; sed 's/^/  err| /' "$D/err"
		fails=$((fails + 1))
	fi
}
# has FILE(out|err) TEXT : the fixed string TEXT is in that output.
has() {
	if ! grep -qF -- "$2" "$D/$1"; then
		echo "FAIL: std$1 lacks '$2'"
		sed "s/^/  $1| /" "$D/$1"
		fails=$((fails + 1))
	fi
}
hasnt() {
	if grep -qF -- "$2" "$D/$1"; then
		echo "FAIL: std$1 has '$2'"
		fails=$((fails + 1))
	fi
}
empty() {
	if [ -s "$D/$1" ]; then
		echo "FAIL: std$1 not empty:"; sed "s/^/  $1| /" "$D/$1"
		fails=$((fails + 1))
	fi
}

# ---- usage -------------------------------------------------------------
run 0 "$T" -h;			has out "usage: shim_rules check FILE"; empty err
run 0 "$T" --help;		has out "shim_rules explain --role ROLE"
run 0 "$T" explain -h;		has out "usage:"
run 0 "$T" -V;			has out "shim_rules "
run 2 "$T";			has err "usage:"
run 2 "$T" frobnicate;		has err "unknown command 'frobnicate' (expected check or explain)"
run 2 "$T" check;		has err "check needs a FILE"
run 2 "$T" check a b;		has err "check takes one FILE, got 'b' too"

# ---- check: the sample file ----------------------------------------------
run 0 "$T" check "$SRC/config/shim.conf"
empty err
has out "application-id * *"
has out "use os udp_connect *:53"
has out "use os udp_sender *:53"
has out "use os tcp_client *:53"
has out "0 errors, 0 warnings"

# ---- check: errors --------------------------------------------------------
cat >"$D/bad.conf" <<'EOF'
# a file with one error of each kind of statement
use os udp_connect *:53
use os tcp_clinet *:80
use fast tcp_client *:*
use os tcp_client 1.2.3.256:80
use os tcp_client *:0
use os tcp_server *:80:*:0-1
bogus line
application-id broken
use os tcp_client *:1
application-id good *
  use vma tcp_client 192.168.1.0/24:*:*:*   # kept
use os tcp_client 10.1.2.3/8:90-80
EOF
run 1 "$T" check "$D/bad.conf"
has err "$D/bad.conf:3: unknown role 'tcp_clinet'"
has err "$D/bad.conf:4: unknown transport 'fast' (expected shim, vma or os)"
has err "$D/bad.conf:5: address '1.2.3.256' has a number over 255"
has err "$D/bad.conf:6: port '0' out of range"
has err "$D/bad.conf:7: port '0-1' out of range"
has err "$D/bad.conf:8: unknown statement 'bogus'"
has err "$D/bad.conf:9: application-id needs a program name and an application id"
has err "$D/bad.conf:13: port range '90-80' runs backwards"
[ "$(grep -c "^$D/bad.conf:[0-9]*: " "$D/err" | head -1)" -ge 8 ] ||
	{ echo "FAIL: expected 8 error lines"; fails=$((fails + 1)); }
# the good lines are still used
has out "use os udp_connect *:53"
has out "use shim tcp_client 192.168.1.0/24:*:*:*"
has out "# line 12:"
has out "application-id at line 9 is invalid: its rules are ignored"
has out "#   use os tcp_client *:1"
has out "8 errors"

run 1 "$T" check "$D/missing.conf";	has err "cannot read $D/missing.conf: No such file or directory"
run 1 "$T" check "$D";			has err "Is a directory"

# ---- check: warnings only exit 0 ----------------------------------------------
cat >"$D/warn.conf" <<'EOF'
use os udp_connect *:53
use os udp_connect 8.8.8.8:53
application-id nginx *
use os tcp_server *:80
log min-level 4
EOF
run 0 "$T" check "$D/warn.conf"
has err "$D/warn.conf:2: warning: rule never matches: line 1 (use os udp_connect *:53)"
has err "$D/warn.conf:3: warning: application-id nginx * never applies"
has err "$D/warn.conf:5: warning: 'log' statements are ignored"
has out "0 errors, 3 warnings"

# ---- check: the normalised output is a rules file with the same rules ----------
cat >"$D/round.conf" <<'EOF'
application-id tcp-lat B1
use vma tcp_client 192.168.1.0/24:*:*:*
USE OS TCP_SERVER 0.0.0.0/0:5001
application-id * *
use os udp_sender 10.0.0.0/8:1-1024
use shim udp_receiver 239.1.1.1/32:*
use os udp_connect *:53:127.0.0.1:*
EOF
run 0 "$T" check "$D/round.conf"
grep -v '^#' "$D/out" >"$D/norm.conf"
run 0 "$T" check "$D/norm.conf"
diff <(grep -v '^#' "$D/out" | sed 's/ *#.*//') <(sed 's/ *#.*//' "$D/norm.conf") >/dev/null ||
	{ echo "FAIL: normalised output does not parse back to itself"; fails=$((fails + 1)); }
has out "use shim tcp_client 192.168.1.0/24:*:*:*"
has out "use os tcp_server *:5001"
has out "use shim udp_receiver 239.1.1.1:*"

# ---- explain: every role ------------------------------------------------------
cat >"$D/roles.conf" <<'EOF'
application-id tcp-lat B1
use shim tcp_client 198.18.0.0/24:*:*:*
use os tcp_server *:5001
application-id * *
use os tcp_server *:80
use os tcp_client 198.18.0.2:80
use os tcp_client 198.18.0.0/24:*:198.18.0.1:40000-40010
use os udp_sender 198.18.0.2:9000-9009
use os udp_receiver 0.0.0.0:5353
use os udp_receiver 239.0.0.0/8:*
use os udp_connect *:53
EOF
F=$D/roles.conf
ex() { run 0 "$T" explain "$@"; }

ex --role tcp_server --local 0.0.0.0:80 "$F"
has out "decision: os"; has out "rule:     $F:5: use os tcp_server *:80"
has out "section:  $F:4: application-id * *"; has out "socket:   tcp_server on 0.0.0.0:80"
ex --role tcp_server --local 198.18.0.1:81 "$F"
has out "decision: shim"; has out "no rule matched: offloaded by default"
has out "section:  $F:4: application-id * *"

ex --role tcp_client --remote 198.18.0.2:80 "$F"
has out "decision: os"; has out "$F:6: use os tcp_client 198.18.0.2:80"
ex --role tcp_client --remote 198.18.0.3:80 --local 198.18.0.1:40005 "$F"
has out "decision: os"; has out "$F:7: use os tcp_client 198.18.0.0/24:*:198.18.0.1:40000-40010"
has out "socket:   tcp_client to 198.18.0.3:80 from 198.18.0.1:40005"
ex --role tcp_client --remote 198.18.0.3:80 --local 198.18.0.1:40011 "$F"
has out "decision: shim"; has out "no rule matched: offloaded by default"
ex --role tcp_client --remote 198.18.0.3:80 "$F"
has out "decision: shim"; has out "from unbound"

ex --role udp_sender --remote 198.18.0.2:9009 "$F"
has out "decision: os"; has out "$F:8: use os udp_sender 198.18.0.2:9000-9009"
ex --role udp_sender --remote 198.18.0.2:9010 "$F"
has out "decision: shim"

ex --role udp_receiver --local 0.0.0.0:5353 "$F"
has out "decision: os"; has out "$F:9:"
ex --role udp_receiver --local 239.1.2.3:5000 "$F"
has out "decision: os"; has out "$F:10:"
ex --role udp_receiver --local 198.18.0.1:5353 "$F"
has out "decision: shim"

ex --role udp_connect --remote 198.18.0.2:53 "$F"
has out "decision: os"; has out "$F:11: use os udp_connect *:53"
ex --role udp_connect --remote 198.18.0.2:54 --local 198.18.0.1:1000 "$F"
has out "decision: shim"

# ---- explain: application ids and programs ---------------------------------
ex --role tcp_server --local 0.0.0.0:5001 --program tcp-lat --app-id B1 "$F"
has out "decision: os"; has out "$F:3:"; has out "section:  $F:1: application-id tcp-lat B1"
ex --role tcp_client --remote 198.18.0.2:80 --program tcp-lat --app-id B1 "$F"
has out "decision: shim"; has out "$F:2: use shim tcp_client 198.18.0.0/24:*:*:*"
# without the id, tcp-lat falls to the catch-all section
ex --role tcp_client --remote 198.18.0.2:80 --program tcp-lat "$F"
has out "decision: os"; has out "section:  $F:4:"
# the id from the environment, as the library reads it
SHIM_APPLICATION_ID=B1 run 0 "$T" explain --role tcp_server --local 0.0.0.0:5001 --program tcp-lat "$F"
has out "$F:3:"; has out "application id 'B1'"
# no section at all
printf 'application-id foo *\nuse os tcp_client *:*\n' >"$D/foo.conf"
ex --role tcp_client --remote 1.2.3.4:5 --program bar "$D/foo.conf"
has out "decision: shim"; has out "section:  none applies to program 'bar'"
# the default section of rules before any application-id
printf 'use os udp_connect *:53\napplication-id dig *\n' >"$D/def.conf"
ex --role udp_connect --remote 1.2.3.4:53 --program dig "$D/def.conf"
has out "decision: os"; has out "the rules before the first application-id"

# ---- explain: which file ---------------------------------------------------------
SHIM_CONFIG_FILE=$F run 0 "$T" explain --role udp_connect --remote 8.8.8.8:53
has out "$F:11:"
SHIM_CONFIG_FILE=$D/nope.conf run 1 "$T" explain --role udp_connect --remote 8.8.8.8:53
has err "cannot read $D/nope.conf"
if [ ! -e /etc/shim.conf ]; then
	env -u SHIM_CONFIG_FILE -u VMA_CONFIG_FILE "$T" explain --role udp_connect \
		--remote 8.8.8.8:53 >"$D/out" 2>"$D/err" || { echo "FAIL: default file"; fails=$((fails + 1)); }
	has out "no rules file: /etc/shim.conf does not exist"
fi
# a file with errors: told on stderr, the rest used, as the library does
run 0 "$T" explain --role udp_connect --remote 8.8.8.8:53 "$D/bad.conf"
has err "has 8 errors; the library skips those lines too"
has out "decision: os"; has out "$D/bad.conf:2:"

# ---- explain: bad arguments -------------------------------------------------------
run 2 "$T" explain --remote 1.2.3.4:5 "$F";			has err "explain needs --role"
run 2 "$T" explain --role tcp --remote 1.2.3.4:5 "$F";		has err "unknown role 'tcp'"
run 2 "$T" explain --role tcp_client "$F";			has err "give --remote ADDR:PORT"
run 2 "$T" explain --role tcp_server "$F";			has err "give --local ADDR:PORT"
run 2 "$T" explain --role udp_receiver --remote 1.2.3.4:5 "$F";	has err "give --local ADDR:PORT"
run 2 "$T" explain --role tcp_client --remote 1.2.3.4 "$F";	has err "--remote: bad address '1.2.3.4'"
run 2 "$T" explain --role tcp_client --remote host:80 "$F";	has err "--remote: bad address 'host:80'"
run 2 "$T" explain --role tcp_client --remote 1.2.3.4:5 --local 1.2.3.0/24:1 "$F"
has err "--local: bad address"
run 2 "$T" explain --role tcp_client --remote 1.2.3.4:99999 "$F";	has err "bad address"
run 2 "$T" explain --role tcp_client --remote 1.2.3.4:5 "$F" extra;	has err "explain takes one FILE"
run 2 "$T" explain --role tcp_client --remote 1.2.3.4:5 --bogus "$F";	has err "unknown option '--bogus'"
run 2 "$T" explain --role tcp_client --remote;			has err "--remote needs a value"
run 0 "$T" explain --role tcp_server --local 0.0.0.0:80 --remote 1.1.1.1:1 "$F"
has err "note: tcp_server rules look at the local address only"

# A tool, not an application under the library: no start-up banner, no stats segment
# (in the directory SHIM_STATS_SHMEM_DIR names), no interposer or constructor linked in.
mkdir -p "$D/shm"
run 0 env SHIM_TRACELEVEL=4 SHIM_STATS_SHMEM_DIR="$D/shm" "$T" check "$SRC/config/shim.conf"
if grep -q 'SHIM' "$D/out" "$D/err"; then
	echo "FAIL: shim_rules printed the library's log:"; grep SHIM "$D/out" "$D/err" | head -3
	fails=$((fails + 1))
fi
[ -z "$(ls -A "$D/shm")" ] || { echo "FAIL: shim_rules created $(ls "$D/shm")"; fails=$((fails + 1)); }
if command -v nm >/dev/null; then
	linked=$(nm "$T" | awk '($2 == "T" && $3 ~ /^(socket|close|read|write|sigaction|signal|fork|poll|select|epoll_wait)$/) || $3 == "shim_init" { print $3 }')
	[ -z "$linked" ] || { echo "FAIL: shim_rules links the interposer: $linked"; fails=$((fails + 1)); }
fi

if [ $fails -ne 0 ]; then
	echo "$fails failures"
	exit 1
fi
echo "shim_rules: all checks passed"
