/* inet_sock.c — the AF_INET object every UDP/TCP socket gets until the UDP and TCP
 * modules supply their own factories (strong udp_sock_new/tcp_sock_new replace these
 * weak ones at link time). All its ops are NULL, so every call on it is the kernel's
 * own: the object only carries what the interposer tracks (fd, type, nonblocking). */
#include <netinet/in.h>
#include <stdlib.h>

#include "sock/sock.h"

static const struct fd_ops inet_passthrough_ops = {
	.name = "inet",
};

static struct shim_fd *inet_passthrough_new(int fd, int type, int protocol)
{
	struct shim_fd *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;	/* the socket stays with the kernel, untracked */
	f->ops = &inet_passthrough_ops;
	f->fd = fd;
	f->domain = AF_INET;
	f->type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	f->protocol = protocol;
	f->refcnt = 1;
	f->nonblock = !!(type & SOCK_NONBLOCK);
	return f;
}

__attribute__((weak)) struct shim_fd *udp_sock_new(int fd, int type, int protocol)
{
	return inet_passthrough_new(fd, type, protocol);
}

__attribute__((weak)) struct shim_fd *tcp_sock_new(int fd, int type, int protocol)
{
	return inet_passthrough_new(fd, type, protocol);
}
