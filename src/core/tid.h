/* tid.h — the calling thread's kernel thread id without a system call.
 * Per-socket stats record the last sending and receiving thread on every call, and a
 * gettid system call there cost more than the rest of a small TCP send; the cached
 * value is read inline, so the data paths pay a TLS load. */
#ifndef SHIM_CORE_TID_H
#define SHIM_CORE_TID_H

#include <sys/types.h>

/* 0 until the first call, and in a fork child; initial-exec as the signal
 * generation (intercept_signal.c): the library is loaded at start-up */
extern __thread pid_t shim_tid_cached __attribute__((tls_model("initial-exec")));
pid_t shim_tid_slow(void);

static inline pid_t shim_tid(void)
{
	pid_t t = shim_tid_cached;

	return __builtin_expect(t != 0, 1) ? t : shim_tid_slow();
}

#endif
