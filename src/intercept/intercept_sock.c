/* intercept_sock.c — socket creation and control calls. socket() creates the kernel
 * socket first and, for AF_INET UDP/TCP, lets the socket layer's factory attach an
 * object (sock/sock.h); every other call looks the fd up and runs the object's op,
 * or the real function when there is no object or no such op. */
#include <errno.h>
#include <netinet/in.h>

#include "shim_extra.h"

#include "core/extra.h"
#include "core/log.h"
#include "intercept/intercept.h"

/* Which factory serves a socket(), or NULL: AF_INET datagram and stream sockets of
 * the default or explicit UDP/TCP protocol only (not ICMP "ping" sockets, not raw). */
static struct shim_fd *(*factory_for(int domain, int type, int protocol))(int, int, int)
{
	if (domain != AF_INET)
		return NULL;
	switch (type) {
	case SOCK_DGRAM:
		return protocol == 0 || protocol == IPPROTO_UDP ? udp_sock_new : NULL;
	case SOCK_STREAM:
		return protocol == 0 || protocol == IPPROTO_TCP ? tcp_sock_new : NULL;
	default:
		return NULL;
	}
}

int socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct shim_fd *(*factory)(int, int, int);
	struct shim_fd *f;
	int fd, saved, err;

	if (unlikely(!shim_ready()))
		return SYS(socket)(domain, type, protocol);
	fd = sys_socket(domain, type, protocol);
	if (fd < 0)
		return fd;
	saved = errno;
	fdt_forget_stale(fd);
	factory = factory_for(domain, base, protocol);
	/* SHIM_OFFLOADED_SOCKETS, or the extra API's thread_offload() for this thread:
	 * a socket that may not be offloaded is the kernel's alone. */
	if (!factory || !shim_thread_may_offload())
		return fd;
	f = factory(fd, type, protocol);
	if (!f)
		goto out;	/* the socket layer leaves this one to the kernel */
	f->fd = fd;
	f->domain = domain;
	f->type = base;
	f->protocol = protocol;
	f->nonblock = !!(type & SOCK_NONBLOCK);
	shim_fd_may_gain_rings(f);
	err = fdt_install(f);
	if (err) {
		/* The application still gets a working kernel socket. */
		log_warn("fd %d: cannot track socket (%d): served by the kernel", fd, err);
		fd_put(f);
	}
out:
	errno = saved;
	return fd;
}

int socketpair(int domain, int type, int protocol, int sv[2])
{
	int r = SYS(socketpair)(domain, type, protocol, sv);

	return r == 0 ? fdt_forget_pair(sv) : r;
}

int shutdown(int fd, int how)
{
	FD_CALL(shutdown, fd, (obj, how), (fd, how));
}

int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	FD_CALL(bind, fd, (obj, addr.__sockaddr__, len), (fd, addr, len));
}

int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	FD_CALL(connect, fd, (obj, addr.__sockaddr__, len), (fd, addr, len));
}

int listen(int fd, int backlog)
{
	FD_CALL(listen, fd, (obj, backlog), (fd, backlog));
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	FD_CALL(setsockopt, fd, (obj, level, name, val, len), (fd, level, name, val, len));
}

/* getsockopt(-1, SOL_SOCKET, SO_SHIM_GET_API, &ptr, &len) is how an application finds
 * the extra API (include/shim_extra.h); every other getsockopt is a socket's. */
int getsockopt(int fd, int level, int name, void *restrict val, socklen_t *restrict len)
{
	if (unlikely(fd == -1) && level == SOL_SOCKET && name == SO_SHIM_GET_API &&
	    likely(shim_ready())) {
		int saved = errno;

		return (int)shim_ret(shim_extra_getsockopt(val, len), saved);
	}
	FD_CALL(getsockopt, fd, (obj, level, name, val, len), (fd, level, name, val, len));
}

int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	FD_CALL(getsockname, fd, (obj, addr.__sockaddr__, len), (fd, addr, len));
}

int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	FD_CALL(getpeername, fd, (obj, addr.__sockaddr__, len), (fd, addr, len));
}

/* accept() is accept4() with no flags, for the op; libc keeps its own entry points. */
static int do_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags, bool four)
{
	struct shim_fd *obj = fd_obj(fd);
	int saved = errno, r;

	if (obj && obj->ops->accept4) {
		r = obj->ops->accept4(obj, addr, len, flags);
		fd_put(obj);
		return (int)shim_ret(r, saved);
	}
	fd_put(obj);
	/* A pass-through listener: the accepted socket is the kernel's, no object. */
	r = four ? sys_accept4(fd, addr, len, flags) : sys_accept(fd, addr, len);
	if (r >= 0) {
		saved = errno;
		fdt_forget_stale(r);
		errno = saved;
	}
	return r;
}

int accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	if (unlikely(!shim_ready()))
		return SYS(accept)(fd, addr, len);
	return do_accept(fd, addr.__sockaddr__, len, 0, false);
}

int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len, int flags)
{
	if (unlikely(!shim_ready()))
		return SYS(accept4)(fd, addr, len, flags);
	return do_accept(fd, addr.__sockaddr__, len, flags, true);
}
