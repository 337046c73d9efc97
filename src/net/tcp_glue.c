/* tcp_glue.c — the TCP engine between the rings and the sockets. One tcp_stack per
 * process: connections of every interface share one lock, which keeps the engine's
 * demux (5-tuple to connections, 3-tuple to listeners) and its timers in one place and
 * costs nothing while a process serves one interface from one thread, the common
 * case. Frames for the engine arrive through the ring sinks of the flows the sockets
 * attach; the engine's output is framed in place in TX buffers and sent in bursts. */
#include "net/tcp_glue.h"

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/internal_thread.h"
#include "core/log.h"
#include "core/params.h"
#include "intercept/intercept.h"
#include "net/ip.h"
#include "net/route.h"
#include "sock/tcp_sock.h"

#define GLUE_MAX_IFS	16
#define GLUE_DST_CACHE	64	/* direct-mapped destinations */
#define GLUE_TX_BATCH	64	/* frames held before a burst goes out */

struct glue_dst {
	uint32_t daddr;		/* 0: empty */
	uint32_t gen;		/* cp_generation() it was built at */
	struct ring *ring;
	uint8_t dmac[ETHER_ALEN];
	bool ok;
};

static struct {
	pthread_once_t once;
	int init_err;
	struct tcp_stack *st;
	pthread_mutex_t lock;
	pthread_mutex_t ifs_lock;	/* ifs[] */
	int nifs;
	int ifindex[GLUE_MAX_IFS];
	struct ring *ring[GLUE_MAX_IFS];
	bool csum_trusted[GLUE_MAX_IFS];	/* virtual link: frames never crossed a wire */
	struct glue_dst dst[GLUE_DST_CACHE];	/* under lock */
	struct shim_pkt *txq[GLUE_TX_BATCH];	/* under lock */
	unsigned ntx;
	uint16_t ip_id;
	uint64_t tx_drops;
	uint64_t rx_bad_csum;
	int task;
	uint64_t period_us;		/* of the internal thread's task */
	uint64_t app_active_us;		/* last progress made by an application thread */
	uint64_t next_deadline;		/* engine's earliest timer, as of the last unlock */
	pid_t pid;			/* process the rings and connections belong to */
} g = { .once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER,
	.ifs_lock = PTHREAD_MUTEX_INITIALIZER, .task = -1 };

static uint64_t clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One pass of progress (a burst of input, the timers, the reaper) reads the clock
 * once: a clock read costs 30-50 ns in a virtual machine, and a small send used to
 * make four of them. */
static __thread uint64_t held_now;
static __thread int held;

uint64_t tcp_glue_now_us(void)
{
	return held ? held_now : clock_us();
}

static uint64_t now_cb(void *ctx)
{
	(void)ctx;
	return tcp_glue_now_us();
}

uint64_t tcp_glue_tx_drops(void)
{
	return __atomic_load_n(&g.tx_drops, __ATOMIC_RELAXED);
}

static void tx_drop(void)
{
	__atomic_add_fetch(&g.tx_drops, 1, __ATOMIC_RELAXED);
}

/* ---- transmit ---- */

/* Send every held frame, one burst per ring (frames of one ring are contiguous in
 * the common case; the loop handles the mixed one). Lock held. */
static void tx_flush(void)
{
	unsigned i = 0;

	while (i < g.ntx) {
		struct ring *r = g.txq[i]->ring;
		unsigned j = i + 1;

		while (j < g.ntx && g.txq[j]->ring == r)
			j++;
		ring_tx_lock(r);
		ring_tx_send(r, &g.txq[i], j - i);
		ring_tx_unlock(r);
		i = j;
	}
	g.ntx = 0;
}

/* Destination of an output frame: ring and next-hop MAC, cached per address and
 * rebuilt when the control plane changes. Lock held; never waits. */
static struct glue_dst *dst_get(uint32_t daddr)
{
	struct glue_dst *d = &g.dst[(daddr * 0x9e3779b1u) >> 26];	/* 64 slots */
	uint32_t gen = cp_generation();
	struct cp_path p;

	if (d->daddr == daddr && d->gen == gen)
		return d->ok ? d : NULL;
	memset(d, 0, sizeof(*d));
	d->daddr = daddr;
	d->gen = gen;
	if (cp_route(daddr, 0, &p) || p.type != CP_DEST_UNICAST)
		return NULL;
	if (tcp_glue_ring(p.ifindex, &d->ring))
		return NULL;
	if (cp_neigh_lookup(p.ifindex, p.nexthop, d->dmac)) {
		d->gen = gen - 1;	/* look again next time: resolution is under way */
		return NULL;
	}
	d->ok = true;
	return d;
}

static void write_ipv4(struct ipv4_hdr *ip, uint32_t saddr, uint32_t daddr, unsigned tot_len)
{
	ip->ver_ihl = 0x45;
	ip->tos = 0;
	ip->tot_len = htons((uint16_t)tot_len);
	ip->id = htons(g.ip_id++);
	ip->frag_off = htons(IPV4_FLAG_DF);
	ip->ttl = 64;
	ip->proto = IPPROTO_NUM_TCP;
	ip->csum = 0;
	ip->saddr = saddr;
	ip->daddr = daddr;
	ip->csum = csum_fold(csum_partial(ip, IPV4_HDR_LEN, 0));
}

/* Engine output: frame the segment in a TX buffer of the destination's ring. A
 * segment that cannot go out now is dropped: the engine's timers recover it. */
static void output_cb(void *ctx, const struct tcp_out_pkt *o)
{
	struct glue_dst *d = dst_get(o->daddr);
	struct shim_pkt *pkt;
	unsigned len = ETH_HDR_LEN + IPV4_HDR_LEN + (unsigned)(o->hdr_len + o->payload_len);

	(void)ctx;
	if (!d) {
		tx_drop();
		return;
	}
	if (g.ntx == GLUE_TX_BATCH)
		tx_flush();
	ring_tx_lock(d->ring);
	unsigned n = ring_tx_alloc(d->ring, &pkt, 1);
	ring_tx_unlock(d->ring);
	if (!n) {
		/* Out of buffers: push what is held (it frees buffers on completion). */
		tx_flush();
		tx_drop();
		return;
	}
	if (len > pkt->cap || len - ETH_HDR_LEN > d->ring->mtu) {
		pkt_free(pkt);
		tx_drop();
		return;
	}
	struct eth_hdr *eth = (struct eth_hdr *)pkt->data;
	memcpy(eth->dst, d->dmac, ETHER_ALEN);
	memcpy(eth->src, ring_mac(d->ring), ETHER_ALEN);
	eth->type = htons(ETHTYPE_IPV4);
	write_ipv4((struct ipv4_hdr *)(pkt->data + ETH_HDR_LEN), o->saddr, o->daddr,
		   len - ETH_HDR_LEN);
	uint8_t *l4 = pkt->data + ETH_HDR_LEN + IPV4_HDR_LEN;
	memcpy(l4, o->hdr, o->hdr_len);
	if (o->payload_len)
		memcpy(l4 + o->hdr_len, o->payload, o->payload_len);
	pkt->len = len;
	pkt->ring = d->ring;
	g.txq[g.ntx++] = pkt;
}

static void event_cb(void *ctx, struct tcp_conn *c, unsigned events)
{
	void *user = tcp_conn_user(c);

	(void)ctx;
	if (user)
		tcp_sock_event(user, c, events);
}

/* ---- receive ---- */

/* The TCP checksum of a received segment. Frames of a virtual link (veth) are
 * memory handed over by the kernel, whose TCP leaves the checksum to an offload
 * that never happens there (CHECKSUM_PARTIAL): they are taken as they are, as the
 * kernel itself takes them. */
static bool rx_csum_ok(const struct shim_pkt *pkt, const struct ipv4_hdr *ip, unsigned len)
{
	int n = __atomic_load_n(&g.nifs, __ATOMIC_ACQUIRE);

	if (pkt->flags & PKT_F_CSUM_OK)
		return true;
	for (int i = 0; i < n; i++)
		if (g.ring[i] == pkt->ring)
			if (g.csum_trusted[i])
				return true;
	uint32_t sum = csum_pseudo(ip->saddr, ip->daddr, IPPROTO_NUM_TCP, (uint16_t)len);
	return csum_fold(csum_partial(pkt->data + pkt->l4_off, len, sum)) == 0;
}

/* Is ifname a virtual link whose frames carry no finished checksum (veth)? */
static bool link_is_virtual(const char *ifname)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;
	int fd = sys_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool virt = false;

	if (fd < 0)
		return false;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&info;
	if (sys_ioctl(fd, SIOCETHTOOL, &ifr) == 0)
		virt = !strcmp(info.driver, "veth");
	sys_close(fd);
	return virt;
}

/* Ring sink of every TCP flow: the engine finds the connection or listener. */
static void rx_sink(void *ctx, struct shim_pkt *pkt)
{
	(void)ctx;
	if (pkt->l4_off && pkt->l4_off > pkt->l3_off && pkt->len > pkt->l4_off) {
		const struct ipv4_hdr *ip = (const struct ipv4_hdr *)(pkt->data + pkt->l3_off);
		unsigned tot = ntohs(ip->tot_len), l3len = pkt->len - pkt->l3_off;
		unsigned ihl = (unsigned)(pkt->l4_off - pkt->l3_off);

		if (tot <= l3len && tot > ihl && !rx_csum_ok(pkt, ip, tot - ihl)) {
			__atomic_add_fetch(&g.rx_bad_csum, 1, __ATOMIC_RELAXED);
		} else if (tot <= l3len && tot > ihl) {
			tcp_glue_lock();
			tcp_input(g.st, ip->saddr, ip->daddr, pkt->data + pkt->l4_off, tot - ihl);
			tcp_glue_unlock();
		}
	}
	pkt_free(pkt);
}

/* ---- timers and progress ---- */

static void run_timers(void)
{
	if (__atomic_load_n(&g.next_deadline, __ATOMIC_RELAXED) <= tcp_glue_now_us()) {
		tcp_glue_lock();
		tcp_tick(g.st);
		tcp_glue_unlock();
	}
}

/* Set while this thread's ring_poll() delivers a burst: the frames the engine
 * answers with (mostly ACKs) wait for the end of the burst and leave together. */
static __thread int in_burst;

static int progress(struct ring *const *rings, int n, uint64_t now)
{
	int got = 0;

	held++;
	held_now = now;
	in_burst++;
	for (int i = 0; i < n; i++) {
		int r = ring_poll(rings[i], 0);
		if (r > 0)
			got += r;
	}
	in_burst--;
	if (__atomic_load_n(&g.ntx, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&g.lock);
		if (g.ntx)
			tx_flush();
		pthread_mutex_unlock(&g.lock);
	}
	run_timers();
	tcp_sock_reap();
	held--;
	return got;
}

int tcp_glue_progress(struct ring *const *rings, int n)
{
	/* An application thread is inside the library: the internal thread stands
	 * back (it would only contend for the locks, and when it is preempted holding
	 * one, the spinning application waits a whole time slice). */
	uint64_t now = clock_us();

	__atomic_store_n(&g.app_active_us, now, __ATOMIC_RELAXED);
	return progress(rings, n, now);
}

uint64_t tcp_glue_timer_wait_us(uint64_t cap_us)
{
	uint64_t dl = __atomic_load_n(&g.next_deadline, __ATOMIC_RELAXED), now = tcp_glue_now_us();

	if (dl <= now)
		return 0;
	return dl - now < cap_us ? dl - now : cap_us;
}

/* Internal thread: keeps connections the application is not looking at alive (ACKs,
 * retransmissions, keepalives, closes). Rings a thread is already polling answer
 * -EBUSY at once. */
static void periodic(void *arg)
{
	struct ring *rings[GLUE_MAX_IFS];
	int n;

	(void)arg;
	/* In a fork child the thread may restart before our fork handler let go of the
	 * parent's rings: nothing here belongs to this process until it has. */
	if (__atomic_load_n(&g.pid, __ATOMIC_ACQUIRE) != getpid())
		return;
	uint64_t now = clock_us();

	if (now - __atomic_load_n(&g.app_active_us, __ATOMIC_RELAXED) < g.period_us)
		return;
	pthread_mutex_lock(&g.ifs_lock);
	n = g.nifs;
	memcpy(rings, g.ring, sizeof(rings[0]) * (size_t)n);
	pthread_mutex_unlock(&g.ifs_lock);
	progress(rings, n, now);
}

static void config_from_params(struct tcp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mtu = shim_params.mtu > 0 ? (uint32_t)shim_params.mtu : 1500;
	cfg->mss = (uint32_t)shim_params.mss;
	/* SHIM_WINDOW_SCALING: 0..14 the shift we offer, -1 off, -2 sized to rcvbuf. */
	cfg->window_scaling = shim_params.window_scaling != -1;
	cfg->wscale_fixed = shim_params.window_scaling >= 0;
	cfg->wscale = (uint8_t)(shim_params.window_scaling >= 0 ? shim_params.window_scaling : 0);
	cfg->timestamps = true;
	cfg->sack = true;
	cfg->cc_algo = shim_params.tcp_cc_algo == SHIM_TCP_CC_CUBIC ? TCP_CC_CUBIC : TCP_CC_NEWRENO;
	cfg->rx_csum_verified = true;	/* rx_sink checks (or trusts) every segment */
	if (shim_params.tx_segs_tcp > 0 && shim_params.tx_segs_tcp < 4096)
		cfg->max_tx_segs = (uint32_t)shim_params.tx_segs_tcp;
}

/* fork() child: the rings went with the parent (the registry lets them go) and the
 * engine's connections are the parent's. The child starts over with an empty engine;
 * its inherited sockets are the kernel's (tcp_sock atfork). */
static void atfork_child(void)
{
	pthread_mutex_init(&g.lock, NULL);
	pthread_mutex_init(&g.ifs_lock, NULL);
	g.nifs = 0;
	g.ntx = 0;	/* frames of the parent's rings: not ours to send or free */
	memset(g.dst, 0, sizeof(g.dst));
	g.app_active_us = 0;
	g.next_deadline = UINT64_MAX;
	if (g.st) {
		/* The parent's engine is abandoned, not freed: its memory is the child's
		 * copy and nothing references it once the sockets let go. */
		struct tcp_config cfg;
		uint8_t secret[16];
		static const struct tcp_stack_ops ops = { .output = output_cb, .event = event_cb,
							  .now_us = now_cb };
		config_from_params(&cfg);
		if (getrandom(secret, sizeof(secret), GRND_NONBLOCK) != (ssize_t)sizeof(secret))
			memset(secret, 0x5a, sizeof(secret));
		g.st = tcp_stack_create(&cfg, &ops, NULL, secret);
		if (!g.st)
			g.init_err = -ENOMEM;
	}
	__atomic_store_n(&g.pid, getpid(), __ATOMIC_RELEASE);
}

static void init_once(void)
{
	static const struct tcp_stack_ops ops = { .output = output_cb, .event = event_cb,
						  .now_us = now_cb };
	struct tcp_config cfg;
	uint8_t secret[16];

	/* Before the internal thread exists: its fork handler (registered with its
	 * first task) restarts it in the child, and by then ours must have dropped the
	 * parent's rings, or the new thread would poll them. */
	pthread_atfork(NULL, NULL, atfork_child);
	g.init_err = cp_init();
	if (g.init_err)
		return;
	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret)) {
		uint64_t t = tcp_glue_now_us() ^ (uint64_t)(uintptr_t)&g;
		memcpy(secret, &t, sizeof(t));
		memcpy(secret + 8, &t, sizeof(t));
	}
	config_from_params(&cfg);
	g.st = tcp_stack_create(&cfg, &ops, NULL, secret);
	if (!g.st) {
		g.init_err = -ENOMEM;
		return;
	}
	g.next_deadline = UINT64_MAX;
	__atomic_store_n(&g.pid, getpid(), __ATOMIC_RELEASE);
	g.ip_id = (uint16_t)secret[0] << 8 | secret[1];
	long period = shim_params.tcp_timer_resolution_msec;
	if (shim_params.progress_engine_interval > 0 && shim_params.progress_engine_interval < period)
		period = shim_params.progress_engine_interval;
	if (period < 1)
		period = 1;
	g.period_us = (uint64_t)period * 1000u;
	g.task = internal_thread_add(periodic, NULL, (unsigned)period);
	if (g.task < 0)
		log_warn("tcp: no internal thread (%s): timers run only inside socket calls",
			 strerror(-g.task));
}

/* The engine's own counters, for the debug log at exit: proof of what went through
 * the rings rather than the kernel. */
__attribute__((destructor)) static void glue_report(void)
{
	if (!g.st)
		return;
	const struct tcp_stack_stats *ss = tcp_stack_stats(g.st);
	log_dbg("tcp: engine: %llu active opens, %llu passive opens, %llu segments in, "
		"%llu out, %llu retransmitted, %llu frames not sent, %llu bad checksums; %llu fast retransmits, "
		"%llu timeouts, %llu SACK and %llu NewReno recoveries, %llu duplicate ACKs, "
		"%llu out-of-order segments queued, %llu resets sent",
		(unsigned long long)ss->active_opens, (unsigned long long)ss->passive_opens,
		(unsigned long long)ss->in_segs, (unsigned long long)ss->out_segs,
		(unsigned long long)ss->retrans_segs, (unsigned long long)tcp_glue_tx_drops(),
		(unsigned long long)g.rx_bad_csum,
		(unsigned long long)ss->fast_retrans, (unsigned long long)ss->rto_timeouts,
		(unsigned long long)ss->sack_recoveries, (unsigned long long)ss->reno_recoveries,
		(unsigned long long)ss->dup_acks, (unsigned long long)ss->ooo_queued,
		(unsigned long long)ss->out_rsts);
}

int tcp_glue_init(void)
{
	pthread_once(&g.once, init_once);
	return g.init_err;
}

struct tcp_stack *tcp_glue_stack(void)
{
	return g.st;
}

void tcp_glue_lock(void)
{
	pthread_mutex_lock(&g.lock);
}

void tcp_glue_unlock(void)
{
	if (g.ntx && !in_burst)
		tx_flush();
	/* Published for lock-free readers: every engine change happens under the lock,
	 * so this is exact whenever nobody holds it. */
	__atomic_store_n(&g.next_deadline, tcp_next_deadline(g.st), __ATOMIC_RELAXED);
	pthread_mutex_unlock(&g.lock);
}

int tcp_glue_ring(int ifindex, struct ring **out)
{
	int rc = 0;

	pthread_mutex_lock(&g.ifs_lock);
	for (int i = 0; i < g.nifs; i++)
		if (g.ifindex[i] == ifindex) {
			*out = g.ring[i];
			goto out;
		}
	if (g.nifs == GLUE_MAX_IFS) {
		rc = -ENOSPC;
		goto out;
	}
	/* fd -1: the TCP engine's ring of the interface, whatever the allocation logic. */
	rc = ring_get(ifindex, RING_RX, -1, out);
	if (rc)
		goto out;
	g.ifindex[g.nifs] = ifindex;
	g.ring[g.nifs] = *out;
	g.csum_trusted[g.nifs] = link_is_virtual((*out)->ifname);
	__atomic_store_n(&g.nifs, g.nifs + 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&g.ifs_lock);
	return rc;
}

int tcp_glue_attach(struct ring *r, const struct ring_flow *f)
{
	return ring_flow_attach(r, f, rx_sink, NULL);
}

void tcp_glue_detach(struct ring *r, const struct ring_flow *f)
{
	ring_flow_detach(r, f, rx_sink, NULL);
}

int tcp_glue_path(uint32_t daddr, int timeout_ms, int *ifindex, uint32_t *src)
{
	struct cp_path p;
	uint8_t mac[ETHER_ALEN];
	struct ring *r;
	int rc;

	rc = cp_route(daddr, 0, &p);
	if (rc)
		return rc;
	if (p.type != CP_DEST_UNICAST)
		return -ENETUNREACH;
	rc = tcp_glue_ring(p.ifindex, &r);
	if (rc)
		return rc;
	*ifindex = p.ifindex;
	*src = p.src;
	uint64_t until = tcp_glue_now_us() + (uint64_t)timeout_ms * 1000u;
	for (;;) {
		uint32_t gen = cp_generation();
		rc = cp_neigh_lookup(p.ifindex, p.nexthop, mac);
		if (rc != -EAGAIN || tcp_glue_now_us() >= until)
			return rc;
		cp_wait_change(gen, 5);
	}
}
