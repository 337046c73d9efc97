#!/bin/bash
# select, poll and epoll semantics over kernel descriptor sets (pipes, eventfds, UDP
# sockets on 127.0.0.1, nested and forked epoll instances, signals): the transcript
# under libshim equals the kernel's own, and no call takes the offload path.
set -e
. "$SHIM_SRC/tests/integ/lib_compare.sh"
prog=$SHIM_BUILD/tests/integ/iomux_semantics
same_output "$prog" pipe
same_output "$prog" udp 127.0.0.1 /proc/self/ns/net
# Spinning settings must not change a kernel-only run.
export SHIM_SELECT_POLL=-1 SHIM_SELECT_POLL_OS_RATIO=1000
same_output "$prog" udp 127.0.0.1 /proc/self/ns/net
