/* ring_xdp.c — the AF_XDP backend's rings. One UMEM per ring, carved into an RX and
 * a TX buffer pool; one XSK per queue the ring covers (sharing the UMEM, each with its
 * own fill and completion ring); TX goes out through the first queue's XSK. Sockets
 * are created with libxdp's program loading inhibited and put in the XSKMAP of our
 * own program (ring_xdp_port.c), which needs no bpffs (works inside ip netns exec).
 * Our own descriptors use the kernel's calls (sys_*), never the library's wrappers. */
#include <errno.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xdp/xsk.h>

#include "core/log.h"
#include "intercept/sys.h"
#include "ring/ring.h"
#include "ring/ring_xdp.h"
#include "ring/steer.h"

#define XDP_FRAME_SMALL		2048u
#define XDP_FRAME_LARGE		4096u	/* largest frame copy mode accepts (page size) */
#define XDP_MAX_BUFS		(1u << 15)	/* per pool: 64 MiB of 2 KiB frames */
#define XDP_KICK_TRIES		64	/* sendto() rounds per flush (kernel sends 32 each) */

/* One XSK: the rings of one queue. */
struct xq {
	struct xsk_socket *xsk;
	struct xsk_ring_cons rx;
	struct xsk_ring_prod tx;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	int fd;
	uint32_t queue;
	uint32_t posted;	/* buffers given to the fill ring, not yet received */
};

struct xring {
	struct xdp_port *port;
	void *area;
	size_t area_len;
	struct xsk_umem *umem;
	uint32_t frame_size;
	uint32_t fill_size, tx_size;
	struct pkt_pool rxp, txp;
	uint32_t tx_pending;	/* submitted to the TX ring, not kicked */
	uint32_t tx_outstanding;	/* submitted, completion not reaped */
	unsigned rr;		/* next queue to poll */
	uint32_t zheld_rx, zheld_tx;	/* held by the application at close */
	atomic_bool zfreed;
	struct xring *znext;		/* closed rings kept for their pools */
	unsigned nq;
	struct xq q[];
};

static inline struct xring *xr_of(struct ring *r)
{
	return r->priv;
}

static uint32_t pow2_at_least(uint32_t v, uint32_t min)
{
	uint32_t p = min;

	while (p < v && p < (1u << 20))
		p <<= 1;
	return p;
}

/* --- sockets ---------------------------------------------------------------- */
static int xq_create(struct ring *r, struct xring *x, struct xq *q, bool first)
{
	struct xsk_socket_config sc = {
		.rx_size = x->fill_size,
		.tx_size = first ? x->tx_size : 0,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
	};
	__u16 copy = XDP_COPY | (r->cfg.need_wakeup ? XDP_USE_NEED_WAKEUP : 0);
	int rc = -EINVAL;

	for (int zc = r->cfg.zerocopy ? 1 : 0; zc >= 0; zc--) {
		sc.bind_flags = zc ? (copy & ~XDP_COPY) | XDP_ZEROCOPY : copy;
		/* A queue still bound by an XSK of a process that just exited is released
		 * by the kernel a moment later (deferred socket destruction): EBUSY then
		 * means "wait a little", bounded to 200 ms. */
		for (int tries = 0; tries < 20; tries++) {
			if (first)
				rc = xsk_socket__create(&q->xsk, r->ifname, q->queue, x->umem,
							&q->rx, &q->tx, &sc);
			else
				rc = xsk_socket__create_shared(&q->xsk, r->ifname, q->queue,
							       x->umem, &q->rx, NULL, &q->fill,
							       &q->comp, &sc);
			if (rc != -EBUSY)
				break;
			usleep(10000);
		}
		if (rc == 0 || (zc && r->cfg.zerocopy == 1)) {
			if (rc == 0 && zc)
				log_info("xdp: %s queue %u: zero-copy", r->ifname, q->queue);
			break;
		}
		if (zc)
			log_dbg("xdp: %s queue %u: no zero-copy (%s), using copy mode",
				r->ifname, q->queue, strerror(-rc));
	}
	if (rc < 0) {
		if (r->cfg.zerocopy == 1 && rc == -EOPNOTSUPP)
			log_warn("xdp: %s queue %u: SHIM_XDP_ZEROCOPY=1 but the driver has no "
				 "AF_XDP zero-copy (use 2 to fall back to copy mode)", r->ifname,
				 q->queue);
		else
			log_warn("xdp: %s queue %u: cannot create AF_XDP socket: %s", r->ifname,
				 q->queue, strerror(-rc));
		return rc;
	}
	q->fd = xsk_socket__fd(q->xsk);
	return 0;
}

static int xq_publish(struct ring *r, struct xring *x, struct xq *q)
{
	__u32 key = (uint32_t)r->index * STEER_MAX_QUEUES + q->queue;

	return xdp_port_set_xsk(x->port, key, q->fd);
}

static void xq_unpublish(struct ring *r, struct xring *x, struct xq *q)
{
	__u32 key = (uint32_t)r->index * STEER_MAX_QUEUES + q->queue;

	xdp_port_clear_xsk(x->port, key);
}

static unsigned xdp_refill(struct ring *r);
static unsigned xdp_tx_reap(struct ring *r);

/* Free the buffers' memory once every buffer the application held at close time is
 * back: a returner pushes, counts (release), then calls this; the last one frees.
 * The xring itself stays allocated: a slower returner may still read its pool. */
static void zombie_check(struct pkt_pool *p)
{
	struct xring *x = p->owner;

	if (atomic_load(&x->rxp.nreturned) < x->zheld_rx ||
	    atomic_load(&x->txp.nreturned) < x->zheld_tx ||
	    atomic_exchange(&x->zfreed, true))
		return;
	free(x->rxp.descs);
	free(x->txp.descs);
	munmap(x->area, x->area_len);
}

/* Closed rings whose pools are still referenced: a few hundred bytes each, kept
 * reachable for good (a late pkt_free() may read its pool at any time). */
static struct xring *zombies;
static pthread_mutex_t zombie_lock = PTHREAD_MUTEX_INITIALIZER;

/* Buffers the application still holds (a socket queue not yet flushed): keep their
 * descriptors and memory until the last comes back through pkt_free(). */
static bool zombie_keep(struct ring *r, struct xring *x)
{
	uint32_t posted = 0;

	if (r->forked || !x->area)
		return false;
	pkt_pool_drain(&x->rxp);
	pkt_pool_drain(&x->txp);
	for (unsigned i = 0; i < x->nq; i++)
		posted += x->q[i].posted;
	x->zheld_rx = x->rxp.nbufs - x->rxp.nfree - posted;
	x->zheld_tx = x->txp.nbufs - x->txp.nfree - x->tx_outstanding;
	if (!x->zheld_rx && !x->zheld_tx)
		return false;
	log_dbg("xdp: %s ring %d closed with %u+%u buffers still held; freed when they return",
		r->ifname, r->index, x->zheld_rx, x->zheld_tx);
	pthread_mutex_lock(&zombie_lock);
	x->znext = zombies;
	zombies = x;
	pthread_mutex_unlock(&zombie_lock);
	__atomic_store_n(&x->rxp.on_return, zombie_check, __ATOMIC_SEQ_CST);
	__atomic_store_n(&x->txp.on_return, zombie_check, __ATOMIC_SEQ_CST);
	zombie_check(&x->rxp);	/* all may have come back meanwhile */
	return true;
}

static void xdp_close(struct ring *r)
{
	struct xring *x = xr_of(r);
	bool kept;

	if (!x)
		return;
	if (x->nq && x->q[0].xsk)
		xdp_tx_reap(r);
	for (unsigned i = 0; i < x->nq; i++) {
		if (!x->q[i].xsk)
			continue;
		if (x->port && !r->forked)
			xq_unpublish(r, x, &x->q[i]);
		xsk_socket__delete(x->q[i].xsk);
	}
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->port)
		xdp_port_put(x->port, r->forked);
	if (r->wake_fd >= 0)
		sys_close(r->wake_fd);
	r->wake_fd = -1;
	r->priv = NULL;
	kept = zombie_keep(r, x);
	if (kept)
		return;
	pkt_pool_fini(&x->rxp);
	pkt_pool_fini(&x->txp);
	if (x->area && !r->forked)	/* MADV_DONTFORK: a child never had it */
		munmap(x->area, x->area_len);
	free(x);
}

static int xdp_open(struct ring *r)
{
	const struct ring_config *c = &r->cfg;
	struct xring *x;
	struct ifreq ifr;
	int nq_if, first, nq, rc;
	uint32_t rx_bufs, tx_bufs;

	nq_if = xdp_if_rx_queues(r->ifindex);
	first = c->first_queue < 0 ? 0 : c->first_queue;
	nq = c->nqueues > 0 ? c->nqueues : nq_if - first;
	if (first >= nq_if || nq <= 0 || first + nq > nq_if) {
		log_warn("xdp: %s has %d queue(s); queues %d..%d do not exist", r->ifname,
			 nq_if, first, first + nq - 1);
		return -EINVAL;
	}
	x = calloc(1, sizeof(*x) + (size_t)nq * sizeof(struct xq));
	if (!x)
		return -ENOMEM;
	r->priv = x;
	r->wake_fd = -1;
	x->nq = (unsigned)nq;
	for (int i = 0; i < nq; i++)
		x->q[i].queue = (uint32_t)(first + i);

	if (xdp_if_ioctl(r->ifindex, SIOCGIFMTU, &ifr) == 0)
		r->mtu = (uint32_t)ifr.ifr_mtu;
	if (xdp_if_ioctl(r->ifindex, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(r->mac, ifr.ifr_hwaddr.sa_data, 6);

	/* The program first: when another process owns the interface this fails
	 * before any memory is pinned. */
	rc = xdp_port_get(r->ifindex, c, r->ifname, &x->port);
	if (rc < 0) {
		x->port = NULL;
		goto out;
	}

	/* Frames hold XDP_PACKET_HEADROOM in front of the packet in copy mode. */
	x->frame_size = c->frame_size ? c->frame_size :
			(r->mtu + 14 + 4 + XDP_PACKET_HEADROOM <= XDP_FRAME_SMALL ?
			 XDP_FRAME_SMALL : XDP_FRAME_LARGE);
	if (r->mtu + 14 + 4 + XDP_PACKET_HEADROOM > x->frame_size)
		log_warn("xdp: %s: MTU %u exceeds what a %u-byte AF_XDP frame holds in copy "
			 "mode; larger frames are dropped (counted as kernel rx drops)",
			 r->ifname, r->mtu, x->frame_size);
	x->fill_size = pow2_at_least(c->rx_wre, 64);
	x->tx_size = pow2_at_least(c->tx_wre, 64);
	/* Enough RX buffers to keep every fill ring full plus a batch in flight. */
	rx_bufs = c->rx_bufs;
	if (rx_bufs < x->fill_size * (uint32_t)nq + c->batch)
		rx_bufs = x->fill_size * (uint32_t)nq + c->batch;
	if (rx_bufs > XDP_MAX_BUFS)
		rx_bufs = XDP_MAX_BUFS;
	tx_bufs = c->tx_bufs < x->tx_size ? x->tx_size : c->tx_bufs;
	if (tx_bufs > XDP_MAX_BUFS)
		tx_bufs = XDP_MAX_BUFS;

	x->area_len = (size_t)(rx_bufs + tx_bufs) * x->frame_size;
	x->area = mmap(NULL, x->area_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		rc = -errno;
		goto out;
	}
	/* A forked child must not share (or copy-on-write) memory the kernel writes. */
	madvise(x->area, x->area_len, MADV_DONTFORK);
	rc = pkt_pool_init(&x->rxp, x->area, 0, rx_bufs, x->frame_size, 0);
	if (rc < 0)
		goto out;
	rc = pkt_pool_init(&x->txp, (uint8_t *)x->area + (size_t)rx_bufs * x->frame_size,
			   (uint64_t)rx_bufs * x->frame_size, tx_bufs, x->frame_size, PKT_F_TX);
	if (rc < 0)
		goto out;
	x->rxp.owner = x->txp.owner = x;
	RING_STAT_SET(r, rx_buf_total, rx_bufs);
	RING_STAT_SET(r, tx_buf_total, tx_bufs);
	RING_STAT_SET(r, buf_size, x->frame_size);

	struct xsk_umem_config uc = {
		.fill_size = x->fill_size,
		/* Twice the TX ring: with a completion ring no larger than the TX ring,
		 * copy-mode transmit stalls for good once both fill up (measured). */
		.comp_size = x->tx_size * 2,
		.frame_size = x->frame_size,
		.frame_headroom = 0,
		.flags = 0,
	};
	rc = xsk_umem__create(&x->umem, x->area, x->area_len, &x->q[0].fill, &x->q[0].comp, &uc);
	if (rc < 0) {
		log_warn("xdp: %s: cannot register UMEM of %zu bytes: %s", r->ifname,
			 x->area_len, strerror(-rc));
		x->umem = NULL;
		goto out;
	}
	r->wake_fd = sys_epoll_create1(EPOLL_CLOEXEC);
	if (r->wake_fd < 0) {
		rc = -errno;
		goto out;
	}
	for (unsigned i = 0; i < x->nq; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		rc = xq_create(r, x, &x->q[i], i == 0);
		if (rc < 0)
			goto out;
		if (sys_epoll_ctl(r->wake_fd, EPOLL_CTL_ADD, x->q[i].fd, &ev) < 0) {
			rc = -errno;
			goto out;
		}
	}
	xdp_refill(r);
	for (unsigned i = 0; i < x->nq; i++) {
		rc = xq_publish(r, x, &x->q[i]);
		if (rc < 0)
			goto out;
	}
	log_info("xdp: %s ring %d: %u queue(s) from %d, %u+%u buffers of %u bytes, "
		 "rings %u/%u, %s mode", r->ifname, r->index, x->nq, first, rx_bufs, tx_bufs,
		 x->frame_size, x->fill_size, x->tx_size, xdp_port_mode(x->port));
	return 0;
out:
	xdp_close(r);
	return rc;
}

/* --- RX --------------------------------------------------------------------- */
static unsigned xdp_refill(struct ring *r)
{
	struct xring *x = xr_of(r);
	unsigned total = 0;

	/* Post in batches of SHIM_RX_WRE_BATCHING (at most a quarter of the ring): each
	 * post moves the producer index the kernel reads on another core. */
	uint32_t batch = r->cfg.refill_batch < x->fill_size / 4 ? r->cfg.refill_batch :
			 x->fill_size / 4;

	pkt_pool_drain(&x->rxp);
	for (unsigned i = 0; i < x->nq && x->rxp.nfree; i++) {
		struct xq *q = &x->q[i];
		uint32_t room = x->fill_size - q->posted, n, idx;

		if (room < batch && q->posted)
			continue;	/* batch small refills */
		n = room < x->rxp.nfree ? room : x->rxp.nfree;
		n = xsk_prod_nb_free(&q->fill, n) < n ? xsk_prod_nb_free(&q->fill, n) : n;
		if (!n || xsk_ring_prod__reserve(&q->fill, n, &idx) != n)
			continue;
		for (uint32_t k = 0; k < n; k++) {
			struct shim_pkt *p = pkt_pool_get(&x->rxp);

			*xsk_ring_prod__fill_addr(&q->fill, idx + k) = p->addr;
		}
		xsk_ring_prod__submit(&q->fill, n);
		q->posted += n;
		total += n;
	}
	if (total) {
		uint64_t lvl = 0;

		for (unsigned i = 0; i < x->nq; i++)
			lvl += x->q[i].posted;
		RING_STAT_SET(r, fill_level, lvl);
	}
	return total;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void kick_fill(struct ring *r, struct xq *q)
{
	if (!xsk_ring_prod__needs_wakeup(&q->fill))
		return;
	sys_recvfrom(q->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	RING_STAT_ADD(r, wakeups_requested, 1);
}

static unsigned xdp_rx_burst(struct ring *r, struct shim_pkt **pkts, unsigned n)
{
	struct xring *x = xr_of(r);
	unsigned got = 0, start = x->rr;
	uint64_t bytes = 0, ts = 0;

	for (unsigned k = 0; k < x->nq && got < n; k++) {
		struct xq *q = &x->q[(start + k) % x->nq];
		uint32_t idx, m = xsk_ring_cons__peek(&q->rx, n - got, &idx);

		if (!m) {
			if (r->cfg.need_wakeup)
				kick_fill(r, q);
			continue;
		}
		if (!ts)
			ts = now_ns();
		for (uint32_t i = 0; i < m; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&q->rx, idx + i);
			uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);
			struct shim_pkt *p = pkt_pool_lookup(&x->rxp, addr);

			if (!p) {	/* cannot happen unless the kernel is confused */
				RING_STAT_ADD(r, rx_drops, 1);
				continue;
			}
			p->data = (uint8_t *)x->area + addr;
			p->len = d->len;
			p->cap = x->frame_size - (uint32_t)(addr - p->addr);
			p->queue = (uint16_t)q->queue;
			p->flags = 0;
			p->next = p->frag = NULL;
			p->l3_off = p->l4_off = 0;
			p->ts_ns = ts;
			p->ring = r;
			atomic_store_explicit(&p->refcnt, 1, memory_order_relaxed);
			pkts[got++] = p;
			bytes += d->len;
		}
		xsk_ring_cons__release(&q->rx, m);
		q->posted -= m;
	}
	x->rr = (start + 1) % x->nq;
	RING_STAT_ADD(r, rx_polls, 1);
	if (!got) {
		RING_STAT_ADD(r, rx_empty_polls, 1);
		return 0;
	}
	RING_STAT_ADD(r, rx_packets, got);
	RING_STAT_ADD(r, rx_bytes, bytes);
	return got;
}

static int xdp_arm(struct ring *r)
{
	struct xring *x = xr_of(r);

	xdp_refill(r);
	for (unsigned i = 0; i < x->nq; i++) {
		if (xsk_cons_nb_avail(&x->q[i].rx, 1))
			return -EAGAIN;
		kick_fill(r, &x->q[i]);
	}
	return 0;
}

/* --- TX --------------------------------------------------------------------- */
static unsigned xdp_tx_reap(struct ring *r)
{
	struct xring *x = xr_of(r);
	struct xq *q = &x->q[0];
	uint32_t idx, n;

	if (!x->tx_outstanding)
		return 0;
	n = xsk_ring_cons__peek(&q->comp, x->tx_size * 2, &idx);
	if (!n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t addr = *xsk_ring_cons__comp_addr(&q->comp, idx + i);
		struct shim_pkt *p = pkt_pool_lookup(&x->txp, xsk_umem__add_offset_to_addr(addr));

		if (p && atomic_fetch_sub_explicit(&p->refcnt, 1, memory_order_acq_rel) == 1)
			pkt_pool_put_local(&x->txp, p);
	}
	xsk_ring_cons__release(&q->comp, n);
	x->tx_outstanding -= n;
	RING_STAT_ADD(r, tx_completions, n);
	return n;
}

static unsigned xdp_tx_alloc(struct ring *r, struct shim_pkt **pkts, unsigned n)
{
	struct xring *x = xr_of(r);
	unsigned got = 0;

	if (x->txp.nfree < n) {
		xdp_tx_reap(r);
		pkt_pool_drain(&x->txp);
	}
	while (got < n) {
		struct shim_pkt *p = pkt_pool_get(&x->txp);

		if (!p)
			break;
		p->ring = r;
		pkts[got++] = p;
	}
	if (got < n)
		RING_STAT_ADD(r, tx_no_buf, 1);
	return got;
}

static void xdp_tx_kick(struct ring *r)
{
	struct xring *x = xr_of(r);
	struct xq *q = &x->q[0];

	ring_tx_kicked(r);
	if (!x->tx_pending)
		return;
	x->tx_pending = 0;
	if (r->cfg.need_wakeup && !xsk_ring_prod__needs_wakeup(&q->tx))
		return;
	for (int i = 0; i < XDP_KICK_TRIES; i++) {
		RING_STAT_ADD(r, wakeups_requested, 1);
		if (sys_sendto(q->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			break;
		/* EAGAIN: the kernel sent its budget and more is queued; EBUSY/ENOBUFS:
		 * the device is busy, the next flush or reap retries. */
		if (errno != EAGAIN)
			break;
	}
}

/* Kick now, or leave it to ring_kick.c while a streaming sender fills the batch
 * (never when the TX ring is full: the kernel must make room). */
static void xdp_tx_flush(struct ring *r)
{
	struct xring *x = xr_of(r);

	if (!x->tx_pending)
		return;
	if (r->cfg.tx_kick_batch > 1 && x->tx_pending < r->cfg.tx_kick_batch &&
	    xsk_prod_nb_free(&x->q[0].tx, 1) && ring_tx_defer(r))
		return;
	xdp_tx_kick(r);
}

static unsigned xdp_tx_burst(struct ring *r, struct shim_pkt **pkts, unsigned n)
{
	struct xring *x = xr_of(r);
	struct xq *q = &x->q[0];
	uint32_t idx = 0, room, ok = 0;
	uint64_t bytes = 0;

	room = xsk_prod_nb_free(&q->tx, n);
	if (room < n) {
		xdp_tx_kick(r);
		xdp_tx_reap(r);
		room = xsk_prod_nb_free(&q->tx, n);
	}
	if (room > n)
		room = n;
	if (room && xsk_ring_prod__reserve(&q->tx, room, &idx) != room)
		room = 0;
	for (unsigned i = 0; i < n; i++) {
		struct shim_pkt *p = pkts[i];
		uint64_t frame = p->addr, off = 0;

		if (p->pool == &x->txp)
			off = (uint64_t)(p->data - ((uint8_t *)x->area + frame));
		if (p->pool != &x->txp || ok >= room || off + p->len > x->frame_size) {
			/* Not ours, no room, or overruns the frame: drop, counted. */
			RING_STAT_ADD(r, tx_drops, 1);
			pkt_free(p);
			continue;
		}
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&q->tx, idx + ok);

		d->addr = frame + off;
		d->len = p->len;
		d->options = 0;
		bytes += p->len;
		ok++;
	}
	if (ok < room) {
		/* Fill the unused reservation with nothing: give the slots back. */
		q->tx.cached_prod -= room - ok;
	}
	if (ok) {
		xsk_ring_prod__submit(&q->tx, ok);
		x->tx_pending += ok;
		x->tx_outstanding += ok;
		RING_STAT_ADD(r, tx_packets, ok);
		RING_STAT_ADD(r, tx_bytes, bytes);
	}
	return ok;
}

/* --- flows ------------------------------------------------------------------ */
static int xdp_flow_add(struct ring *r, const struct ring_flow *f)
{
	if (r->forked)	/* the maps are the parent's */
		return 0;
	return xdp_port_flow(xr_of(r)->port, (uint32_t)r->index, f, true);
}

static int xdp_flow_del(struct ring *r, const struct ring_flow *f)
{
	if (r->forked)
		return 0;
	return xdp_port_flow(xr_of(r)->port, (uint32_t)r->index, f, false);
}

static void xdp_stats_sync(struct ring *r)
{
	struct xring *x = xr_of(r);
	struct ring_stats *s = &r->stats;
	uint64_t drop = 0, rinv = 0, tinv = 0, full = 0, fempty = 0, tempty = 0;

	for (unsigned i = 0; i < x->nq; i++) {
		struct xdp_statistics st;
		socklen_t len = sizeof(st);

		if (sys_getsockopt(x->q[i].fd, SOL_XDP, XDP_STATISTICS, &st, &len) < 0)
			continue;
		drop += st.rx_dropped;
		rinv += st.rx_invalid_descs;
		tinv += st.tx_invalid_descs;
		full += st.rx_ring_full;
		fempty += st.rx_fill_ring_empty_descs;
		tempty += st.tx_ring_empty_descs;
	}
	__atomic_store_n(&s->k_rx_dropped, drop, __ATOMIC_RELAXED);
	__atomic_store_n(&s->k_rx_invalid, rinv, __ATOMIC_RELAXED);
	__atomic_store_n(&s->k_tx_invalid, tinv, __ATOMIC_RELAXED);
	__atomic_store_n(&s->k_rx_ring_full, full, __ATOMIC_RELAXED);
	__atomic_store_n(&s->k_fill_empty, fempty, __ATOMIC_RELAXED);
	__atomic_store_n(&s->k_tx_ring_empty, tempty, __ATOMIC_RELAXED);
	/* RX buffers posted to the fill rings are not in use by the application. */
	uint64_t rx_free = pkt_pool_available(&x->rxp) + __atomic_load_n(&s->fill_level,
									 __ATOMIC_RELAXED);
	uint64_t tx_free = pkt_pool_available(&x->txp);

	/* Read while the data path moves buffers: not one snapshot, so keep it sane. */
	if (rx_free > x->rxp.nbufs)
		rx_free = x->rxp.nbufs;
	if (tx_free > x->txp.nbufs)
		tx_free = x->txp.nbufs;

	__atomic_store_n(&s->rx_buf_free, rx_free, __ATOMIC_RELAXED);
	__atomic_store_n(&s->tx_buf_free, tx_free, __ATOMIC_RELAXED);
	if (x->rxp.nbufs - rx_free > s->rx_buf_used_max)
		__atomic_store_n(&s->rx_buf_used_max, x->rxp.nbufs - rx_free, __ATOMIC_RELAXED);
	if (x->txp.nbufs - tx_free > s->tx_buf_used_max)
		__atomic_store_n(&s->tx_buf_used_max, x->txp.nbufs - tx_free, __ATOMIC_RELAXED);
}

const struct ring_ops ring_xdp_ops = {
	.name = "xdp",
	.probe = xdp_probe,
	.max_rings = xdp_max_rings,
	.open = xdp_open,
	.close = xdp_close,
	.rx_burst = xdp_rx_burst,
	.refill = xdp_refill,
	.tx_alloc = xdp_tx_alloc,
	.tx_burst = xdp_tx_burst,
	.tx_flush = xdp_tx_flush,
	.tx_kick = xdp_tx_kick,
	.tx_reap = xdp_tx_reap,
	.arm = xdp_arm,
	.flow_add = xdp_flow_add,
	.flow_del = xdp_flow_del,
	.stats_sync = xdp_stats_sync,
};
