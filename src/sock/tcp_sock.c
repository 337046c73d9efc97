/* tcp_sock.c — the TCP socket object: the tcp_client decision at connect, the
 * kernel twin that reserves the port, close (graceful in the background, or RST for
 * linger 0 and unread data), engine events, addresses and ioctls. Until connect or
 * listen decides, every call is the kernel's; a socket left to the kernel keeps
 * pass-through ops for good. */
#include "sock/tcp_sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"
#include "core/params.h"
#include "core/rules.h"
#include "intercept/fdtable.h"
#include "intercept/intercept.h"
#include "net/route.h"
#include "net/tcp_glue.h"

#define CONNECT_NEIGH_WAIT_MS 1000	/* a connect waits this long for ARP */
#define CONNECT_PORT_TRIES 16		/* fresh ephemeral ports tried past TIME_WAITs */

/* Orphans: closed by the application, still finishing on the wire. */
static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tcp_sock *orphans;
static int reap_due;			/* atomic: an orphan finished */
static uint64_t orphan_next_deadline = UINT64_MAX;	/* under orphan_lock, read racily */

static const struct fd_ops tcp_undecided_ops;
static const struct fd_ops tcp_kernel_ops;

static struct sockaddr_in sin_of(uint32_t a, uint16_t p)
{
	return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = p, .sin_addr.s_addr = a };
}

static int copy_addr(uint32_t a, uint16_t p, struct sockaddr *addr, socklen_t *len)
{
	struct sockaddr_in sin = sin_of(a, p);

	if (!addr || !len)
		return -EFAULT;
	memcpy(addr, &sin, *len < sizeof(sin) ? *len : sizeof(sin));
	*len = sizeof(sin);
	return 0;
}

/* ---- life cycle ---- */

struct tcp_sock *tcp_sock_alloc(int fd, int type, int protocol)
{
	struct tcp_sock *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base.ops = &tcp_undecided_ops;
	s->base.fd = fd;
	s->base.domain = AF_INET;
	s->base.type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	s->base.protocol = protocol;
	s->base.refcnt = 1;
	s->base.nonblock = !!(type & SOCK_NONBLOCK);
	pthread_mutex_init(&s->lock, NULL);
	s->wake_efd = -1;
	s->hold_fd = -1;
	s->st = stats_sock_open(fd, AF_INET, SOCK_STREAM, IPPROTO_TCP);
	STAT_SET(s->st, ring, ~0ull);
	STAT_SET(s->st, blocking, !s->base.nonblock);
	return s;
}

/* fork() child: the parent's orphans finish in the parent; the child only lets go
 * of its copies of their port reservations. */
static void orphans_atfork_child(void)
{
	pthread_mutex_init(&orphan_lock, NULL);
	for (struct tcp_sock *s = orphans; s; s = s->orphan_next)
		if (s->hold_fd >= 0)
			sys_close(s->hold_fd);
	orphans = NULL;
	reap_due = 0;
	orphan_next_deadline = UINT64_MAX;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, orphans_atfork_child);
}

struct shim_fd *tcp_sock_new(int fd, int type, int protocol)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_atfork);
	struct tcp_sock *s = tcp_sock_alloc(fd, type, protocol);

	if (!s)
		return NULL;
	STAT_INC_MT(stats_global(), sockets_created);
	return &s->base;
}

static void tcp_sock_destroy(struct shim_fd *f)
{
	struct tcp_sock *s = tcp_sk(f);

	ring_inherited_free(&s->inherited);
	stats_sock_close(s->st);
	if (s->wake_efd >= 0)
		sys_close(s->wake_efd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void count_decision(bool offload)
{
	if (offload)
		STAT_INC_MT(stats_global(), sockets_offloaded);
	else
		STAT_INC_MT(stats_global(), sockets_os);
}

void tcp_sock_to_kernel(struct tcp_sock *s)
{
	s->mode = TS_KERNEL;
	fdt_set_ops(&s->base, &tcp_kernel_ops);
}

void tcp_sock_update_stats(struct tcp_sock *s)
{
	STAT_SET(s->st, offloaded, s->mode == TS_OFFLOAD);
	STAT_SET(s->st, bound_addr, s->laddr);
	STAT_SET(s->st, bound_port, ntohs(s->lport));
	STAT_SET(s->st, connected_addr, s->raddr);
	STAT_SET(s->st, connected_port, ntohs(s->rport));
	STAT_SET(s->st, ring, s->nrings ? (uint64_t)s->rings[0]->index : ~0ull);
}

int tcp_sock_steer(struct tcp_sock *s, struct ring *const *rings, const struct ring_flow *flows, int n)
{
	int i, rc = 0;

	for (i = 0; i < n && i < TCP_SOCK_MAX_RINGS; i++) {
		rc = tcp_glue_attach(rings[i], &flows[i]);
		if (rc)
			break;
		s->rings[i] = rings[i];
		s->flows[i] = flows[i];
	}
	s->nrings = i;
	s->steered = i > 0;
	if (rc) {
		while (i-- > 0)
			tcp_glue_detach(s->rings[i], &s->flows[i]);
		s->nrings = 0;
		s->steered = false;
	}
	return rc;
}

static void unsteer(struct tcp_sock *s)
{
	if (!s->steered)
		return;
	for (int i = 0; i < s->nrings; i++)
		tcp_glue_detach(s->rings[i], &s->flows[i]);
	s->steered = false;
}

/* ---- connect ---- */

static int connect_wait(struct tcp_sock *s)
{
	int rc, err;

	if (s->base.nonblock)
		return -EINPROGRESS;
	rc = tcp_sock_wait(s, POLLOUT, s->sndtimeo_ns ? s->sndtimeo_ns : -1, -1);
	if (rc == -EAGAIN)
		return -EINPROGRESS;	/* SO_SNDTIMEO ran out: the kernel's answer */
	if (rc)
		return rc;
	tcp_glue_lock();
	err = tcp_so_error(s->conn);
	enum tcp_state st = tcp_state(s->conn);
	if (!err && st != TCP_ST_SYN_SENT && st != TCP_ST_CLOSED)
		tcp_sock_fit_rcvbuf(s);
	tcp_glue_unlock();
	if (err)
		return -err;
	if (st == TCP_ST_SYN_SENT)
		return -EINPROGRESS;
	if (st == TCP_ST_CLOSED)
		return -ECONNREFUSED;
	return 0;
}

/* Second connect on an offloaded socket: the kernel's answers for each state. */
static int connect_again(struct tcp_sock *s)
{
	tcp_glue_lock();
	enum tcp_state st = tcp_state(s->conn);
	int err = st == TCP_ST_CLOSED ? tcp_so_error(s->conn) : 0;
	tcp_glue_unlock();
	if (st == TCP_ST_SYN_SENT)
		return s->base.nonblock ? -EALREADY : connect_wait(s);
	if (st == TCP_ST_CLOSED)
		return err ? -err : -ECONNABORTED;
	return -EISCONN;
}

void tcp_sock_quiet_twin(int kfd)
{
	if (sys_listen(kfd, 0) < 0)
		log_dbg("tcp fd %d: kernel twin cannot listen (%s): it may show ready to "
			"select/poll", kfd, strerror(errno));
}

/* A new kernel socket at the application's fd number (same flags), for a connect
 * that must retry with another local port. */
static int replace_twin(struct tcp_sock *s)
{
	int cloexec = sys_fcntl(s->base.fd, F_GETFD, 0);
	int nfd = sys_socket(AF_INET, SOCK_STREAM | (s->base.nonblock ? SOCK_NONBLOCK : 0) |
			     (cloexec > 0 && (cloexec & FD_CLOEXEC) ? SOCK_CLOEXEC : 0), 0);

	if (nfd < 0)
		return -errno;
	if (sys_dup2(nfd, s->base.fd) < 0) {
		int err = -errno;
		sys_close(nfd);
		return err;
	}
	sys_close(nfd);
	return 0;
}

/* Bind the twin when needed (its port is ours), create the engine connection,
 * steer its 5-tuple and send the SYN. 0 or -errno with everything undone. */
static int connect_start(struct tcp_sock *s, struct ring *r, uint32_t src,
			 struct sockaddr_in *local, const struct sockaddr_in *dst)
{
	struct tcp_conn *c;
	int rc;

	if (!local->sin_port) {
		struct sockaddr_in b = sin_of(src, 0);
		socklen_t llen = sizeof(*local);
		if (sys_bind(s->base.fd, (struct sockaddr *)&b, sizeof(b)) < 0 ||
		    sys_getsockname(s->base.fd, (struct sockaddr *)local, &llen) < 0)
			return -errno;
	}
	/* A listening twin polls quiet (an unconnected one polls POLLOUT|POLLHUP),
	 * so select/poll/epoll see only the engine's readiness of this socket. */
	tcp_sock_quiet_twin(s->base.fd);
	tcp_glue_lock();
	rc = tcp_conn_create(tcp_glue_stack(), &c);
	if (!rc) {
		s->conn = c;
		tcp_conn_set_user(c, s);
		tcp_sock_inherit_opts(s, s->base.fd);
		rc = tcp_bind(c, src, local->sin_port);
		if (rc) {
			tcp_close(c);
			s->conn = NULL;
		}
	}
	tcp_glue_unlock();
	if (rc)
		return rc;
	s->laddr = src;
	s->lport = local->sin_port;
	s->raddr = dst->sin_addr.s_addr;
	s->rport = dst->sin_port;
	/* The whole local port is ours: a 3-tuple flow brings every segment for it to
	 * the engine, which answers strangers with RST as the kernel would. */
	struct ring_flow fl = { .kind = RING_FLOW_3TUPLE, .proto = IPPROTO_TCP,
				.dst_port = s->lport, .dst_ip = s->laddr };
	rc = tcp_sock_steer(s, &r, &fl, 1);
	tcp_glue_lock();
	if (!rc)
		rc = tcp_connect(c, s->raddr, s->rport);
	if (rc) {
		tcp_close(c);
		s->conn = NULL;
	}
	tcp_glue_unlock();
	if (rc)
		unsteer(s);
	return rc;
}

/* tcp_client decision and set-up. s->lock held. 1 = offloaded, 0 = kernel. */
static int connect_offload(struct tcp_sock *s, const struct sockaddr_in *dst)
{
	struct sockaddr_in local;
	socklen_t llen = sizeof(local);
	uint32_t src;
	int ifindex, rc;
	uint32_t hd = ntohl(dst->sin_addr.s_addr);

	if (s->base.type != SOCK_STREAM || hd == 0 || hd == INADDR_BROADCAST || (hd >> 28) == 0xe)
		return 0;
	if (tcp_glue_init() || cp_is_local(dst->sin_addr.s_addr))
		return 0;	/* same host: the kernel's loopback path */
	if (sys_getsockname(s->base.fd, (struct sockaddr *)&local, &llen) < 0 ||
	    local.sin_family != AF_INET)
		return 0;
	if (!rules_offload(SHIM_ROLE_TCP_CLIENT, &local, dst)) {
		count_decision(false);
		return 0;
	}
	rc = tcp_glue_path(dst->sin_addr.s_addr, s->base.nonblock ? 0 : CONNECT_NEIGH_WAIT_MS,
			   &ifindex, &src);
	if (rc && rc != -EAGAIN) {
		if (rc != -ENETUNREACH)
			STAT_INC_MT(stats_global(), no_backend);
		count_decision(false);
		return 0;
	}
	if (local.sin_addr.s_addr && local.sin_addr.s_addr != src) {
		if (cp_addr_ifindex(local.sin_addr.s_addr) != ifindex) {
			count_decision(false);
			return 0;
		}
		src = local.sin_addr.s_addr;
	}
	struct ring *r;
	if (tcp_glue_ring(ifindex, &r))
		return 0;
	bool ephemeral = !local.sin_port;
	for (int attempt = 0;; attempt++) {
		rc = connect_start(s, r, src, &local, dst);
		if (rc != -EADDRINUSE || !ephemeral || attempt == CONNECT_PORT_TRIES)
			break;
		/* The port the kernel gave is still in TIME_WAIT with this peer in the
		 * engine (which the kernel cannot see): take another on a fresh twin. */
		rc = replace_twin(s);
		if (rc)
			return rc;
		local.sin_port = 0;
	}
	if (rc)
		return rc;
	s->mode = TS_OFFLOAD;
	fdt_set_ops(&s->base, &tcp_sock_ops);
	shim_fd_rings_changed(&s->base);
	count_decision(true);
	tcp_sock_update_stats(s);
	log_dbg("tcp fd %d: connect %s:%u offloaded on %s", s->base.fd,
		inet_ntoa(dst->sin_addr), ntohs(dst->sin_port), r->ifname);
	return 1;
}

static int tcp_sock_connect(struct shim_fd *f, const struct sockaddr *addr, socklen_t len)
{
	struct tcp_sock *s = tcp_sk(f);
	struct sockaddr_in dst;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (s->mode == TS_OFFLOAD) {
		pthread_mutex_unlock(&s->lock);
		return s->listener ? sys_ret(sys_connect(f->fd, addr, len)) : connect_again(s);
	}
	if (s->mode == TS_KERNEL || !addr || len < sizeof(dst) || addr->sa_family != AF_INET) {
		pthread_mutex_unlock(&s->lock);
		return sys_ret(sys_connect(f->fd, addr, len));
	}
	memcpy(&dst, addr, sizeof(dst));
	rc = connect_offload(s, &dst);
	if (rc == 0)
		tcp_sock_to_kernel(s);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return sys_ret(sys_connect(f->fd, addr, len));
	return connect_wait(s);
}

/* ---- close ---- */

static void orphan_add(struct tcp_sock *s)
{
	pthread_mutex_lock(&orphan_lock);
	s->orphan_next = orphans;
	orphans = s;
	if (s->orphan_deadline_us < orphan_next_deadline)
		orphan_next_deadline = s->orphan_deadline_us;
	pthread_mutex_unlock(&orphan_lock);
}

static void release_conn(struct tcp_sock *s, bool abort)
{
	unsteer(s);
	tcp_glue_lock();
	if (abort)
		tcp_abort(s->conn);
	tcp_close(s->conn);
	s->conn = NULL;
	tcp_glue_unlock();
}

void tcp_sock_reap(void)
{
	uint64_t now, next = __atomic_load_n(&orphan_next_deadline, __ATOMIC_RELAXED);
	struct tcp_sock *done = NULL, **pp;

	if (!__atomic_load_n(&reap_due, __ATOMIC_RELAXED) &&
	    (next == UINT64_MAX || tcp_glue_now_us() < next))
		return;
	now = tcp_glue_now_us();
	pthread_mutex_lock(&orphan_lock);
	__atomic_store_n(&reap_due, 0, __ATOMIC_RELAXED);
	orphan_next_deadline = UINT64_MAX;
	for (pp = &orphans; *pp;) {
		struct tcp_sock *s = *pp;
		if (__atomic_load_n(&s->finished, __ATOMIC_ACQUIRE) || now >= s->orphan_deadline_us) {
			*pp = s->orphan_next;
			s->orphan_next = done;
			done = s;
		} else {
			if (s->orphan_deadline_us < orphan_next_deadline)
				orphan_next_deadline = s->orphan_deadline_us;
			pp = &s->orphan_next;
		}
	}
	pthread_mutex_unlock(&orphan_lock);
	while (done) {
		struct tcp_sock *s = done;
		done = s->orphan_next;
		release_conn(s, !__atomic_load_n(&s->finished, __ATOMIC_ACQUIRE));
		if (s->hold_fd >= 0)
			sys_close(s->hold_fd);
		s->hold_fd = -1;
		fd_put(&s->base);
	}
}

/* The library's own duplicates live high in the fd space, away from the numbers
 * an application hands out and closes by range. */
static int hold_fd_floor(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 512)
		return 0;
	return (int)(rl.rlim_cur > 65536 ? 65536 - 1024 : rl.rlim_cur - rl.rlim_cur / 8);
}

static int tcp_sock_close(struct shim_fd *f)
{
	struct tcp_sock *s = tcp_sk(f);
	int linger = -1;

	shim_fd_wake(f, SHIM_WAKE_CLOSE);
	pthread_mutex_lock(&s->lock);
	if (!s->conn) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	if (s->listener) {
		unsteer(s);
		tcp_glue_lock();
		tcp_close(s->conn);
		s->conn = NULL;
		tcp_glue_unlock();
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	tcp_glue_lock();
	tcp_getopt(s->conn, TCP_OPT_LINGER, &linger);
	enum tcp_state st = tcp_state(s->conn);
	bool now = linger == 0 || tcp_rx_avail(s->conn) || st == TCP_ST_CLOSED ||
		   st == TCP_ST_SYN_SENT || st == TCP_ST_TIME_WAIT;
	if (!now)
		tcp_shutdown(s->conn, SHUT_RDWR);
	tcp_glue_unlock();
	if (now) {
		/* RST (linger 0, unread data) or nothing left to say: the engine's close. */
		unsteer(s);
		tcp_glue_lock();
		tcp_close(s->conn);
		s->conn = NULL;
		tcp_glue_unlock();
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	if (linger > 0 && !f->nonblock) {
		/* SO_LINGER: wait for the peer to acknowledge everything, at most linger s. */
		tcp_sock_wait(s, TCP_SOCK_WAIT_DRAINED, (int64_t)linger * 1000000000, -1);
	}
	/* Graceful: the FIN exchange finishes in the background; a duplicate of the
	 * kernel socket keeps the port reserved until it does. */
	s->hold_fd = sys_fcntl(f->fd, F_DUPFD_CLOEXEC, hold_fd_floor());
	s->orphan = true;
	s->orphan_deadline_us = tcp_glue_now_us() + 60000000ull;
	fd_hold(f);
	orphan_add(s);
	pthread_mutex_unlock(&s->lock);
	__atomic_store_n(&reap_due, 1, __ATOMIC_RELAXED);
	tcp_sock_reap();
	return 0;
}

/* exit(): connections closed gracefully whose data or FIN is not yet acknowledged
 * would die with the process (the kernel would have finished them, and a peer that
 * lost our FIN would wait for it forever). Give them at most EXIT_DRAIN_MS. */
#define EXIT_DRAIN_MS 2000
/* A connection in FIN_WAIT_2 is done on our side, but a peer that answers our FIN with
 * its own a moment later should get an ACK, not the kernel's RST for a port nobody
 * holds any more: wait that much longer for it (most peers close on EOF at once). */
#define EXIT_FIN_WAIT2_MS 300
__attribute__((destructor)) static void drain_orphans_at_exit(void)
{
	uint64_t start = tcp_glue_now_us(), until = start + EXIT_DRAIN_MS * 1000ull;
	uint64_t fw2_until = start + EXIT_FIN_WAIT2_MS * 1000ull;

	while (tcp_glue_now_us() < until) {
		struct ring *rings[TCP_SOCK_MAX_RINGS];
		int nr = 0;
		bool pending = false;

		pthread_mutex_lock(&orphan_lock);
		for (struct tcp_sock *s = orphans; s; s = s->orphan_next) {
			if (__atomic_load_n(&s->finished, __ATOMIC_ACQUIRE) || !s->conn)
				continue;
			tcp_glue_lock();
			/* Done once everything, FIN included, is acknowledged. */
			enum tcp_state st = tcp_state(s->conn);
			if (st != TCP_ST_CLOSED && st != TCP_ST_TIME_WAIT &&
			    (st != TCP_ST_FIN_WAIT_2 || tcp_glue_now_us() < fw2_until))
				pending = true;
			tcp_glue_unlock();
			for (int i = 0; i < s->nrings && nr < TCP_SOCK_MAX_RINGS; i++) {
				bool seen = false;
				for (int k = 0; k < nr; k++)
					seen |= rings[k] == s->rings[i];
				if (!seen)
					rings[nr++] = s->rings[i];
			}
		}
		pthread_mutex_unlock(&orphan_lock);
		if (!pending)
			return;
		tcp_glue_progress(rings, nr);
		sched_yield();
	}
}

static int kernel_close(struct shim_fd *f)
{
	(void)f;
	return 0;
}

static int tcp_sock_rx_rings(struct shim_fd *f, struct ring **out, int max)
{
	struct tcp_sock *s = tcp_sk(f);
	int n = s->mode == TS_OFFLOAD ? s->nrings : 0;

	for (int i = 0; i < n && i < max; i++)
		out[i] = s->rings[i];
	return n;
}

/* ---- events ---- */

/* Linux TCP_* state numbers, as the stats segment shows them. */
static unsigned linux_state(enum tcp_state st)
{
	static const unsigned map[] = {
		[TCP_ST_CLOSED] = 7, [TCP_ST_LISTEN] = 10, [TCP_ST_SYN_SENT] = 2,
		[TCP_ST_SYN_RECEIVED] = 3, [TCP_ST_ESTABLISHED] = 1, [TCP_ST_FIN_WAIT_1] = 4,
		[TCP_ST_FIN_WAIT_2] = 5, [TCP_ST_CLOSE_WAIT] = 8, [TCP_ST_CLOSING] = 11,
		[TCP_ST_LAST_ACK] = 9, [TCP_ST_TIME_WAIT] = 6,
	};
	return (unsigned)st < sizeof(map) / sizeof(map[0]) ? map[st] : 0;
}

/* Glue lock held (the writer of the socket's stats block). */
void tcp_sock_stats_locked(struct tcp_sock *s)
{
	if (!s->conn)
		return;
	STAT_SET(s->st, tcp_state, linux_state(tcp_state(s->conn)));
	if (s->listener)
		return;
	struct tcp_info ti;
	tcp_get_info(s->conn, &ti);
	STAT_SET(s->st, tcp_srtt_us, ti.tcpi_rtt);
	STAT_SET(s->st, tcp_cwnd, (uint64_t)ti.tcpi_snd_cwnd * ti.tcpi_snd_mss);
	STAT_SET(s->st, tcp_retransmits, ti.tcpi_total_retrans);
	STAT_SET(s->st, rx_bytes_cur, tcp_rx_avail(s->conn));
	STAT_MAX(s->st, rx_bytes_max, tcp_rx_avail(s->conn));
	STAT_SET(s->st, tx_bytes_cur, tcp_tx_queued(s->conn));
}

void tcp_sock_event(void *user, struct tcp_conn *c, unsigned events)
{
	struct tcp_sock *s = user;

	if (events & (TCP_EV_CONNECTED | TCP_EV_CLOSED | TCP_EV_ERROR))
		STAT_SET(s->st, tcp_state, linux_state(tcp_state(c)));

	if (events & TCP_EV_CLOSED) {
		__atomic_store_n(&s->finished, true, __ATOMIC_RELEASE);
		if (s->orphan)
			__atomic_store_n(&reap_due, 1, __ATOMIC_RELAXED);
	}
	if (!s->orphan)
		shim_fd_wake(&s->base, tcp_poll(c));
	if (__atomic_load_n(&s->sleepers, __ATOMIC_SEQ_CST) > 0 && s->wake_efd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(s->wake_efd, &one, sizeof(one));
		(void)w;
	}
}

/* ---- addresses, shutdown, ioctl ---- */

static int tcp_sock_getsockname(struct shim_fd *f, struct sockaddr *addr, socklen_t *len)
{
	struct tcp_sock *s = tcp_sk(f);

	if (!s->conn)
		return sys_ret(sys_getsockname(f->fd, addr, len));
	return copy_addr(s->laddr, s->lport, addr, len);
}

static int tcp_sock_getpeername(struct shim_fd *f, struct sockaddr *addr, socklen_t *len)
{
	struct tcp_sock *s = tcp_sk(f);
	enum tcp_state st;

	if (!s->conn || s->listener)
		return s->listener ? -ENOTCONN : sys_ret(sys_getpeername(f->fd, addr, len));
	tcp_glue_lock();
	st = tcp_state(s->conn);
	tcp_glue_unlock();
	if (st == TCP_ST_SYN_SENT || st == TCP_ST_CLOSED)
		return -ENOTCONN;
	return copy_addr(s->raddr, s->rport, addr, len);
}

static int tcp_sock_shutdown(struct shim_fd *f, int how)
{
	struct tcp_sock *s = tcp_sk(f);
	int rc;

	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	if (s->listener) {
		/* Linux: shutdown of a listener stops it; the kernel twin does the same. */
		return sys_ret(sys_shutdown(f->fd, how));
	}
	tcp_glue_lock();
	rc = tcp_shutdown(s->conn, how);
	tcp_glue_unlock();
	return rc;
}

static int tcp_sock_ioctl(struct shim_fd *f, unsigned long req, void *arg)
{
	struct tcp_sock *s = tcp_sk(f);
	size_t n;

	if (s->listener || (req != FIONREAD && req != SIOCOUTQ && req != SIOCOUTQNSD))
		return sys_ret(sys_ioctl(f->fd, req, arg));
	if (!arg)
		return -EFAULT;
	tcp_sock_progress(s);	/* what the wire holds counts, as in the kernel */
	tcp_glue_lock();
	n = req == FIONREAD ? tcp_rx_avail(s->conn) : tcp_tx_queued(s->conn);
	tcp_glue_unlock();
	*(int *)arg = n > INT32_MAX ? INT32_MAX : (int)n;
	return 0;
}

/* An inherited listener that this process starts to use (accept, or waits on it in
 * poll, select or epoll): the parent's ring would keep taking every SYN, so hand
 * the port back to the kernel, where the parent and all its children share one
 * listening socket, as prefork servers (nginx, Apache) expect. The parent's
 * connections keep their own steering; only new ones come through the kernel. */
static void release_inherited(struct tcp_sock *s)
{
	int err, n;

	if (!__atomic_load_n(&s->inherited, __ATOMIC_ACQUIRE))
		return;
	n = ring_inherited_release(&s->inherited, &err);
	if (err)
		log_warn("tcp: fd %d: cannot hand port %u back to the kernel: %s; its connections may stay with the parent process",
			 s->base.fd, ntohs(s->lport), strerror(-err));
	if (n)
		log_info("tcp: fd %d: listening socket inherited over fork() is used by this process (pid %d): new connections to port %u now come through the kernel, for it and its parent",
			 s->base.fd, (int)getpid(), ntohs(s->lport));
}

static int inherited_accept4(struct shim_fd *f, struct sockaddr *addr, socklen_t *len, int flags)
{
	int r;

	release_inherited(tcp_sk(f));
	r = sys_accept4(f->fd, addr, len, flags);
	if (r < 0)
		return -errno;
	fdt_forget_stale(r);	/* as for any pass-through accept */
	return r;
}

static void inherited_watch(struct shim_fd *f)
{
	release_inherited(tcp_sk(f));
}

static int kernel_close(struct shim_fd *f);

static const struct fd_ops tcp_inherited_listener_ops = {
	.name = "tcp-os",
	.close = kernel_close,
	.destroy = tcp_sock_destroy,
	.accept4 = inherited_accept4,
	.watch = inherited_watch,
};

/* A connection the parent offloaded: its state lives in the parent's stack, so the
 * child's copy is the unconnected kernel twin, and the kernel answers (ENOTCONN,
 * EPIPE), as with VMA. Said once, with the way out, since a program written for
 * fork-per-connection (inetd style, Python's ForkingMixIn) fails on it. */
static void warn_inherited_conn(struct tcp_sock *s)
{
	char rule[64];

	if (!__atomic_exchange_n(&s->fork_warn, false, __ATOMIC_ACQ_REL))
		return;
	if (s->accepted)
		snprintf(rule, sizeof(rule), "use os tcp_server *:%u", ntohs(s->lport));
	else
		snprintf(rule, sizeof(rule), "use os tcp_client *:%u", ntohs(s->rport));
	log_warn("tcp: fd %d: this connection (local port %u, remote port %u) was offloaded by the parent process and cannot be used after fork(); a rule like '%s' in %s leaves such connections to the kernel",
		 s->base.fd, ntohs(s->lport), ntohs(s->rport), rule, shim_params.config_file);
}

static ssize_t inherited_conn_recvmsg(struct shim_fd *f, struct msghdr *msg, int flags)
{
	warn_inherited_conn(tcp_sk(f));
	return shim_fd_sys_recvmsg(f, msg, flags);
}

static ssize_t inherited_conn_sendmsg(struct shim_fd *f, const struct msghdr *msg, int flags)
{
	warn_inherited_conn(tcp_sk(f));
	return shim_fd_sys_sendmsg(f, msg, flags);
}

static const struct fd_ops tcp_inherited_conn_ops = {
	.name = "tcp-os",
	.close = kernel_close,
	.destroy = tcp_sock_destroy,
	.recvmsg = inherited_conn_recvmsg,
	.sendmsg = inherited_conn_sendmsg,
};

static void tcp_sock_atfork_child(struct shim_fd *f)
{
	/* Rings are not inherited: the child sees the socket as the kernel's. It cannot
	 * use a connection (warn_inherited_conn); a listener works through the kernel
	 * once the child uses it (release_inherited). */
	struct tcp_sock *s = tcp_sk(f);
	bool listening = s->listener && s->steered && s->mode == TS_OFFLOAD;
	bool connected = !s->listener && s->conn && s->mode == TS_OFFLOAD;

	if (listening) {
		for (int i = 0; i < s->nrings; i++)
			ring_inherit_flow(&s->inherited, s->rings[i]->ifindex, &s->flows[i]);
	}
	s->conn = NULL;
	s->steered = false;
	s->nrings = 0;
	s->listener = false;
	s->mode = TS_KERNEL;
	pthread_mutex_init(&s->lock, NULL);
	if (listening) {
		fdt_set_ops(f, &tcp_inherited_listener_ops);
		shim_fd_needs_watch();
	} else if (connected) {
		s->fork_warn = true;
		fdt_set_ops(f, &tcp_inherited_conn_ops);
	} else {
		fdt_set_ops(f, &tcp_kernel_ops);
	}
}

static int undecided_listen(struct shim_fd *f, int backlog)
{
	return tcp_sock_listen(f, backlog);
}

const struct fd_ops tcp_sock_ops = {
	.name = "tcp",
	.close = tcp_sock_close,
	.destroy = tcp_sock_destroy,
	.connect = tcp_sock_connect,
	.listen = tcp_sock_listen,
	.accept4 = tcp_sock_accept4,
	.shutdown = tcp_sock_shutdown,
	.setsockopt = tcp_sock_setsockopt,
	.getsockopt = tcp_sock_getsockopt,
	.getsockname = tcp_sock_getsockname,
	.getpeername = tcp_sock_getpeername,
	.ioctl = tcp_sock_ioctl,
	.recvmsg = tcp_sock_recvmsg,
	.sendmsg = tcp_sock_sendmsg,
	.poll_ready = tcp_sock_poll_ready,
	.rx_rings = tcp_sock_rx_rings,
	.atfork_child = tcp_sock_atfork_child,
};

static const struct fd_ops tcp_undecided_ops = {
	.name = "tcp",
	.close = kernel_close,
	.destroy = tcp_sock_destroy,
	.connect = tcp_sock_connect,
	.listen = undecided_listen,
	.setsockopt = tcp_sock_setsockopt,
	.atfork_child = tcp_sock_atfork_child,
};

static const struct fd_ops tcp_kernel_ops = {
	.name = "tcp-os",
	.close = kernel_close,
	.destroy = tcp_sock_destroy,
};
