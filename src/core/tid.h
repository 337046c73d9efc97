/* tid.h — the calling thread's kernel thread id without a system call.
 * Per-socket stats record the last sending and receiving thread on every call, and a
 * gettid system call there cost more than the rest of a small TCP send. */
#ifndef SHIM_CORE_TID_H
#define SHIM_CORE_TID_H

#include <sys/types.h>

pid_t shim_tid(void);

#endif
