/* sock.h — the fd object contract. intercept.c looks a descriptor up in the fd table
 * and, when it finds an object, calls its op; a NULL op (or no object at all) means
 * the real libc call on the same fd, so pass-through is bit for bit the kernel.
 * Every offloaded socket owns a kernel socket and the fd the application sees is
 * that kernel socket's fd (DESIGN §5). Ops return >= 0 or -errno: only the
 * interposition layer writes errno. */
#ifndef SHIM_SOCK_H
#define SHIM_SOCK_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "intercept/sys.h"

struct shim_fd;
struct ring;

/* Readiness notification (iomux). An object whose readiness changes in user space
 * (a datagram demultiplexed into its queue, an error, a shutdown) calls
 * shim_fd_wake() with the events that became true; waiters (epoll interest items,
 * poll/select/epoll_wait sleepers) hang on its wait queue and are called right
 * there, from any thread, possibly under a ring's rx lock: a waiter's callback never
 * blocks and never polls a ring. A zeroed shim_waitq is a valid empty one, and an
 * empty queue costs the waker one load. Callbacks return true when they woke a
 * sleeping thread (EPOLLEXCLUSIVE stops at the first exclusive waiter that did). */
struct shim_waiter;
typedef bool (*shim_wake_fn)(struct shim_waiter *w, unsigned events);
struct shim_waiter {
	shim_wake_fn fn;
	struct shim_waiter *next, *prev;
	bool exclusive;			/* EPOLLEXCLUSIVE registration */
};
struct shim_waitq {
	int lock;			/* spin lock, 0 = free */
	struct shim_waiter *head;
};
/* Extra event bit for shim_fd_wake(): the object is being closed; waiters drop it. */
#define SHIM_WAKE_CLOSE 0x80000000u
/* Extra event bit: the object's ring set changed (shim_fd_rings_changed); a caller
 * sleeping over it looks at its set again, to spin and sleep on the new rings. */
#define SHIM_WAKE_RINGS 0x40000000u

struct fd_ops {
	const char *name;
	/* Called when the application closes the fd, before the kernel fd is closed.
	 * The object is freed by its last fd_put(). */
	int (*close)(struct shim_fd *f);
	void (*destroy)(struct shim_fd *f);	/* free the object: last reference gone */

	int (*bind)(struct shim_fd *f, const struct sockaddr *addr, socklen_t len);
	int (*connect)(struct shim_fd *f, const struct sockaddr *addr, socklen_t len);
	int (*listen)(struct shim_fd *f, int backlog);
	/* Returns the new fd; the op installs its object in the fd table itself. */
	int (*accept4)(struct shim_fd *f, struct sockaddr *addr, socklen_t *len, int flags);
	int (*shutdown)(struct shim_fd *f, int how);
	int (*setsockopt)(struct shim_fd *f, int level, int name, const void *val, socklen_t len);
	int (*getsockopt)(struct shim_fd *f, int level, int name, void *val, socklen_t *len);
	int (*getsockname)(struct shim_fd *f, struct sockaddr *addr, socklen_t *len);
	int (*getpeername)(struct shim_fd *f, struct sockaddr *addr, socklen_t *len);
	int (*fcntl)(struct shim_fd *f, int cmd, unsigned long arg);
	int (*ioctl)(struct shim_fd *f, unsigned long req, void *arg);

	/* Data path. read/recv/recvfrom/readv come here as recvmsg, write/send/sendto/
	 * writev as sendmsg (flags 0 for read/write). */
	ssize_t (*recvmsg)(struct shim_fd *f, struct msghdr *msg, int flags);
	ssize_t (*sendmsg)(struct shim_fd *f, const struct msghdr *msg, int flags);
	int (*recvmmsg)(struct shim_fd *f, struct mmsghdr *v, unsigned n, int flags, struct timespec *tmo);
	int (*sendmmsg)(struct shim_fd *f, struct mmsghdr *v, unsigned n, int flags);

	/* iomux: events ready in user space (POLLIN/POLLOUT/POLLERR/POLLHUP/POLLRDHUP),
	 * without polling the kernel fd. NULL: the kernel fd tells everything. It may
	 * poll the object's rings once. An object with poll_ready must call
	 * shim_fd_wake() whenever one of these events becomes true in user space, and
	 * shim_fd_wake(f, SHIM_WAKE_CLOSE) from its close op. */
	unsigned (*poll_ready)(struct shim_fd *f, unsigned events);
	/* iomux: the rings this object's received data arrives on, so a waiter can poll
	 * them while spinning and sleep on their wake fds. Stores up to max pointers and
	 * returns how many there are (0: nothing offloaded, the kernel fd is enough).
	 * The rings stay valid until the object's destroy (its last reference), even
	 * after close; call shim_fd_rings_changed() after the set changes. */
	int (*rx_rings)(struct shim_fd *f, struct ring **out, int max);

	/* fork(): called in the child for every object (rings are not inherited). */
	void (*atfork_child)(struct shim_fd *f);
	/* iomux: the application is about to wait on this fd through the kernel (poll,
	 * select, epoll_ctl ADD/MOD); an object that must act first does it here. Only
	 * looked at once shim_fd_needs_watch() has been called. */
	void (*watch)(struct shim_fd *f);
};

struct shim_fd {
	const struct fd_ops *ops;
	int fd;
	int domain, type, protocol;	/* type without SOCK_NONBLOCK/SOCK_CLOEXEC */
	int refcnt;			/* atomic: fd table + callers inside an op */
	bool nonblock;			/* O_NONBLOCK as last set through socket/fcntl/ioctl */
	struct shim_waitq wq;		/* iomux waiters (see shim_fd_wake) */
	bool has_rings;			/* iomux: rx_rings was non-empty at the last
					 * shim_fd_rings_changed() */
};

/* iomux/waitq.c: the wake side of the readiness contract. */
void shim_waitq_wake(struct shim_waitq *q, unsigned events);
static inline void shim_fd_wake(struct shim_fd *f, unsigned events)
{
	if (__atomic_load_n(&f->wq.head, __ATOMIC_ACQUIRE))
		shim_waitq_wake(&f->wq, events);
}
/* The object's rx_rings set changed (bound, joined a group, left, released its rings
 * at close): call it after the change. While no object in the process has rings,
 * select/poll/epoll_wait are the kernel's calls without even a scan of their sets. */
void shim_fd_rings_changed(struct shim_fd *f);
/* A new object that may gain rings later (it has an rx_rings op) entered the fd
 * table: from now on select/poll/epoll_wait watch such objects even before they
 * have rings, so a thread already asleep over one is woken when it gains them. */
void shim_fd_may_gain_rings(const struct shim_fd *f);
/* Some object has a watch op: from now on poll and select look at every object. */
void shim_fd_needs_watch(void);

/* The call on the object's kernel socket, in the ops' convention (-errno): for ops
 * that hand a call to the kernel after doing their part. */
static inline ssize_t shim_fd_sys_recvmsg(struct shim_fd *f, struct msghdr *msg, int flags)
{
	ssize_t r = sys_recvmsg(f->fd, msg, flags);

	return r < 0 ? -errno : r;
}

static inline ssize_t shim_fd_sys_sendmsg(struct shim_fd *f, const struct msghdr *msg, int flags)
{
	ssize_t r = sys_sendmsg(f->fd, msg, flags);

	return r < 0 ? -errno : r;
}

/* Factories, called by socket() for AF_INET sockets after the kernel socket exists.
 * They return the object to install, or NULL to leave the fd as plain pass-through.
 * sock/inet_sock.c supplies weak defaults (a pass-through inet object); the UDP and
 * TCP modules replace them. */
struct shim_fd *udp_sock_new(int fd, int type, int protocol);
struct shim_fd *tcp_sock_new(int fd, int type, int protocol);

#endif
