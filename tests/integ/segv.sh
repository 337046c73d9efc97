#!/bin/bash
# SHIM_HANDLE_SIGSEGV=1: a crash logs "SIGSEGV at address" and a backtrace, and the
# process still dies of SIGSEGV; the application's own SIGSEGV handler still runs; the
# application sees the default action in queries, as without the library.
P=$SHIM_BUILD/tests/integ/segv
# A sanitized build: AddressSanitizer must leave SIGSEGV to the application and libshim.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
log=$(mktemp /tmp/shim-segv.XXXXXX)
trap 'rm -f "$log"' EXIT
plain=$(ulimit -c 0; $P); plain_rc=$?
out=$(ulimit -c 0; SHIM_HANDLE_SIGSEGV=1 SHIM_LOG_FILE=$log LD_PRELOAD=$SHIM_LIB $P); rc=$?
echo "without libshim: rc $plain_rc, $plain"
echo "with libshim:    rc $rc, $out"
cat "$log"
[ $rc -eq $plain_rc ] && [ $rc -eq $((128 + 11)) ] || { echo "exit status differs"; exit 1; }
[ "$out" = "$plain" ] || { echo "output differs"; exit 1; }
grep -q 'SIGSEGV at address (nil)' "$log" || { echo "no SIGSEGV line in the log"; exit 1; }
grep -q 'segv' "$log" || { echo "no backtrace naming the program"; exit 1; }
out=$(SHIM_HANDLE_SIGSEGV=1 SHIM_LOG_FILE=$log LD_PRELOAD=$SHIM_LIB $P own); rc=$?
echo "own handler: rc $rc, $out"
[ $rc -eq 3 ] && grep -q 'own handler ran' <<<"$out"
