/* iomux_fake.h — an in-process offloaded socket for the iomux tests: a real kernel UDP
 * socket on 127.0.0.1 (its kernel twin, for OS-path traffic) with an object whose
 * user-space queue is fed by a fake ring. The ring delivers when polled (after a set
 * number of polls) or when a test thread says so, exactly as a ring demux would:
 * queue, then shim_fd_wake(). Header-only: included by the iomux tests alone. */
#ifndef IOMUX_FAKE_H
#define IOMUX_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "intercept/intercept.h"

#include "ring/ring.h"
#include "sock/sock.h"

struct iofake_sock {
	struct shim_fd base;
	int queued;			/* datagrams in the user-space queue */
	bool writable;
	bool err;
	struct ring *ring;
	int closes, destroyed;
	uint16_t port;			/* kernel twin's port (network order) */
};

struct iofake_ring {
	struct ring r;
	struct iofake_sock *target;	/* delivers here */
	int deliver_after;		/* polls until one datagram arrives; -1 never */
	int polls, arms;
};

static struct iofake_ring *iofake_ring_new(void);
static void iofake_ring_free(struct iofake_ring *fr);
/* A socket served by ring fr (may be NULL: no ring, user-space queue only),
 * installed in the fd table at its kernel fd; the test holds one reference. */
static struct iofake_sock *iofake_sock_new(struct iofake_ring *fr);
/* Close it as the application would (close op, table, kernel fd). */
static void iofake_sock_close(struct iofake_sock *s);
/* One datagram into the user-space queue, with the wake-up a ring demux gives. */
static void iofake_deliver(struct iofake_sock *s);
/* Take one datagram from the user-space queue. */
static void iofake_consume(struct iofake_sock *s);
/* Send a datagram to the socket's kernel twin (OS path). */
static void iofake_send_os(struct iofake_sock *s);
/* Read one datagram from the kernel twin; true if there was one. */
static bool iofake_recv_os(struct iofake_sock *s);

/* --- ring ------------------------------------------------------------------------- */
static unsigned fr_rx(struct ring *r, struct shim_pkt **pkts, unsigned n)
{
	struct iofake_ring *fr = (struct iofake_ring *)r;

	(void)pkts;
	(void)n;
	fr->polls++;
	if (fr->deliver_after >= 0 && fr->polls >= fr->deliver_after && fr->target) {
		fr->deliver_after = -1;
		iofake_deliver(fr->target);
	}
	return 0;
}

static unsigned fr_zero(struct ring *r)
{
	(void)r;
	return 0;
}

static int fr_arm(struct ring *r)
{
	((struct iofake_ring *)r)->arms++;
	return 0;
}

static const struct ring_ops fr_ops = {
	.name = "iofake", .rx_burst = fr_rx, .refill = fr_zero, .tx_reap = fr_zero, .arm = fr_arm,
};

static struct iofake_ring *iofake_ring_new(void)
{
	struct iofake_ring *fr = calloc(1, sizeof(*fr));

	fr->r.ops = &fr_ops;
	fr->r.cfg.batch = 32;
	fr->r.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_spin_init(&fr->r.rx_lock, PTHREAD_PROCESS_PRIVATE);
	pthread_spin_init(&fr->r.tx_lock, PTHREAD_PROCESS_PRIVATE);
	fr->deliver_after = -1;
	return fr;
}

static void iofake_ring_free(struct iofake_ring *fr)
{
	syscall(SYS_close, fr->r.wake_fd);
	free(fr);
}

/* --- socket ----------------------------------------------------------------------- */
static struct iofake_sock *fs(struct shim_fd *f)
{
	return (struct iofake_sock *)f;
}

static unsigned fs_poll_ready(struct shim_fd *f, unsigned events)
{
	struct iofake_sock *s = fs(f);
	unsigned r = 0;

	if (__atomic_load_n(&s->queued, __ATOMIC_ACQUIRE) > 0)
		r |= POLLIN | POLLRDNORM;
	if (s->writable)
		r |= POLLOUT | POLLWRNORM;
	if (s->err)
		r |= POLLERR;
	return r & (events | POLLERR | POLLHUP);
}

static int fs_rx_rings(struct shim_fd *f, struct ring **out, int max)
{
	struct iofake_sock *s = fs(f);

	if (!s->ring)
		return 0;
	if (max > 0)
		out[0] = s->ring;
	return 1;
}

static int fs_close(struct shim_fd *f)
{
	fs(f)->closes++;
	shim_fd_wake(f, SHIM_WAKE_CLOSE);
	fs(f)->ring = NULL;		/* released at close, as a socket does */
	shim_fd_rings_changed(f);
	return 0;
}

static void fs_destroy(struct shim_fd *f)
{
	fs(f)->destroyed++;
}

static const struct fd_ops fs_ops = {
	.name = "iofake", .close = fs_close, .destroy = fs_destroy,
	.poll_ready = fs_poll_ready, .rx_rings = fs_rx_rings,
};

static struct iofake_sock *iofake_sock_new(struct iofake_ring *fr)
{
	struct iofake_sock *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	fd_put(fdt_remove(fd));
	s->port = a.sin_port;
	s->base.ops = &fs_ops;
	s->base.fd = fd;
	s->base.domain = AF_INET;
	s->base.type = SOCK_DGRAM;
	s->base.refcnt = 2;	/* table + test */
	s->writable = true;
	if (fr) {
		s->ring = &fr->r;
		fr->target = s;
	}
	fdt_install(&s->base);
	shim_fd_rings_changed(&s->base);
	return s;
}

static void iofake_sock_close(struct iofake_sock *s)
{
	close(s->base.fd);	/* the interposed close: op, table, kernel */
}

/* Close (unless closed already), drop the test's reference and free: returns how
 * many times the object was destroyed (1 when no reference was left behind). */
static int iofake_sock_release(struct iofake_sock *s)
{
	int destroyed;

	if (!s->closes)
		iofake_sock_close(s);
	fd_put(&s->base);
	destroyed = s->destroyed;
	free(s);
	return destroyed;
}

static void iofake_deliver(struct iofake_sock *s)
{
	__atomic_add_fetch(&s->queued, 1, __ATOMIC_ACQ_REL);
	shim_fd_wake(&s->base, POLLIN | POLLRDNORM);
}

static void iofake_consume(struct iofake_sock *s)
{
	if (__atomic_load_n(&s->queued, __ATOMIC_ACQUIRE) > 0)
		__atomic_sub_fetch(&s->queued, 1, __ATOMIC_ACQ_REL);
}

static void iofake_send_os(struct iofake_sock *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = s->port };
	int fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);

	syscall(SYS_sendto, fd, "os", 2, 0, &a, sizeof(a));
	syscall(SYS_close, fd);
}

static bool iofake_recv_os(struct iofake_sock *s)
{
	char b[16];

	return syscall(SYS_recvfrom, s->base.fd, b, sizeof(b), MSG_DONTWAIT, NULL, NULL) >= 0;
}

#endif
