/* flow.c — the UDP receive demux: which socket gets a datagram a ring delivered.
 * Sockets sharing a local (address, port) form a group with one sink per ring on
 * the 3-tuple flow: the newest member gets every datagram (the kernel's choice for
 * SO_REUSEADDR unicast), or members spread by a hash of the 4-tuple (SO_REUSEPORT).
 * A connected socket has its own sink on the 5-tuple flow, which the ring prefers. */
#include "net/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal_thread.h"
#include "core/log.h"
#include "core/stats.h"
#include "net/mcast.h"
#include "net/route.h"
#include "sock/udp_sock.h"

struct udp_group {
	struct udp_group *next;
	uint32_t laddr;
	uint16_t lport;
	bool reuseport;
	pthread_spinlock_t lock;	/* members; taken inside ring rx locks */
	struct udp_sock *members;	/* newest first */
	unsigned nmembers;
	/* Sockets that joined and are not destroyed yet: the rings stay referenced
	 * until the last of them goes, as the iomux contract asks (rx_rings op). */
	unsigned holders;
	bool nflows_gone;		/* no members left: flows detached, out of the list */
	int nrings;
	struct ring *rings[UDP_MAX_RX_RINGS];	/* referenced by the group */
	struct ring_flow flow;
};

static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct udp_group *groups;

static void group_release_locked(struct udp_group *g);

static uint32_t flow_hash(const struct udp_meta *m)
{
	/* Mix of the 4-tuple (murmur3 finaliser): spreads a reuseport group evenly. */
	uint64_t h = ((uint64_t)m->saddr << 32 | m->daddr) ^ ((uint64_t)m->sport << 16 | m->dport) * 0x9e3779b97f4a7c15ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

/* Validate and describe a delivered datagram: false when it was dropped (taken). */
bool udp_sink_accept(struct shim_pkt *pkt, struct udp_meta *m)
{
	struct ring *r = pkt->ring;

	if (udp_rx_parse(pkt, m)) {
		RING_STAT_ADD(r, rx_drops, 1);
		pkt_free(pkt);
		return false;
	}
	m->ifindex = r ? r->ifindex : 0;
	m->ts_ns = pkt->ts_ns;	/* taken at enqueue when 0 and the socket wants it */
	return true;
}

static void group_sink(void *ctx, struct shim_pkt *pkt)
{
	struct udp_group *g = ctx;
	struct udp_sock *s;
	struct udp_meta m;

	if (!udp_sink_accept(pkt, &m))
		return;
	pthread_spin_lock(&g->lock);
	s = g->members;
	if (s && g->reuseport && g->nmembers > 1) {
		unsigned k = (unsigned)(((uint64_t)flow_hash(&m) * g->nmembers) >> 32);
		while (k-- && s->group_next)
			s = s->group_next;
	}
	if (s)
		udp_sock_enqueue(s, pkt, &m);
	else
		pkt_free(pkt);
	pthread_spin_unlock(&g->lock);
}

static void conn_sink(void *ctx, struct shim_pkt *pkt)
{
	struct udp_sock *s = ctx;
	struct udp_meta m;

	if (!udp_sink_accept(pkt, &m))
		return;
	udp_sock_enqueue(s, pkt, &m);
}

int udp_group_join(struct udp_sock *s, uint32_t laddr, uint16_t lport, bool reuseport,
		   struct ring **rings, int nrings)
{
	struct udp_group *g;
	int err = 0;

	pthread_mutex_lock(&groups_lock);
	for (g = groups; g; g = g->next)
		if (g->laddr == laddr && g->lport == lport)
			break;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g) {
			err = -ENOMEM;
			goto out;
		}
		g->laddr = laddr;
		g->lport = lport;
		g->reuseport = reuseport;
		pthread_spin_init(&g->lock, PTHREAD_PROCESS_PRIVATE);
		g->flow = (struct ring_flow){ .kind = RING_FLOW_3TUPLE, .proto = IPPROTO_UDP,
					      .dst_port = lport, .dst_ip = laddr };
		for (int i = 0; i < nrings; i++) {
			if (cp_link_is_virtual(rings[i]->ifindex))
				udp_set_partial_csum_if(rings[i]->ifindex);
			err = g->nrings < UDP_MAX_RX_RINGS ? ring_flow_attach(rings[i], &g->flow, group_sink, g) : -ENOSPC;
			if (err) {
				log_dbg("udp: flow attach on %s failed: %s", rings[i]->ifname, strerror(-err));
				ring_put(rings[i]);
				continue;
			}
			g->rings[g->nrings++] = rings[i];	/* the group keeps this reference */
		}
		if (!g->nrings) {
			free(g);
			err = err ? err : -ENODEV;
			goto out_unlocked;
		}
		err = 0;
		g->next = groups;
		groups = g;
	} else {
		for (int i = 0; i < nrings; i++)
			ring_put(rings[i]);	/* the group already has its rings */
	}
	pthread_spin_lock(&g->lock);
	s->group_next = g->members;
	g->members = s;
	g->nmembers++;
	g->reuseport = g->reuseport && reuseport;
	pthread_spin_unlock(&g->lock);
	s->group = g;
	if (s->held_group != g) {
		struct udp_group *old = s->held_group;
		g->holders++;
		s->held_group = g;
		if (old)
			group_release_locked(old);
	}
	memcpy(s->rx_rings, g->rings, sizeof(g->rings[0]) * (size_t)g->nrings);
	__atomic_store_n(&s->nrx, g->nrings, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&groups_lock);
	return 0;
out:
	for (int i = 0; i < nrings; i++)
		ring_put(rings[i]);
out_unlocked:
	pthread_mutex_unlock(&groups_lock);
	return err;
}

void udp_group_leave(struct udp_sock *s)
{
	struct udp_group *g = s->group, **pp;

	if (!g)
		return;
	pthread_mutex_lock(&groups_lock);
	pthread_spin_lock(&g->lock);
	for (struct udp_sock **mp = &g->members; *mp; mp = &(*mp)->group_next)
		if (*mp == s) {
			*mp = s->group_next;
			g->nmembers--;
			break;
		}
	bool empty = !g->members;
	pthread_spin_unlock(&g->lock);
	s->group = NULL;
	s->group_next = NULL;
	if (empty) {
		for (pp = &groups; *pp; pp = &(*pp)->next)
			if (*pp == g) {
				*pp = g->next;
				break;
			}
		/* Detaching takes each ring's rx lock: once done no sink runs on g. */
		for (int i = 0; i < g->nrings; i++)
			ring_flow_detach(g->rings[i], &g->flow, group_sink, g);
		g->nflows_gone = true;
	}
	pthread_mutex_unlock(&groups_lock);
}

int udp_group_rings(struct udp_sock *s, struct ring **out, int max)
{
	int n = 0;

	pthread_mutex_lock(&groups_lock);
	for (int i = 0; s->group && i < s->group->nrings && n < max; i++)
		out[n++] = s->group->rings[i];
	pthread_mutex_unlock(&groups_lock);
	return n;
}

/* groups_lock held. Drop one holder; the last one puts the rings. */
static void group_release_locked(struct udp_group *g)
{
	if (--g->holders || !g->nflows_gone)
		return;
	for (int i = 0; i < g->nrings; i++)
		ring_put(g->rings[i]);
	pthread_spin_destroy(&g->lock);
	free(g);
}

void udp_group_release(struct udp_sock *s)
{
	if (!s->held_group)
		return;
	pthread_mutex_lock(&groups_lock);
	group_release_locked(s->held_group);
	s->held_group = NULL;
	pthread_mutex_unlock(&groups_lock);
}

int udp_conn_attach(struct udp_sock *s, struct ring *r, uint32_t laddr, uint16_t lport,
		    uint32_t raddr, uint16_t rport)
{
	struct ring_flow f = { .kind = RING_FLOW_5TUPLE, .proto = IPPROTO_UDP, .dst_port = lport,
			       .dst_ip = laddr, .src_ip = raddr, .src_port = rport };
	int err;

	if (cp_link_is_virtual(r->ifindex))
		udp_set_partial_csum_if(r->ifindex);
	err = ring_flow_attach(r, &f, conn_sink, s);

	if (err)
		return err;
	s->conn_ring = r;
	s->conn_flow = f;
	return 0;
}

void udp_conn_detach(struct udp_sock *s)
{
	if (!s->conn_ring)
		return;
	ring_flow_detach(s->conn_ring, &s->conn_flow, conn_sink, s);
	s->conn_ring = NULL;
}

/* ---- fragments ---- */

/* A reassembled datagram goes back through the demux of the ring that received
 * its first fragment. */
void udp_sock_inherit_flows(struct udp_sock *s, struct ring_inherited **set)
{
	struct udp_group *g = s->group;

	for (int i = 0; g && i < g->nrings; i++)
		ring_inherit_flow(set, g->rings[i]->ifindex, &g->flow);
	if (s->conn_ring)
		ring_inherit_flow(set, s->conn_ring->ifindex, &s->conn_flow);
	/* a group steered for this socket: the whole group goes back to the kernel,
	 * as a port does */
	for (struct udp_mc *m = s->mc; m; m = m->next) {
		struct ring_flow f = { .kind = RING_FLOW_MCAST, .proto = IPPROTO_UDP,
				       .dst_ip = m->group, .dst_port = s->lport };

		if (m->ent)
			ring_inherit_flow(set, m->ifindex, &f);
	}
}

static void deliver_chain(void *ctx, struct shim_pkt *chain)
{
	ring_deliver(chain->ring, chain);
}

void ip_stats_publish(void)
{
	struct shim_global_stats *g = stats_global();
	const struct ip_stats *s = &ip_stats;

	/* Only this function writes these fields of the process-wide block. */
#define PUB(to, from) STAT_SET(g, to, __atomic_load_n(&s->from, __ATOMIC_RELAXED))
	PUB(ip_rx_packets, rx_packets);
	PUB(ip_rx_drop_short, rx_drop[IP_DROP_SHORT]);
	PUB(ip_rx_drop_version, rx_drop[IP_DROP_VERSION]);
	PUB(ip_rx_drop_len, rx_drop[IP_DROP_LEN]);
	PUB(ip_rx_drop_csum, rx_drop[IP_DROP_CSUM]);
	PUB(ip_rx_drop_frag_bad, rx_drop[IP_DROP_FRAG_BAD]);
	PUB(udp_rx_drop_short, rx_drop[UDP_DROP_SHORT]);
	PUB(udp_rx_drop_len, rx_drop[UDP_DROP_LEN]);
	PUB(udp_rx_drop_csum, rx_drop[UDP_DROP_CSUM]);
	PUB(ip_rx_frags, rx_frags);
	PUB(ip_reasm_ok, reasm_ok);
	PUB(ip_reasm_timeouts, reasm_timeout);
	PUB(ip_reasm_overlaps, reasm_overlap);
	PUB(ip_reasm_limit, reasm_limit);
	PUB(ip_reasm_bad, reasm_bad);
	PUB(ip_rx_csum_partial, rx_csum_partial);
	PUB(ip_tx_packets, tx_packets);
	PUB(ip_tx_frags, tx_frags);
#undef PUB
}

__attribute__((destructor)) static void ip_stats_final(void)
{
	ip_stats_publish();
}

/* Incomplete datagrams expire even while every receiver sleeps; the IP counters
 * reach the stats segment on the same beat. */
static void reasm_timer(void *arg)
{
	ip_reasm_expire(net_now_ns());
	ip_stats_publish();
}

#define REASM_TIMER_MS 100

void udp_frag_init(void)
{
	static int done;

	if (!__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL)) {
		ip_reasm_set_output(deliver_chain, NULL);
		ring_set_frag_handler(ip_frag_take, NULL);
		int id = internal_thread_add(reasm_timer, NULL, REASM_TIMER_MS);
		if (id < 0)
			log_warn("udp: no internal thread (%d): incomplete fragments expire only while receiving", id);
	}
}

