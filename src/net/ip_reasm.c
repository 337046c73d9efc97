/* ip_reasm.c — reassembly of fragmented IPv4 datagrams received on offloaded flows
 * (RFC 791 §3.2, RFC 815). Bounded in every direction: incomplete datagrams held at
 * once, bytes held, byte ranges per datagram, and age (the kernel's ipfrag_time of
 * this netns by default). Overlapping fragments drop the whole datagram, as Linux
 * does, so a datagram is either delivered exactly as sent or not at all. */
#include "net/ip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REASM_MAX_RANGES 64	/* disjoint byte ranges held per datagram */

struct reasm_range { uint32_t start, end; };

struct reasm_entry {
	struct reasm_entry *next;
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t proto, tos, ttl;
	bool have_first;
	uint64_t born_ns;
	uint32_t total;			/* 0 until the last fragment arrived */
	uint32_t cap;
	uint8_t *buf;
	unsigned nranges;
	struct reasm_range ranges[REASM_MAX_RANGES];	/* sorted, disjoint */
};

static pthread_mutex_t reasm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reasm_entry *reasm_head;
static unsigned reasm_count;
static size_t reasm_bytes;
static struct ip_reasm_limits limits;
static bool limits_set;

static uint64_t kernel_ipfrag_time_ns(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ipfrag_time", "re");
	long s = 30;

	if (f) {
		if (fscanf(f, "%ld", &s) != 1 || s <= 0)
			s = 30;
		fclose(f);
	}
	return (uint64_t)s * 1000000000u;
}

static void limits_init_locked(void)
{
	if (limits_set)
		return;
	limits.max_datagrams = 64;
	limits.max_bytes = 4u << 20;
	limits.timeout_ns = kernel_ipfrag_time_ns();
	limits_set = true;
}

void ip_reasm_set_limits(const struct ip_reasm_limits *l)
{
	pthread_mutex_lock(&reasm_lock);
	limits = *l;
	limits_set = true;
	pthread_mutex_unlock(&reasm_lock);
}

void ip_reasm_get_limits(struct ip_reasm_limits *l)
{
	pthread_mutex_lock(&reasm_lock);
	limits_init_locked();
	*l = limits;
	pthread_mutex_unlock(&reasm_lock);
}

static void entry_free_locked(struct reasm_entry **pp)
{
	struct reasm_entry *e = *pp;

	*pp = e->next;
	reasm_count--;
	reasm_bytes -= e->cap;
	free(e->buf);
	free(e);
}

static void expire_locked(uint64_t now)
{
	struct reasm_entry **pp = &reasm_head;

	while (*pp) {
		if (now - (*pp)->born_ns >= limits.timeout_ns) {
			entry_free_locked(pp);
			IP_STAT_INC(reasm_timeout);
		} else {
			pp = &(*pp)->next;
		}
	}
}

void ip_reasm_expire(uint64_t now_ns)
{
	if (!__atomic_load_n(&reasm_head, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&reasm_lock);
	limits_init_locked();
	expire_locked(now_ns);
	pthread_mutex_unlock(&reasm_lock);
}

/* Insert [s, e) into the sorted range list. Returns -EEXIST on any overlap, -ENOSPC
 * when the list is full. Adjacent ranges are merged so a complete datagram ends as
 * a single range. */
static int range_add(struct reasm_entry *en, uint32_t s, uint32_t e)
{
	unsigned i = 0;

	while (i < en->nranges && en->ranges[i].end <= s)
		i++;
	if (i < en->nranges && en->ranges[i].start < e)
		return -EEXIST;
	bool join_prev = i > 0 && en->ranges[i - 1].end == s;
	bool join_next = i < en->nranges && en->ranges[i].start == e;
	if (join_prev && join_next) {
		en->ranges[i - 1].end = en->ranges[i].end;
		memmove(&en->ranges[i], &en->ranges[i + 1], (en->nranges - i - 1) * sizeof(en->ranges[0]));
		en->nranges--;
	} else if (join_prev) {
		en->ranges[i - 1].end = e;
	} else if (join_next) {
		en->ranges[i].start = s;
	} else {
		if (en->nranges == REASM_MAX_RANGES)
			return -ENOSPC;
		memmove(&en->ranges[i + 1], &en->ranges[i], (en->nranges - i) * sizeof(en->ranges[0]));
		en->ranges[i] = (struct reasm_range){ s, e };
		en->nranges++;
	}
	return 0;
}

static int entry_grow(struct reasm_entry *en, uint32_t need)
{
	uint32_t cap;
	uint8_t *nb;

	if (need <= en->cap)
		return 0;
	cap = en->total ? en->total : need;
	if (cap < need)
		cap = need;
	if (!en->total) {
		/* End unknown: double, so in-order arrival costs O(n) copying overall. */
		uint32_t dbl = en->cap * 2 > IPV4_MAX_LEN ? IPV4_MAX_LEN : en->cap * 2;
		if (cap < dbl)
			cap = dbl;
		if (cap < 4096)
			cap = 4096;
	}
	if (reasm_bytes - en->cap + cap > limits.max_bytes)
		return -ENOBUFS;
	nb = realloc(en->buf, cap);
	if (!nb)
		return -ENOMEM;
	reasm_bytes += cap - en->cap;
	en->buf = nb;
	en->cap = cap;
	return 0;
}

int ip_reasm_input(const struct ip_rx *r, uint64_t now, struct ip_dgram *out)
{
	const struct ipv4_hdr *ip = r->ip;
	uint32_t start = (r->frag_off & IPV4_OFF_MASK) * 8u;
	uint32_t end = start + r->payload_len;
	bool last = !(r->frag_off & IPV4_FLAG_MF);
	struct reasm_entry **pp, *en;
	int ret = 0;

	pthread_mutex_lock(&reasm_lock);
	limits_init_locked();
	expire_locked(now);
	for (pp = &reasm_head; (en = *pp); pp = &en->next)
		if (en->id == ip->id && en->saddr == ip->saddr && en->daddr == ip->daddr &&
		    en->proto == ip->proto)
			break;
	if (!en) {
		if (reasm_count >= limits.max_datagrams) {
			IP_STAT_INC(reasm_limit);
			ret = -1;
			goto out;
		}
		en = calloc(1, sizeof(*en));
		if (!en) {
			IP_STAT_INC(reasm_limit);
			ret = -1;
			goto out;
		}
		en->saddr = ip->saddr;
		en->daddr = ip->daddr;
		en->id = ip->id;
		en->proto = ip->proto;
		en->born_ns = now;
		en->next = reasm_head;
		reasm_head = en;
		reasm_count++;
		pp = &reasm_head;
	}
	/* The end of the datagram, once known, is fixed: a second "last" fragment with
	 * another end, or data past it, is a forgery or a bug. */
	if ((last && en->total && en->total != end) || (en->total && end > en->total) ||
	    (last && en->nranges && en->ranges[en->nranges - 1].end > end)) {
		IP_STAT_INC(reasm_bad);
		entry_free_locked(pp);
		ret = -1;
		goto out;
	}
	if (last)
		en->total = end;
	int err = range_add(en, start, end);
	if (err) {
		if (err == -EEXIST)
			IP_STAT_INC(reasm_overlap);
		else
			IP_STAT_INC(reasm_limit);
		entry_free_locked(pp);
		ret = -1;
		goto out;
	}
	if (entry_grow(en, end)) {
		IP_STAT_INC(reasm_limit);
		entry_free_locked(pp);
		ret = -1;
		goto out;
	}
	memcpy(en->buf + start, r->payload, r->payload_len);
	if (start == 0) {
		en->have_first = true;
		en->tos = ip->tos;
		en->ttl = ip->ttl;
	}
	IP_STAT_INC(rx_frags);
	if (en->total && en->nranges == 1 && en->ranges[0].start == 0 && en->ranges[0].end == en->total) {
		out->data = en->buf;
		out->len = en->total;
		out->saddr = en->saddr;
		out->daddr = en->daddr;
		out->proto = en->proto;
		out->tos = en->tos;
		out->ttl = en->ttl;
		en->buf = NULL;
		reasm_bytes -= en->cap;
		en->cap = 0;
		entry_free_locked(pp);
		IP_STAT_INC(reasm_ok);
		ret = 1;
	}
out:
	pthread_mutex_unlock(&reasm_lock);
	return ret;
}

unsigned ip_reasm_pending(size_t *bytes)
{
	unsigned n;

	pthread_mutex_lock(&reasm_lock);
	n = reasm_count;
	if (bytes)
		*bytes = reasm_bytes;
	pthread_mutex_unlock(&reasm_lock);
	return n;
}

void ip_reasm_flush(void)
{
	pthread_mutex_lock(&reasm_lock);
	while (reasm_head)
		entry_free_locked(&reasm_head);
	pthread_mutex_unlock(&reasm_lock);
}
