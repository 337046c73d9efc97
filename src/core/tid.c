/* tid.c — a per-thread cache of the kernel thread id. A fork child's only thread
 * carries its parent's cached value in its TLS copy, so the child handler forgets it;
 * every other thread of the child does not exist, and new threads start at zero. */
#include "core/tid.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread pid_t shim_tid_cached __attribute__((tls_model("initial-exec")));
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void forget(void)
{
	shim_tid_cached = 0;
}

static void hook(void)
{
	pthread_atfork(NULL, NULL, forget);
}

pid_t shim_tid_slow(void)
{
	pthread_once(&once, hook);
	shim_tid_cached = (pid_t)syscall(SYS_gettid);
	return shim_tid_cached;
}
