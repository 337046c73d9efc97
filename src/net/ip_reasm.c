/* ip_reasm.c — reassembly of fragmented IPv4 datagrams received on offloaded flows
 * (RFC 791 §3.2, RFC 815). Fragments stay in their ring buffers, held in offset
 * order; a complete datagram leaves as one chain, so the payload is copied once,
 * into the application's buffer. Bounded in every direction: incomplete datagrams,
 * bytes held (ring buffers are a shared resource) and age (the kernel's ipfrag_time
 * of this netns by default). Overlapping fragments drop the whole datagram, as Linux
 * does, so a datagram is delivered exactly as sent or not at all. */
#include "net/ip.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/pkt.h"

#define FRAG_START(p) ((uint32_t)(p)->cb[0])
#define FRAG_END(p)   ((uint32_t)((p)->cb[0] >> 32))

struct reasm_entry {
	struct reasm_entry *next;
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t proto;
	uint64_t born_ns;
	uint32_t total;			/* 0 until the last fragment arrived */
	uint32_t bytes;			/* frame bytes held */
	struct shim_pkt *frags;		/* sorted by offset, linked by ->frag */
};

static pthread_mutex_t reasm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reasm_entry *reasm_head;
static unsigned reasm_count;
static size_t reasm_bytes;
static struct ip_reasm_limits limits;
static bool limits_set;
static ip_reasm_out_fn out_fn;
static void *out_ctx;

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
	limits.max_bytes = 1u << 20;
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

void ip_reasm_set_output(ip_reasm_out_fn fn, void *ctx)
{
	pthread_mutex_lock(&reasm_lock);
	out_fn = fn;
	out_ctx = ctx;
	pthread_mutex_unlock(&reasm_lock);
}

/* Unlink the entry; its fragments are returned to the caller's *drop list (freed
 * after the lock is released: pkt_free never blocks, but keep the section short). */
static void entry_free_locked(struct reasm_entry **pp, struct shim_pkt **drop)
{
	struct reasm_entry *e = *pp;

	*pp = e->next;
	reasm_count--;
	reasm_bytes -= e->bytes;
	if (e->frags) {
		e->frags->next = *drop;
		*drop = e->frags;
	}
	free(e);
}

static void expire_locked(uint64_t now, struct shim_pkt **drop)
{
	struct reasm_entry **pp = &reasm_head;

	while (*pp) {
		if (now - (*pp)->born_ns >= limits.timeout_ns) {
			entry_free_locked(pp, drop);
			IP_STAT_INC(reasm_timeout);
		} else {
			pp = &(*pp)->next;
		}
	}
}

static void free_drops(struct shim_pkt *drop)
{
	pkt_free_list(drop);	/* each ->next is a chain freed whole by pkt_free */
}

void ip_reasm_expire(uint64_t now_ns)
{
	struct shim_pkt *drop = NULL;

	if (!__atomic_load_n(&reasm_head, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&reasm_lock);
	limits_init_locked();
	expire_locked(now_ns, &drop);
	pthread_mutex_unlock(&reasm_lock);
	free_drops(drop);
}

/* Insert pkt ([s, e)) in offset order. -EEXIST on any overlap with a neighbour. */
static int frag_insert(struct reasm_entry *en, struct shim_pkt *pkt, uint32_t s, uint32_t e)
{
	struct shim_pkt **pp = &en->frags;

	while (*pp && FRAG_END(*pp) <= s)
		pp = &(*pp)->frag;
	if (*pp && FRAG_START(*pp) < e)
		return -EEXIST;
	pkt->cb[0] = s | (uint64_t)e << 32;
	pkt->frag = *pp;
	*pp = pkt;
	return 0;
}

static bool complete(const struct reasm_entry *en)
{
	uint32_t at = 0;

	if (!en->total)
		return false;
	for (const struct shim_pkt *p = en->frags; p; p = p->frag) {
		if (FRAG_START(p) != at)
			return false;
		at = FRAG_END(p);
	}
	return at == en->total;
}

int ip_frag_input(struct shim_pkt *pkt, uint64_t now)
{
	unsigned l3 = pkt->l3_off ? pkt->l3_off : ETH_HDR_LEN;
	struct shim_pkt *drop = NULL, *done = NULL;
	struct reasm_entry **pp, *en;
	struct ip_rx r;
	int ret = 0;

	if (pkt->frag || pkt->len < l3) {
		IP_STAT_INC(rx_drop[IP_DROP_SHORT]);
		pkt_free(pkt);
		return -1;
	}
	enum ip_drop d = ip_rx_parse(pkt->data + l3, pkt->len - l3, &r);
	if (d || !ip_rx_is_frag(&r)) {
		IP_STAT_INC(rx_drop[d ? d : IP_DROP_FRAG_BAD]);
		pkt_free(pkt);
		return -1;
	}
	const struct ipv4_hdr *ip = r.ip;
	uint32_t start = (r.frag_off & IPV4_OFF_MASK) * 8u;
	uint32_t end = start + r.payload_len;
	bool last = !(r.frag_off & IPV4_FLAG_MF);

	pkt->l3_off = (uint16_t)l3;
	pkt->l4_off = start ? 0 : (uint16_t)(l3 + ipv4_hdr_len(ip));
	pthread_mutex_lock(&reasm_lock);
	limits_init_locked();
	expire_locked(now, &drop);
	for (pp = &reasm_head; (en = *pp); pp = &en->next)
		if (en->id == ip->id && en->saddr == ip->saddr && en->daddr == ip->daddr &&
		    en->proto == ip->proto)
			break;
	if (!en) {
		if (reasm_count >= limits.max_datagrams || !(en = calloc(1, sizeof(*en)))) {
			IP_STAT_INC(reasm_limit);
			goto drop_pkt;
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
	struct shim_pkt *tail = en->frags;
	while (tail && tail->frag)
		tail = tail->frag;
	if ((last && en->total && en->total != end) || (en->total && end > en->total) ||
	    (last && tail && FRAG_END(tail) > end)) {
		IP_STAT_INC(reasm_bad);
		entry_free_locked(pp, &drop);
		goto drop_pkt;
	}
	if (reasm_bytes + pkt->len > limits.max_bytes) {
		IP_STAT_INC(reasm_limit);
		entry_free_locked(pp, &drop);
		goto drop_pkt;
	}
	if (frag_insert(en, pkt, start, end)) {
		IP_STAT_INC(reasm_overlap);
		entry_free_locked(pp, &drop);
		goto drop_pkt;
	}
	if (last)
		en->total = end;
	en->bytes += pkt->len;
	reasm_bytes += pkt->len;
	IP_STAT_INC(rx_frags);
	if (complete(en)) {
		done = en->frags;
		en->frags = NULL;
		entry_free_locked(pp, &drop);
		IP_STAT_INC(reasm_ok);
		ret = 1;
	}
	pthread_mutex_unlock(&reasm_lock);
	free_drops(drop);
	if (done) {
		done->next = NULL;
		if (out_fn)
			out_fn(out_ctx, done);
		else
			pkt_free(done);	/* nobody to deliver to */
	}
	return ret;

drop_pkt:
	pthread_mutex_unlock(&reasm_lock);
	free_drops(drop);
	pkt_free(pkt);
	return -1;
}

void ip_frag_take(void *ctx, struct shim_pkt *pkt)
{
	ip_frag_input(pkt, net_now_ns());
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
	struct shim_pkt *drop = NULL;

	pthread_mutex_lock(&reasm_lock);
	while (reasm_head)
		entry_free_locked(&reasm_head, &drop);
	pthread_mutex_unlock(&reasm_lock);
	free_drops(drop);
}
