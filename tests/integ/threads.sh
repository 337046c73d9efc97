#!/bin/bash
# Concurrent sockets in many threads under libshim, with the fd table growing
# underneath (the soft limit starts at 1024 and the program raises it).
set -e
ulimit -Sn 1024
LD_PRELOAD=$SHIM_LIB $SHIM_BUILD/tests/integ/threads
