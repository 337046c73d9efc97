#!/bin/bash
# SHIM_LOG_FILE survives a program that closes every fd above 2 (closefrom, a close
# loop, close_range): the log keeps logging, into its own file, never into the file
# the program opens next.
set -e
dir=$(mktemp -d /tmp/shim-logfd.XXXXXX)
trap 'rm -rf "$dir"' EXIT
SHIM_TRACELEVEL=debug SHIM_LOG_FILE=$dir/shim.log LD_PRELOAD=$SHIM_LIB \
	"$SHIM_BUILD/tests/integ/logfd" "$dir/data"
echo "log:"; cat "$dir/shim.log"
[ ! -s "$dir/data" ] || { echo "log lines leaked into the program's file:"; cat "$dir/data"; exit 1; }
grep -q 'closed outside libshim' "$dir/shim.log"
