/* intercept.c — the real-function table behind sys_<name> (syscalls.def), resolved
 * with dlsym(RTLD_NEXT) by the constructor or lazily by SYS() for calls that arrive
 * before it (another library's constructor, a thread it started), and the fd-number
 * helpers every family of wrappers shares (stale objects, dup semantics). */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>

#include "core/log.h"
#include "intercept/intercept.h"

/* What a name libc does not have turns into: a clean ENOSYS, never a jump to NULL. */
#define SYSCALL(ret, name, params, args)                                        \
	static ret nosys_##name params                                          \
	{                                                                       \
		errno = ENOSYS;                                                 \
		return (ret)(intptr_t)-1;                                       \
	}
#include "intercept/syscalls.def"
#undef SYSCALL

/* Early functions: what sys_<name> points to before start-up resolves it. */
#define SYSCALL(ret, name, params, args)                                        \
	static ret early_##name params                                          \
	{                                                                       \
		return ((sys_##name##_fn)sys_resolve_idx(SYS_IDX_##name)) args;  \
	}
#define SYSCALL_VA(ret, name, params, args)                                     \
	static ret early_##name params                                          \
	{                                                                       \
		unsigned long arg;                                              \
		VA_WORD(cmd, arg);                                              \
		return ((sys_##name##_fn)sys_resolve_idx(SYS_IDX_##name)) args;  \
	}
#include "intercept/syscalls.def"
#undef SYSCALL_VA
#undef SYSCALL

#define SYSCALL(ret, name, params, args) sys_##name##_fn sys_##name = early_##name;
#include "intercept/syscalls.def"
#undef SYSCALL

static const struct sys_entry {
	const char *name;
	void **slot;
	void *early;
	void *nosys;
} sys_table[SYS_IDX_COUNT] = {
#define SYSCALL(ret, name, params, args) \
	[SYS_IDX_##name] = { #name, (void **)&sys_##name, (void *)early_##name, (void *)nosys_##name },
#include "intercept/syscalls.def"
#undef SYSCALL
};

void *sys_resolve_idx(enum sys_index i)
{
	const struct sys_entry *e = &sys_table[i];
	void *p = __atomic_load_n(e->slot, __ATOMIC_ACQUIRE);
	int saved = errno;	/* dlsym may clobber it; the caller's call has not run yet */

	if (p != e->early)
		return p;
	p = dlsym(RTLD_NEXT, e->name);
	if (!p) {
		p = e->nosys;
		log_warn("libc has no %s(): calls to it fail with ENOSYS", e->name);
	}
	/* Every racing thread stores the same value. */
	__atomic_store_n(e->slot, p, __ATOMIC_RELEASE);
	errno = saved;
	return p;
}

void sys_resolve_all(void)
{
	for (int i = 0; i < SYS_IDX_COUNT; i++)
		sys_resolve_idx((enum sys_index)i);
}

void fdt_forget_stale(int fd)
{
	struct shim_fd *f;

	if (likely(!(fdt_peek(fd) & ~FDT_BITS)))
		return;
	f = fdt_remove(fd);
	if (f) {
		log_dbg("fd %d: dropping the object of a descriptor closed outside libshim", fd);
		fd_put(f);
	}
}

int fdt_forget_pair(const int fds[2])
{
	if (likely(shim_ready())) {
		int saved = errno;

		fdt_forget_stale(fds[0]);
		fdt_forget_stale(fds[1]);
		errno = saved;
	}
	return 0;
}

/* dup semantics, as VMA has them: the duplicate is served by the kernel. Both numbers
 * name the same kernel socket, but an object belongs to one fd number (its ops work on
 * f->fd, and its close op runs when that number is closed), so the new number gets no
 * object and its calls pass through; the original keeps its object. Onload can share
 * the endpoint because its fds are the stack's own files; ours are the kernel's. */
void fd_dup_done(int oldfd, int newfd)
{
	(void)oldfd;
	fdt_forget_stale(newfd);
}
