/* epoll.c — the epoll family. Every epoll fd gets an instance object (epfd.h); the
 * kernel epoll stays the file the application holds and every epoll_ctl goes to it
 * first, so errors, kernel fds, nesting and fork behave as the kernel's. An instance
 * with no offloaded socket waits with the plain kernel call. Otherwise epoll_wait
 * takes user-space ready events, spins on the sockets' rings (spin.c policy, the
 * kernel epoll checked with timeout 0 every SHIM_SELECT_POLL_OS_RATIO passes), then
 * sleeps in the kernel epoll, where the rings' wake fds and the instance's eventfd
 * wait too. Kernel-twin events and user-space events of one socket come out as one. */
#include <errno.h>

#include "intercept/intercept.h"
#include "iomux/epfd.h"

/* The kernel's own limit on maxevents (INT_MAX / sizeof(struct epoll_event)). */
#define EP_MAX_EVENTS ((int)(0x7fffffff / sizeof(struct epoll_event)))

static int track_new(int fd)
{
	struct epfd *ep;

	if (fd < 0 || unlikely(!shim_ready()))
		return fd;
	int saved = errno;

	fdt_forget_stale(fd);
	ep = epfd_new(fd);
	if (ep && fdt_install(&ep->base) < 0)
		fd_put(&ep->base);
	/* Without an object the instance still works, for kernel fds only. */
	errno = saved;
	return fd;
}

int epoll_create(int size)
{
	return track_new(SYS(epoll_create)(size));
}

int epoll_create1(int flags)
{
	return track_new(SYS(epoll_create1)(flags));
}

/* The instance object of epfd, made now if the epoll fd predates the library. */
static struct epfd *instance(int epfd)
{
	struct epfd *ep = epfd_get(epfd);

	if (ep)
		return ep;
	ep = epfd_new(epfd);
	if (!ep)
		return NULL;
	fd_hold(&ep->base);
	if (fdt_install(&ep->base) < 0) {
		fd_put(&ep->base);
		fd_put(&ep->base);
		return epfd_get(epfd);
	}
	return ep;
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct shim_fd *f;
	struct epfd *ep;
	int saved, r;

	if (unlikely(!shim_ready()))
		return SYS(epoll_ctl)(epfd, op, fd, ev);
	r = sys_epoll_ctl(epfd, op, fd, ev);
	if (r < 0 || likely(!(fdt_peek(fd) & ~FDT_BITS)))
		return r;	/* the kernel's error, or a kernel fd: nothing more to do */
	saved = errno;
	f = fdt_get(fd);
	if (f && op != EPOLL_CTL_DEL) {
		void (*watch)(struct shim_fd *) = __atomic_load_n(&f->ops, __ATOMIC_ACQUIRE)->watch;

		if (unlikely(watch != NULL))
			watch(f);
	}
	if (!f || !iomux_is_user(f) || (op != EPOLL_CTL_DEL && !ev)) {
		fd_put(f);
		return r;
	}
	ep = instance(epfd);
	if (ep) {
		r = epfd_ctl(ep, op, fd, f, ev);
		if (r < 0 && op == EPOLL_CTL_ADD)
			sys_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);	/* all or nothing */
		fd_put(&ep->base);
	}
	fd_put(f);
	return (int)shim_ret(r, saved);
}

static int ns_to_ms(int64_t ns)
{
	if (ns < 0)
		return -1;
	ns = (ns + 999999) / 1000000;
	return ns > 0x7fffffff ? 0x7fffffff : (int)ns;
}

/* An instance with user-space items but no ring to spin on (sockets not offloaded,
 * nested instances of kernel fds): ready items, else one kernel wait with the
 * caller's own timeout and mask (an item that becomes ready meanwhile writes our
 * eventfd, which sits in the kernel epoll). -EAGAIN: only our eventfd spoke; the
 * caller goes on the general way. */
static int ep_wait_plain(struct epfd *ep, struct epoll_event *evs, int max, int64_t tmo_ns,
			 const sigset_t *mask, bool precise, unsigned gen)
{
	bool tagged = false;
	int n, k;

	pthread_mutex_lock(&ep->mtx);
	n = epfd_harvest(ep, evs, 0, max, ++ep->seq);
	if (n > 0 && n < max && (k = sys_epoll_wait(ep->base.fd, evs + n, max - n, 0)) > 0)
		n += epfd_kernel_events(ep, evs, n, k, ep->seq, &tagged);
	pthread_mutex_unlock(&ep->mtx);
	if (n)
		return n;
	__atomic_add_fetch(&ep->sleepers, 1, __ATOMIC_ACQ_REL);
	if (!epfd_rd_empty(ep) || iomux_rings_gen() != gen) {
		k = -EAGAIN;	/* ready meanwhile, or an item gained rings */
	} else if (precise) {
		struct timespec ts;

		k = sys_epoll_pwait2(ep->base.fd, evs, max, iomux_ns_to_ts(tmo_ns, &ts), mask);
	} else {
		k = sys_epoll_pwait(ep->base.fd, evs, max, ns_to_ms(tmo_ns), mask);
	}
	if (k < 0 && k != -EAGAIN)
		k = -errno;
	__atomic_sub_fetch(&ep->sleepers, 1, __ATOMIC_ACQ_REL);
	if (k <= 0)
		return k;
	pthread_mutex_lock(&ep->mtx);
	n = epfd_kernel_events(ep, evs, 0, k, ++ep->seq, &tagged);
	n = epfd_harvest(ep, evs, n, max, ep->seq);
	pthread_mutex_unlock(&ep->mtx);
	return n ? n : -EAGAIN;
}

/* ep->mtx held: bring the instance's rings up to date and copy them into rs; the
 * generation they belong to. */
static unsigned load_rings(struct epfd *ep, struct iomux_rings *rs)
{
	epfd_maint(ep);
	iomux_rings_clear(rs);
	for (int i = 0; i < ep->rings.n; i++)
		iomux_rings_add(rs, ep->rings.r[i]);
	return ep->rings_gen;
}

/* One wait over a mixed instance; tmo_ns -1 forever. */
static int ep_wait(struct epfd *ep, struct epoll_event *evs, int max, int64_t tmo_ns,
		   const sigset_t *mask, bool precise)
{
	struct iomux_call c;
	struct iomux_rings rs;
	int n = 0, k = 0, arm_retries = 0;
	bool kernel_fresh = false, tagged;
	unsigned gen;

	iomux_rings_init(&rs);
	pthread_mutex_lock(&ep->mtx);
	gen = load_rings(ep, &rs);
	ep->active++;
	pthread_mutex_unlock(&ep->mtx);
	if (!rs.n) {
		int64_t t0 = iomux_now_ns();

		n = ep_wait_plain(ep, evs, max, tmo_ns, mask, precise, gen);
		if (n != -EAGAIN)
			goto out_active;
		if (tmo_ns > 0)
			tmo_ns = tmo_ns > iomux_now_ns() - t0 ? tmo_ns - (iomux_now_ns() - t0) : 0;
		if (iomux_rings_gen() != gen) {
			pthread_mutex_lock(&ep->mtx);
			gen = load_rings(ep, &rs);
			pthread_mutex_unlock(&ep->mtx);
		}
	}
	iomux_call_start(&c, tmo_ns, mask);
	/* Whatever the rings hold now is part of the first answer (timeout 0 too). */
	iomux_rings_poll(&rs);

	for (;;) {
		uint64_t seq;

		tagged = false;
		/* The common spinning pass: nothing ready, no kernel check due. */
		if (!kernel_fresh && epfd_rd_empty(ep) && c.passes && c.tmo_ns &&
		    (!c.cfg.os_ratio || c.passes % c.cfg.os_ratio)) {
			n = 0;
			goto spin;
		}
		pthread_mutex_lock(&ep->mtx);
		seq = ++ep->seq;
		if (kernel_fresh) {
			n = epfd_kernel_events(ep, evs, 0, k, seq, &tagged);
			n = epfd_harvest(ep, evs, n, max, seq);
		} else {
			bool os_done = false;
			int nk = 0;

			/* Fairness when maxevents is the limit: the kernel's single ready
			 * list serves its items in turn; here, after a call that user-space
			 * items filled, the kernel's events go first. */
			if (ep->kernel_first) {
				k = sys_epoll_wait(ep->base.fd, evs, max, 0);
				if (k < 0) {
					n = -errno;
					pthread_mutex_unlock(&ep->mtx);
					break;
				}
				nk = epfd_kernel_events(ep, evs, 0, k, seq, &tagged);
				os_done = true;
			}
			n = epfd_harvest(ep, evs, nk, max, seq);
			if (n > nk)
				c.found_offloaded = true;
			if (!os_done && n < max && iomux_os_due(&c, n > 0)) {
				k = sys_epoll_wait(ep->base.fd, evs + n, max - n, 0);
				if (k < 0) {
					n = -errno;
					pthread_mutex_unlock(&ep->mtx);
					break;
				}
				n += epfd_kernel_events(ep, evs, n, k, seq, &tagged);
			}
			ep->kernel_first = n == max && n > nk && !ep->kernel_first;
		}
		pthread_mutex_unlock(&ep->mtx);
		kernel_fresh = false;
		if (n > 0)
			break;
		if (tagged && rs.n && iomux_rings_poll(&rs) > 0 && c.tmo_ns == 0 && !c.passes++)
			continue;	/* frames behind our tag: one more look */
spin:
		/* A signal that arrived counts, even when the time is also up. */
		if (iomux_interrupted(&c)) {
			n = -EINTR;
			break;
		}
		if (c.tmo_ns == 0 || (c.deadline >= 0 && iomux_left_ns(&c) == 0))
			break;
		if (rs.n && iomux_may_spin(&c)) {
			iomux_rings_poll(&rs);
			continue;
		}
		if (rs.n && arm_retries < 3 && iomux_rings_arm(&rs) == -EAGAIN) {
			arm_retries++;
			iomux_rings_poll(&rs);
			continue;
		}
		arm_retries = 0;

		/* Sleep in the kernel epoll: its kernel fds, the sockets' kernel twins, the
		 * rings' wake fds and our eventfd. Signals stay blocked from the last
		 * check until epoll_pwait() unblocks them atomically with the sleep. */
		sigset_t all, cur;
		int64_t t0;

		__atomic_add_fetch(&ep->sleepers, 1, __ATOMIC_ACQ_REL);
		if (!epfd_rd_empty(ep) || iomux_rings_gen() != gen) {
			__atomic_sub_fetch(&ep->sleepers, 1, __ATOMIC_ACQ_REL);
			if (iomux_rings_gen() != gen) {
				/* An item gained rings: spin and sleep on them too. */
				pthread_mutex_lock(&ep->mtx);
				gen = load_rings(ep, &rs);
				pthread_mutex_unlock(&ep->mtx);
			}
			continue;
		}
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &cur);
		if (iomux_interrupted(&c)) {
			pthread_sigmask(SIG_SETMASK, &cur, NULL);
			__atomic_sub_fetch(&ep->sleepers, 1, __ATOMIC_ACQ_REL);
			n = -EINTR;
			break;
		}
		t0 = iomux_now_ns();
		if (precise) {
			struct timespec ts;

			k = sys_epoll_pwait2(ep->base.fd, evs, max, iomux_ns_to_ts(iomux_left_ns(&c), &ts), &cur);
		} else {
			k = sys_epoll_pwait(ep->base.fd, evs, max, iomux_left_ms(&c), &cur);
		}
		if (k < 0)
			n = -errno;
		pthread_sigmask(SIG_SETMASK, &cur, NULL);
		__atomic_sub_fetch(&ep->sleepers, 1, __ATOMIC_ACQ_REL);
		c.block_ns += iomux_now_ns() - t0;
		c.slept = true;
		if (k < 0)
			break;
		if (iomux_rings_gen() != gen) {
			pthread_mutex_lock(&ep->mtx);
			gen = load_rings(ep, &rs);
			pthread_mutex_unlock(&ep->mtx);
		}
		if (rs.n)
			iomux_rings_poll(&rs);
		kernel_fresh = true;
	}
	iomux_call_end(&c, ep->st, n);
out_active:
	pthread_mutex_lock(&ep->mtx);
	if (--ep->active == 0)
		epfd_put_zombies(ep);
	pthread_mutex_unlock(&ep->mtx);
	iomux_rings_free(&rs);
	return n;
}

/* The instance of epfd when it has offloaded sockets (a reference), else NULL. */
static struct epfd *mixed(int epfd)
{
	struct epfd *ep;

	if (likely(!iomux_any_offloaded()) || !(fdt_peek(epfd) & ~FDT_BITS))
		return NULL;
	ep = epfd_get(epfd);
	if (ep && !__atomic_load_n(&ep->nitems, __ATOMIC_ACQUIRE)) {
		fd_put(&ep->base);
		return NULL;
	}
	return ep;
}

static int wait_common(struct epfd *ep, struct epoll_event *evs, int max, int64_t tmo_ns,
		       const sigset_t *mask, bool precise)
{
	int saved = errno, r;

	if (max <= 0 || max > EP_MAX_EVENTS)
		r = -EINVAL;
	else if (!evs)
		r = -EFAULT;
	else
		r = ep_wait(ep, evs, max, tmo_ns, mask, precise);
	fd_put(&ep->base);
	return (int)shim_ret(r, saved);
}

int epoll_wait(int epfd, struct epoll_event *evs, int maxevents, int tmo)
{
	struct epfd *ep;

	if (unlikely(!shim_ready()) || !(ep = mixed(epfd)))
		return SYS(epoll_wait)(epfd, evs, maxevents, tmo);
	return wait_common(ep, evs, maxevents, iomux_ms_to_ns(tmo), NULL, false);
}

int epoll_pwait(int epfd, struct epoll_event *evs, int maxevents, int tmo, const __sigset_t *mask)
{
	struct epfd *ep;

	if (unlikely(!shim_ready()) || !(ep = mixed(epfd)))
		return SYS(epoll_pwait)(epfd, evs, maxevents, tmo, mask);
	return wait_common(ep, evs, maxevents, iomux_ms_to_ns(tmo), mask, false);
}

int epoll_pwait2(int epfd, struct epoll_event *evs, int maxevents, const struct timespec *tmo,
		 const __sigset_t *mask)
{
	struct epfd *ep;
	int64_t ns;

	if (unlikely(!shim_ready()) || iomux_ts_to_ns(tmo, &ns) < 0 || !(ep = mixed(epfd)))
		return SYS(epoll_pwait2)(epfd, evs, maxevents, tmo, mask);
	return wait_common(ep, evs, maxevents, ns, mask, true);
}
