/* tcp_stack.c — one TCP stack instance: configuration defaults, the connection table
 * keyed by 4-tuple (grown as it fills), the listener list, the live-object accounting
 * the tests check, and deferred freeing of connections that reached CLOSED unowned. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/tcp_priv.h"

void tcp_config_default(struct tcp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mtu = 1500;
	cfg->window_scaling = true;
	cfg->timestamps = true;
	cfg->sack = true;
	cfg->cc_algo = TCP_CC_NEWRENO;
	cfg->sndbuf = 256 * 1024;
	cfg->rcvbuf = 256 * 1024;
	cfg->max_tx_segs = 4096;
	cfg->init_cwnd_segs = 10;
	cfg->rto_min_us = 200000;
	cfg->rto_max_us = 120000000;
	cfg->rto_init_us = 1000000;
	cfg->delack_us = 40000;
	cfg->msl_us = 30000000;
	cfg->fin_timeout_us = 60000000;
	cfg->cork_us = 200000;
	cfg->syn_retries = 6;
	cfg->synack_retries = 5;
	cfg->retries2 = 15;
	cfg->keepidle_s = 7200;
	cfg->keepintvl_s = 75;
	cfg->keepcnt = 9;
	cfg->challenge_ack_limit = 1000;
	cfg->oow_ack_interval_us = 500000;
	cfg->max_syn_backlog = 4096;
	cfg->ephemeral_lo = 32768;
	cfg->ephemeral_hi = 60999;
}

/* Zero fields of a caller's config take the defaults. */
static void config_fill(struct tcp_config *cfg)
{
	struct tcp_config d;

	tcp_config_default(&d);
#define DEF(f) do { if (!cfg->f) cfg->f = d.f; } while (0)
	DEF(mtu); DEF(sndbuf); DEF(rcvbuf); DEF(max_tx_segs); DEF(init_cwnd_segs);
	DEF(rto_min_us); DEF(rto_max_us); DEF(rto_init_us); DEF(delack_us); DEF(msl_us);
	DEF(fin_timeout_us); DEF(cork_us); DEF(syn_retries); DEF(synack_retries);
	DEF(retries2); DEF(keepidle_s); DEF(keepintvl_s); DEF(keepcnt);
	DEF(challenge_ack_limit); DEF(oow_ack_interval_us); DEF(max_syn_backlog); DEF(ephemeral_lo); DEF(ephemeral_hi);
#undef DEF
	if (!cfg->mss)
		cfg->mss = cfg->mtu > 40 + 64 ? cfg->mtu - 40 : 536;
	if (cfg->mss > 65495)
		cfg->mss = 65495;
	if (cfg->mss < 64)
		cfg->mss = 64;
	if (cfg->ephemeral_hi < cfg->ephemeral_lo)
		cfg->ephemeral_hi = cfg->ephemeral_lo;
}

static uint64_t mono_now_us(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct tcp_stack *tcp_stack_create(const struct tcp_config *cfg,
				   const struct tcp_stack_ops *ops, void *ctx,
				   const uint8_t secret[16])
{
	struct tcp_stack *st;

	if (!ops || !ops->output)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	if (cfg)
		st->cfg = *cfg;
	config_fill(&st->cfg);
	st->ops = *ops;
	if (!st->ops.now_us)
		st->ops.now_us = mono_now_us;
	st->ctx = ctx;
	if (secret) {
		memcpy(st->secret, secret, 16);
	} else {
		uint64_t t = mono_now_us(NULL);
		uint8_t seed[16];

		/* No caller secret: derive one from clock and address entropy. */
		memcpy(seed, &t, 8);
		t ^= (uint64_t)(uintptr_t)st;
		memcpy(seed + 8, &t, 8);
		uint64_t a = tcp_siphash(seed, &st, sizeof(st)), b = tcp_siphash(seed, seed, 16);

		memcpy(st->secret, &a, 8);
		memcpy(st->secret + 8, &b, 8);
	}
	st->hash_mask = 1023;
	st->hash = calloc(st->hash_mask + 1, sizeof(*st->hash));
	if (!st->hash) {
		free(st);
		return NULL;
	}
	st->next_ephemeral = st->cfg.ephemeral_lo;
	/* one buffer class covers an MSS of payload and small receive chunks */
	st->seg_class = (st->cfg.mss > 2048 ? st->cfg.mss + 63 : 2048) & ~63u;
	st->now = st->ops.now_us(st->ctx);
	return st;
}

static void conn_free(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	tcp_segq_purge(st, &c->sndq);
	tcp_segq_purge(st, &c->rcvq);
	tcp_segq_purge(st, &c->oooq);
	st->live_conns--;
	free(c);
}

void tcp_stack_destroy(struct tcp_stack *st)
{
	struct tcp_conn *c, *n;

	if (!st)
		return;
	tcp_reap(st);
	for (c = st->all; c; c = n) {
		n = c->all_next;
		conn_free(c);
	}
	tcp_seg_cache_drain(st);
	free(st->hash);
	free(st->theap);
	free(st);
}

const struct tcp_stack_stats *tcp_stack_stats(const struct tcp_stack *st)
{
	return &st->stats;
}

void tcp_stack_live(const struct tcp_stack *st, long *conns, long *bufs)
{
	if (conns)
		*conns = st->live_conns;
	if (bufs)
		*bufs = st->live_bufs;
}

static uint32_t tuple_hash(const struct tcp_stack *st, uint32_t laddr, uint16_t lport,
			   uint32_t raddr, uint16_t rport)
{
	uint32_t h = laddr * 0x9e3779b1u ^ raddr * 0x85ebca6bu;

	h ^= ((uint32_t)lport << 16 | rport) * 0xc2b2ae35u;
	h ^= h >> 15;
	return h & st->hash_mask;
}

/* Doubles the table when chains would average more than two entries. */
static void hash_grow(struct tcp_stack *st)
{
	uint32_t n = (st->hash_mask + 1) * 2;
	struct tcp_conn **h = calloc(n, sizeof(*h)), **old = st->hash;
	uint32_t old_n = st->hash_mask + 1;

	if (!h)
		return;	/* keep the old table: lookups stay correct, only slower */
	st->hash = h;
	st->hash_mask = n - 1;
	for (uint32_t i = 0; i < old_n; i++) {
		struct tcp_conn *c = old[i], *next;

		for (; c; c = next) {
			uint32_t b = tuple_hash(st, c->laddr, c->lport, c->raddr, c->rport);

			next = c->hnext;
			c->hnext = h[b];
			h[b] = c;
		}
	}
	free(old);
}

void tcp_conn_hash(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	uint32_t b;

	if (c->hashed)
		return;
	if (st->hashed >= 2 * (st->hash_mask + 1))
		hash_grow(st);
	b = tuple_hash(st, c->laddr, c->lport, c->raddr, c->rport);
	c->hnext = st->hash[b];
	st->hash[b] = c;
	c->hashed = true;
	st->hashed++;
}

void tcp_conn_unhash(struct tcp_conn *c)
{
	struct tcp_conn **pp;

	if (!c->hashed)
		return;
	pp = &c->st->hash[tuple_hash(c->st, c->laddr, c->lport, c->raddr, c->rport)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	c->hashed = false;
	c->st->hashed--;
}

struct tcp_conn *tcp_conn_lookup(struct tcp_stack *st, uint32_t laddr, uint16_t lport,
				 uint32_t raddr, uint16_t rport)
{
	struct tcp_conn *c = st->hash[tuple_hash(st, laddr, lport, raddr, rport)];

	for (; c; c = c->hnext)
		if (c->lport == lport && c->rport == rport && c->raddr == raddr &&
		    c->laddr == laddr)
			return c;
	return NULL;
}

/* Exact local address beats the wildcard. */
struct tcp_conn *tcp_listener_lookup(struct tcp_stack *st, uint32_t laddr, uint16_t lport)
{
	struct tcp_conn *wild = NULL;

	for (struct tcp_conn *c = st->listeners; c; c = c->lnext) {
		if (c->lport != lport)
			continue;
		if (c->laddr == laddr)
			return c;
		if (!c->laddr)
			wild = c;
	}
	return wild;
}

void tcp_listener_add(struct tcp_conn *l)
{
	l->lnext = l->st->listeners;
	l->st->listeners = l;
}

void tcp_listener_remove(struct tcp_conn *l)
{
	for (struct tcp_conn **pp = &l->st->listeners; *pp; pp = &(*pp)->lnext) {
		if (*pp == l) {
			*pp = l->lnext;
			l->lnext = NULL;
			return;
		}
	}
}

struct tcp_conn *tcp_conn_alloc(struct tcp_stack *st)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->st = st;
	c->state = TCP_ST_CLOSED;
	c->linger_s = -1;
	c->sndbuf = st->cfg.sndbuf;
	c->rcvbuf = st->cfg.rcvbuf;
	c->mss_clamp = (uint16_t)st->cfg.mss;
	c->mss = c->mss_clamp;
	c->keepidle_s = st->cfg.keepidle_s;
	c->keepintvl_s = st->cfg.keepintvl_s;
	c->keepcnt = st->cfg.keepcnt;
	c->rto_us = st->cfg.rto_init_us;
	c->reordering = 3;
	c->nodelay = st->cfg.nodelay;
	c->quickack = st->cfg.quickack;
	c->cc = st->cfg.cc_algo == TCP_CC_CUBIC ? &cc_cubic :
		st->cfg.cc_algo == TCP_CC_NONE ? &cc_none : &cc_newreno;
	for (int t = 0; t < TT_MAX; t++)
		c->timer[t] = TCP_NO_DEADLINE;
	c->tnext = TCP_NO_DEADLINE;
	c->heap_idx = TCP_NOT_IN_HEAP;
	c->all_next = st->all;
	if (st->all)
		st->all->all_prev = c;
	st->all = c;
	st->live_conns++;
	return c;
}

static void unlink_all(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		st->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	c->all_prev = NULL;
}

/* Queues c for freeing when it is CLOSED and nobody holds it. */
void tcp_conn_release_if_dead(struct tcp_conn *c)
{
	if (c->state != TCP_ST_CLOSED || c->app_ref || c->parent || c->dead)
		return;
	tcp_conn_unhash(c);
	unlink_all(c);
	c->all_next = c->st->dead;
	c->st->dead = c;
	c->dead = true;
}

void tcp_reap(struct tcp_stack *st)
{
	struct tcp_conn *c;

	while ((c = st->dead)) {
		st->dead = c->all_next;
		conn_free(c);
	}
}
