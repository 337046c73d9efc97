/* intercept.h — what the interposition files share: the inline fd-table peek that
 * keeps pass-through to one lookup, the errno rule, and the dup/stale helpers.
 * Every exported wrapper has one shape: pass through until initialised; look the
 * fd up; call the object's op or the real libc function (sys_<name>); only this
 * layer writes errno, and it restores the caller's errno on success. */
#ifndef SHIM_INTERCEPT_H
#define SHIM_INTERCEPT_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/init.h"
#include "intercept/fdtable.h"
#include "intercept/sys.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* A table slot is the object's address with three low bits of meaning. The data
 * bits say which data-path ops the object has, so read()/write() on a socket whose
 * object has none go to libc without touching the object (no atomics at all). */
#define FDT_MOVED 1UL	/* slot frozen while the table grows: look in the new one */
#define FDT_RECV  2UL	/* object has a recvmsg op */
#define FDT_SEND  4UL	/* object has a sendmsg op */
#define FDT_BITS  7UL

struct fdt_array {
	unsigned size;
	uintptr_t slot[];
};
/* Current array; never NULL (an empty array until fdt_init). Old arrays are kept, so a
 * reader holding a stale pointer still reads valid memory. */
extern struct fdt_array *fdt_cur;

/* The slot word for fd: 0 when nothing is installed. One acquire load of the table
 * pointer and one of the slot (both plain moves on x86). */
static inline uintptr_t fdt_peek(int fd)
{
	struct fdt_array *t = __atomic_load_n(&fdt_cur, __ATOMIC_ACQUIRE);

	if (unlikely((unsigned)fd >= t->size))
		return 0;
	return __atomic_load_n(&t->slot[fd], __ATOMIC_ACQUIRE);
}

/* Object for fd with a reference, or NULL. */
static inline struct shim_fd *fd_obj(int fd)
{
	if (likely(!(fdt_peek(fd) & ~FDT_BITS)))
		return NULL;
	return fdt_get(fd);
}

/* A variadic call's one optional word (fcntl, ioctl): read whether or not the command
 * takes one, exactly as libc does; it is passed on unchanged. */
#define VA_WORD(last, out)                                                       \
	do {                                                                     \
		va_list ap_;                                                     \
		va_start(ap_, last);                                             \
		(out) = va_arg(ap_, unsigned long);                              \
		va_end(ap_);                                                     \
	} while (0)

/* The errno rule: r < 0 is -errno for the application; success restores the errno
 * the caller had before the call (ops may have called libc internally). */
static inline long shim_ret(long r, int saved_errno)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	errno = saved_errno;
	return r;
}

/* Result of a libc call made on the application's behalf, in the -errno convention. */
static inline long sys_ret(long r)
{
	return r < 0 ? -errno : r;
}

/* Run the object's op when it has one, else the real function on the same fd. The
 * op's arguments may name the object as `obj`. */
#define FD_CALL(name, fd, op_args, sys_args)                                     \
	do {                                                                     \
		struct shim_fd *obj;                                             \
		if (unlikely(!shim_ready()) || !(obj = fd_obj(fd)))              \
			return SYS(name) sys_args;                               \
		if (!obj->ops->name) {                                           \
			fd_put(obj);                                             \
			return sys_##name sys_args;                              \
		}                                                                \
		int saved_ = errno;                                              \
		long r_ = obj->ops->name op_args;                                \
		fd_put(obj);                                                     \
		return shim_ret(r_, saved_);                                     \
	} while (0)

/* The kernel just handed out fd: any object still at that number belongs to a
 * descriptor closed behind our back (fclose of an fdopen'ed socket, close_range,
 * a raw syscall). Drop it without touching the new file. */
void fdt_forget_stale(int fd);
/* Both fds of a new pipe or socketpair (only when ready); returns 0. */
int fdt_forget_pair(const int fds[2]);
/* After dup/dup2/dup3/F_DUPFD produced newfd from oldfd. */
void fd_dup_done(int oldfd, int newfd);

/* fdtable.c internals for fork and tests. */
void fdt_atfork_prepare(void);
void fdt_atfork_parent(void);
void fdt_atfork_child(void);
unsigned fdt_size(void);
void fdt_exit(void);

/* intercept_proc.c: fork handlers, registered by the constructor. */
int proc_init(void);
/* intercept_signal.c: handler bookkeeping; SHIM_HANDLE_SIGINTR. */
int signal_init(void);

/* EINTR for code that waits in user space (ring spin loops): take a snapshot when
 * the wait starts; shim_signal_interrupted() is true once a signal whose handler
 * does not ask for SA_RESTART has run since (the kernel's rule for sockets with no
 * timeout), and shim_signal_arrived() once any handled signal has. */
uint64_t shim_signal_snapshot(void);
bool shim_signal_interrupted(uint64_t snap);
bool shim_signal_arrived(uint64_t snap);

#endif
