/* ring.c — the ring registry and the RX demux. Rings are kept per interface and
 * handed to sockets by the allocation logic (SHIM_RING_ALLOCATION_LOGIC_RX/TX: per
 * interface, socket, thread or core) within SHIM_RING_LIMIT_PER_INTERFACE and the
 * backend's own limit. ring_poll() receives a batch, finds each frame's flow
 * (5-tuple, then 3-tuple, then multicast group) and hands it to the flow's sinks. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/params.h"
#include "core/tid.h"
#include "ring/ring.h"
#include "ring/ring_flow.h"
#include "ring/ring_stats.h"
#include "ring/ring_xdp.h"

#define RING_INHERIT_FD_BASE 1000
#define RING_INHERIT_MAX 32	/* flows of one socket: its rings, connection, groups */

/* Interfaces whose last attempt found no backend: retried after a while (another
 * process may have released the interface), logged once per interface. */
struct ring_dead {
	int ifindex;
	int rc;
	struct timespec when;
};
#define RING_DEAD_MAX		64
#define RING_RETRY_SEC		2

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ring *rings;
static struct ring_config reg_cfg;
static bool reg_cfg_set;
static struct ring_dead dead[RING_DEAD_MAX];
static uint64_t not_offloaded;
static pkt_take_fn frag_fn;
static void *frag_ctx;

void ring_config_default(struct ring_config *c)
{
	memset(c, 0, sizeof(*c));
	c->rx_bufs = 8192;
	c->tx_bufs = 4096;
	c->rx_wre = 2048;
	c->tx_wre = 2048;
	c->batch = 16;
	c->xdp_mode = RING_XDP_AUTO;
	c->zerocopy = 2;
	c->need_wakeup = true;
	c->backend = RING_BACKEND_AUTO;
	c->logic_rx = RING_LOGIC_PER_INTERFACE;
	c->logic_tx = RING_LOGIC_PER_INTERFACE;
	c->limit_per_if = 0;
	c->first_queue = -1;
	c->nqueues = 0;
	c->refill_batch = 16;
	c->tx_kick_batch = 1;
	c->tx_kick_usec = 50;
}

void ring_set_config(const struct ring_config *c)
{
	pthread_mutex_lock(&reg_lock);
	reg_cfg = *c;
	if (reg_cfg.batch == 0)
		reg_cfg.batch = 16;
	if (reg_cfg.batch > RING_BATCH_MAX)
		reg_cfg.batch = RING_BATCH_MAX;
	reg_cfg_set = true;
	pthread_mutex_unlock(&reg_lock);
}

static uint32_t clamp_u32(long v, uint32_t lo, uint32_t hi)
{
	return v < (long)lo ? lo : v > (long)hi ? hi : (uint32_t)v;
}

static int logic_of(long v)
{
	switch (v) {
	case SHIM_RING_PER_SOCKET: return RING_LOGIC_PER_SOCKET;
	case SHIM_RING_PER_THREAD: return RING_LOGIC_PER_THREAD;
	case SHIM_RING_PER_CORE:
	case SHIM_RING_PER_CORE_ATTACH: return RING_LOGIC_PER_CORE;	/* pinning is not ours */
	default: return RING_LOGIC_PER_INTERFACE;
	}
}

void ring_config_from_params(struct ring_config *c)
{
	const struct shim_params *p = &shim_params;

	ring_config_default(c);
	/* SHIM_RX_BUFS/TX_BUFS are per process in VMA; a ring takes what it needs up
	 * to the backend's own per-ring bound (the xdp backend caps its UMEM). */
	c->rx_bufs = clamp_u32(p->rx_bufs, 1, 1u << 24);
	c->tx_bufs = clamp_u32(p->tx_bufs, 1, 1u << 24);
	c->rx_wre = clamp_u32(p->rx_wre, 1, 1u << 20);
	c->tx_wre = clamp_u32(p->tx_wre, 1, 1u << 20);
	c->batch = clamp_u32(p->cq_poll_batch_max, 1, RING_BATCH_MAX);
	c->xdp_mode = p->xdp_mode == SHIM_XDP_MODE_NATIVE ? RING_XDP_NATIVE :
		      p->xdp_mode == SHIM_XDP_MODE_GENERIC ? RING_XDP_GENERIC : RING_XDP_AUTO;
	c->zerocopy = (int)p->xdp_zerocopy;
	c->backend = p->backend == SHIM_BACKEND_XDP ? RING_BACKEND_XDP :
		     p->backend == SHIM_BACKEND_VERBS ? RING_BACKEND_VERBS :
		     p->backend == SHIM_BACKEND_NONE ? RING_BACKEND_NONE : RING_BACKEND_AUTO;
	c->logic_rx = logic_of(p->ring_allocation_logic_rx);
	c->logic_tx = logic_of(p->ring_allocation_logic_tx);
	c->limit_per_if = (int)p->ring_limit_per_interface;
	c->refill_batch = clamp_u32(p->rx_wre_batching, 1, 1u << 16);
	c->tx_kick_batch = clamp_u32(p->tx_kick_batch, 1, 1u << 16);
	c->tx_kick_usec = clamp_u32(p->tx_kick_usec, 1, 1000000);
}

static const struct ring_config *reg_config(void)
{
	if (!reg_cfg_set) {
		ring_config_from_params(&reg_cfg);
		reg_cfg_set = true;
	}
	return &reg_cfg;
}

/* --- opening ---------------------------------------------------------------- */
static const struct ring_ops *pick_backend(int ifindex, const struct ring_config *cfg,
					   const char **why, int *rc)
{
	const struct ring_ops *cand[2];
	int n = 0;

	switch (cfg->backend) {
	case RING_BACKEND_NONE:
		*why = "SHIM_BACKEND=none";
		*rc = -ENODEV;
		return NULL;
	case RING_BACKEND_XDP:
		cand[n++] = &ring_xdp_ops;
		break;
	case RING_BACKEND_VERBS:
		if (&ring_verbs_ops)
			cand[n++] = &ring_verbs_ops;
		break;
	default:
		if (&ring_verbs_ops)
			cand[n++] = &ring_verbs_ops;
		cand[n++] = &ring_xdp_ops;
		break;
	}
	*why = "no backend built in";
	*rc = -ENODEV;
	for (int i = 0; i < n; i++) {
		*rc = cand[i]->probe(ifindex, cfg, why);
		if (*rc == 0)
			return cand[i];
	}
	return NULL;
}

static int ring_open_with(int ifindex, const struct ring_config *cfg,
			  const struct ring_ops *ops, int index, struct ring **out)
{
	struct ring *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->ops = ops;
	r->cfg = *cfg;
	if (r->cfg.batch == 0 || r->cfg.batch > RING_BATCH_MAX)
		r->cfg.batch = r->cfg.batch ? RING_BATCH_MAX : 16;
	r->ifindex = ifindex;
	r->index = index;
	r->wake_fd = -1;
	if (!if_indextoname(ifindex, r->ifname)) {
		free(r);
		return -ENODEV;
	}
	pthread_spin_init(&r->rx_lock, PTHREAD_PROCESS_PRIVATE);
	pthread_spin_init(&r->tx_lock, PTHREAD_PROCESS_PRIVATE);
	rc = ring_flow_table_new(&r->flows);
	if (rc < 0)
		goto out_free;
	rc = ops->open(r);
	if (rc < 0)
		goto out_flows;
	ring_stats_attach(r);
	*out = r;
	return 0;
out_flows:
	ring_flow_table_free(r->flows);
out_free:
	pthread_spin_destroy(&r->rx_lock);
	pthread_spin_destroy(&r->tx_lock);
	free(r);
	return rc;
}

int ring_open(int ifindex, const struct ring_config *cfg, struct ring **out)
{
	const struct ring_ops *ops;
	const char *why = "";
	int rc;

	ops = pick_backend(ifindex, cfg, &why, &rc);
	if (!ops) {
		char name[IF_NAMESIZE] = "?";

		if_indextoname(ifindex, name);
		log_warn("ring: %s: not offloaded: %s", name, why);
		return rc;
	}
	return ring_open_with(ifindex, cfg, ops, 0, out);
}

void ring_close(struct ring *r)
{
	if (!r)
		return;
	/* Steering first, so the kernel gets the flows back before the sockets go. */
	ring_flow_table_clear(r, r->flows);
	ring_stats_detach(r);
	if (r->kick_deferred && r->ops->tx_kick && !r->forked) {	/* nothing queued is left behind */
		ring_tx_lock(r);
		r->ops->tx_kick(r);
		ring_tx_unlock(r);
	}
	r->ops->close(r);
	ring_flow_table_free(r->flows);
	pthread_spin_destroy(&r->rx_lock);
	pthread_spin_destroy(&r->tx_lock);
	free(r);
}

/* --- registry ----------------------------------------------------------------- */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, ring_registry_atfork_child);
}

static unsigned long alloc_key(int logic, int fd)
{
	unsigned long v;

	switch (logic) {
	case RING_LOGIC_PER_SOCKET:
		v = (unsigned long)fd;
		break;
	case RING_LOGIC_PER_THREAD:
		v = (unsigned long)shim_tid();
		break;
	case RING_LOGIC_PER_CORE: {
		int cpu = sched_getcpu();

		v = cpu < 0 ? 0 : (unsigned long)cpu;
		break;
	}
	default:
		logic = RING_LOGIC_PER_INTERFACE;
		v = 0;
		break;
	}
	return ((unsigned long)logic << 48) | (v & 0xffffffffffffUL);
}

static bool dead_recently(int ifindex, int *rc)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	for (int i = 0; i < RING_DEAD_MAX; i++)
		if (dead[i].ifindex == ifindex) {
			if (now.tv_sec - dead[i].when.tv_sec < RING_RETRY_SEC) {
				*rc = dead[i].rc;
				return true;
			}
			return false;
		}
	return false;
}

/* Remember a failure; true the first time this interface fails. */
static bool mark_dead(int ifindex, int rc)
{
	int free_slot = -1;

	for (int i = 0; i < RING_DEAD_MAX; i++) {
		if (dead[i].ifindex == ifindex) {
			clock_gettime(CLOCK_MONOTONIC, &dead[i].when);
			dead[i].rc = rc;
			return false;
		}
		if (dead[i].ifindex == 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		free_slot = ifindex % RING_DEAD_MAX;
	dead[free_slot].ifindex = ifindex;
	dead[free_slot].rc = rc;
	clock_gettime(CLOCK_MONOTONIC, &dead[free_slot].when);
	return true;
}

static void clear_dead(int ifindex)
{
	for (int i = 0; i < RING_DEAD_MAX; i++)
		if (dead[i].ifindex == ifindex) {
			memset(&dead[i], 0, sizeof(dead[i]));
			log_info("ring: interface %d is offloaded again", ifindex);
		}
}

int ring_get(int ifindex, enum ring_dir dir, int fd, struct ring **out)
{
	const struct ring_config *cfg;
	const struct ring_ops *ops;
	struct ring *r, *least = NULL;
	unsigned long key;
	int logic, count = 0, limit, rc, index;
	uint32_t used = 0;
	const char *why = "";

	pthread_mutex_lock(&reg_lock);
	cfg = reg_config();
	logic = dir == RING_RX ? cfg->logic_rx : cfg->logic_tx;
	key = alloc_key(logic, fd);
	for (r = rings; r; r = r->next) {
		if (r->ifindex != ifindex)
			continue;
		if (r->owner_key == key)
			goto found;
		count++;
		if (r->index < 32)
			used |= 1u << r->index;
		if (!least || r->refcnt < least->refcnt)
			least = r;
	}
	if (dead_recently(ifindex, &rc))
		goto out_none;
	ops = pick_backend(ifindex, cfg, &why, &rc);
	if (!ops)
		goto out_dead;
	limit = ops->max_rings(ifindex, cfg);
	if (cfg->limit_per_if > 0 && cfg->limit_per_if < limit)
		limit = cfg->limit_per_if;
	if (least && count >= limit) {
		/* At the limit: share the least used ring of the interface. */
		if (logic != RING_LOGIC_PER_INTERFACE)
			log_once(SHIM_LOG_INFO, "ring: %s allows %d ring(s) per interface; "
				 "sockets share them", ops->name, limit);
		r = least;
		goto found;
	}
	for (index = 0; index < 32 && (used & (1u << index)); index++)
		;
	rc = ring_open_with(ifindex, cfg, ops, index, &r);
	if (rc < 0) {
		why = NULL;	/* the backend logged why, once */
		goto out_dead;
	}
	pthread_once(&atfork_once, register_atfork);
	clear_dead(ifindex);
	r->owner_key = key;
	r->next = rings;
	r->registered = true;
	rings = r;
found:
	r->refcnt++;
	*out = r;
	pthread_mutex_unlock(&reg_lock);
	return 0;

out_dead:
	if (mark_dead(ifindex, rc) && why) {
		char name[IF_NAMESIZE] = "?";

		if_indextoname(ifindex, name);
		log_info("ring: %s: sockets not offloaded: %s", name, why);
	}
out_none:
	__atomic_fetch_add(&not_offloaded, 1, __ATOMIC_RELAXED);
	ring_stats_no_backend();
	pthread_mutex_unlock(&reg_lock);
	return rc < 0 ? rc : -ENODEV;
}

void ring_put(struct ring *r)
{
	struct ring **pp;

	if (!r)
		return;
	pthread_mutex_lock(&reg_lock);
	if (--r->refcnt > 0) {
		pthread_mutex_unlock(&reg_lock);
		return;
	}
	for (pp = &rings; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	pthread_mutex_unlock(&reg_lock);
	ring_close(r);
}

void ring_registry_shutdown(void)
{
	struct ring *list;

	pthread_mutex_lock(&reg_lock);
	list = rings;
	rings = NULL;
	pthread_mutex_unlock(&reg_lock);
	while (list) {
		struct ring *next = list->next;

		ring_close(list);
		list = next;
	}
}

void ring_registry_atfork_child(void)
{
	struct ring *list = rings;

	/* Only this thread exists now; the registry lock may have been held by a
	 * thread that is gone, so start over with fresh state. */
	pthread_mutex_init(&reg_lock, NULL);
	ring_stats_atfork_child();
	rings = NULL;
	while (list) {
		struct ring *next = list->next;

		list->forked = true;
		pthread_spin_init(&list->rx_lock, PTHREAD_PROCESS_PRIVATE);
		pthread_spin_init(&list->tx_lock, PTHREAD_PROCESS_PRIVATE);
		ring_close(list);
		list = next;
	}
	__atomic_store_n(&ring_kicks_deferred, 0, __ATOMIC_RELAXED);
}

uint64_t ring_not_offloaded(void)
{
	return __atomic_load_n(&not_offloaded, __ATOMIC_RELAXED);
}

void ring_for_each(void (*fn)(struct ring *r, void *arg), void *arg)
{
	pthread_mutex_lock(&reg_lock);
	for (struct ring *r = rings; r; r = r->next)
		fn(r, arg);
	pthread_mutex_unlock(&reg_lock);
}

bool ring_for_each_try(void (*fn)(struct ring *r, void *arg), void *arg)
{
	if (pthread_mutex_trylock(&reg_lock) != 0)
		return false;
	for (struct ring *r = rings; r; r = r->next)
		fn(r, arg);
	pthread_mutex_unlock(&reg_lock);
	return true;
}

/* --- flows and demux ------------------------------------------------------------ */
int ring_flow_attach(struct ring *r, const struct ring_flow *f, pkt_take_fn rx, void *ctx)
{
	int rc;

	if (!rx || !f)
		return -EINVAL;
	ring_rx_lock(r);
	rc = ring_flow_table_add(r, r->flows, f, rx, ctx);
	ring_rx_unlock(r);
	return rc;
}

int ring_flow_detach(struct ring *r, const struct ring_flow *f, pkt_take_fn rx, void *ctx)
{
	int rc;

	ring_rx_lock(r);
	rc = ring_flow_table_del(r, r->flows, f, rx, ctx);
	ring_rx_unlock(r);
	return rc;
}

/* The steering maps are the AF_XDP backend's; nothing else steers in the kernel on
 * our behalf. A handle is an fd of the map, or -errno. */
struct ring_inherited {
	int n;
	int handle[RING_INHERIT_MAX];
	struct ring_flow flow[RING_INHERIT_MAX];
};

void ring_inherit_flow(struct ring_inherited **set, int ifindex, const struct ring_flow *f)
{
	int fd, high;

	if (!*set && !(*set = calloc(1, sizeof(**set))))
		return;	/* out of memory: the flow stays with the parent, as without a set */
	if ((*set)->n == RING_INHERIT_MAX)
		return;
	fd = xdp_port_inherited_map(ifindex, f);
	/* out of the way of the application's low descriptor numbers */
	if (fd >= 0 && fd < RING_INHERIT_FD_BASE &&
	    (high = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, RING_INHERIT_FD_BASE)) >= 0) {
		syscall(SYS_close, fd);
		fd = high;
	}
	(*set)->handle[(*set)->n] = fd;
	(*set)->flow[(*set)->n++] = *f;
}

void ring_inherited_free(struct ring_inherited **set)
{
	struct ring_inherited *h = __atomic_exchange_n(set, NULL, __ATOMIC_ACQ_REL);

	if (!h)
		return;
	for (int i = 0; i < h->n; i++)
		if (h->handle[i] >= 0)
			syscall(SYS_close, h->handle[i]);
	free(h);
}

int ring_inherited_release(struct ring_inherited **set, int *err)
{
	struct ring_inherited *h = __atomic_exchange_n(set, NULL, __ATOMIC_ACQ_REL);
	int done = 0;

	*err = 0;
	if (!h)
		return 0;
	for (int i = 0; i < h->n; i++) {
		int rc = h->handle[i] >= 0 ? xdp_port_release_inherited(h->handle[i], &h->flow[i])
					   : h->handle[i];

		if (rc == 0)
			done++;
		else if (rc != -ENOENT && !*err)
			*err = rc;
	}
	ring_inherited_free(&h);
	return done;
}

void ring_set_frag_handler(pkt_take_fn fn, void *ctx)
{
	pthread_mutex_lock(&reg_lock);
	frag_ctx = ctx;
	__atomic_store_n(&frag_fn, fn, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&reg_lock);
}

static inline void drop(struct ring *r, struct shim_pkt *p)
{
	RING_STAT_ADD(r, rx_drops, 1);
	pkt_free(p);
}

/* Parse Ethernet/IPv4/L4 of one received frame and hand it on (takes it). */
static void demux_one(struct ring *r, struct shim_pkt *p)
{
	const uint8_t *d = p->data;
	uint32_t ihl, tot;
	uint16_t frag;

	if (p->len < 14 + 20 || d[12] != 0x08 || d[13] != 0x00 || (d[14] >> 4) != 4)
		return drop(r, p);
	ihl = (uint32_t)(d[14] & 0x0f) * 4;
	tot = (uint32_t)d[16] << 8 | d[17];
	if (ihl < 20 || tot < ihl || 14 + tot > p->len)
		return drop(r, p);
	p->l3_off = 14;
	if ((d[30] & 0xf0) == 0xe0)
		p->flags |= PKT_F_MCAST;
	else if (d[30] == 0xff && d[31] == 0xff && d[32] == 0xff && d[33] == 0xff)
		p->flags |= PKT_F_BCAST;
	frag = (uint16_t)(d[20] << 8 | d[21]);
	if (frag & 0x3fff) {
		pkt_take_fn fn = __atomic_load_n(&frag_fn, __ATOMIC_ACQUIRE);

		p->flags |= PKT_F_IPFRAG;
		p->l4_off = (frag & 0x1fff) ? 0 : (uint16_t)(14 + ihl);
		if (!fn)
			return drop(r, p);
		RING_STAT_ADD(r, rx_frags, 1);
		return fn(frag_ctx, p);
	}
	if (tot < ihl + 4)
		return drop(r, p);
	p->l4_off = (uint16_t)(14 + ihl);
	if (!ring_flow_table_deliver(r->flows, p))
		drop(r, p);
}

void ring_deliver(struct ring *r, struct shim_pkt *p)
{
	const uint8_t *d = p->data;

	if (!p->l3_off || !p->l4_off) {
		uint32_t ihl;

		if (p->len < 14 + 20)
			return drop(r, p);
		ihl = (uint32_t)(d[14] & 0x0f) * 4;
		if (ihl < 20 || 14 + ihl + 4 > p->len)
			return drop(r, p);
		p->l3_off = 14;
		p->l4_off = (uint16_t)(14 + ihl);
	}
	if (!ring_flow_table_deliver(r->flows, p))
		drop(r, p);
}

int ring_poll(struct ring *r, unsigned budget)
{
	struct shim_pkt *pkts[RING_BATCH_MAX];
	unsigned n, want = budget && budget < r->cfg.batch ? budget : r->cfg.batch;

	ring_kick_deferred(false);
	if (!ring_rx_trylock(r))
		return -EBUSY;
	n = r->ops->rx_burst(r, pkts, want);
	if (n > r->stats.rx_burst_max)
		RING_STAT_SET(r, rx_burst_max, n);
	for (unsigned i = 0; i < n; i++) {
		if (i + 1 < n)
			__builtin_prefetch(pkts[i + 1]->data);
		demux_one(r, pkts[i]);
	}
	r->ops->refill(r);
	/* Completions are cheap to reap here, and senders then rarely find the pool
	 * empty; skip when a sender holds the lock. */
	if (pthread_spin_trylock(&r->tx_lock) == 0) {
		r->ops->tx_reap(r);
		ring_tx_unlock(r);
	}
	ring_rx_unlock(r);
	return (int)n;
}

int ring_arm(struct ring *r)
{
	int rc;

	ring_kick_deferred(true);	/* about to sleep: nothing of ours may wait on us */
	if (!ring_rx_trylock(r))
		return -EAGAIN;
	rc = r->ops->arm(r);
	ring_rx_unlock(r);
	return rc;
}

void ring_get_stats(struct ring *r, struct ring_stats *out)
{
	if (r->ops->stats_sync)
		r->ops->stats_sync(r);
	/* Field by field with relaxed loads: a consistent-enough snapshot. */
	const uint64_t *src = (const uint64_t *)&r->stats;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
