#!/bin/bash
# errno exactness: the same failing calls give the same errno with and without
# libshim, successful calls leave the caller's errno alone, EINTR arrives.
set -e
P=$SHIM_BUILD/tests/integ/errno_exact
plain=$($P)
shim=$(LD_PRELOAD=$SHIM_LIB $P)
echo "$shim"
diff <(echo "$plain") <(echo "$shim")
grep -q 'errno after successful calls: 4242' <<<"$shim"
grep -q 'recv(t, buf, 1, 0) *r=-1 errno=Interrupted' <<<"$shim"
