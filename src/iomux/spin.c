/* spin.c — the policy every multiplexing call follows once offloaded descriptors take
 * part: spin over the rings for SHIM_SELECT_POLL µs, look at the kernel every
 * SHIM_SELECT_POLL_OS_RATIO passes and after SHIM_SELECT_SKIP_OS offloaded hits,
 * then sleep in the kernel on the rings' wake fds. Here: the call's clock, signal
 * mask and EINTR rule, the ring set, the thread's wake eventfd and the stats. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/params.h"
#include "intercept/intercept.h"
#include "iomux/iomux.h"
#include "ring/ring.h"

void iomux_cfg_load(struct iomux_cfg *c)
{
	c->poll_us = shim_params.select_poll;
	c->os_ratio = (unsigned)shim_params.select_poll_os_ratio;
	c->skip_os = (unsigned)shim_params.select_skip_os;
	c->yield = shim_params.select_poll_yield;
	c->cpu_stats = shim_params.cpu_usage_stats;
	if (shim_params.select_poll_os_force) {
		c->os_ratio = 1;
		c->skip_os = 1;
	}
}

int64_t iomux_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int iomux_ts_to_ns(const struct timespec *ts, int64_t *out)
{
	if (!ts) {
		*out = -1;
		return 0;
	}
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
		return -EINVAL;
	if (ts->tv_sec > INT64_MAX / 1000000000 - 1)
		*out = -1;	/* centuries: forever */
	else
		*out = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
	return 0;
}

void iomux_call_start(struct iomux_call *c, int64_t tmo_ns, const sigset_t *mask)
{
	iomux_cfg_load(&c->cfg);
	c->tmo_ns = tmo_ns;
	c->start_ns = iomux_now_ns();
	c->deadline = tmo_ns < 0 ? -1 : c->start_ns + tmo_ns;
	c->spin_end = c->cfg.poll_us < 0 ? -1 : c->start_ns + c->cfg.poll_us * 1000;
	c->passes = 0;
	c->found_offloaded = false;
	c->slept = false;
	c->block_ns = 0;
	c->mask = mask;
	c->mask_set = false;
	/* The p-variants run with the caller's mask for the whole call, spinning
	 * included, so a signal it unblocks interrupts the spin (EINTR below). */
	if (mask && pthread_sigmask(SIG_SETMASK, mask, &c->saved_mask) == 0)
		c->mask_set = true;
	c->sig_snap = shim_signal_snapshot();
}

void iomux_call_end(struct iomux_call *c, struct shim_iomux_stats *st, int result)
{
	if (c->mask_set)
		pthread_sigmask(SIG_SETMASK, &c->saved_mask, NULL);
	if (!st)
		return;
	if (result < 0)
		STAT_INC_MT(st, errors);
	else if (result == 0)
		STAT_INC_MT(st, timeouts);
	if (result > 0 || c->passes) {
		if (c->slept)
			STAT_INC_MT(st, poll_miss);
		else if (result > 0)
			STAT_INC_MT(st, poll_hit);
	}
	if (c->cfg.cpu_stats) {
		int64_t total = iomux_now_ns() - c->start_ns;

		uint64_t polled = (uint64_t)(total - c->block_ns);

		STAT_ADD_MT(st, poll_ns, polled);
		STAT_ADD_MT(st, block_ns, (uint64_t)c->block_ns);
		/* Spinning that ended in a sleep or a timeout found nothing. */
		if (c->slept || result <= 0)
			STAT_ADD_MT(st, poll_idle_ns, polled);
	}
}

/* Any handled signal ends select/poll/epoll_wait with EINTR (none of them is
 * restarted after a handler, SA_RESTART or not). */
bool iomux_interrupted(struct iomux_call *c)
{
	return shim_signal_arrived(c->sig_snap);
}

bool iomux_may_spin(struct iomux_call *c)
{
	int64_t now;

	if (c->cfg.poll_us == 0 || c->tmo_ns == 0)
		return false;
	c->passes++;
	if (c->cfg.yield)
		sched_yield();
	/* The clock is cheap (vDSO) but not free: read it every few passes. */
	if ((c->passes & 7) && c->passes > 1)
		return true;
	now = iomux_now_ns();
	if (c->deadline >= 0 && now >= c->deadline)
		return false;
	return c->spin_end < 0 || now < c->spin_end;
}

struct timespec *iomux_ns_to_ts(int64_t ns, struct timespec *ts)
{
	if (ns < 0)
		return NULL;
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return ts;
}

int64_t iomux_left_ns(struct iomux_call *c)
{
	int64_t left;

	if (c->deadline < 0)
		return -1;
	left = c->deadline - iomux_now_ns();
	return left > 0 ? left : 0;
}

int iomux_left_ms(struct iomux_call *c)
{
	int64_t left = iomux_left_ns(c);

	if (left < 0)
		return -1;
	left = (left + 999999) / 1000000;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

bool iomux_os_due(struct iomux_call *c, bool found_offloaded)
{
	if (found_offloaded)
		return iomux_skip_os(c);
	if (c->passes == 0 || c->tmo_ns == 0)
		return true;
	return c->cfg.os_ratio && c->passes % c->cfg.os_ratio == 0;
}

static __thread unsigned skip_count;

bool iomux_skip_os(struct iomux_call *c)
{
	if (c->cfg.skip_os <= 1 || ++skip_count >= c->cfg.skip_os) {
		skip_count = 0;
		return true;
	}
	return false;
}

/* --- ring sets ------------------------------------------------------------------ */
void iomux_rings_init(struct iomux_rings *rs)
{
	rs->n = 0;
	rs->cap = IOMUX_RINGS_INLINE;
	rs->r = rs->inl;
}

void iomux_rings_free(struct iomux_rings *rs)
{
	if (rs->r != rs->inl)
		free(rs->r);
	iomux_rings_init(rs);
}

void iomux_rings_clear(struct iomux_rings *rs)
{
	rs->n = 0;
}

int iomux_rings_add(struct iomux_rings *rs, struct ring *r)
{
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i] == r)
			return 0;
	if (rs->n == rs->cap) {
		int cap = rs->cap * 2;
		struct ring **n = malloc(sizeof(*n) * (size_t)cap);

		if (!n)
			return -ENOMEM;
		memcpy(n, rs->r, sizeof(*n) * (size_t)rs->n);
		if (rs->r != rs->inl)
			free(rs->r);
		rs->r = n;
		rs->cap = cap;
	}
	rs->r[rs->n++] = r;
	return 0;
}

int iomux_rings_add_fd(struct iomux_rings *rs, struct shim_fd *f)
{
	struct ring *buf[16];
	int n;

	if (!f->ops->rx_rings)
		return 0;
	n = f->ops->rx_rings(f, buf, 16);
	if (n > 16)
		n = 16;		/* more rings than that for one socket: the rest via the kernel */
	for (int i = 0; i < n; i++) {
		int r = iomux_rings_add(rs, buf[i]);

		if (r)
			return r;
	}
	return n;
}

int iomux_rings_poll(struct iomux_rings *rs)
{
	int got = 0;

	for (int i = 0; i < rs->n; i++) {
		int r = ring_poll(rs->r[i], 0);

		if (r > 0)
			got += r;
	}
	return got;
}

int iomux_rings_arm(struct iomux_rings *rs)
{
	if (!shim_params.select_cq_irq)
		return 0;
	for (int i = 0; i < rs->n; i++)
		if (ring_arm(rs->r[i]) == -EAGAIN)
			return -EAGAIN;
	return 0;
}

bool iomux_offloaded(struct shim_fd *f)
{
	struct ring *buf[1];

	return iomux_is_user(f) && f->ops->rx_rings && f->ops->rx_rings(f, buf, 1) > 0;
}

bool iomux_watched(struct shim_fd *f)
{
	/* read once: the op may drop itself (and its watch op) meanwhile */
	void (*watch)(struct shim_fd *) = __atomic_load_n(&f->ops, __ATOMIC_ACQUIRE)->watch;

	if (unlikely(watch != NULL))
		watch(f);
	return iomux_is_user(f) && f->ops->rx_rings;
}

/* --- the thread's wake eventfd ------------------------------------------------- */
static pthread_key_t efd_key;
static pthread_once_t efd_once = PTHREAD_ONCE_INIT;
static __thread int thread_efd = -1;

static void efd_release(void *p)
{
	int fd = (int)(intptr_t)p - 1;

	if (fd >= 0)
		sys_close(fd);
}

/* A fork child shares the parent's eventfd file: it makes its own on first use. */
static void efd_atfork_child(void)
{
	if (thread_efd >= 0) {
		sys_close(thread_efd);
		thread_efd = -1;
		pthread_setspecific(efd_key, NULL);
	}
}

static void efd_key_init(void)
{
	pthread_key_create(&efd_key, efd_release);
	pthread_atfork(NULL, NULL, efd_atfork_child);
}

int iomux_thread_efd(void)
{
	int fd = thread_efd;

	if (fd >= 0)
		return fd;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	pthread_once(&efd_once, efd_key_init);
	pthread_setspecific(efd_key, (void *)(intptr_t)(fd + 1));
	thread_efd = fd;
	return fd;
}

void iomux_thread_efd_drain(int efd)
{
	uint64_t v;

	if (sys_read(efd, &v, sizeof(v)) < 0) {
		/* empty already: nothing to do */
	}
}

/* --- stats ------------------------------------------------------------------------ */
static struct shim_iomux_stats *open_once(struct shim_iomux_stats **slot, const char *label)
{
	struct shim_iomux_stats *s = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

	if (s)
		return s;
	s = stats_iomux_open(label, -1);
	struct shim_iomux_stats *expect = NULL;

	if (!__atomic_compare_exchange_n(slot, &expect, s, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		stats_iomux_close(s);
		s = expect;
	}
	return s;
}

static struct shim_iomux_stats *poll_stats, *select_stats;

struct shim_iomux_stats *iomux_stats_poll(void)
{
	return open_once(&poll_stats, "poll");
}

struct shim_iomux_stats *iomux_stats_select(void)
{
	return open_once(&select_stats, "select");
}
