#!/bin/bash
# Runs every test: the Check unit programs given as arguments, then each executable
# tests/integ/*.sh (exit 0 pass, 77 skip, anything else fail). Prints one closing
# line "N passed, N failed, N skipped" and exits non-zero on any failure.
# SHIM_TESTS=pattern limits the run to tests whose name matches the shell pattern.
B=$1; shift
pass=0 fail=0 skip=0 failed=()
pattern=${SHIM_TESTS:-*}
export SHIM_BUILD=$(cd "$B" && pwd)
export SHIM_LIB=$SHIM_BUILD/libshim.so
export SHIM_SRC=$(pwd)
# A sanitized build (make SANITIZE=...) loaded with LD_PRELOAD cannot have its runtime
# first in the link order; tell the runtime so, and keep leak reports to unit tests.
if ldd "$SHIM_LIB" 2>/dev/null | grep -q libasan; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0:detect_leaks=0}
fi

run() {	# name, timeout seconds, command...
	local name=$1 t=$2; shift 2
	local log=$B/test-logs/$name.log start=$SECONDS rc
	mkdir -p "$B/test-logs"
	timeout -k 5 "$t" "$@" >"$log" 2>&1; rc=$?
	case $rc in
	0)  pass=$((pass + 1)); printf 'PASS  %-40s %4ss\n' "$name" $((SECONDS - start)) ;;
	77) skip=$((skip + 1)); printf 'SKIP  %-40s %s\n' "$name" "$(tail -n1 "$log")" ;;
	*)  fail=$((fail + 1)); failed+=("$name")
	    printf 'FAIL  %-40s (exit %s, log %s)\n' "$name" $rc "$log"
	    tail -n 30 "$log" | sed 's/^/    | /' ;;
	esac
}

for t in "$@"; do
	n=$(basename "$t")
	[[ $n == $pattern ]] || continue
	run "$n" 300 "$t"
done
for t in tests/integ/*.sh; do
	[ -x "$t" ] || continue
	n=$(basename "$t" .sh)
	[[ $n == $pattern ]] || continue
	run "$n" 600 "$t"
done

echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
