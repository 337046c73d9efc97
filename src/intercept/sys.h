/* sys.h — the real libc functions behind every interposed call, generated from
 * syscalls.def: `sys_<name>` points at the next definition (dlsym RTLD_NEXT).
 * Library code that needs the kernel's behaviour calls sys_<name>() (calling the
 * plain name from inside libshim would re-enter our own wrapper). Pointers are
 * resolved by sys_resolve_all() in the constructor before the library is marked
 * ready. Until then each pointer holds an "early" function with the same signature
 * that resolves the real one and calls it, so calls that arrive before start-up (from
 * another library's constructor, or a thread it started) work too, and no caller
 * ever tests a pointer. */
#ifndef SHIM_SYS_H
#define SHIM_SYS_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Prototypes of the exported wrappers: a mismatch with libc's headers fails the build. */
#define SYSCALL(ret, name, params, args) ret name params;
#include "intercept/syscalls.def"
#undef SYSCALL

#define SYSCALL(ret, name, params, args)                                        \
	typedef ret (*sys_##name##_fn) params;                                  \
	extern sys_##name##_fn sys_##name;
#include "intercept/syscalls.def"
#undef SYSCALL

/* Resolve every pointer; called once by the constructor. Never fails: a name libc
 * lacks gets a function that fails with ENOSYS. */
void sys_resolve_all(void);
/* Resolve one pointer now (thread-safe, idempotent); returns the real function. */
enum sys_index {
#define SYSCALL(ret, name, params, args) SYS_IDX_##name,
#include "intercept/syscalls.def"
#undef SYSCALL
	SYS_IDX_COUNT
};
void *sys_resolve_idx(enum sys_index i);

/* The real function (kept as a macro so callers read as "the libc one"). */
#define SYS(name) sys_##name

#endif
