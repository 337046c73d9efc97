/* epfd.c — the epoll instance object (epfd.h): user-space interest items of offloaded
 * sockets (and of nested epoll instances), their O(1) ready list fed from the
 * objects' wait queues, the harvest with the kernel's level/edge/one-shot rules, the
 * merge of kernel-twin events, ring wake-fd registrations, and the fd ops that let
 * the instance itself sit in poll/select/another epoll (poll_ready, rx_rings). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "intercept/intercept.h"
#include "iomux/epfd.h"
#include "ring/ring.h"

static const struct fd_ops epfd_ops;

/* --- ready list ------------------------------------------------------------------ */
static void rd_lock(struct epfd *ep)
{
	while (__atomic_exchange_n(&ep->rdlock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&ep->rdlock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static void rd_unlock(struct epfd *ep)
{
	__atomic_store_n(&ep->rdlock, 0, __ATOMIC_RELEASE);
}

static void rd_append_locked(struct epfd *ep, struct ep_item *it)
{
	it->rd_next = NULL;
	it->rd_prev = ep->rd_tail;
	if (ep->rd_tail)
		ep->rd_tail->rd_next = it;
	else
		ep->rd_head = it;
	ep->rd_tail = it;
	it->on_rd = true;
}

static void rd_unlink_locked(struct epfd *ep, struct ep_item *it)
{
	if (it->rd_prev)
		it->rd_prev->rd_next = it->rd_next;
	else
		ep->rd_head = it->rd_next;
	if (it->rd_next)
		it->rd_next->rd_prev = it->rd_prev;
	else
		ep->rd_tail = it->rd_prev;
	it->rd_next = it->rd_prev = NULL;
	it->on_rd = false;
}

bool epfd_rd_empty(struct epfd *ep)
{
	return !__atomic_load_n(&ep->rd_head, __ATOMIC_ACQUIRE);
}

/* Wake a thread sleeping in this instance's kernel epoll through our eventfd. */
static void ep_kick(struct epfd *ep)
{
	if (__atomic_load_n(&ep->sleepers, __ATOMIC_ACQUIRE) > 0 && ep->wake_efd >= 0) {
		uint64_t one = 1;

		if (sys_write(ep->wake_efd, &one, sizeof(one)) < 0) {
			/* saturated: the sleeper is being woken anyway */
		}
	}
}

/* Put it on the ready list; wake a sleeper of this instance and the waiters of the
 * instance itself (outer epolls, poll/select sleepers). True when a sleeper woke. */
static bool ep_queue(struct epfd *ep, struct ep_item *it)
{
	bool was_empty = false, woke = false;

	rd_lock(ep);
	if (!it->on_rd) {
		was_empty = !ep->rd_head;
		rd_append_locked(ep, it);
	}
	rd_unlock(ep);
	if (__atomic_load_n(&ep->sleepers, __ATOMIC_ACQUIRE) > 0 && ep->wake_efd >= 0) {
		ep_kick(ep);
		woke = true;
	}
	if (was_empty)
		shim_fd_wake(&ep->base, EPOLLIN);
	return woke;
}

static bool item_wake(struct shim_waiter *w, unsigned events)
{
	struct ep_item *it = (struct ep_item *)w;
	uint32_t want = __atomic_load_n(&it->events, __ATOMIC_RELAXED);

	if (events & SHIM_WAKE_CLOSE) {
		/* The object is closed: the item goes at the next harvest or ctl. */
		__atomic_store_n(&it->dead, true, __ATOMIC_RELEASE);
		ep_queue(it->ep, it);
		return false;
	}
	if (events & SHIM_WAKE_RINGS) {
		/* The object gained or lost rings: a sleeper of this instance must wait
		 * on the new rings' wake fds, and so must the waiters of an outer set
		 * that holds this instance. */
		ep_kick(it->ep);
		shim_fd_wake(&it->ep->base, SHIM_WAKE_RINGS);
		return false;
	}
	if (!(want & EP_EVENTS))
		return false;	/* one-shot item that fired: disabled until EPOLL_CTL_MOD */
	if (events && !(events & (want | EPOLLERR | EPOLLHUP)))
		return false;
	return ep_queue(it->ep, it);
}

/* --- hashes ------------------------------------------------------------------------ */
static unsigned hash_u64(uint64_t v, unsigned size)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return (unsigned)v & (size - 1);
}

static int hash_grow(struct epfd *ep)
{
	unsigned size = ep->hsize ? ep->hsize * 2 : 64;
	struct ep_item **fdh = calloc(size, sizeof(*fdh)), **dh = calloc(size, sizeof(*dh));

	if (!fdh || !dh) {
		free(fdh);
		free(dh);
		return -ENOMEM;
	}
	for (unsigned b = 0; b < ep->hsize; b++) {
		struct ep_item *it, *next;

		for (it = ep->fdh[b]; it; it = next) {
			unsigned h = hash_u64((uint64_t)it->fd, size);

			next = it->fd_next;
			it->fd_next = fdh[h];
			fdh[h] = it;
		}
		for (it = ep->dh[b]; it; it = next) {
			unsigned h = hash_u64(it->data, size);

			next = it->d_next;
			it->d_next = dh[h];
			dh[h] = it;
		}
	}
	free(ep->fdh);
	free(ep->dh);
	ep->fdh = fdh;
	ep->dh = dh;
	ep->hsize = size;
	return 0;
}

static struct ep_item *find_fd(struct epfd *ep, int fd)
{
	if (!ep->hsize)
		return NULL;
	for (struct ep_item *it = ep->fdh[hash_u64((uint64_t)fd, ep->hsize)]; it; it = it->fd_next)
		if (it->fd == fd)
			return it;
	return NULL;
}

static struct ep_item *find_data(struct epfd *ep, uint64_t data)
{
	if (!ep->hsize)
		return NULL;
	for (struct ep_item *it = ep->dh[hash_u64(data, ep->hsize)]; it; it = it->d_next)
		if (it->data == data)
			return it;
	return NULL;
}

static void data_unlink(struct epfd *ep, struct ep_item *it)
{
	struct ep_item **pp = &ep->dh[hash_u64(it->data, ep->hsize)];

	while (*pp && *pp != it)
		pp = &(*pp)->d_next;
	if (*pp)
		*pp = it->d_next;
}

static void data_link(struct epfd *ep, struct ep_item *it)
{
	unsigned h = hash_u64(it->data, ep->hsize);

	it->d_next = ep->dh[h];
	ep->dh[h] = it;
}

/* --- our own registrations in the kernel epoll ------------------------------------ */
static int kreg(struct epfd *ep, int op, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = ep->tag };

	if (ep->forked)
		return 0;
	return sys_epoll_ctl(ep->base.fd, op, fd, &ev) < 0 ? -errno : 0;
}

static uint64_t new_tag(struct epfd *ep)
{
	uint64_t t = (uint64_t)(uintptr_t)ep ^ ((uint64_t)iomux_now_ns() << 17) ^ 0x9e3779b97f4a7c15ULL;

	return t ? t : 1;
}

/* The application registered data equal to our tag: pick another one. */
static void retag(struct epfd *ep)
{
	ep->tag = new_tag(ep) ^ ep->tag;
	if (ep->wake_efd >= 0)
		kreg(ep, EPOLL_CTL_MOD, ep->wake_efd);
	for (int i = 0; i < ep->rings.n; i++)
		kreg(ep, EPOLL_CTL_MOD, ep->rings.r[i]->wake_fd);
}

/* Bring the ring wake fds registered in the kernel epoll in line with the items.
 * Fds of rings no longer needed are left registered: a ring that is closed leaves
 * the kernel epoll by itself, and deleting by number could hit an unrelated file
 * that took the number since; a ring still open only costs a spurious wake-up
 * (edge-triggered, under our tag). Every current ring is (re)added: EEXIST is fine. */
static void sync_rings(struct epfd *ep)
{
	struct iomux_rings now;
	/* Read before the rings: a change while we collect them leaves the generation
	 * behind, and the next maintenance looks again. */
	unsigned gen = iomux_rings_gen();

	iomux_rings_init(&now);
	for (unsigned b = 0; b < ep->hsize; b++)
		for (struct ep_item *it = ep->fdh[b]; it; it = it->fd_next)
			it->offloaded = !it->dead && iomux_rings_add_fd(&now, it->f) > 0;
	for (int j = 0; j < now.n; j++) {
		int r = kreg(ep, EPOLL_CTL_ADD, now.r[j]->wake_fd);

		if (r < 0 && r != -EEXIST)
			log_dbg("epoll %d: ring wake fd %d not registered (%d)", ep->base.fd,
				now.r[j]->wake_fd, r);
	}
	bool changed = now.n != ep->rings.n;

	for (int j = 0; j < now.n && !changed; j++)
		changed = now.r[j] != ep->rings.r[j];
	if (changed && ep->rings_valid)
		iomux_rings_gen_bump();	/* for instances that hold this one */
	iomux_rings_free(&ep->rings);
	ep->rings = now;
	if (now.r == now.inl)
		ep->rings.r = ep->rings.inl;
	ep->rings_gen = gen;
	ep->rings_valid = true;
}

/* --- items --------------------------------------------------------------------------- */
static void item_put(struct epfd *ep, struct ep_item *it)
{
	if (__atomic_load_n(&ep->active, __ATOMIC_ACQUIRE)) {
		/* A waiter may be polling this object's rings right now. */
		it->zombie_next = ep->zombies;
		ep->zombies = it;
		return;
	}
	fd_put(it->f);
	free(it);
}

void epfd_put_zombies(struct epfd *ep)
{
	struct ep_item *it = ep->zombies, *next;

	ep->zombies = NULL;
	for (; it; it = next) {
		next = it->zombie_next;
		fd_put(it->f);
		free(it);
	}
}

/* mtx held: unlink it everywhere; the reference goes after the rings are synced. */
static void item_unlink(struct epfd *ep, struct ep_item *it)
{
	struct ep_item **pp = &ep->fdh[hash_u64((uint64_t)it->fd, ep->hsize)];

	shim_waitq_del(&it->f->wq, &it->w);
	while (*pp && *pp != it)
		pp = &(*pp)->fd_next;
	if (*pp)
		*pp = it->fd_next;
	data_unlink(ep, it);
	rd_lock(ep);
	if (it->on_rd)
		rd_unlink_locked(ep, it);
	rd_unlock(ep);
	__atomic_store_n(&ep->nitems, ep->nitems - 1, __ATOMIC_RELEASE);
}

static void item_remove(struct epfd *ep, struct ep_item *it)
{
	item_unlink(ep, it);
	sync_rings(ep);
	item_put(ep, it);
}

/* The object's user-space readiness right now, for the item's events. */
static uint32_t item_ready(struct ep_item *it)
{
	uint32_t want = it->events & EP_EVENTS;

	if (!want)
		return 0;
	want |= EPOLLERR | EPOLLHUP;
	return it->f->ops->poll_ready(it->f, want) & want;
}

static int ensure_wake_efd(struct epfd *ep)
{
	int fd, r;

	if (ep->wake_efd >= 0)
		return 0;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	ep->wake_efd = fd;
	r = kreg(ep, EPOLL_CTL_ADD, fd);
	if (r < 0) {
		sys_close(fd);
		ep->wake_efd = -1;
	}
	return r;
}

static int item_add(struct epfd *ep, int fd, struct shim_fd *f, const struct epoll_event *ev)
{
	struct ep_item *it;
	int r;

	if ((r = ensure_wake_efd(ep)) < 0)
		return r;
	if ((ep->nitems + 1) * 2 > ep->hsize && (r = hash_grow(ep)) < 0)
		return r;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	shim_waiter_init(&it->w, item_wake, ev->events & EPOLLEXCLUSIVE);
	it->ep = ep;
	it->f = f;
	fd_hold(f);
	it->fd = fd;
	it->events = ev->events;
	it->data = ev->data.u64;
	unsigned h = hash_u64((uint64_t)fd, ep->hsize);

	it->fd_next = ep->fdh[h];
	ep->fdh[h] = it;
	data_link(ep, it);
	__atomic_store_n(&ep->nitems, ep->nitems + 1, __ATOMIC_RELEASE);
	if (!ep->st)
		ep->st = stats_iomux_open("epoll", ep->base.fd);
	STAT_MAX_MT(ep->st, fds_max, ep->nitems);
	shim_waitq_add(&f->wq, &it->w);
	sync_rings(ep);
	/* Like the kernel: an fd ready at registration is reported by the next wait. */
	if (item_ready(it))
		ep_queue(ep, it);
	return 0;
}

int epfd_ctl(struct epfd *ep, int op, int fd, struct shim_fd *f, const struct epoll_event *ev)
{
	struct ep_item *it;
	int r = 0;

	pthread_mutex_lock(&ep->mtx);
	it = find_fd(ep, fd);
	if (it && (it->dead || it->f != f)) {
		/* The fd number now names another object: the old registration followed
		 * its closed file out of the kernel epoll; it goes here too. */
		item_remove(ep, it);
		it = NULL;
	}
	switch (op) {
	case EPOLL_CTL_ADD:
		r = item_add(ep, fd, f, ev);
		break;
	case EPOLL_CTL_MOD:
		if (!it) {
			/* Registered before the object existed: start tracking it now. */
			r = item_add(ep, fd, f, ev);
			break;
		}
		data_unlink(ep, it);
		it->data = ev->data.u64;
		data_link(ep, it);
		__atomic_store_n(&it->events, ev->events, __ATOMIC_RELEASE);
		if (item_ready(it))
			ep_queue(ep, it);
		break;
	case EPOLL_CTL_DEL:
		if (it)
			item_remove(ep, it);
		break;
	}
	if (r == 0 && ev && op != EPOLL_CTL_DEL && ev->data.u64 == ep->tag)
		retag(ep);
	pthread_mutex_unlock(&ep->mtx);
	return r;
}

void epfd_maint(struct epfd *ep)
{
	if (!ep->rings_valid || ep->rings_gen != iomux_rings_gen())
		sync_rings(ep);
}

/* --- harvest --------------------------------------------------------------------------- */
static void put_back(struct epfd *ep, struct ep_item *list)
{
	struct ep_item *tail = list;

	if (!list)
		return;
	while (tail->rd_next)
		tail = tail->rd_next;
	rd_lock(ep);
	tail->rd_next = ep->rd_head;
	if (ep->rd_head)
		ep->rd_head->rd_prev = tail;
	else
		ep->rd_tail = tail;
	ep->rd_head = list;
	list->rd_prev = NULL;
	rd_unlock(ep);
}

int epfd_harvest(struct epfd *ep, struct epoll_event *evs, int n, int max, uint64_t seq)
{
	struct ep_item *list, *again = NULL, **again_tail = &again;
	unsigned off = 0;
	bool removed = false;

	if (epfd_rd_empty(ep))
		return n;
	rd_lock(ep);
	list = ep->rd_head;
	ep->rd_head = ep->rd_tail = NULL;
	rd_unlock(ep);
	while (list) {
		struct ep_item *it = list;
		uint32_t ev;

		if (n >= max && it->stamp != seq)
			break;
		list = it->rd_next;
		if (list)
			list->rd_prev = NULL;
		/* Off the list before asking the object: a wake-up from now on queues it
		 * again, so no readiness change is lost between the two. */
		rd_lock(ep);
		it->on_rd = false;
		it->rd_next = it->rd_prev = NULL;
		rd_unlock(ep);
		if (__atomic_load_n(&it->dead, __ATOMIC_ACQUIRE)) {
			item_unlink(ep, it);
			item_put(ep, it);
			removed = true;
			continue;
		}
		ev = it->offloaded ? item_ready(it) : 0;
		if (!ev)
			continue;
		if (it->stamp == seq) {
			evs[it->out].events |= ev;
		} else {
			evs[n].events = ev;
			evs[n].data.u64 = it->data;
			it->stamp = seq;
			it->out = n++;
		}
		if (ev & EPOLLIN)
			off++;
		if (it->events & EPOLLONESHOT)
			__atomic_store_n(&it->events, it->events & EP_FLAGS, __ATOMIC_RELEASE);
		else if (!(it->events & EPOLLET)) {
			/* Level-triggered: stays ready until a harvest finds it is not. */
			*again_tail = it;
			it->zombie_next = NULL;
			again_tail = &it->zombie_next;
		}
	}
	put_back(ep, list);
	if (removed)
		sync_rings(ep);
	if (again) {
		rd_lock(ep);
		for (struct ep_item *it = again; it; it = it->zombie_next)
			if (!it->on_rd)
				rd_append_locked(ep, it);
		rd_unlock(ep);
	}
	if (off && ep->st)
		STAT_ADD_MT(ep->st, rx_ready_offloaded, off);
	return n;
}

int epfd_kernel_events(struct epfd *ep, struct epoll_event *evs, int base, int k, uint64_t seq,
		       bool *tagged)
{
	int out = base;
	unsigned os = 0;

	for (int i = base; i < base + k; i++) {
		struct ep_item *it;

		if (evs[i].data.u64 == ep->tag) {
			*tagged = true;
			continue;
		}
		it = ep->nitems ? find_data(ep, evs[i].data.u64) : NULL;
		if (it && !it->dead) {
			/* The kernel twin of an offloaded socket: one event per fd. */
			if (!(it->events & EP_EVENTS))
				continue;	/* one-shot already fired in user space */
			if (it->stamp == seq) {
				evs[it->out].events |= evs[i].events;
				continue;
			}
			it->stamp = seq;
			it->out = out;
			if (it->events & EPOLLONESHOT)
				__atomic_store_n(&it->events, it->events & EP_FLAGS, __ATOMIC_RELEASE);
		}
		if (evs[i].events & EPOLLIN)
			os++;
		evs[out++] = evs[i];
	}
	if (os && ep->st)
		STAT_ADD_MT(ep->st, rx_ready_os, os);
	return out - base;
}

/* --- the object ---------------------------------------------------------------------- */
static void remove_all(struct epfd *ep)
{
	for (unsigned b = 0; b < ep->hsize; b++)
		while (ep->fdh[b]) {
			struct ep_item *it = ep->fdh[b];

			item_unlink(ep, it);
			item_put(ep, it);
		}
}

static int epfd_close(struct shim_fd *f)
{
	struct epfd *ep = (struct epfd *)f;

	shim_fd_wake(f, SHIM_WAKE_CLOSE);
	pthread_mutex_lock(&ep->mtx);
	remove_all(ep);
	pthread_mutex_unlock(&ep->mtx);
	return 0;
}

static void epfd_destroy(struct shim_fd *f)
{
	struct epfd *ep = (struct epfd *)f;

	remove_all(ep);
	ep->active = 0;
	epfd_put_zombies(ep);
	if (ep->wake_efd >= 0)
		sys_close(ep->wake_efd);
	iomux_rings_free(&ep->rings);
	if (ep->st)
		stats_iomux_close(ep->st);
	free(ep->fdh);
	free(ep->dh);
	pthread_mutex_destroy(&ep->mtx);
	free(ep);
}

/* This instance inside poll/select/another epoll: readable when a user-space item is
 * ready (the kernel side of the instance answers through its kernel fd). Items that
 * are no longer ready leave the list here, as a harvest would drop them. */
static unsigned epfd_poll_ready(struct shim_fd *f, unsigned events)
{
	struct epfd *ep = (struct epfd *)f;
	struct ep_item *list, *keep = NULL, **keep_tail = &keep;
	bool ready = false;

	if (!(events & (EPOLLIN | EPOLLRDNORM)) || epfd_rd_empty(ep))
		return 0;
	pthread_mutex_lock(&ep->mtx);
	rd_lock(ep);
	list = ep->rd_head;
	ep->rd_head = ep->rd_tail = NULL;
	rd_unlock(ep);
	while (list) {
		struct ep_item *it = list;

		list = it->rd_next;
		rd_lock(ep);
		it->on_rd = false;
		it->rd_next = it->rd_prev = NULL;
		rd_unlock(ep);
		if (it->dead || (it->offloaded && item_ready(it))) {
			ready |= !it->dead;
			*keep_tail = it;
			it->zombie_next = NULL;
			keep_tail = &it->zombie_next;
		}
	}
	rd_lock(ep);
	for (struct ep_item *it = keep; it; it = it->zombie_next)
		if (!it->on_rd)
			rd_append_locked(ep, it);
	rd_unlock(ep);
	pthread_mutex_unlock(&ep->mtx);
	return ready ? (events & (EPOLLIN | EPOLLRDNORM)) : 0;
}

static int epfd_rx_rings(struct shim_fd *f, struct ring **out, int max)
{
	struct epfd *ep = (struct epfd *)f;
	int n;

	pthread_mutex_lock(&ep->mtx);
	epfd_maint(ep);
	n = ep->rings.n;
	for (int i = 0; i < n && i < max; i++)
		out[i] = ep->rings.r[i];
	pthread_mutex_unlock(&ep->mtx);
	return n;
}

/* fork child: the kernel epoll (with our eventfd and ring fds in it) is shared with
 * the parent, which keeps using them; the child's items still follow its sockets. */
static void epfd_atfork_child(struct shim_fd *f)
{
	struct epfd *ep = (struct epfd *)f;

	pthread_mutex_init(&ep->mtx, NULL);
	ep->rdlock = 0;
	ep->sleepers = 0;
	ep->active = 0;
	ep->forked = true;
	/* The parent's rings are not ours: ask the items again (the array is dropped,
	 * not freed: it may be shared with nothing here, but it costs little). */
	iomux_rings_init(&ep->rings);
	ep->rings_valid = false;
}

static const struct fd_ops epfd_ops = {
	.name = "epoll",
	.close = epfd_close,
	.destroy = epfd_destroy,
	.poll_ready = epfd_poll_ready,
	.rx_rings = epfd_rx_rings,
	.atfork_child = epfd_atfork_child,
};

bool iomux_is_epoll(const struct shim_fd *f)
{
	return f && f->ops == &epfd_ops;
}

struct epfd *epfd_new(int fd)
{
	struct epfd *ep = calloc(1, sizeof(*ep));

	if (!ep)
		return NULL;
	ep->base.ops = &epfd_ops;
	ep->base.fd = fd;
	ep->base.domain = -1;
	ep->base.refcnt = 1;
	pthread_mutex_init(&ep->mtx, NULL);
	ep->wake_efd = -1;
	ep->tag = new_tag(ep);
	iomux_rings_init(&ep->rings);
	return ep;
}

struct epfd *epfd_get(int fd)
{
	struct shim_fd *f = fd_obj(fd);

	if (f && f->ops != &epfd_ops) {
		fd_put(f);
		return NULL;
	}
	return (struct epfd *)f;
}
