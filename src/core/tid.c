/* tid.c — a per-thread cache of the kernel thread id. A fork child's only thread
 * carries its parent's cached value in its TLS copy, so the child handler forgets it;
 * every other thread of the child does not exist, and new threads start at zero. */
#include "core/tid.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

static __thread pid_t cached;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void forget(void)
{
	cached = 0;
}

static void hook(void)
{
	pthread_atfork(NULL, NULL, forget);
}

pid_t shim_tid(void)
{
	if (__builtin_expect(cached == 0, 0)) {
		pthread_once(&once, hook);
		cached = (pid_t)syscall(SYS_gettid);
	}
	return cached;
}
