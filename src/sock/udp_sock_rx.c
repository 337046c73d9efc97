/* udp_sock_rx.c — the receive calls of an offloaded UDP socket. Datagrams arrive in
 * the ready queue from the rings' flow sinks (under the ring's rx lock, no copy) and
 * leave it with one copy into the application's buffers, with the control messages
 * the kernel would give. Waiting: poll the rings (SHIM_RX_POLL times, yielding every
 * SHIM_RX_POLL_YIELD), look at the kernel socket every SHIM_RX_UDP_POLL_OS_RATIO
 * polls (same-host senders), then sleep in poll() on the rings' wake fds, the kernel
 * socket and our own eventfd; signals end the wait with EINTR exactly when the
 * kernel's recv would. */
#include "sock/udp_sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "core/params.h"
#include "intercept/intercept.h"
#include "net/udp.h"

#define MAX_WAIT_FDS (UDP_MAX_RX_RINGS + 2)

/* ---- ready queue ---- */

void udp_sock_enqueue(struct udp_sock *s, struct shim_pkt *pkt, const struct udp_meta *m)
{
	udp_meta_store(pkt, m);
	if (!m->ts_ns && (s->ts_ns || s->ts_us)) {
		/* Software receive timestamp, only for sockets that asked for one. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		pkt->cb[3] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	pkt->next = NULL;
	pthread_spin_lock(&s->qlock);
	if (__builtin_expect((s->q_bytes && s->q_bytes + m->len > s->q_limit) || s->shut_rd, 0)) {
		STAT_INC(s->st, rx_packets_dropped);
		STAT_ADD(s->st, rx_bytes_dropped, m->len);
		pthread_spin_unlock(&s->qlock);
		pkt_free(pkt);
		return;
	}
	if (s->q_tail)
		s->q_tail->next = pkt;
	else
		s->q_head = pkt;
	s->q_tail = pkt;
	s->q_pkts++;
	s->q_bytes += m->len;
	STAT_INC(s->st, rx_offload_packets);
	STAT_ADD(s->st, rx_offload_bytes, m->len);
	STAT_SET(s->st, rx_bytes_cur, s->q_bytes);
	STAT_SET(s->st, rx_packets_cur, s->q_pkts);
	STAT_MAX(s->st, rx_bytes_max, s->q_bytes);
	STAT_MAX(s->st, rx_packets_max, s->q_pkts);
	bool wake = s->sleepers > 0;
	pthread_spin_unlock(&s->qlock);
	if (wake)
		udp_sock_kick(s);
	shim_fd_wake(&s->base, POLLIN | POLLRDNORM);
}

void udp_sock_flush_queue(struct udp_sock *s)
{
	pthread_spin_lock(&s->qlock);
	struct shim_pkt *q = s->q_head;
	s->q_head = s->q_tail = NULL;
	s->q_pkts = 0;
	s->q_bytes = 0;
	pthread_spin_unlock(&s->qlock);
	pkt_free_list(q);
}

void udp_sock_kick(struct udp_sock *s)
{
	pthread_spin_lock(&s->qlock);
	bool wake = s->sleepers > 0;
	pthread_spin_unlock(&s->qlock);
	if (wake) {
		uint64_t one = 1;
		if (write(s->wake_efd, &one, sizeof(one)) < 0) {
			/* counter saturated: the sleepers are awake anyway */
		}
	}
}

bool udp_sock_poll_rings(struct udp_sock *s)
{
	int n = __atomic_load_n(&s->nrx, __ATOMIC_ACQUIRE);
	bool got = false;

	for (int i = 0; i < n; i++)
		if (ring_poll(s->rx_rings[i], 0) > 0)
			got = true;
	return got;
}

/* ---- copy out ---- */

static void put_cmsg(struct msghdr *msg, size_t *used, int level, int type, const void *data, size_t len)
{
	size_t space = CMSG_SPACE(len);

	if (!msg->msg_control || *used + CMSG_LEN(len) > msg->msg_controllen) {
		msg->msg_flags |= MSG_CTRUNC;
		return;
	}
	struct cmsghdr *c = (struct cmsghdr *)((uint8_t *)msg->msg_control + *used);
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	*used += space < msg->msg_controllen - *used ? space : msg->msg_controllen - *used;
}

static void fill_cmsgs(struct udp_sock *s, struct msghdr *msg, const struct udp_meta *m)
{
	size_t used = 0;

	if (s->ts_ns) {
		struct timespec ts = { (time_t)(m->ts_ns / 1000000000u), (long)(m->ts_ns % 1000000000u) };
		put_cmsg(msg, &used, SOL_SOCKET, SO_TIMESTAMPNS, &ts, sizeof(ts));
	} else if (s->ts_us) {
		struct timeval tv = { (time_t)(m->ts_ns / 1000000000u), (suseconds_t)(m->ts_ns % 1000000000u / 1000) };
		put_cmsg(msg, &used, SOL_SOCKET, SO_TIMESTAMP, &tv, sizeof(tv));
	}
	if (s->pktinfo) {
		struct in_pktinfo pi = { .ipi_ifindex = m->ifindex };
		pi.ipi_spec_dst.s_addr = m->daddr;
		pi.ipi_addr.s_addr = m->daddr;
		put_cmsg(msg, &used, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	}
	if (s->recvttl) {
		int ttl = m->ttl;
		put_cmsg(msg, &used, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
	}
	if (s->recvtos) {
		uint8_t tos = m->tos;
		put_cmsg(msg, &used, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	}
	msg->msg_controllen = used;
}

/* Take (or peek at) the first queued datagram. -EAGAIN when the queue is empty. */
static ssize_t dequeue(struct udp_sock *s, struct msghdr *msg, int flags)
{
	struct shim_pkt *p;
	struct udp_meta m;

	if (!__atomic_load_n(&s->q_head, __ATOMIC_RELAXED))
		return -EAGAIN;
	pthread_spin_lock(&s->qlock);
	p = s->q_head;
	if (!p) {
		pthread_spin_unlock(&s->qlock);
		return -EAGAIN;
	}
	if (flags & MSG_PEEK) {
		pkt_ref(p);	/* another thread may take it meanwhile */
	} else {
		s->q_head = p->next;
		if (!s->q_head)
			s->q_tail = NULL;
		s->q_pkts--;
		s->q_bytes -= udp_meta_len(p);
		STAT_SET(s->st, rx_bytes_cur, s->q_bytes);
		STAT_SET(s->st, rx_packets_cur, s->q_pkts);
	}
	pthread_spin_unlock(&s->qlock);

	udp_meta_load(p, &m);
	size_t n = udp_copy_out(p, &m, 0, msg->msg_iov, (int)msg->msg_iovlen);
	msg->msg_flags = 0;
	if (n < m.len)
		msg->msg_flags |= MSG_TRUNC;
	if (msg->msg_name) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = m.sport,
					   .sin_addr.s_addr = m.saddr };
		memcpy(msg->msg_name, &sin, msg->msg_namelen < sizeof(sin) ? msg->msg_namelen : sizeof(sin));
		msg->msg_namelen = sizeof(sin);
	}
	if (msg->msg_control && msg->msg_controllen)
		fill_cmsgs(s, msg, &m);
	else
		msg->msg_controllen = 0;
	pkt_free(p);
	return (flags & MSG_TRUNC) ? (ssize_t)m.len : (ssize_t)n;
}

static ssize_t os_recv(struct udp_sock *s, struct msghdr *msg, int flags)
{
	ssize_t r = sys_recvmsg(s->base.fd, msg, flags);

	if (r < 0) {
		r = -errno;
		if (r == -EAGAIN)
			STAT_INC(s->st, rx_os_eagain);
		else
			STAT_INC(s->st, rx_os_errors);
		return r;
	}
	STAT_INC(s->st, rx_os_packets);
	STAT_ADD(s->st, rx_os_bytes, r);
	return r;
}

/* ---- waiting ---- */

static int ensure_efd(struct udp_sock *s)
{
	if (__atomic_load_n(&s->wake_efd, __ATOMIC_ACQUIRE) >= 0)
		return 0;
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int none = -1;
	if (!__atomic_compare_exchange_n(&s->wake_efd, &none, fd, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		sys_close(fd);
	return 0;
}

/* Sleep until something may have arrived: 0 (look again), -EAGAIN on timeout,
 * -EINTR when a signal must interrupt the call. */
static int block_wait(struct udp_sock *s, int64_t deadline, uint64_t snap)
{
	struct pollfd fds[MAX_WAIT_FDS];
	struct ring *rings[UDP_MAX_RX_RINGS];
	int n = __atomic_load_n(&s->nrx, __ATOMIC_ACQUIRE), nf = 0;
	int err = ensure_efd(s);

	if (err)
		return err;
	for (int i = 0; i < n; i++) {
		if (ring_arm(s->rx_rings[i]) == -EAGAIN)
			return 0;	/* frames already waiting */
		rings[i] = s->rx_rings[i];
		fds[nf++] = (struct pollfd){ .fd = rings[i]->wake_fd, .events = POLLIN };
	}
	fds[nf++] = (struct pollfd){ .fd = s->base.fd, .events = POLLIN };
	fds[nf++] = (struct pollfd){ .fd = s->wake_efd, .events = POLLIN };

	pthread_spin_lock(&s->qlock);
	bool queued = s->q_head != NULL;
	if (!queued)
		s->sleepers++;
	pthread_spin_unlock(&s->qlock);
	if (queued)
		return 0;

	int timeout = -1;
	if (deadline) {
		int64_t left = deadline - (int64_t)net_now_ns();
		if (left <= 0) {
			err = -EAGAIN;
			goto out;
		}
		timeout = (int)((left + 999999) / 1000000);
	}
	if (shim_signal_arrived(snap) && (shim_signal_interrupted(snap) || s->rcvtimeo_ns)) {
		err = -EINTR;
		goto out;
	}
	int r = sys_poll(fds, (nfds_t)nf, timeout);
	if (r < 0) {
		/* EINTR: a handler ran. The kernel restarts recv after an SA_RESTART handler
		 * unless the socket has a receive timeout. */
		err = errno == EINTR && (shim_signal_interrupted(snap) || s->rcvtimeo_ns) ? -EINTR : 0;
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (fds[i].revents)
			ring_woken(rings[i]);
	if (fds[nf - 1].revents) {
		uint64_t v;
		if (read(s->wake_efd, &v, sizeof(v)) < 0) {
			/* already drained by another sleeper */
		}
	}
	if (r == 0 && deadline && (int64_t)net_now_ns() >= deadline)
		err = -EAGAIN;
out:
	pthread_spin_lock(&s->qlock);
	s->sleepers--;
	pthread_spin_unlock(&s->qlock);
	return err;
}

ssize_t udp_sock_recvmsg(struct shim_fd *f, struct msghdr *msg, int flags)
{
	struct udp_sock *s = udp_sk(f);
	ssize_t r;

	if (__builtin_expect((flags & (MSG_ERRQUEUE | MSG_OOB)) || s->os_only, 0))
		return os_recv(s, msg, flags);
	bool nonblock = f->nonblock || (flags & MSG_DONTWAIT);
	long poll_max = shim_params.rx_poll;
	bool no_rings = false;
	if (!__atomic_load_n(&s->nrx, __ATOMIC_ACQUIRE) && !__atomic_load_n(&s->q_head, __ATOMIC_RELAXED)) {
		/* Not offloaded: the kernel, blocking included. Exceptions sleep where
		 * what gives them rings can wake them: an unbound socket (another
		 * thread's first send binds it), and one bound to a group address that
		 * has not joined yet, which spins SHIM_RX_POLL_INIT times meanwhile. */
		bool mc = udp_mc_waits(s);
		if (nonblock || s->connected || (s->bound && !mc))
			return os_recv(s, msg, flags);
		poll_max = mc ? shim_params.rx_poll_init : 0;
		no_rings = true;
	}
	long ratio = shim_params.rx_udp_poll_os_ratio;
	long yield_every = shim_params.rx_poll_yield;
	int64_t deadline = 0;
	uint64_t snap = shim_signal_snapshot();
	long spins = 0;
	bool hit = true;

	for (;;) {
		r = dequeue(s, msg, flags);
		if (r >= 0)
			break;
		if (udp_sock_poll_rings(s))
			continue;
		/* The kernel socket (same-host senders) is looked at every `ratio` empty
		 * ring polls, counted across calls so a non-blocking poller pays one
		 * system call per `ratio` calls, not one per call. */
		if (ratio ? ++s->os_poll_count >= (unsigned long)ratio : nonblock) {
			s->os_poll_count = 0;
			r = sys_recvmsg(f->fd, msg, flags | MSG_DONTWAIT);
			if (r >= 0) {
				STAT_INC(s->st, rx_os_packets);
				STAT_ADD(s->st, rx_os_bytes, r);
				break;
			}
			if (errno != EAGAIN) {
				r = -errno;
				break;
			}
		}
		if (__atomic_load_n(&s->shut_rd, __ATOMIC_ACQUIRE)) {
			r = 0;
			break;
		}
		if (nonblock) {
			STAT_INC(s->st, rx_offload_eagain);
			return -EAGAIN;
		}
		if (poll_max < 0 || ++spins < poll_max) {
			/* More pollers than cores: let the others run now and then. */
			if (yield_every && spins % yield_every == 0)
				sched_yield();
			if (__builtin_expect((spins & 63) == 0, 0)) {
				if (shim_signal_arrived(snap) &&
				    (shim_signal_interrupted(snap) || s->rcvtimeo_ns)) {
					r = -EINTR;
					break;
				}
				if (s->rcvtimeo_ns) {
					if (!deadline)
						deadline = (int64_t)net_now_ns() + s->rcvtimeo_ns;
					else if ((int64_t)net_now_ns() >= deadline) {
						r = -EAGAIN;
						break;
					}
				}
				ip_reasm_expire(net_now_ns());
			}
			continue;
		}
		/* Polled enough: sleep in the kernel. */
		hit = false;
		if (s->rcvtimeo_ns && !deadline)
			deadline = (int64_t)net_now_ns() + s->rcvtimeo_ns;
		ip_reasm_expire(net_now_ns());
		/* Anything the kernel socket holds is taken before sleeping. */
		r = sys_recvmsg(f->fd, msg, flags | MSG_DONTWAIT);
		if (r >= 0) {
			STAT_INC(s->st, rx_os_packets);
			STAT_ADD(s->st, rx_os_bytes, r);
			break;
		}
		int err = block_wait(s, deadline, snap);
		if (err) {
			r = err;
			break;
		}
		if (no_rings && __atomic_load_n(&s->nrx, __ATOMIC_ACQUIRE)) {
			poll_max = shim_params.rx_poll;	/* the first send or join gave it rings */
			no_rings = false;
		}
		spins = poll_max > 0 ? poll_max - 1 : 0;	/* after a wake-up: one poll, then sleep again */
		if (udp_sock_poll_rings(s))
			spins = 0;
	}
	if (r >= 0) {
		if (hit)
			STAT_INC(s->st, rx_poll_hit);
		else
			STAT_INC(s->st, rx_poll_miss);
		udp_sock_note_caller(s, true);
	} else if (r == -EAGAIN)
		STAT_INC(s->st, rx_offload_eagain);
	else
		STAT_INC(s->st, rx_offload_errors);
	return r;
}

unsigned udp_sock_poll_ready(struct shim_fd *f, unsigned events)
{
	struct udp_sock *s = udp_sk(f);
	unsigned r = 0;

	/* An offloaded socket is always writable (a full ring waits or drops inside the
	 * send, like a full qdisc), so a caller spinning in user space sees it at once.
	 * A socket with nothing offloaded leaves every answer to its kernel fd. */
	if (__atomic_load_n(&s->nrx, __ATOMIC_ACQUIRE) || __atomic_load_n(&s->tx_offloaded, __ATOMIC_RELAXED))
		r |= events & (POLLOUT | POLLWRNORM);
	if (events & (POLLIN | POLLRDNORM)) {
		if (!__atomic_load_n(&s->q_head, __ATOMIC_RELAXED))
			udp_sock_poll_rings(s);
		if (__atomic_load_n(&s->q_head, __ATOMIC_RELAXED))
			r |= events & (POLLIN | POLLRDNORM);
	}
	return r;
}
