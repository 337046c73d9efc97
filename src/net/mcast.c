/* mcast.c — offloaded IPv4 multicast receive. A group joined on an interface by an
 * offloaded socket gets one steering entry: a RING_FLOW_MCAST flow (every port of
 * the group) on that interface's ring. Its sink hands each datagram to every socket
 * in the registry the kernel would deliver it to (__udp4_lib_mcast_deliver: port,
 * bound address 0 or the group, device, then ip_mc_sf_allow: the socket's own
 * membership and source filter, or IP_MULTICAST_ALL), the last one the ring's buffer
 * and the others a copy. Slow path (joins, binds, closes) under mc_mutex; what the
 * sink reads (registry, memberships) also under the mc_lock spinlock. */
#include "net/mcast.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/params.h"
#include "core/rules.h"
#include "net/route.h"
#include "net/udp.h"
#include "sock/udp_sock.h"

struct mc_ent {
	struct mc_ent *next;
	uint32_t group;
	int ifindex;
	struct ring *ring;		/* referenced until the last holder goes */
	struct ring_flow flow;
	unsigned refs;			/* steered memberships */
	unsigned holders;		/* sockets that polled its ring (iomux contract) */
	bool gone;			/* flow detached, out of the list */
	uint64_t joined_ns;		/* when the steering was set up (net_now_ns) */
};

static pthread_mutex_t mc_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_spinlock_t mc_lock;
static pthread_once_t mc_once = PTHREAD_ONCE_INIT;
static struct mc_ent *ents;		/* live entries (mc_mutex; reads also mc_lock) */
/* Registry of receiving sockets (mc_mutex + mc_lock to change), chained by local port
 * so that a datagram looks at the sockets of its port only, not at every one. */
#define MC_PORT_BUCKETS 64
static struct udp_sock *socks[MC_PORT_BUCKETS];

static struct udp_sock **bucket(uint16_t port)
{
	return &socks[ntohs(port) % MC_PORT_BUCKETS];
}
static int nents;

/* A fork() child starts with no rings and its sockets are the kernel's: what the
 * parent steered stays the parent's, and the lists here (which point at the
 * parent's rings) are forgotten, as another thread may have held the locks. */
static void mc_atfork_child(void)
{
	pthread_mutex_init(&mc_mutex, NULL);
	pthread_spin_init(&mc_lock, PTHREAD_PROCESS_PRIVATE);
	memset(socks, 0, sizeof(socks));
	ents = NULL;
	nents = 0;
}

static void mc_init_once(void)
{
	pthread_spin_init(&mc_lock, PTHREAD_PROCESS_PRIVATE);
	pthread_atfork(NULL, NULL, mc_atfork_child);
}

static void mc_init(void)
{
	pthread_once(&mc_once, mc_init_once);
}

/* ---- copies for the second and later receivers ---- */

/* A copy is one heap block: descriptor then payload. Its pool only returns it to
 * malloc: any thread frees a copy, the hook takes the whole return stack at once. */
static void copy_pool_return(struct pkt_pool *p)
{
	struct shim_pkt *l = atomic_exchange_explicit(&p->returned, NULL, memory_order_acquire);

	while (l) {
		struct shim_pkt *n = l->next;

		atomic_fetch_sub_explicit(&p->nreturned, 1, memory_order_relaxed);
		free(l);
		l = n;
	}
}

static struct pkt_pool copy_pool = { .on_return = copy_pool_return };

static struct shim_pkt *copy_new(size_t len)
{
	struct shim_pkt *c = malloc(sizeof(*c) + (len ? len : 1));

	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->data = (uint8_t *)(c + 1);
	c->len = (uint32_t)len;
	c->cap = (uint32_t)len;
	c->pool = &copy_pool;
	c->flags = PKT_F_MCAST;
	atomic_store_explicit(&c->refcnt, 1, memory_order_relaxed);
	return c;
}

/* Queue a copy of datagram p (described by m) on s. Runs under a ring's rx lock. */
static void enqueue_copy(struct udp_sock *s, const struct shim_pkt *p, const struct udp_meta *m)
{
	struct shim_pkt *c = copy_new(m->len);
	struct udp_meta cm = *m;

	if (!c) {
		STAT_INC(s->st, rx_packets_dropped);
		STAT_ADD(s->st, rx_bytes_dropped, m->len);
		return;
	}
	udp_copy_out(p, m, 0, &(struct iovec){ c->data, m->len }, 1);
	c->ring = p->ring;
	c->ts_ns = p->ts_ns;
	cm.off = 0;
	udp_sock_enqueue(s, c, &cm);
}

/* ---- the kernel's delivery rule ---- */

static struct udp_mc *find_mc(struct udp_sock *s, uint32_t group, int ifindex)
{
	for (struct udp_mc *m = s->mc; m; m = m->next)
		if (m->group == group && m->ifindex == ifindex)
			return m;
	return NULL;
}

/* ip_mc_sf_allow(): the socket's membership on the arriving interface decides by its
 * source filter; without one, IP_MULTICAST_ALL does. */
static bool filter_allows(struct udp_sock *s, uint32_t group, uint32_t saddr, int ifindex)
{
	struct udp_mc *m = find_mc(s, group, ifindex);
	bool listed = false;

	if (!m)
		return s->mc_all;
	for (unsigned i = 0; i < m->nsrc && !listed; i++)
		listed = m->src[i] == saddr;
	return m->fmode == MCAST_INCLUDE ? listed : !listed;
}

static bool sock_wants(struct udp_sock *s, const struct udp_meta *m, int ifindex)
{
	return s->lport == m->dport && (!s->laddr || s->laddr == m->daddr) && !s->connected &&
	       (!s->bound_if || s->bound_if == ifindex) && filter_allows(s, m->daddr, m->saddr, ifindex);
}

/* Give datagram pkt to every socket that wants it (takes pkt). */
static void deliver(struct shim_pkt *pkt, const struct udp_meta *m, int ifindex)
{
	struct udp_sock *last = NULL;

	pthread_spin_lock(&mc_lock);
	for (struct udp_sock *s = *bucket(m->dport); s; s = s->mc_next) {
		if (!sock_wants(s, m, ifindex))
			continue;
		if (last)
			enqueue_copy(last, pkt, m);
		last = s;
	}
	if (last)
		udp_sock_enqueue(last, pkt, m);
	pthread_spin_unlock(&mc_lock);
	if (!last)
		pkt_free(pkt);	/* a group the process joined, a port nobody here has */
}

static void mc_sink(void *ctx, struct shim_pkt *pkt)
{
	struct mc_ent *e = ctx;
	struct udp_meta m;

	if (!udp_sink_accept(pkt, &m))
		return;
	m.ifindex = e->ifindex;
	deliver(pkt, &m, e->ifindex);
}

void mc_loopback(uint32_t saddr, uint16_t sport, uint32_t group, uint16_t dport, int ifindex,
		 uint8_t tos, uint8_t ttl, const struct iovec *iov, int iovcnt, size_t len)
{
	struct udp_meta m = { .saddr = saddr, .daddr = group, .sport = sport, .dport = dport,
			      .len = (uint32_t)len, .tos = tos, .ttl = ttl, .ifindex = ifindex };
	bool joined = false;

	if (!__atomic_load_n(&nents, __ATOMIC_RELAXED))
		return;
	/* The kernel loops a copy back only for a group joined on the output device. */
	pthread_spin_lock(&mc_lock);
	for (struct mc_ent *e = ents; e && !joined; e = e->next)
		joined = e->group == group && e->ifindex == ifindex;
	pthread_spin_unlock(&mc_lock);
	if (!joined)
		return;
	struct shim_pkt *c = copy_new(len);
	if (!c)
		return;
	size_t off = 0;
	for (int i = 0; i < iovcnt && off < len; i++) {
		size_t k = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;
		memcpy(c->data + off, iov[i].iov_base, k);
		off += k;
	}
	deliver(c, &m, ifindex);
}

void mc_wait_after_join(uint32_t group)
{
	uint64_t wait_ns = (uint64_t)shim_params.wait_after_join_msec * 1000000u, joined = 0;

	if (!wait_ns || !__atomic_load_n(&nents, __ATOMIC_RELAXED))
		return;
	pthread_spin_lock(&mc_lock);
	for (struct mc_ent *e = ents; e; e = e->next)
		if (e->group == group && e->joined_ns > joined)
			joined = e->joined_ns;
	pthread_spin_unlock(&mc_lock);
	uint64_t now = net_now_ns();
	if (!joined || now >= joined + wait_ns)
		return;
	uint64_t left = joined + wait_ns - now;
	struct timespec ts = { (time_t)(left / 1000000000u), (long)(left % 1000000000u) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- steering entries (mc_mutex held) ---- */

static void ent_free_if_unused(struct mc_ent *e)
{
	if (!e->gone || e->holders)
		return;
	ring_put(e->ring);
	free(e);
}

static int ent_get(struct udp_sock *s, uint32_t group, int ifindex, struct mc_ent **out)
{
	struct mc_ent *e;
	bool lo = false;
	int err;

	for (e = ents; e; e = e->next)
		if (e->group == group && e->ifindex == ifindex)
			goto found;
	if (cp_link(ifindex, NULL, NULL, NULL, &lo) < 0 || lo)
		return -ENODEV;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	err = ring_get(ifindex, RING_RX, s->base.fd, &e->ring);
	if (err) {
		free(e);
		return err;
	}
	udp_frag_init();
	if (cp_link_is_virtual(ifindex))
		udp_set_partial_csum_if(ifindex);
	e->group = group;
	e->ifindex = ifindex;
	e->joined_ns = net_now_ns();
	e->flow = (struct ring_flow){ .kind = RING_FLOW_MCAST, .proto = IPPROTO_UDP, .dst_ip = group };
	err = ring_flow_attach(e->ring, &e->flow, mc_sink, e);
	if (err) {
		ring_put(e->ring);
		free(e);
		return err;
	}
	pthread_spin_lock(&mc_lock);
	e->next = ents;
	ents = e;
	nents++;
	pthread_spin_unlock(&mc_lock);
found:
	e->refs++;
	*out = e;
	return 0;
}

static void ent_put(struct mc_ent *e)
{
	if (--e->refs)
		return;
	pthread_spin_lock(&mc_lock);
	for (struct mc_ent **pp = &ents; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	nents--;
	pthread_spin_unlock(&mc_lock);
	/* Detaching takes the ring's rx lock: once done no sink runs on e. */
	ring_flow_detach(e->ring, &e->flow, mc_sink, e);
	e->gone = true;
	ent_free_if_unused(e);
}

/* ---- which rings a socket polls (mc_mutex held) ---- */

static bool hears(struct udp_sock *s, struct mc_ent *e)
{
	return (!s->laddr || s->laddr == e->group) && (!s->bound_if || s->bound_if == e->ifindex) &&
	       (s->mc_all || find_mc(s, e->group, e->ifindex));
}

static bool hold(struct udp_sock *s, struct mc_ent *e)
{
	for (int i = 0; i < s->mc_nheld; i++)
		if (s->mc_held[i] == e)
			return true;
	if (s->mc_nheld == s->mc_capheld) {
		int cap = s->mc_capheld ? 2 * s->mc_capheld : 4;
		struct mc_ent **h = realloc(s->mc_held, sizeof(*h) * (size_t)cap);
		if (!h)
			return false;
		s->mc_held = h;
		s->mc_capheld = cap;
	}
	s->mc_held[s->mc_nheld++] = e;
	e->holders++;
	return true;
}

/* The socket polls its group's rings and those of every entry it can hear. */
static void rings_sync(struct udp_sock *s)
{
	struct ring *rs[UDP_MAX_RX_RINGS];
	int n;

	if (!s->mc_rx)
		return;
	n = udp_group_rings(s, rs, UDP_MAX_RX_RINGS);
	for (struct mc_ent *e = ents; e; e = e->next) {
		bool have = false;

		if (!hears(s, e))
			continue;
		for (int i = 0; i < n && !have; i++)
			have = rs[i] == e->ring;
		if (have || n == UDP_MAX_RX_RINGS || !hold(s, e))
			continue;
		rs[n++] = e->ring;
	}
	int cur = __atomic_load_n(&s->nrx, __ATOMIC_ACQUIRE);
	if (cur == n && !memcmp(s->rx_rings, rs, sizeof(rs[0]) * (size_t)n))
		return;
	/* Growing: the new pointers are in place before the count says so. */
	memcpy(s->rx_rings, rs, sizeof(rs[0]) * (size_t)n);
	__atomic_store_n(&s->nrx, n, __ATOMIC_RELEASE);
	udp_sock_rx_changed(s);
}

static void rings_sync_all(void)
{
	for (int b = 0; b < MC_PORT_BUCKETS; b++)
		for (struct udp_sock *s = socks[b]; s; s = s->mc_next)
			rings_sync(s);
}

static void steer(struct udp_sock *s, struct udp_mc *m)
{
	int err;

	if (m->ent || !s->mc_rx)
		return;
	struct sockaddr_in local = { .sin_family = AF_INET, .sin_port = s->lport, .sin_addr.s_addr = m->group };
	if (!rules_offload(SHIM_ROLE_UDP_RECEIVER, &local, NULL))
		return;		/* the rules keep this group with the kernel */
	err = ent_get(s, m->group, m->ifindex, &m->ent);
	if (err) {
		char name[IF_NAMESIZE] = "?";

		if_indextoname((unsigned)m->ifindex, name);
		log_info("udp fd %d: multicast group %s on %s stays with the kernel: %s", s->base.fd,
			 inet_ntoa((struct in_addr){ m->group }), name,
			 err == -ENODEV ? "no usable ring on that interface" : strerror(-err));
	}
}

static void unsteer(struct udp_mc *m)
{
	if (m->ent)
		ent_put(m->ent);
	m->ent = NULL;
}

static void publish_groups(struct udp_sock *s)
{
	uint32_t seen[16];
	unsigned n = 0, total = 0;

	for (struct udp_mc *m = s->mc; m; m = m->next) {
		bool dup = false;

		for (unsigned i = 0; i < n && !dup; i++)
			dup = seen[i] == m->group;
		if (dup)
			continue;
		total++;
		if (n < 16) {
			seen[n] = m->group;
			STAT_SET(s->st, mc_groups_v[n], m->group);
			n++;
		}
	}
	for (unsigned i = n; i < 16; i++)
		STAT_SET(s->st, mc_groups_v[i], 0);
	STAT_SET(s->st, mc_group_count, total);
}

/* ---- the socket's side ---- */

void mc_sock_register(struct udp_sock *s)
{
	mc_init();
	pthread_mutex_lock(&mc_mutex);
	if (!s->mc_rx) {
		pthread_spin_lock(&mc_lock);
		s->mc_port = s->lport;	/* the chain it is on, whatever happens to lport */
		s->mc_next = *bucket(s->mc_port);
		*bucket(s->mc_port) = s;
		s->mc_rx = true;
		pthread_spin_unlock(&mc_lock);
	}
	for (struct udp_mc *m = s->mc; m; m = m->next)
		steer(s, m);
	rings_sync_all();
	pthread_mutex_unlock(&mc_mutex);
}

void mc_sock_unregister(struct udp_sock *s)
{
	if (!s->mc_rx)
		return;
	pthread_mutex_lock(&mc_mutex);
	pthread_spin_lock(&mc_lock);
	for (struct udp_sock **pp = bucket(s->mc_port); *pp; pp = &(*pp)->mc_next)
		if (*pp == s) {
			*pp = s->mc_next;
			break;
		}
	s->mc_next = NULL;
	s->mc_rx = false;
	pthread_spin_unlock(&mc_lock);
	for (struct udp_mc *m = s->mc; m; m = m->next)
		unsteer(m);
	rings_sync_all();
	pthread_mutex_unlock(&mc_mutex);
}

void mc_sock_release(struct udp_sock *s)
{
	mc_sock_unregister(s);
	pthread_mutex_lock(&mc_mutex);
	while (s->mc) {
		struct udp_mc *m = s->mc;

		s->mc = m->next;
		unsteer(m);
		free(m->src);
		free(m);
	}
	for (int i = 0; i < s->mc_nheld; i++) {
		s->mc_held[i]->holders--;
		ent_free_if_unused(s->mc_held[i]);
	}
	free(s->mc_held);
	s->mc_held = NULL;
	s->mc_nheld = s->mc_capheld = 0;
	pthread_mutex_unlock(&mc_mutex);
}

int mc_membership_set(struct udp_sock *s, uint32_t group, int ifindex, int fmode,
		      const uint32_t *src, unsigned nsrc)
{
	uint32_t *copy = NULL;
	int err = 0;

	mc_init();
	if (nsrc) {
		copy = malloc(sizeof(*copy) * nsrc);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, src, sizeof(*copy) * nsrc);
	}
	pthread_mutex_lock(&mc_mutex);
	struct udp_mc *m = find_mc(s, group, ifindex);
	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m) {
			free(copy);
			pthread_mutex_unlock(&mc_mutex);
			return -ENOMEM;
		}
		m->group = group;
		m->ifindex = ifindex;
	}
	pthread_spin_lock(&mc_lock);
	uint32_t *old = m->src;
	m->fmode = fmode;
	m->nsrc = nsrc;
	m->src = copy;
	if (!find_mc(s, group, ifindex)) {
		m->next = s->mc;
		s->mc = m;
	}
	pthread_spin_unlock(&mc_lock);
	free(old);
	steer(s, m);
	if (s->mc_rx && !m->ent)
		err = -ENODEV;
	rings_sync_all();
	publish_groups(s);
	pthread_mutex_unlock(&mc_mutex);
	return err;
}

void mc_membership_drop(struct udp_sock *s, uint32_t group, int ifindex)
{
	struct udp_mc *m = NULL;

	pthread_mutex_lock(&mc_mutex);
	pthread_spin_lock(&mc_lock);
	for (struct udp_mc **pp = &s->mc; *pp; pp = &(*pp)->next)
		if ((*pp)->group == group && (*pp)->ifindex == ifindex) {
			m = *pp;
			*pp = m->next;
			break;
		}
	pthread_spin_unlock(&mc_lock);
	if (m) {
		unsteer(m);
		free(m->src);
		free(m);
		rings_sync_all();
		publish_groups(s);
	}
	pthread_mutex_unlock(&mc_mutex);
}

void mc_sock_set_all(struct udp_sock *s, bool all)
{
	mc_init();
	pthread_mutex_lock(&mc_mutex);
	pthread_spin_lock(&mc_lock);
	s->mc_all = all;
	pthread_spin_unlock(&mc_lock);
	rings_sync(s);
	pthread_mutex_unlock(&mc_mutex);
}

int mc_membership_ifaces(struct udp_sock *s, uint32_t group, int *ifs, int max)
{
	int n = 0;

	pthread_mutex_lock(&mc_mutex);
	for (struct udp_mc *m = s->mc; m && n < max; m = m->next)
		if (m->group == group)
			ifs[n++] = m->ifindex;
	pthread_mutex_unlock(&mc_mutex);
	return n;
}
