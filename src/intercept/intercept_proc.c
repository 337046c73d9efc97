/* intercept_proc.c — process creation. fork() keeps the fd table in the child (the
 * descriptors are inherited) and gives every object its atfork_child op (rings and
 * other per-process resources are not); vfork() runs as fork() (below); daemon()
 * forgets the objects of the standard descriptors it replaces. */
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>

#include "core/log.h"
#include "intercept/intercept.h"
#include "ring/ring.h"

void signal_atfork_child(void);

static void atfork_prepare(void)
{
	fdt_atfork_prepare();
}

static void atfork_parent(void)
{
	fdt_atfork_parent();
}

static void child_object(struct shim_fd *f, void *arg)
{
	(void)arg;
	if (f->ops->atfork_child)
		f->ops->atfork_child(f);
}

static void atfork_child(void)
{
	int saved = errno;

	fdt_atfork_child();
	signal_atfork_child();
	/* Sockets first (they let go of their rings), then the rings themselves: the
	 * parent keeps its steering, the child gets new rings on demand. */
	fdt_for_each(child_object, NULL);
	ring_registry_atfork_child();
	errno = saved;
}

int proc_init(void)
{
	/* Runs for every fork of the process: libc's fork(), daemon(), system(),
	 * popen() and our vfork() all go through the handlers. */
	int r = pthread_atfork(atfork_prepare, atfork_parent, atfork_child);

	return r ? -r : 0;
}

pid_t fork(void)
{
	return SYS(fork)();
}

/* vfork() as fork(): VMA's and the classic safe answer. A real vfork child borrows
 * the parent's memory and stack; returning through this wrapper frame from the child
 * would corrupt the frame the parent later returns through, and the child's close()
 * or dup2() between vfork and exec (shells do that) would run our wrappers on the
 * parent's fd table and objects. The cost is a real copy-on-write fork; children that
 * obey vfork's rules (only exec or _exit) behave the same. Code that wants a cheap
 * spawn uses posix_spawn(), which libc implements with clone() and never reaches us. */
pid_t vfork(void)
{
	return SYS(fork)();
}

int daemon(int nochdir, int noclose)
{
	int r = SYS(daemon)(nochdir, noclose);

	/* libc redirected 0, 1 and 2 to /dev/null with its internal dup2, unseen (it
	 * leaves them alone when /dev/null is not the character device it expects). */
	if (r == 0 && !noclose && likely(shim_ready())) {
		int saved = errno;
		struct stat st;

		for (int fd = 0; fd <= 2; fd++)
			if (fstat(fd, &st) == 0 && !S_ISSOCK(st.st_mode))
				fdt_forget_stale(fd);
		errno = saved;
	}
	return r;
}
