/* intercept_proc.c — process creation. fork() keeps the fd table in the child (the
 * descriptors are inherited) and gives every object its atfork_child op (rings and
 * other per-process resources are not); vfork() runs as fork() (below); daemon()
 * forgets the objects of the standard descriptors it replaces. */
#include <errno.h>
#include <fcntl.h>
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

/* vfork() as fork() whose caller waits for the child's exec or exit, as Onload does
 * by default. A real vfork child borrows the parent's memory and stack: returning
 * through this wrapper's frame from the child would corrupt the frame the parent
 * later returns through, and the child's close() or dup2() between vfork and exec
 * (shells do that) would run our wrappers on the parent's fd table and objects. So
 * the child gets its own copy, and the parent stays suspended, as vfork() promises,
 * until a close-on-exec pipe tells it the child has exec'd or exited. What is lost:
 * a child writing to the parent's memory before exec (undefined behaviour for vfork)
 * is not seen by the parent. Code that wants a cheap spawn uses posix_spawn(), which
 * libc implements with clone() and never reaches us. */
pid_t vfork(void)
{
	int p[2], err;
	pid_t pid;
	char c;

	if (unlikely(!shim_ready()) || SYS(pipe2)(p, O_CLOEXEC) < 0)
		return SYS(fork)();
	pid = SYS(fork)();
	if (pid == 0) {
		/* The write end closes by itself at exec (O_CLOEXEC) or exit. */
		sys_close(p[0]);
		return 0;
	}
	err = errno;
	sys_close(p[1]);
	if (pid > 0)
		while (sys_read(p[0], &c, 1) < 0 && errno == EINTR)
			;
	sys_close(p[0]);
	errno = err;
	return pid;
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
