/* waitq.c — the wait queue of an fd object (sock/sock.h): epoll interest items and
 * sleeping poll/select callers hang here, and the object's shim_fd_wake() calls them
 * when it becomes ready in user space (a datagram demultiplexed into its queue by
 * whichever thread polled the ring). Non-exclusive waiters sit at the head and are
 * all called; EPOLLEXCLUSIVE ones at the tail, until one of them woke a sleeper. */
#include <sched.h>

#include "iomux/iomux.h"

static unsigned rings_gen;
int iomux_nr_offloaded;
bool iomux_watch_all;

static void wq_lock(struct shim_waitq *q)
{
	while (__atomic_exchange_n(&q->lock, 1, __ATOMIC_ACQUIRE)) {
		int spins = 0;

		while (__atomic_load_n(&q->lock, __ATOMIC_RELAXED)) {
			if (++spins < 128)
				__builtin_ia32_pause();
			else
				sched_yield();
		}
	}
}

static void wq_unlock(struct shim_waitq *q)
{
	__atomic_store_n(&q->lock, 0, __ATOMIC_RELEASE);
}

static bool linked(const struct shim_waiter *w)
{
	return w->prev != w;
}

void shim_waitq_add(struct shim_waitq *q, struct shim_waiter *w)
{
	wq_lock(q);
	if (!w->exclusive || !q->head) {
		w->prev = NULL;
		w->next = q->head;
		if (q->head)
			q->head->prev = w;
		__atomic_store_n(&q->head, w, __ATOMIC_RELEASE);
	} else {
		struct shim_waiter *t = q->head;

		while (t->next)
			t = t->next;
		w->next = NULL;
		w->prev = t;
		t->next = w;
	}
	wq_unlock(q);
}

static void unlink_locked(struct shim_waitq *q, struct shim_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		__atomic_store_n(&q->head, w->next, __ATOMIC_RELEASE);
	if (w->next)
		w->next->prev = w->prev;
	w->next = NULL;
	w->prev = w;
}

void shim_waitq_del(struct shim_waitq *q, struct shim_waiter *w)
{
	/* Always under the lock: a close wake-up may be calling w right now. */
	wq_lock(q);
	if (linked(w))
		unlink_locked(q, w);
	wq_unlock(q);
}

void shim_waitq_wake(struct shim_waitq *q, unsigned events)
{
	struct shim_waiter *w, *next;

	wq_lock(q);
	for (w = q->head; w; w = next) {
		next = w->next;
		if (events & SHIM_WAKE_CLOSE) {
			/* The object goes away: every waiter hears it once and is dropped. */
			unlink_locked(q, w);
			w->fn(w, events);
			continue;
		}
		if (w->fn(w, events) && w->exclusive)
			break;
	}
	wq_unlock(q);
}

void shim_fd_rings_changed(struct shim_fd *f)
{
	struct ring *one[1];
	bool now = f->ops && f->ops->rx_rings && f->ops->rx_rings(f, one, 1) > 0;

	if (__atomic_exchange_n(&f->has_rings, now, __ATOMIC_ACQ_REL) != now)
		__atomic_add_fetch(&iomux_nr_offloaded, now ? 1 : -1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&rings_gen, 1, __ATOMIC_RELEASE);
	/* After the new generation is visible: a sleeper that wakes sees it and
	 * collects the new rings; one that is about to sleep compares generations. */
	shim_fd_wake(f, SHIM_WAKE_RINGS);
}

void shim_fd_may_gain_rings(const struct shim_fd *f)
{
	if (f->ops && f->ops->rx_rings && f->ops->poll_ready &&
	    !__atomic_load_n(&iomux_watch_all, __ATOMIC_RELAXED))
		__atomic_store_n(&iomux_watch_all, true, __ATOMIC_RELEASE);
}

void shim_fd_needs_watch(void)
{
	__atomic_store_n(&iomux_watch_all, true, __ATOMIC_RELEASE);
}

void iomux_rings_gen_bump(void)
{
	__atomic_add_fetch(&rings_gen, 1, __ATOMIC_RELEASE);
}

unsigned iomux_rings_gen(void)
{
	return __atomic_load_n(&rings_gen, __ATOMIC_ACQUIRE);
}
