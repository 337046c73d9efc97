/* ring_stats.c — publishes each ring's counters to the stats segment (a ring block,
 * its completion-queue block and one block per buffer pool), so shim_stats shows
 * them. The data path counts in struct ring_stats inside the ring; the internal
 * thread copies them into the segment every RING_STATS_PERIOD_MS and at close, and
 * is the only writer of those blocks (the segment's single-writer rule). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal_thread.h"
#include "core/log.h"
#include "core/stats.h"
#include "ring/ring.h"
#include "ring/ring_stats.h"

#define RING_STATS_PERIOD_MS	100

struct ring_pub {
	struct ring_pub *next;
	struct ring *r;
	struct shim_ring_stats *ring;
	struct shim_cq_stats *cq;
	struct shim_bpool_stats *rxp, *txp;
};

static pthread_once_t task_once = PTHREAD_ONCE_INIT;
/* Every published ring, registry or not; the lock keeps a ring from closing while
 * the internal thread copies its counters. */
static pthread_mutex_t pub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ring_pub *pubs;

static void publish_task(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pub_lock);
	for (struct ring_pub *p = pubs; p; p = p->next)
		ring_stats_publish(p->r);
	pthread_mutex_unlock(&pub_lock);
}

static void start_task(void)
{
	int rc = internal_thread_add(publish_task, NULL, RING_STATS_PERIOD_MS);

	if (rc < 0)
		log_warn("ring: no internal thread (%s): ring stats are published at close only",
			 strerror(-rc));
}

void ring_stats_attach(struct ring *r)
{
	struct ring_pub *p = calloc(1, sizeof(*p));
	char label[IF_NAMESIZE + 32];

	r->stats_index = -1;
	if (!p)
		return;
	snprintf(label, sizeof(label), "%s:%d %s", r->ifname, r->index, r->ops->name);
	p->ring = stats_ring_open(label, r->ifindex, r->index);
	r->stats_index = stats_ring_index(p->ring);
	p->cq = stats_cq_open(label, r->stats_index);
	snprintf(label, sizeof(label), "%s:%d rx", r->ifname, r->index);
	p->rxp = stats_bpool_open(label);
	snprintf(label, sizeof(label), "%s:%d tx", r->ifname, r->index);
	p->txp = stats_bpool_open(label);
	p->r = r;
	r->pub = p;
	pthread_mutex_lock(&pub_lock);
	p->next = pubs;
	pubs = p;
	pthread_mutex_unlock(&pub_lock);
	pthread_once(&task_once, start_task);
}

void ring_stats_publish(struct ring *r)
{
	struct ring_pub *p = r->pub;
	struct ring_stats s;

	if (!p)
		return;
	ring_get_stats(r, &s);
	STAT_SET(p->ring, rx_packets, s.rx_packets);
	STAT_SET(p->ring, rx_bytes, s.rx_bytes);
	STAT_SET(p->ring, tx_packets, s.tx_packets);
	STAT_SET(p->ring, tx_bytes, s.tx_bytes);
	STAT_SET(p->ring, rx_drops, s.rx_drops + s.k_rx_dropped);
	STAT_SET(p->ring, tx_drops, s.tx_drops + s.k_tx_invalid);
	STAT_SET(p->ring, wakeups_requested, s.wakeups_requested);
	STAT_SET(p->ring, wakeups_received, s.wakeups_received);
	STAT_SET(p->ring, tx_completions, s.tx_completions);
	STAT_SET(p->ring, fill_level, s.fill_level);

	STAT_SET(p->cq, rx_drops, s.k_rx_ring_full + s.k_fill_empty);
	STAT_SET(p->cq, drained_max, s.rx_burst_max);
	STAT_SET(p->cq, bpool_size, s.rx_buf_total);
	STAT_SET(p->cq, polls, s.rx_polls);
	STAT_SET(p->cq, polls_empty, s.rx_empty_polls);

	STAT_SET(p->rxp, size, s.rx_buf_total);
	STAT_SET(p->rxp, free, s.rx_buf_free);
	STAT_SET(p->rxp, used_max, s.rx_buf_used_max);
	STAT_SET(p->rxp, buf_size, s.buf_size);
	STAT_SET(p->txp, size, s.tx_buf_total);
	STAT_SET(p->txp, free, s.tx_buf_free);
	STAT_SET(p->txp, used_max, s.tx_buf_used_max);
	STAT_SET(p->txp, alloc_failures, s.tx_no_buf);
	STAT_SET(p->txp, buf_size, s.buf_size);
}

void ring_stats_detach(struct ring *r)
{
	struct ring_pub *p = r->pub;

	if (!p)
		return;
	pthread_mutex_lock(&pub_lock);
	for (struct ring_pub **pp = &pubs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&pub_lock);
	ring_stats_publish(r);
	stats_bpool_close(p->txp);
	stats_bpool_close(p->rxp);
	stats_cq_close(p->cq);
	stats_ring_close(p->ring);
	free(p);
	r->pub = NULL;
	r->stats_index = -1;
}

void ring_stats_atfork_child(void)
{
	/* The internal thread may have held the lock at fork(); it is gone here. */
	pthread_mutex_init(&pub_lock, NULL);
}

void ring_stats_no_backend(void)
{
	STAT_INC_MT(stats_global(), no_backend);
}
