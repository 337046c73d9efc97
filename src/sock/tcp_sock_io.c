/* tcp_sock_io.c — the data path of an offloaded TCP socket: send and receive
 * families (MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_MORE), SIGPIPE,
 * readiness for select/poll/epoll, and waiting: spin SHIM_RX_POLL times on the
 * socket's rings, then sleep on their wake fds and the socket's event fd (which the
 * engine pokes when another thread made progress), EINTR by the kernel's rule. */
#include "sock/tcp_sock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/params.h"
#include "core/tid.h"
#include "intercept/intercept.h"
#include "net/tcp_glue.h"

#define OS_CHECK_EVERY 32	/* spins between looks at a listener's kernel socket */

void tcp_sock_progress(struct tcp_sock *s)
{
	tcp_glue_progress(s->rings, s->nrings);
}

/* Glue lock held. */
static unsigned ready_locked(struct tcp_sock *s, unsigned events)
{
	unsigned p;

	if (!s->conn)
		return POLLERR | POLLHUP;
	p = tcp_poll(s->conn);
	if (events & TCP_SOCK_WAIT_DRAINED) {
		enum tcp_state st = tcp_state(s->conn);
		if (!tcp_tx_queued(s->conn) || st == TCP_ST_CLOSED || st == TCP_ST_TIME_WAIT)
			p |= TCP_SOCK_WAIT_DRAINED;
	}
	return p & (events | POLLERR | POLLHUP);
}

static unsigned ready(struct tcp_sock *s, unsigned events)
{
	unsigned p;

	tcp_glue_lock();
	p = ready_locked(s, events);
	tcp_glue_unlock();
	return p;
}

static bool kfd_ready(int kfd)
{
	struct pollfd p = { .fd = kfd, .events = POLLIN };

	return kfd >= 0 && sys_poll(&p, 1, 0) > 0;
}

static uint64_t now_ns(void)
{
	return tcp_glue_now_us() * 1000u;
}

static int ensure_efd(struct tcp_sock *s)
{
	int fd = __atomic_load_n(&s->wake_efd, __ATOMIC_ACQUIRE);

	if (fd >= 0)
		return fd;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int expect = -1;
	if (!__atomic_compare_exchange_n(&s->wake_efd, &expect, fd, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		sys_close(fd);
		fd = expect;
	}
	return fd;
}

/* Sleep once: 0 after a wake-up or time-out, -EINTR when the kernel would say so. */
static int sleep_once(struct tcp_sock *s, unsigned events, uint64_t deadline, int kfd, uint64_t snap)
{
	struct pollfd pfd[TCP_SOCK_MAX_RINGS + 2];
	int n = 0, efd = ensure_efd(s), rc;

	__atomic_add_fetch(&s->sleepers, 1, __ATOMIC_SEQ_CST);
	if (ready(s, events))
		goto out;
	for (int i = 0; i < s->nrings; i++) {
		if (ring_arm(s->rings[i]) == -EAGAIN)
			goto out;	/* frames pending: poll instead of sleeping */
		pfd[n++] = (struct pollfd){ .fd = s->rings[i]->wake_fd, .events = POLLIN };
	}
	if (efd >= 0)
		pfd[n++] = (struct pollfd){ .fd = efd, .events = POLLIN };
	if (kfd >= 0)
		pfd[n++] = (struct pollfd){ .fd = kfd, .events = POLLIN };
	uint64_t cap_us = 1000000;
	if (deadline != UINT64_MAX) {
		uint64_t now = now_ns();
		cap_us = deadline > now ? (deadline - now + 999) / 1000 : 0;
		if (cap_us > 1000000)
			cap_us = 1000000;
	}
	uint64_t wait_us = tcp_glue_timer_wait_us(cap_us);
	rc = sys_poll(pfd, (nfds_t)n, (int)((wait_us + 999) / 1000));
	if (rc < 0 && errno == EINTR && shim_signal_interrupted(snap)) {
		__atomic_sub_fetch(&s->sleepers, 1, __ATOMIC_SEQ_CST);
		return -EINTR;
	}
	for (int i = 0; i < s->nrings && rc > 0; i++)
		if (pfd[i].revents)
			ring_woken(s->rings[i]);
	if (efd >= 0) {
		uint64_t v;
		ssize_t r = read(efd, &v, sizeof(v));
		(void)r;
	}
out:
	__atomic_sub_fetch(&s->sleepers, 1, __ATOMIC_SEQ_CST);
	return 0;
}

int tcp_sock_wait(struct tcp_sock *s, unsigned events, int64_t timeout_ns, int kfd)
{
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : now_ns() + (uint64_t)timeout_ns;
	uint64_t snap = shim_signal_snapshot();
	long spins = shim_params.rx_poll;

	for (long i = 0;; i++) {
		if (ready(s, events))
			return 0;
		if (kfd >= 0 && i % OS_CHECK_EVERY == 0 && kfd_ready(kfd))
			return 0;
		if (deadline != UINT64_MAX && now_ns() >= deadline)
			return -EAGAIN;
		if (shim_signal_interrupted(snap))
			return -EINTR;
		if (spins >= 0 && i >= spins)
			break;
		tcp_sock_progress(s);
	}
	for (;;) {
		int rc = sleep_once(s, events, deadline, kfd, snap);
		if (rc)
			return rc;
		tcp_sock_progress(s);
		if (ready(s, events) || kfd_ready(kfd))
			return 0;
		if (deadline != UINT64_MAX && now_ns() >= deadline)
			return -EAGAIN;
		if (shim_signal_interrupted(snap))
			return -EINTR;
	}
}

/* ---- receive ---- */

static size_t iov_len(const struct msghdr *msg)
{
	size_t n = 0;

	for (size_t i = 0; i < msg->msg_iovlen; i++)
		n += msg->msg_iov[i].iov_len;
	return n;
}

/* Glue lock held. Read into the iovec from byte `skip` on (what an earlier pass of
 * MSG_WAITALL filled). */
static ssize_t recv_iov(struct tcp_conn *c, struct msghdr *msg, size_t skip, bool peek)
{
	ssize_t got = 0;

	if (peek) {
		/* One peek from the start of the queue, scattered afterwards. */
		size_t want = iov_len(msg), avail = tcp_rx_avail(c);
		if (want > avail)
			want = avail ? avail : 1;
		uint8_t small[256], *buf = want <= sizeof(small) ? small : malloc(want);
		if (!buf)
			return -ENOMEM;
		got = tcp_recv(c, buf, want, TCP_RECV_PEEK);
		for (size_t i = 0, off = 0; got > 0 && i < msg->msg_iovlen && off < (size_t)got; i++) {
			size_t k = msg->msg_iov[i].iov_len;
			if (k > (size_t)got - off)
				k = (size_t)got - off;
			memcpy(msg->msg_iov[i].iov_base, buf + off, k);
			off += k;
		}
		if (buf != small)
			free(buf);
		return got;
	}
	for (size_t i = 0; i < msg->msg_iovlen; i++) {
		struct iovec *v = &msg->msg_iov[i];
		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		size_t len = v->iov_len - skip;
		ssize_t n = tcp_recv(c, (uint8_t *)v->iov_base + skip, len, 0);
		skip = 0;
		if (n <= 0)
			return got ? got : n;
		got += n;
		if ((size_t)n < len)
			break;
	}
	return got;
}

ssize_t tcp_sock_recvmsg(struct shim_fd *f, struct msghdr *msg, int flags)
{
	struct tcp_sock *s = tcp_sk(f);
	bool nonblock = f->nonblock || (flags & MSG_DONTWAIT);
	bool peek = flags & MSG_PEEK;
	bool waitall = (flags & MSG_WAITALL) && !peek;
	size_t total, done = 0;
	bool polled = false;

	if (s->listener || !s->conn)
		return -ENOTCONN;
	if (flags & MSG_OOB)
		return -EINVAL;
	if (!msg || (msg->msg_iovlen && !msg->msg_iov))
		return -EFAULT;
	msg->msg_flags = 0;
	if (msg->msg_name)
		msg->msg_namelen = 0;
	msg->msg_controllen = 0;
	total = iov_len(msg);
	if (!total)
		return 0;
	STAT_SET(s->st, last_rx_tid, (uint64_t)shim_tid());
	for (;;) {
		tcp_glue_lock();
		ssize_t n = recv_iov(s->conn, msg, done, peek);
		tcp_glue_unlock();
		if (n > 0) {
			done += (size_t)n;
			if (!waitall || done == total)
				break;
			continue;
		}
		if (n == 0)
			break;		/* EOF */
		if (n != -EAGAIN) {
			if (!done)
				STAT_INC(s->st, rx_offload_errors);
			return done ? (ssize_t)done : n;
		}
		if (done && !waitall)
			break;
		if (!polled) {
			/* Look at the wire once before answering EAGAIN or sleeping. */
			polled = true;
			tcp_sock_progress(s);
			continue;
		}
		if (nonblock) {
			if (done)
				break;
			STAT_INC(s->st, rx_offload_eagain);
			return -EAGAIN;
		}
		int rc = tcp_sock_wait(s, POLLIN | POLLRDHUP, s->rcvtimeo_ns ? s->rcvtimeo_ns : -1, -1);
		if (rc) {
			if (done)
				break;
			return rc == -EAGAIN ? -EAGAIN : rc;
		}
	}
	if (!peek) {
		STAT_ADD(s->st, rx_offload_bytes, done);
		STAT_INC(s->st, rx_offload_packets);
		if (!(STAT_GET(s->st, rx_offload_packets) & 63)) {
			tcp_glue_lock();
			tcp_sock_stats_locked(s);
			tcp_glue_unlock();
		}
	}
	return (ssize_t)done;
}

/* ---- send ---- */

static void sigpipe(void)
{
	/* The kernel sends SIGPIPE to the calling thread. */
	raise(SIGPIPE);
}

ssize_t tcp_sock_sendmsg(struct shim_fd *f, const struct msghdr *msg, int flags)
{
	struct tcp_sock *s = tcp_sk(f);
	bool nonblock = f->nonblock || (flags & MSG_DONTWAIT);
	size_t total, sent = 0, i = 0, off = 0;

	if (!msg || (msg->msg_iovlen && !msg->msg_iov))
		return -EFAULT;
	if (s->listener || !s->conn) {
		if (!(flags & MSG_NOSIGNAL))
			sigpipe();
		return -EPIPE;
	}
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	total = iov_len(msg);
	STAT_SET(s->st, last_tx_tid, (uint64_t)shim_tid());
	while (sent < total) {
		while (i < msg->msg_iovlen && off == msg->msg_iov[i].iov_len) {
			i++;
			off = 0;
		}
		const struct iovec *v = &msg->msg_iov[i];
		bool last = sent + (v->iov_len - off) == total;
		int tflags = (flags & MSG_MORE) || !last ? TCP_SEND_MORE : 0;

		tcp_glue_lock();
		ssize_t n = tcp_send(s->conn, (const uint8_t *)v->iov_base + off, v->iov_len - off, tflags);
		enum tcp_state st = n < 0 ? tcp_state(s->conn) : TCP_ST_ESTABLISHED;
		tcp_glue_unlock();
		if (n > 0) {
			sent += (size_t)n;
			off += (size_t)n;
			continue;
		}
		if (n == 0)
			n = -EAGAIN;
		if (n == -ENOTCONN && (st == TCP_ST_SYN_SENT || st == TCP_ST_SYN_RECEIVED))
			n = -EAGAIN;	/* the kernel waits for the handshake */
		if (n == -EPIPE) {
			if (!sent && !(flags & MSG_NOSIGNAL))
				sigpipe();
			return sent ? (ssize_t)sent : -EPIPE;
		}
		if (n != -EAGAIN) {
			STAT_INC(s->st, tx_offload_errors);
			return sent ? (ssize_t)sent : n;
		}
		if (nonblock) {
			if (sent)
				break;
			tcp_sock_progress(s);	/* ACKs may free space: one look */
			tcp_glue_lock();
			n = tcp_send(s->conn, (const uint8_t *)v->iov_base + off, v->iov_len - off, tflags);
			tcp_glue_unlock();
			if (n > 0) {
				sent += (size_t)n;
				off += (size_t)n;
				continue;
			}
			STAT_INC(s->st, tx_offload_eagain);
			return -EAGAIN;
		}
		int rc = tcp_sock_wait(s, POLLOUT, s->sndtimeo_ns ? s->sndtimeo_ns : -1, -1);
		if (rc) {
			if (sent)
				break;
			return rc;
		}
	}
	if (shim_params.rx_poll_on_tx_tcp)
		tcp_sock_progress(s);
	STAT_ADD(s->st, tx_offload_bytes, sent);
	STAT_INC(s->st, tx_offload_packets);
	if (!(STAT_GET(s->st, tx_offload_packets) & 63)) {
		tcp_glue_lock();
		tcp_sock_stats_locked(s);
		tcp_glue_unlock();
	}
	return (ssize_t)sent;
}

/* ---- readiness ---- */

unsigned tcp_sock_poll_ready(struct shim_fd *f, unsigned events)
{
	struct tcp_sock *s = tcp_sk(f);

	tcp_sock_progress(s);
	return ready(s, events);
}
