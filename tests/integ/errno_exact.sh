#!/bin/bash
# errno exactness: the same failing calls give the same errno with and without
# libshim, successful calls leave the caller's errno alone, EINTR arrives.
set -e
. "$SHIM_SRC/tests/integ/lib_compare.sh"
same_output "$SHIM_BUILD/tests/integ/errno_exact"
grep -q 'errno after successful calls: 4242' <<<"$SHIM_OUT"
grep -q 'recv(t, buf, 1, 0) *r=-1 errno=Interrupted' <<<"$SHIM_OUT"
# SHIM_HANDLE_SIGINTR=1: libshim owns SIGINT, invisibly.
SHIM_HANDLE_SIGINTR=1 same_output "$SHIM_BUILD/tests/integ/errno_exact" >/dev/null
