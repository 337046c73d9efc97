/* ring_kick.c — TX kick batching. Where pushing queued frames to the device costs a
 * system call per send (AF_XDP copy mode), a streaming sender lets several sends
 * share one kick (SHIM_TX_KICK_BATCH). This file decides when a kick may wait and
 * makes sure it never waits long: deferred kicks are done by any ring poll or arm
 * of the process, at socket and ring close, at exit, and by a 1 ms internal-thread task that exists only
 * while kicks are being deferred. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "core/internal_thread.h"
#include "core/log.h"
#include "ring/ring.h"

#define KICK_TASK_MS		1	/* backstop for a sender that goes quiet */
#define KICK_TASK_IDLE_RUNS	1000	/* runs without a deferral before it leaves */

int ring_kicks_deferred;		/* rings with a deferred kick */
static int kick_task = -1;		/* internal-thread task id, -1 none */
static unsigned kick_task_idle;
static pthread_mutex_t kick_task_lock = PTHREAD_MUTEX_INITIALIZER;

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void kick_task_run(void *unused)
{
	(void)unused;
	if (__atomic_load_n(&ring_kicks_deferred, __ATOMIC_SEQ_CST)) {
		kick_task_idle = 0;
		ring_kick_deferred_slow(true);
		return;
	}
	if (++kick_task_idle < KICK_TASK_IDLE_RUNS)
		return;
	/* Idle: leave, so the thread goes back to its slow period. A sender that
	 * defers from now on sees -1 and starts the task again; one that deferred
	 * just before is caught by the last look below. */
	pthread_mutex_lock(&kick_task_lock);
	int id = kick_task;

	__atomic_store_n(&kick_task, -1, __ATOMIC_SEQ_CST);
	kick_task_idle = 0;
	pthread_mutex_unlock(&kick_task_lock);
	if (id >= 0)
		internal_thread_remove(id);
	ring_kick_deferred(true);
}

/* The backstop runs (0), or cannot (-errno: then do not defer). */
static int kick_task_ensure(void)
{
	int rc = 0;

	if (__atomic_load_n(&kick_task, __ATOMIC_SEQ_CST) >= 0)
		return 0;
	if (internal_thread_self())
		return -EDEADLK;
	pthread_mutex_lock(&kick_task_lock);
	if (kick_task < 0) {
		rc = internal_thread_add(kick_task_run, NULL, KICK_TASK_MS);
		if (rc >= 0) {
			__atomic_store_n(&kick_task, rc, __ATOMIC_SEQ_CST);
			rc = 0;
		} else {
			log_once(SHIM_LOG_INFO, "ring: no internal thread (%d): TX kicks "
				 "are not batched", rc);
		}
	}
	pthread_mutex_unlock(&kick_task_lock);
	return rc;
}

bool ring_tx_defer(struct ring *r)
{
	uint64_t now = mono_ns(), win = (uint64_t)r->cfg.tx_kick_usec * 1000u;

	if (r->kick_deferred)
		return now - r->kick_first_ns < win;
	/* The first send after a pause goes at once: a sender that sends one datagram
	 * and then computes pays nothing for the batching. */
	if (!r->registered || r->forked || now - r->kick_last_ns >= win)
		return false;
	__atomic_store_n(&r->kick_deferred, true, __ATOMIC_RELAXED);
	r->kick_first_ns = now;
	__atomic_fetch_add(&ring_kicks_deferred, 1, __ATOMIC_SEQ_CST);
	if (kick_task_ensure() < 0) {
		ring_tx_kicked(r);
		return false;
	}
	return true;
}

void ring_tx_kicked(struct ring *r)
{
	if (r->cfg.tx_kick_batch <= 1)
		return;
	r->kick_last_ns = mono_ns();
	if (r->kick_deferred) {
		__atomic_store_n(&r->kick_deferred, false, __ATOMIC_RELAXED);
		__atomic_fetch_sub(&ring_kicks_deferred, 1, __ATOMIC_SEQ_CST);
	}
}

/* Never waits for a tx lock: its holder is sending on that ring and either kicks
 * or defers again with its own deadline (and the backstop task). Spinning here could
 * also burn a whole time slice when the holder shares our core. */
static void kick_one(struct ring *r, void *unused)
{
	(void)unused;
	if (!__atomic_load_n(&r->kick_deferred, __ATOMIC_RELAXED) || !r->ops->tx_kick)
		return;
	if (pthread_spin_trylock(&r->tx_lock) != 0)
		return;
	if (r->kick_deferred)
		r->ops->tx_kick(r);
	ring_tx_unlock(r);
}

void ring_kick_deferred_slow(bool wait)
{
	if (wait)
		ring_for_each(kick_one, NULL);
	else
		ring_for_each_try(kick_one, NULL);
}

/* At exit the kernel closes the XSKs with whatever sits unkicked in their TX rings:
 * push it first. Bounded: a registry held by a thread that never lets go is left. */
__attribute__((destructor)) static void kick_at_exit(void)
{
	for (int i = 0; i < 1000 && __atomic_load_n(&ring_kicks_deferred, __ATOMIC_SEQ_CST); i++) {
		if (ring_for_each_try(kick_one, NULL))
			break;
		sched_yield();
	}
}
