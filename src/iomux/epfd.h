/* epfd.h — the epoll instance object shared by epfd.c (interest list, ready list,
 * ring registrations, the object's fd ops) and epoll.c (the calls). The application
 * holds the real kernel epoll fd: kernel fds and the kernel twin of every offloaded
 * socket are registered in it unchanged (so the kernel sees OS-path traffic and the
 * fd works in any outer poll/select/epoll, and across fork). Offloaded sockets are
 * also kept here, in a user-space interest list fed by their wait queues into an
 * O(1) ready list; the rings' wake fds and our own eventfd sit in the kernel epoll
 * under a private tag, edge-triggered, so one kernel wait sleeps on everything. */
#ifndef SHIM_IOMUX_EPFD_H
#define SHIM_IOMUX_EPFD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "iomux/iomux.h"

/* Event bits (vs. the flags EPOLLET, EPOLLONESHOT, EPOLLEXCLUSIVE, EPOLLWAKEUP). */
#define EP_FLAGS (EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)
#define EP_EVENTS (~(uint32_t)EP_FLAGS)

struct epfd;

struct ep_item {
	struct shim_waiter w;		/* on the object's wait queue */
	struct epfd *ep;
	struct shim_fd *f;		/* referenced while the item lives */
	int fd;
	uint32_t events;		/* as registered; EP_EVENTS bits cleared once a
					 * EPOLLONESHOT item fired (disabled) */
	uint64_t data;
	struct ep_item *rd_next, *rd_prev;	/* ready list, under ep->rdlock */
	bool on_rd;
	bool dead;			/* the object was closed */
	bool offloaded;			/* the object has rings (last ring sync): else
					 * its kernel twin tells everything */
	struct ep_item *fd_next;	/* interest hash by fd */
	struct ep_item *d_next;		/* hash by user data (kernel twin events) */
	uint64_t stamp;			/* call that reported it ... */
	int out;			/* ... at this index of the caller's array */
	struct ep_item *zombie_next;
};

struct epfd {
	struct shim_fd base;		/* first: the fd table's object at the epoll fd */
	pthread_mutex_t mtx;		/* interest list, hashes, rings, harvest */
	int rdlock;			/* ready list spin lock */
	struct ep_item *rd_head, *rd_tail;
	struct ep_item **fdh, **dh;	/* hashes, hsize buckets each */
	unsigned hsize;
	unsigned nitems;		/* user-space items (read without the lock) */
	int sleepers;			/* threads in the kernel wait (atomic) */
	int wake_efd;			/* eventfd in the kernel epoll under tag; -1 none */
	uint64_t tag;			/* data of our own registrations */
	struct iomux_rings rings;	/* ring wake fds registered in the kernel epoll */
	unsigned rings_gen;
	bool rings_valid;
	int active;			/* waiters spinning on a copy of rings */
	struct ep_item *zombies;	/* removed while active: put when it drops to 0 */
	uint64_t seq;			/* harvest sequence (stamps) */
	struct shim_iomux_stats *st;
	bool kernel_first;		/* next harvest starts with the kernel's events */
	bool forked;			/* fork child: the kernel epoll is shared, leave our
					 * registrations in it alone */
};

/* epfd.c */
struct epfd *epfd_new(int fd);
/* The epoll object at fd with a reference, or NULL (not an epoll we track). */
struct epfd *epfd_get(int fd);
/* After the kernel accepted (op, fd, ev) on ep's fd: mirror it for a user-space
 * object f (referenced by the caller). 0 or -errno. */
int epfd_ctl(struct epfd *ep, int op, int fd, struct shim_fd *f, const struct epoll_event *ev);
/* mtx held: refresh ring registrations when any object's ring set changed, drop
 * dead items. */
void epfd_maint(struct epfd *ep);
/* mtx held: move ready user-space items into evs[n..max); returns the new n. */
int epfd_harvest(struct epfd *ep, struct epoll_event *evs, int n, int max, uint64_t seq);
/* mtx held: compact kernel results evs[base..base+k): drop our tag (sets *tagged),
 * merge kernel-twin events with user-space items of this call. Returns the count kept. */
int epfd_kernel_events(struct epfd *ep, struct epoll_event *evs, int base, int k, uint64_t seq,
		       bool *tagged);
/* mtx held: drop item references parked while waiters were active. */
void epfd_put_zombies(struct epfd *ep);
bool epfd_rd_empty(struct epfd *ep);

#endif
