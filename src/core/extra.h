/* extra.h — internal side of include/shim_extra.h. getsockopt(-1, SOL_SOCKET,
 * SO_SHIM_GET_API, ...) reaches shim_extra_getsockopt() from the interposer. */
#ifndef SHIM_EXTRA_INTERNAL_H
#define SHIM_EXTRA_INTERNAL_H

#include <stdbool.h>
#include <sys/socket.h>

/* Fill *val with a pointer to the API table; 0 or -errno. */
int shim_extra_getsockopt(void *val, socklen_t *len);

/* May a socket created now by the calling thread be offloaded? SHIM_OFFLOADED_SOCKETS
 * unless the extra API's thread_offload() said otherwise for this thread. The socket
 * layer asks once per new socket; rules still apply afterwards. */
bool shim_thread_may_offload(void);

#endif
