/* tcp_sock_listen.c — the server side: the tcp_server decision at listen, the engine
 * listener steered by 3-tuple flows on every interface the bound address covers, and
 * accept/accept4. The kernel twin listens too, so clients on this host (which never
 * cross a ring) are accepted through it: the application sees one listening socket.
 * An accepted offloaded connection gets a kernel socket of its own as its fd. */
#include "sock/tcp_sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "core/log.h"
#include "core/rules.h"
#include "intercept/fdtable.h"
#include "intercept/intercept.h"
#include "net/route.h"
#include "net/tcp_glue.h"

/* Interfaces whose traffic to laddr the listener takes. */
static int listen_ifaces(uint32_t laddr, int *ifs, int max)
{
	uint32_t h = ntohl(laddr);

	if ((h >> 24) == 127 || (h >> 28) == 0xe)
		return 0;
	if (!laddr)
		return cp_offload_ifaces(ifs, max);
	int idx = cp_addr_ifindex(laddr);
	bool lo = true;
	if (idx <= 0 || cp_link(idx, NULL, NULL, NULL, &lo) < 0 || lo)
		return 0;
	ifs[0] = idx;
	return 1;
}

/* tcp_server decision and set-up, after the kernel twin listens. s->lock held.
 * 1 = offloaded, 0 = kernel, < 0 error. */
static int listen_offload(struct tcp_sock *s, int backlog)
{
	struct sockaddr_in local;
	socklen_t llen = sizeof(local);
	int ifs[TCP_SOCK_MAX_RINGS], n, nr = 0, rc;
	struct ring *rings[TCP_SOCK_MAX_RINGS];
	struct ring_flow flows[TCP_SOCK_MAX_RINGS];

	if (s->base.type != SOCK_STREAM || tcp_glue_init())
		return 0;
	if (sys_getsockname(s->base.fd, (struct sockaddr *)&local, &llen) < 0 ||
	    local.sin_family != AF_INET)
		return 0;
	n = listen_ifaces(local.sin_addr.s_addr, ifs, TCP_SOCK_MAX_RINGS);
	if (!n)
		return 0;
	bool off = rules_offload(SHIM_ROLE_TCP_SERVER, &local, NULL);
	if (off)
		STAT_INC_MT(stats_global(), sockets_offloaded);
	else
		STAT_INC_MT(stats_global(), sockets_os);
	if (!off)
		return 0;
	for (int i = 0; i < n; i++) {
		if (tcp_glue_ring(ifs[i], &rings[nr]))
			continue;
		flows[nr] = (struct ring_flow){ .kind = RING_FLOW_3TUPLE, .proto = IPPROTO_TCP,
						.dst_port = local.sin_port,
						.dst_ip = local.sin_addr.s_addr };
		nr++;
	}
	if (!nr) {
		STAT_INC_MT(stats_global(), no_backend);
		return 0;
	}
	struct tcp_conn *c;
	tcp_glue_lock();
	rc = tcp_conn_create(tcp_glue_stack(), &c);
	if (!rc) {
		tcp_conn_set_user(c, s);
		rc = tcp_bind(c, local.sin_addr.s_addr, local.sin_port);
		if (!rc)
			rc = tcp_listen(c, backlog);
		if (rc) {
			tcp_close(c);
		} else {
			s->conn = c;
			s->listener = true;
			tcp_sock_stats_locked(s);
		}
	}
	tcp_glue_unlock();
	if (rc) {
		log_dbg("tcp fd %d: engine listener failed (%s): kernel", s->base.fd, strerror(-rc));
		return 0;
	}
	s->listener = true;
	s->laddr = local.sin_addr.s_addr;
	s->lport = local.sin_port;
	rc = tcp_sock_steer(s, rings, flows, nr);
	if (rc) {
		tcp_glue_lock();
		tcp_close(c);
		s->conn = NULL;
		tcp_glue_unlock();
		s->listener = false;
		return 0;
	}
	s->mode = TS_OFFLOAD;
	fdt_set_ops(&s->base, &tcp_sock_ops);
	shim_fd_rings_changed(&s->base);
	tcp_sock_update_stats(s);
	log_dbg("tcp fd %d: listening on %s:%u offloaded on %d ring(s)", s->base.fd,
		inet_ntoa(local.sin_addr), ntohs(local.sin_port), nr);
	return 1;
}

int tcp_sock_listen(struct shim_fd *f, int backlog)
{
	struct tcp_sock *s = tcp_sk(f);
	int rc;

	pthread_mutex_lock(&s->lock);
	if (s->mode == TS_OFFLOAD && !s->listener) {
		pthread_mutex_unlock(&s->lock);
		return -EINVAL;		/* connected or connecting: the kernel's answer */
	}
	if (sys_listen(f->fd, backlog) < 0) {
		rc = -errno;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	if (s->mode == TS_OFFLOAD) {
		/* listen() again: a new backlog. */
		tcp_glue_lock();
		rc = tcp_listen(s->conn, backlog);
		tcp_glue_unlock();
		pthread_mutex_unlock(&s->lock);
		return rc == -EINVAL ? 0 : rc;
	}
	if (s->mode == TS_UNDECIDED) {
		rc = listen_offload(s, backlog);
		if (rc <= 0)
			tcp_sock_to_kernel(s);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Give an engine connection taken from the accept queue its own socket and fd. */
static int install_accepted(struct tcp_sock *ls, struct tcp_conn *c, struct sockaddr *addr,
			    socklen_t *len, int flags)
{
	int kfd = sys_socket(AF_INET, SOCK_STREAM | flags, 0), rc;
	struct tcp_sock *s;

	if (kfd < 0) {
		rc = -errno;
		goto out_abort;
	}
	fdt_forget_stale(kfd);
	/* Bound to loopback, then listening: it reserves no port of an offloaded
	 * interface and polls idle (see tcp_sock_quiet_twin). */
	struct sockaddr_in lo = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (sys_bind(kfd, (struct sockaddr *)&lo, sizeof(lo)) == 0)
		tcp_sock_quiet_twin(kfd);
	s = tcp_sock_alloc(kfd, SOCK_STREAM | flags, IPPROTO_TCP);
	if (!s) {
		sys_close(kfd);
		rc = -ENOMEM;
		goto out_abort;
	}
	s->parent = ls;
	tcp_glue_lock();
	s->conn = c;
	tcp_conn_set_user(c, s);
	tcp_sock_inherit_opts(s, ls->base.fd);
	tcp_sock_fit_rcvbuf(s);
	tcp_sock_stats_locked(s);
	tcp_conn_addrs(c, &s->laddr, &s->lport, &s->raddr, &s->rport);
	tcp_glue_unlock();
	s->parent = NULL;
	s->accepted = true;
	s->rcvtimeo_ns = ls->rcvtimeo_ns;
	s->sndtimeo_ns = ls->sndtimeo_ns;

	struct ring *r = NULL;
	int idx = cp_addr_ifindex(s->laddr);
	for (int i = 0; i < ls->nrings; i++)
		if (ls->rings[i]->ifindex == idx)
			r = ls->rings[i];
	if (!r && ls->nrings)
		r = ls->rings[0];
	struct ring_flow fl = { .kind = RING_FLOW_5TUPLE, .proto = IPPROTO_TCP,
				.dst_port = s->lport, .dst_ip = s->laddr,
				.src_ip = s->raddr, .src_port = s->rport };
	if (r && tcp_sock_steer(s, &r, &fl, 1) == 0) {
		/* Steered by the listener's 3-tuple anyway; the 5-tuple outlives it. */
	} else if (r) {
		s->rings[0] = r;
		s->nrings = 1;
	}
	s->mode = TS_OFFLOAD;
	s->base.ops = &tcp_sock_ops;
	STAT_INC_MT(stats_global(), sockets_created);
	tcp_sock_update_stats(s);
	rc = fdt_install(&s->base);
	if (rc) {
		/* The fd table refused the slot: the connection cannot be handed out. */
		tcp_glue_lock();
		tcp_abort(c);
		tcp_close(c);
		s->conn = NULL;
		tcp_glue_unlock();
		if (s->steered)
			tcp_glue_detach(r, &fl);
		sys_close(kfd);
		fd_put(&s->base);
		return rc;
	}
	if (addr && len) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = s->rport,
					   .sin_addr.s_addr = s->raddr };
		memcpy(addr, &sin, *len < sizeof(sin) ? *len : sizeof(sin));
		*len = sizeof(sin);
	}
	return kfd;

out_abort:
	tcp_glue_lock();
	tcp_abort(c);
	tcp_close(c);
	tcp_glue_unlock();
	return rc;
}

static bool kernel_pending(int kfd)
{
	struct pollfd p = { .fd = kfd, .events = POLLIN };

	return sys_poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

int tcp_sock_accept4(struct shim_fd *f, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct tcp_sock *s = tcp_sk(f);
	bool polled = false;

	if (!s->listener)
		return sys_ret(sys_accept4(f->fd, addr, len, flags));
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (addr && !len)
		return -EFAULT;
	for (;;) {
		struct tcp_conn *c = NULL;
		int rc;

		tcp_glue_lock();
		rc = s->conn ? tcp_accept(s->conn, &c) : -EINVAL;
		tcp_glue_unlock();
		if (rc == 0)
			return install_accepted(s, c, addr, len, flags);
		if (rc != -EAGAIN)
			return rc;
		/* Same-host clients come through the kernel twin. */
		if (kernel_pending(f->fd)) {
			int fd = sys_accept4(f->fd, addr, len, flags);
			if (fd >= 0) {
				fdt_forget_stale(fd);
				return fd;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
		}
		if (!polled) {
			polled = true;
			tcp_sock_progress(s);
			continue;
		}
		if (f->nonblock)
			return -EAGAIN;
		rc = tcp_sock_wait(s, POLLIN, s->rcvtimeo_ns ? s->rcvtimeo_ns : -1, f->fd);
		if (rc)
			return rc;
	}
}
