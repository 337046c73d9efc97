/* iomux.h — what select.c, poll.c, epoll.c and their helpers share: the spin-then-
 * sleep policy (SHIM_SELECT_POLL, _OS_RATIO, _SKIP_OS, _YIELD, SHIM_CPU_USAGE_STATS),
 * time and signal bookkeeping of one call, the set of rings a call spins on, and the
 * per-thread sleeper that offloaded objects wake through their wait queue
 * (sock/sock.h). Everything returns 0/count or -errno; the wrappers write errno. */
#ifndef SHIM_IOMUX_H
#define SHIM_IOMUX_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>

#include "core/stats.h"
#include "sock/sock.h"

/* The spin policy of one call, read from shim_params. */
struct iomux_cfg {
	long poll_us;		/* SHIM_SELECT_POLL: -1 forever, 0 never */
	unsigned os_ratio;	/* kernel check every N ring passes (0: only before sleeping) */
	unsigned skip_os;	/* kernel check after N calls that found offloaded events */
	bool yield;		/* sched_yield() between passes */
	bool cpu_stats;		/* measure polling vs blocked time */
};
void iomux_cfg_load(struct iomux_cfg *c);

/* Time: nanoseconds of CLOCK_MONOTONIC; a timeout is -1 (forever), 0 or > 0 ns. */
int64_t iomux_now_ns(void);
/* timespec timeout (NULL = forever) to ns; -EINVAL for a malformed one. */
int iomux_ts_to_ns(const struct timespec *ts, int64_t *out);
/* ns timeout to a timespec in *ts, or NULL for -1 (forever). */
struct timespec *iomux_ns_to_ts(int64_t ns, struct timespec *ts);
/* ms timeout (negative = forever) to ns. */
static inline int64_t iomux_ms_to_ns(int ms)
{
	return ms < 0 ? -1 : (int64_t)ms * 1000000;
}

/* One call's clock: deadline, spin end and accounting. */
struct iomux_call {
	struct iomux_cfg cfg;
	int64_t tmo_ns;		/* as given */
	int64_t start_ns;	/* 0 until the first time it is needed */
	int64_t deadline;	/* absolute; -1 none */
	int64_t spin_end;	/* absolute; -1 forever */
	uint64_t sig_snap;	/* shim_signal_snapshot() at entry */
	uint64_t passes;	/* ring passes so far */
	bool found_offloaded;	/* for SELECT_SKIP_OS and hit/miss stats */
	bool slept;
	int64_t block_ns;
	const sigset_t *mask;	/* p-variants: the mask for the call */
	sigset_t saved_mask;
	bool mask_set;
};
void iomux_call_start(struct iomux_call *c, int64_t tmo_ns, const sigset_t *mask);
/* Restore the caller's signal mask (p-variants) and publish stats. */
void iomux_call_end(struct iomux_call *c, struct shim_iomux_stats *st, int result);
/* A handled signal arrived since the call started: the call returns -EINTR. */
bool iomux_interrupted(struct iomux_call *c);
/* True while the call may keep spinning over rings (budget and deadline). */
bool iomux_may_spin(struct iomux_call *c);
/* Time left for a kernel sleep: -1 forever, else ns >= 0. */
int64_t iomux_left_ns(struct iomux_call *c);
/* ms for poll()/epoll_wait(), rounded up like the kernel's slack. */
int iomux_left_ms(struct iomux_call *c);
/* The kernel should be asked in this pass (ratio, skip-os, first/last pass). */
bool iomux_os_due(struct iomux_call *c, bool found_offloaded);
/* Per-thread counter behind SHIM_SELECT_SKIP_OS. */
bool iomux_skip_os(struct iomux_call *c);

/* The rings a call polls, deduplicated. Small sets live inline. */
#define IOMUX_RINGS_INLINE 16
struct iomux_rings {
	int n, cap;
	struct ring **r;
	struct ring *inl[IOMUX_RINGS_INLINE];
};
void iomux_rings_init(struct iomux_rings *rs);
void iomux_rings_free(struct iomux_rings *rs);
void iomux_rings_clear(struct iomux_rings *rs);
/* Add the rings of f (its rx_rings op); how many it has, or -ENOMEM. */
int iomux_rings_add_fd(struct iomux_rings *rs, struct shim_fd *f);
int iomux_rings_add(struct iomux_rings *rs, struct ring *r);
/* Poll every ring once; frames delivered. */
int iomux_rings_poll(struct iomux_rings *rs);
/* Arm every ring's wake fd before sleeping: 0, or -EAGAIN when frames are waiting. */
int iomux_rings_arm(struct iomux_rings *rs);

/* The calling thread's eventfd (created on first use), or -errno. */
int iomux_thread_efd(void);
/* Empty the thread's eventfd after a wake-up. */
void iomux_thread_efd_drain(int efd);

/* waitq.c */
void shim_waitq_add(struct shim_waitq *q, struct shim_waiter *w);
void shim_waitq_del(struct shim_waitq *q, struct shim_waiter *w);
static inline void shim_waiter_init(struct shim_waiter *w, shim_wake_fn fn, bool exclusive)
{
	w->fn = fn;
	w->next = NULL;
	w->prev = w;		/* self: not on any queue */
	w->exclusive = exclusive;
}
/* Objects that have rings now (shim_fd_rings_changed), and whether any object that
 * may gain rings was ever created (shim_fd_may_gain_rings): when neither, every
 * descriptor of the process is a kernel fd as far as select/poll/epoll are concerned. */
extern int iomux_nr_offloaded;
extern bool iomux_watch_all;
static inline bool iomux_any_offloaded(void)
{
	return __atomic_load_n(&iomux_nr_offloaded, __ATOMIC_RELAXED) > 0 ||
	       __atomic_load_n(&iomux_watch_all, __ATOMIC_RELAXED);
}
/* Generation of every object's ring set: bumped by shim_fd_rings_changed(). */
unsigned iomux_rings_gen(void);
/* An instance's own ring set changed (outer instances holding it must look again). */
void iomux_rings_gen_bump(void);
/* True when f is an offloaded-capable object (answers in user space). */
static inline bool iomux_is_user(const struct shim_fd *f)
{
	return f->ops && f->ops->poll_ready;
}

/* True when f answers in user space and has rings now (an offloaded socket, an
 * instance holding one): only these make a call leave the kernel's own path. A
 * socket that is not offloaded says no more than its kernel fd. */
bool iomux_offloaded(struct shim_fd *f);
/* True when a select/poll caller must watch f: it has rings, or may gain them while
 * the caller sleeps (then its wait queue says so, SHIM_WAKE_RINGS). */
bool iomux_watched(struct shim_fd *f);

/* Process-wide select/poll stats blocks (opened on first use). */
struct shim_iomux_stats *iomux_stats_poll(void);
struct shim_iomux_stats *iomux_stats_select(void);

/* poll.c: the engine under poll/ppoll/select/pselect when offloaded fds take part.
 * offl[] lists the indices of fds[] whose objects answer in user space, with a
 * reference held on each (released by the caller). */
struct iomux_pent {
	int idx;
	struct shim_fd *f;
	bool rings;	/* had rings when the call last collected them: else its
			 * kernel fd tells everything */
};
int iomux_poll_mixed(struct pollfd *fds, unsigned nfds, struct iomux_pent *offl, int noffl,
		     int64_t tmo_ns, const sigset_t *mask, struct shim_iomux_stats *st,
		     bool select_rules);
/* Collect the offloaded entries of fds[]: -ENOMEM, else their count (0: none, the
 * plain kernel call is right). *out is the caller's inline array or a malloc'ed one. */
int iomux_poll_scan(struct pollfd *fds, unsigned nfds, struct iomux_pent *inl, int ninl,
		    struct iomux_pent **out);
void iomux_poll_release(struct iomux_pent *offl, int n, struct iomux_pent *inl);

/* epoll.c / epfd.c: is this object an epoll instance of ours? */
bool iomux_is_epoll(const struct shim_fd *f);

#endif
