/* ring_flow.c — the flow table of a ring: offloaded flows to sinks. Lookups run for
 * every received frame, so a key is a fixed 16-byte value hashed in one go, buckets
 * are chained, and each kind keeps a count so empty kinds cost nothing. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring_flow.h"

#define FLOW_BUCKETS_MIN	64

struct flow_sink {
	struct flow_sink *next;
	pkt_take_fn rx;
	void *ctx;
};

struct flow_ent {
	struct flow_ent *next;
	struct ring_flow key;
	struct flow_sink *sinks;
};

struct ring_flow_table {
	struct flow_ent **buckets;
	uint32_t mask;
	uint32_t n;
	uint32_t nkind[4];	/* by enum ring_flow_kind */
};

_Static_assert(sizeof(struct ring_flow) == 16, "flow key is hashed as 16 bytes");

static inline uint32_t flow_hash(const struct ring_flow *k)
{
	uint64_t a, b;

	memcpy(&a, k, 8);
	memcpy(&b, (const char *)k + 8, 8);
	a ^= b * 0x9e3779b97f4a7c15ull;
	a ^= a >> 29;
	a *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(a ^ (a >> 32));
}

static inline bool flow_eq(const struct ring_flow *a, const struct ring_flow *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* The canonical form of a key: fields a kind does not use are zero. */
static int flow_norm(const struct ring_flow *f, struct ring_flow *k)
{
	memset(k, 0, sizeof(*k));
	if (f->proto != IPPROTO_UDP && f->proto != IPPROTO_TCP)
		return -EPROTONOSUPPORT;
	k->kind = f->kind;
	k->proto = f->proto;
	k->dst_ip = f->dst_ip;
	k->dst_port = f->dst_port;
	switch (f->kind) {
	case RING_FLOW_5TUPLE:
		k->src_ip = f->src_ip;
		k->src_port = f->src_port;
		if (!f->dst_ip || !f->src_ip)
			return -EINVAL;
		return 0;
	case RING_FLOW_3TUPLE:
		return f->dst_port ? 0 : -EINVAL;
	case RING_FLOW_MCAST:
		/* 224.0.0.0/4 in network order */
		return (((const uint8_t *)&f->dst_ip)[0] & 0xf0) == 0xe0 ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

int ring_flow_table_new(struct ring_flow_table **out)
{
	struct ring_flow_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->buckets = calloc(FLOW_BUCKETS_MIN, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	t->mask = FLOW_BUCKETS_MIN - 1;
	*out = t;
	return 0;
}

static void free_ent(struct flow_ent *e)
{
	while (e->sinks) {
		struct flow_sink *s = e->sinks;

		e->sinks = s->next;
		free(s);
	}
	free(e);
}

void ring_flow_table_free(struct ring_flow_table *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i <= t->mask; i++)
		while (t->buckets[i]) {
			struct flow_ent *e = t->buckets[i];

			t->buckets[i] = e->next;
			free_ent(e);
		}
	free(t->buckets);
	free(t);
}

static void grow(struct ring_flow_table *t)
{
	uint32_t nb = (t->mask + 1) * 2;
	struct flow_ent **b = calloc(nb, sizeof(*b));

	if (!b)
		return;		/* keep the longer chains; lookups stay correct */
	for (uint32_t i = 0; i <= t->mask; i++)
		while (t->buckets[i]) {
			struct flow_ent *e = t->buckets[i];
			uint32_t h = flow_hash(&e->key) & (nb - 1);

			t->buckets[i] = e->next;
			e->next = b[h];
			b[h] = e;
		}
	free(t->buckets);
	t->buckets = b;
	t->mask = nb - 1;
}

static struct flow_ent **find(struct ring_flow_table *t, const struct ring_flow *k)
{
	struct flow_ent **pp = &t->buckets[flow_hash(k) & t->mask];

	for (; *pp; pp = &(*pp)->next)
		if (flow_eq(&(*pp)->key, k))
			return pp;
	return pp;
}

int ring_flow_table_add(struct ring *r, struct ring_flow_table *t, const struct ring_flow *f,
			pkt_take_fn rx, void *ctx)
{
	struct ring_flow k;
	struct flow_ent **pp, *e;
	struct flow_sink *s;
	int rc = flow_norm(f, &k);

	if (rc < 0)
		return rc;
	pp = find(t, &k);
	e = *pp;
	if (e) {
		for (s = e->sinks; s; s = s->next)
			if (s->rx == rx && s->ctx == ctx)
				return -EEXIST;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->rx = rx;
	s->ctx = ctx;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			free(s);
			return -ENOMEM;
		}
		e->key = k;
		rc = r->ops->flow_add(r, &k);
		if (rc < 0) {
			free(e);
			free(s);
			return rc;
		}
		*pp = e;
		t->n++;
		t->nkind[k.kind]++;
		r->nflows = (int)t->n;
		if (t->n > 2 * (t->mask + 1))
			grow(t);
	}
	/* Append: the oldest sink gets the frame first, like the kernel's list. */
	struct flow_sink **sp = &e->sinks;

	while (*sp)
		sp = &(*sp)->next;
	*sp = s;
	return 0;
}

int ring_flow_table_del(struct ring *r, struct ring_flow_table *t, const struct ring_flow *f,
			pkt_take_fn rx, void *ctx)
{
	struct ring_flow k;
	struct flow_ent **pp, *e;
	struct flow_sink **sp;
	int rc = flow_norm(f, &k);

	if (rc < 0)
		return rc;
	pp = find(t, &k);
	e = *pp;
	if (!e)
		return -ENOENT;
	for (sp = &e->sinks; *sp; sp = &(*sp)->next)
		if ((*sp)->rx == rx && (*sp)->ctx == ctx)
			break;
	if (!*sp)
		return -ENOENT;
	struct flow_sink *s = *sp;

	*sp = s->next;
	free(s);
	if (e->sinks)
		return 0;
	*pp = e->next;
	t->n--;
	t->nkind[k.kind]--;
	r->nflows = (int)t->n;
	rc = r->ops->flow_del(r, &k);
	free(e);
	return rc;
}

void ring_flow_table_clear(struct ring *r, struct ring_flow_table *t)
{
	ring_rx_lock(r);
	for (uint32_t i = 0; i <= t->mask; i++)
		while (t->buckets[i]) {
			struct flow_ent *e = t->buckets[i];

			t->buckets[i] = e->next;
			r->ops->flow_del(r, &e->key);
			free_ent(e);
		}
	t->n = 0;
	memset(t->nkind, 0, sizeof(t->nkind));
	r->nflows = 0;
	ring_rx_unlock(r);
}

unsigned ring_flow_table_count(const struct ring_flow_table *t)
{
	return t->n;
}

static inline struct flow_ent *lookup(struct ring_flow_table *t, const struct ring_flow *k)
{
	struct flow_ent *e = t->buckets[flow_hash(k) & t->mask];

	while (e && !flow_eq(&e->key, k))
		e = e->next;
	return e;
}

static void give(struct flow_ent *e, struct shim_pkt *p)
{
	struct flow_sink *s = e->sinks;

	for (; s->next; s = s->next) {
		pkt_ref(p);
		s->rx(s->ctx, p);
	}
	s->rx(s->ctx, p);
}

bool ring_flow_table_deliver(struct ring_flow_table *t, struct shim_pkt *p)
{
	const uint8_t *ip = p->data + p->l3_off, *l4 = p->data + p->l4_off;
	struct ring_flow k;
	struct flow_ent *e;

	memset(&k, 0, sizeof(k));
	k.proto = ip[9];
	if (k.proto != IPPROTO_UDP && k.proto != IPPROTO_TCP)
		return false;
	memcpy(&k.dst_ip, ip + 16, 4);
	memcpy(&k.dst_port, l4 + 2, 2);
	if (p->flags & PKT_F_MCAST) {
		/* A group is only ever ours by its own flow: a port bound to any address
		 * must not take datagrams of groups nobody here joined. */
		if (!t->nkind[RING_FLOW_MCAST])
			return false;
		k.kind = RING_FLOW_MCAST;
		e = lookup(t, &k);
		if (e)
			goto hit;
		k.dst_port = 0;
		e = lookup(t, &k);
		if (e)
			goto hit;
		return false;
	}
	if (t->nkind[RING_FLOW_5TUPLE]) {
		k.kind = RING_FLOW_5TUPLE;
		memcpy(&k.src_ip, ip + 12, 4);
		memcpy(&k.src_port, l4, 2);
		e = lookup(t, &k);
		if (e)
			goto hit;
		k.src_ip = 0;
		k.src_port = 0;
	}
	if (t->nkind[RING_FLOW_3TUPLE]) {
		k.kind = RING_FLOW_3TUPLE;
		e = lookup(t, &k);
		if (e)
			goto hit;
		uint32_t dst = k.dst_ip;

		k.dst_ip = 0;
		e = lookup(t, &k);
		if (e)
			goto hit;
		k.dst_ip = dst;
	}
	return false;
hit:
	give(e, p);
	return true;
}
