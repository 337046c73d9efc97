/* poll.c — poll(), ppoll() and their _chk forms. A set without offloaded sockets is
 * the kernel's own call after one scan of the fd table. With offloaded sockets the
 * answer is the kernel's (kernel fds and the kernel twin of every offloaded socket,
 * for OS-path traffic) merged with each socket's user-space readiness; the call spins
 * over the sockets' rings (spin.c policy), then sleeps in ppoll() on the same fds
 * plus the rings' wake fds and the thread's eventfd, which the sockets' wait queues
 * signal when another thread's ring poll makes them ready. select.c runs here too. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "intercept/intercept.h"
#include "iomux/iomux.h"
#include "ring/ring.h"

#define PENT_INLINE 32
#define POLL_SCAN_MAX (1u << 20)	/* beyond any fd table: let the kernel say EINVAL */

int iomux_poll_scan(struct pollfd *fds, unsigned nfds, struct iomux_pent *inl, int ninl,
		    struct iomux_pent **out)
{
	struct iomux_pent *v = inl;
	int n = 0, cap = ninl;

	*out = inl;
	if (!fds || nfds > POLL_SCAN_MAX)
		return 0;	/* the kernel answers EFAULT / EINVAL */
	for (unsigned i = 0; i < nfds; i++) {
		int fd = fds[i].fd;
		struct shim_fd *f;

		if (fd < 0 || likely(!(fdt_peek(fd) & ~FDT_BITS)))
			continue;
		f = fdt_get(fd);
		if (!f)
			continue;
		if (!iomux_watched(f)) {
			fd_put(f);
			continue;
		}
		if (n == cap) {
			struct iomux_pent *nv = malloc(sizeof(*nv) * (size_t)cap * 2);

			if (!nv) {
				fd_put(f);
				iomux_poll_release(v, n, inl);
				return -ENOMEM;
			}
			memcpy(nv, v, sizeof(*nv) * (size_t)n);
			if (v != inl)
				free(v);
			v = nv;
			cap *= 2;
		}
		v[n].idx = (int)i;
		v[n].f = f;
		n++;
	}
	*out = v;
	return n;
}

void iomux_poll_release(struct iomux_pent *offl, int n, struct iomux_pent *inl)
{
	for (int i = 0; i < n; i++)
		fd_put(offl[i].f);
	if (offl != inl)
		free(offl);
}

/* A sleeping caller's entry on one socket's wait queue. */
struct sleep_waiter {
	struct shim_waiter w;
	int efd;
	bool *fired;
};

static bool sleep_wake(struct shim_waiter *w, unsigned events)
{
	struct sleep_waiter *s = (struct sleep_waiter *)w;
	uint64_t one = 1;

	(void)events;
	if (!__atomic_exchange_n(s->fired, true, __ATOMIC_ACQ_REL) &&
	    sys_write(s->efd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow from one write per sleep */
	}
	return true;
}

/* The events that make an entry count as ready: poll's rule (anything), or select's
 * (the kernel's POLLIN_SET/POLLOUT_SET/POLLEX_SET for the sets the fd is in). */
static bool relevant(const struct pollfd *p, bool select_rules)
{
	unsigned want = 0;

	if (!select_rules)
		return p->revents != 0;
	if (p->events & POLLIN)
		want |= POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR;
	if (p->events & POLLOUT)
		want |= POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR;
	if (p->events & POLLPRI)
		want |= POLLPRI;
	return ((unsigned)p->revents & (want | POLLNVAL)) != 0;
}

/* One user-space pass: each offloaded socket's readiness into uev[]; count of ready. */
static int user_pass(struct pollfd *fds, struct iomux_pent *offl, int noffl, unsigned *uev)
{
	int n = 0;

	for (int k = 0; k < noffl; k++) {
		struct shim_fd *f = offl[k].f;
		unsigned want = (unsigned)fds[offl[k].idx].events | POLLERR | POLLHUP;

		/* A socket without rings says no more than its kernel fd. */
		uev[k] = offl[k].rings ? f->ops->poll_ready(f, want) & want : 0;
		if (uev[k])
			n++;
	}
	return n;
}

static void count_stats(struct shim_iomux_stats *st, const struct pollfd *fds, unsigned nfds,
			const unsigned *uev, int noffl)
{
	unsigned rx_all = 0, rx_off = 0;

	if (!st)
		return;
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i].revents & (POLLIN | POLLRDNORM))
			rx_all++;
	for (int k = 0; k < noffl; k++)
		if (uev[k] & (POLLIN | POLLRDNORM))
			rx_off++;
	if (rx_off)
		STAT_ADD_MT(st, rx_ready_offloaded, rx_off);
	if (rx_all > rx_off)
		STAT_ADD_MT(st, rx_ready_os, rx_all - rx_off);
}

/* Sleep in the kernel on fds[] plus the rings' wake fds and the thread's eventfd.
 * Kernel revents land in fds[]. 0, or -errno (-EINTR for a signal, -EAGAIN without
 * sleeping when a ring set changed since rs was collected at generation gen). */
static int sleep_kernel(struct iomux_call *c, struct pollfd *fds, unsigned nfds,
			struct iomux_pent *offl, int noffl, struct iomux_rings *rs, unsigned gen)
{
	struct pollfd kinl[64], *k = kinl;
	struct sleep_waiter winl[PENT_INLINE], *w = winl;
	unsigned total = nfds + (unsigned)rs->n + 1;
	bool fired = false;
	int efd = iomux_thread_efd(), r, err = 0;
	sigset_t all, cur;
	struct timespec ts, *tsp;
	int64_t t0;

	if (efd < 0)
		return efd;
	if (total > 64 && !(k = malloc(sizeof(*k) * total)))
		return -ENOMEM;
	if (noffl > PENT_INLINE && !(w = malloc(sizeof(*w) * (size_t)noffl))) {
		if (k != kinl)
			free(k);
		return -ENOMEM;
	}
	memcpy(k, fds, sizeof(*k) * nfds);
	for (int i = 0; i < rs->n; i++)
		k[nfds + (unsigned)i] = (struct pollfd){ .fd = rs->r[i]->wake_fd, .events = POLLIN };
	k[total - 1] = (struct pollfd){ .fd = efd, .events = POLLIN };
	for (int i = 0; i < noffl; i++) {
		shim_waiter_init(&w[i].w, sleep_wake, false);
		w[i].efd = efd;
		w[i].fired = &fired;
		shim_waitq_add(&offl[i].f->wq, &w[i].w);
	}
	/* Signals: block them all while the last checks run, and let ppoll() unblock
	 * them atomically with the sleep, so a handler that runs in between cannot be
	 * missed (it would be, between a check and a plain sleep). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &cur);
	if (iomux_interrupted(c)) {
		err = -EINTR;
		goto out_unmask;
	}
	/* A socket that gained rings before our waiter was on its queue was not able
	 * to wake us: look again instead of sleeping without its rings. */
	if (iomux_rings_gen() != gen) {
		err = -EAGAIN;
		goto out_unmask;
	}
	tsp = iomux_ns_to_ts(iomux_left_ns(c), &ts);
	t0 = iomux_now_ns();
	r = sys_ppoll(k, total, tsp, &cur);
	if (r < 0)
		err = -errno;
	c->block_ns += iomux_now_ns() - t0;
	c->slept = true;
out_unmask:
	pthread_sigmask(SIG_SETMASK, &cur, NULL);
	for (int i = 0; i < noffl; i++)
		shim_waitq_del(&offl[i].f->wq, &w[i].w);
	if (err == -EAGAIN) {
		iomux_thread_efd_drain(efd);
	} else if (!err) {
		for (unsigned i = 0; i < nfds; i++)
			fds[i].revents = k[i].revents;
		for (int i = 0; i < rs->n; i++)
			if (k[nfds + (unsigned)i].revents)
				ring_woken(rs->r[i]);
		if (k[total - 1].revents || fired)
			iomux_thread_efd_drain(efd);
	}
	if (w != winl)
		free(w);
	if (k != kinl)
		free(k);
	return err;
}

/* The rings of the watched sockets, and the generation they were collected at. */
static int collect_rings(struct iomux_rings *rs, struct iomux_pent *offl, int noffl, unsigned *gen)
{
	int r;

	*gen = iomux_rings_gen();
	iomux_rings_clear(rs);
	for (int k = 0; k < noffl; k++) {
		if ((r = iomux_rings_add_fd(rs, offl[k].f)) < 0)
			return r;
		offl[k].rings = r > 0;
	}
	return 0;
}

int iomux_poll_mixed(struct pollfd *fds, unsigned nfds, struct iomux_pent *offl, int noffl,
		     int64_t tmo_ns, const sigset_t *mask, struct shim_iomux_stats *st,
		     bool select_rules)
{
	struct iomux_call c;
	struct iomux_rings rs;
	unsigned uinl[PENT_INLINE], *uev = uinl;
	bool kernel_fresh = false;
	int r = 0, arm_retries = 0;
	unsigned gen;

	if (noffl > PENT_INLINE && !(uev = malloc(sizeof(*uev) * (size_t)noffl)))
		return -ENOMEM;
	iomux_rings_init(&rs);
	/* Sockets without rings yet take part too: they answer through their kernel
	 * fd, and their wait queues tell a sleeper when they gain rings. */
	if ((r = collect_rings(&rs, offl, noffl, &gen)) < 0)
		goto out_free;
	iomux_call_start(&c, tmo_ns, mask);
	if (st)
		STAT_MAX_MT(st, fds_max, nfds);
	for (;;) {
		int nu = user_pass(fds, offl, noffl, uev);
		bool os = kernel_fresh || iomux_os_due(&c, nu > 0);

		if (nu)
			c.found_offloaded = true;
		if (os && !kernel_fresh) {
			if (sys_poll(fds, nfds, 0) < 0) {
				r = -errno;
				break;
			}
		} else if (!os) {
			for (unsigned i = 0; i < nfds; i++)
				fds[i].revents = 0;
		}
		kernel_fresh = false;
		for (int k = 0; k < noffl; k++)
			fds[offl[k].idx].revents |= (short)uev[k];
		r = 0;
		for (unsigned i = 0; i < nfds; i++)
			if (relevant(&fds[i], select_rules))
				r++;
		if (r) {
			count_stats(st, fds, nfds, uev, noffl);
			break;
		}
		/* A signal that arrived counts, even when the time is also up. */
		if (iomux_interrupted(&c)) {
			r = -EINTR;
			break;
		}
		if (c.tmo_ns == 0 || (c.deadline >= 0 && iomux_left_ns(&c) == 0))
			break;
		if (rs.n && iomux_may_spin(&c)) {
			iomux_rings_poll(&rs);
			continue;
		}
		/* Frames already waiting: poll them first (a few times at most, then sleep
		 * anyway: the wake fds are level-triggered here, nothing is lost). */
		if (rs.n && arm_retries < 3 && iomux_rings_arm(&rs) == -EAGAIN) {
			arm_retries++;
			iomux_rings_poll(&rs);
			continue;
		}
		arm_retries = 0;
		r = sleep_kernel(&c, fds, nfds, offl, noffl, &rs, gen);
		if (r == -EAGAIN || (r == 0 && iomux_rings_gen() != gen)) {
			int e = collect_rings(&rs, offl, noffl, &gen);

			if (e < 0) {
				r = e;
				break;
			}
		}
		if (r == -EAGAIN)
			continue;
		if (r < 0)
			break;
		if (rs.n)
			iomux_rings_poll(&rs);
		kernel_fresh = true;
	}
	iomux_call_end(&c, st, r);
out_free:
	iomux_rings_free(&rs);
	if (uev != uinl)
		free(uev);
	return r;
}

/* The common body: scan, then the kernel's call or the mixed engine. */
static int do_poll(struct pollfd *fds, nfds_t nfds, int64_t tmo_ns, const struct timespec *kts,
		   int kms, const sigset_t *mask, bool p)
{
	struct iomux_pent inl[PENT_INLINE], *offl;
	int saved = errno, n, r;

	if (likely(!iomux_any_offloaded()))
		return p ? sys_ppoll(fds, nfds, kts, mask) : sys_poll(fds, nfds, kms);
	n = iomux_poll_scan(fds, (unsigned)nfds, inl, PENT_INLINE, &offl);
	if (n <= 0)
		return p ? sys_ppoll(fds, nfds, kts, mask) : sys_poll(fds, nfds, kms);
	r = iomux_poll_mixed(fds, (unsigned)nfds, offl, n, tmo_ns, mask, iomux_stats_poll(), false);
	iomux_poll_release(offl, n, inl);
	return (int)shim_ret(r, saved);
}

int poll(struct pollfd *fds, nfds_t nfds, int tmo)
{
	if (unlikely(!shim_ready()))
		return SYS(poll)(fds, nfds, tmo);
	return do_poll(fds, nfds, iomux_ms_to_ns(tmo), NULL, tmo, NULL, false);
}

int __poll_chk(struct pollfd *fds, nfds_t nfds, int tmo, size_t fdslen)
{
	/* libc's check (it aborts when the array is shorter than nfds). */
	if (unlikely(!shim_ready()) || fdslen / sizeof(*fds) < nfds)
		return SYS(__poll_chk)(fds, nfds, tmo, fdslen);
	return do_poll(fds, nfds, iomux_ms_to_ns(tmo), NULL, tmo, NULL, false);
}

int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo, const __sigset_t *mask)
{
	int64_t ns;

	if (unlikely(!shim_ready()) || iomux_ts_to_ns(tmo, &ns) < 0)
		return SYS(ppoll)(fds, nfds, tmo, mask);	/* EINVAL from the kernel */
	return do_poll(fds, nfds, ns, tmo, 0, mask, true);
}

int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
		const __sigset_t *mask, size_t fdslen)
{
	int64_t ns;

	if (unlikely(!shim_ready()) || fdslen / sizeof(*fds) < nfds || iomux_ts_to_ns(tmo, &ns) < 0)
		return SYS(__ppoll_chk)(fds, nfds, tmo, mask, fdslen);
	return do_poll(fds, nfds, ns, tmo, 0, mask, true);
}
