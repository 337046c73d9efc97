/* sock.h — the fd object contract. intercept.c looks a descriptor up in the fd table
 * and, when it finds an object, calls its op; a NULL op (or no object at all) means
 * the real libc call on the same fd, so pass-through is bit for bit the kernel.
 * Every offloaded socket owns a kernel socket and the fd the application sees is
 * that kernel socket's fd (DESIGN §5). Ops return >= 0 or -errno: only the
 * interposition layer writes errno. */
#ifndef SHIM_SOCK_H
#define SHIM_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

struct shim_fd;

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
	 * without polling the kernel fd. NULL: the kernel fd tells everything. */
	unsigned (*poll_ready)(struct shim_fd *f, unsigned events);

	/* fork(): called in the child for every object (rings are not inherited). */
	void (*atfork_child)(struct shim_fd *f);
};

struct shim_fd {
	const struct fd_ops *ops;
	int fd;
	int domain, type, protocol;	/* type without SOCK_NONBLOCK/SOCK_CLOEXEC */
	int refcnt;			/* atomic: fd table + callers inside an op */
	bool nonblock;			/* O_NONBLOCK as last set through socket/fcntl/ioctl */
};

/* Factories, called by socket() for AF_INET sockets after the kernel socket exists.
 * They return the object to install, or NULL to leave the fd as plain pass-through.
 * sock/inet_sock.c supplies weak defaults (a pass-through inet object); the UDP and
 * TCP modules replace them. */
struct shim_fd *udp_sock_new(int fd, int type, int protocol);
struct shim_fd *tcp_sock_new(int fd, int type, int protocol);

#endif
