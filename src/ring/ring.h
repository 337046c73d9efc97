/* ring.h — the packet ring contract. A ring is a set of hardware/XSK queues of one
 * interface with its own buffer pool, polled directly by application threads. The
 * socket layer gets rings from the registry (ring_get/ring_put, allocation logic),
 * attaches its flows, polls with ring_poll() (which demultiplexes frames to the flow
 * sinks) and builds frames in place with ring_tx_alloc()/ring_tx_send().
 * Backends (xdp, verbs) implement struct ring_ops; see DESIGN §4.
 *
 * Locking. Every ring has two spin locks:
 *  - rx lock: RX ring, fill ring, the flow demux. Pollers take it with
 *    ring_rx_trylock(): if another thread already polls the ring it delivers to
 *    every sink, so the loser simply checks its socket's ready queue again
 *    (the VMA model). Sinks run under the rx lock; they must not block and must
 *    not poll the same ring.
 *  - tx lock: TX ring, completion ring, TX pool. Senders take it with ring_tx_lock()
 *    for the few instructions of alloc/post; it is also taken inside ring_poll() to
 *    reap completions, never while the rx lock is wanted, so rx -> tx is the only
 *    nesting order.
 * pkt_free() of a ring's buffer never takes a lock (pkt.h return stack).
 * Attach/detach of flows takes the registry mutex, then the ring's rx lock. */
#ifndef SHIM_RING_H
#define SHIM_RING_H

#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/pkt.h"

#define RING_MAX_QUEUES		64	/* XSKs (queues) one ring may cover */
#define RING_BATCH_MAX		256	/* upper bound of cq_poll_batch_max */

enum ring_xdp_mode { RING_XDP_AUTO = 0, RING_XDP_NATIVE = 1, RING_XDP_GENERIC = 2 };
enum ring_backend { RING_BACKEND_AUTO = 0, RING_BACKEND_XDP = 1, RING_BACKEND_VERBS = 2,
		    RING_BACKEND_NONE = 3 };	/* indices of SHIM_BACKEND */
/* SHIM_RING_ALLOCATION_LOGIC_RX/TX values. */
enum ring_alloc_logic { RING_LOGIC_PER_INTERFACE = 0, RING_LOGIC_PER_SOCKET = 10,
			RING_LOGIC_PER_THREAD = 20, RING_LOGIC_PER_CORE = 30 };
enum ring_dir { RING_RX = 0, RING_TX = 1 };

/* Everything a ring needs from the parameters; ring_config_from_params() fills it,
 * tests fill it by hand. */
struct ring_config {
	uint32_t rx_bufs;	/* SHIM_RX_BUFS: RX buffers (UMEM frames) per ring */
	uint32_t tx_bufs;	/* SHIM_TX_BUFS: TX buffers per ring */
	uint32_t rx_wre;	/* SHIM_RX_WRE: RX and fill ring entries (rounded to 2^n) */
	uint32_t tx_wre;	/* SHIM_TX_WRE: TX and completion ring entries (2^n) */
	uint32_t batch;		/* SHIM_CQ_POLL_BATCH_MAX: frames per poll */
	uint32_t frame_size;	/* buffer size; 0 = backend default (fits the MTU) */
	int xdp_mode;		/* enum ring_xdp_mode */
	int zerocopy;		/* SHIM_XDP_ZEROCOPY: 0 off, 1 required, 2 where the
				 * driver can (copy mode otherwise) */
	bool need_wakeup;	/* use XDP_USE_NEED_WAKEUP (default true) */
	int backend;		/* enum ring_backend */
	int logic_rx, logic_tx;	/* enum ring_alloc_logic */
	int limit_per_if;	/* SHIM_RING_LIMIT_PER_INTERFACE, 0 = no limit */
	int first_queue;	/* first queue covered; -1 = all queues of the interface */
	int nqueues;		/* queues covered from first_queue; 0 = all */
	uint32_t refill_batch;	/* SHIM_RX_WRE_BATCHING: RX buffers posted per refill */
	uint32_t tx_kick_batch;	/* SHIM_TX_KICK_BATCH: frames per TX kick (1 = every send) */
	uint32_t tx_kick_usec;	/* SHIM_TX_KICK_USEC: longest a deferred kick waits */
};

/* Flow keys. Addresses and ports in network byte order. */
enum ring_flow_kind { RING_FLOW_5TUPLE = 1, RING_FLOW_3TUPLE = 2, RING_FLOW_MCAST = 3 };
struct ring_flow {
	uint8_t kind;		/* enum ring_flow_kind */
	uint8_t proto;		/* IPPROTO_UDP or IPPROTO_TCP */
	uint16_t dst_port;	/* local port (MCAST: 0 = every port of the group) */
	uint32_t dst_ip;	/* local address (3-tuple: may be 0 = any local address;
				 * MCAST: the group) */
	uint32_t src_ip;	/* 5-tuple only: remote address */
	uint16_t src_port;	/* 5-tuple only: remote port */
	uint16_t pad;
};

/* Per-ring counters. Written by the lock holder with relaxed stores, readable at any
 * time without locks (stats segment, shim_stats). */
struct ring_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_drops;		/* malformed or matching no flow */
	uint64_t rx_frags;		/* IPv4 fragments handed to the reassembler */
	uint64_t rx_polls, rx_empty_polls;
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_drops;		/* TX ring full or frame too big */
	uint64_t tx_completions;
	uint64_t tx_no_buf;		/* ring_tx_alloc found no free buffer */
	uint64_t wakeups_requested;	/* kicks sent to the kernel (need_wakeup set) */
	uint64_t wakeups_received;	/* blocking waits on the wake fd that woke up */
	uint64_t fill_level;		/* gauge: buffers posted to the fill ring(s) */
	uint64_t rx_buf_free;		/* gauge: RX buffers neither posted nor held */
	uint64_t tx_buf_free;		/* gauge: TX buffers free */
	/* From the kernel (XDP_STATISTICS), summed over the ring's sockets. */
	uint64_t k_rx_dropped, k_rx_invalid, k_tx_invalid, k_rx_ring_full,
		 k_fill_empty, k_tx_ring_empty;
	uint64_t rx_buf_total, tx_buf_total;	/* pool sizes (set at open) */
	uint64_t buf_size;			/* bytes per buffer */
	uint64_t rx_burst_max;			/* maximum: most frames in one poll */
	uint64_t rx_buf_used_max, tx_buf_used_max;	/* maximum: most buffers in use */
};

struct ring;

/* What a backend implements. All "n" arrays are caller-owned. */
struct ring_ops {
	const char *name;
	/* Can this backend serve the interface? 0, or -errno with *why set to a short
	 * static reason for the one log line (no XDP support, no permission, ...). */
	int (*probe)(int ifindex, const struct ring_config *cfg, const char **why);
	/* Rings one interface can have with this backend (queues, exclusive binding). */
	int (*max_rings)(int ifindex, const struct ring_config *cfg);
	/* Build the backend state of r (r->ifindex, r->cfg, r->index set). */
	int (*open)(struct ring *r);
	void (*close)(struct ring *r);
	/* rx lock held. Up to n received frames into pkts[]: the caller takes them. */
	unsigned (*rx_burst)(struct ring *r, struct shim_pkt **pkts, unsigned n);
	/* rx lock held. Post free RX buffers to the fill ring(s); returns how many. */
	unsigned (*refill)(struct ring *r);
	/* tx lock held. Up to n empty TX buffers (data at the frame start, cap set);
	 * the caller takes them and either sends or pkt_free()s them. */
	unsigned (*tx_alloc)(struct ring *r, struct shim_pkt **pkts, unsigned n);
	/* tx lock held. Queue the frames for sending; takes all n: frames that cannot
	 * be queued are freed and counted in tx_drops. Returns how many were queued. */
	unsigned (*tx_burst)(struct ring *r, struct shim_pkt **pkts, unsigned n);
	/* tx lock held. Push queued frames to the wire (kick when needed). With
	 * cfg.tx_kick_batch > 1 the kick may be deferred (ring_tx_defer()). */
	void (*tx_flush)(struct ring *r);
	/* tx lock held. Push queued frames now, whatever the batching; NULL when
	 * tx_flush never defers. */
	void (*tx_kick)(struct ring *r);
	/* tx lock held. Return completed TX buffers to the pool; returns how many. */
	unsigned (*tx_reap)(struct ring *r);
	/* rx lock held. Prepare to sleep on the wake fd: 0 if nothing is pending, or
	 * -EAGAIN if frames are already waiting (poll again instead of sleeping). */
	int (*arm)(struct ring *r);
	/* Install / remove steering for a flow (called once per distinct key). */
	int (*flow_add)(struct ring *r, const struct ring_flow *f);
	int (*flow_del)(struct ring *r, const struct ring_flow *f);
	/* Refresh gauges and kernel counters in r->stats (may be NULL). */
	void (*stats_sync)(struct ring *r);
};

/* One attached sink: rx takes ownership of every packet handed to it. */
struct ring_sink {
	pkt_take_fn rx;
	void *ctx;
};

struct ring_flow_table;

struct ring {
	const struct ring_ops *ops;
	void *priv;			/* backend state */
	struct ring_config cfg;
	int ifindex;
	char ifname[IF_NAMESIZE];
	int index;			/* ring number on its interface */
	int wake_fd;			/* readable when frames arrive (poll/epoll it) */
	uint32_t mtu;
	uint8_t mac[6];			/* interface MAC */
	pthread_spinlock_t rx_lock;
	pthread_spinlock_t tx_lock;
	struct ring_flow_table *flows;	/* demux table, under rx lock */
	int refcnt;			/* registry references, under the registry mutex */
	int nflows;
	unsigned long owner_key;	/* allocation key (fd, tid or cpu) */
	bool forked;			/* inherited through fork(): release, touch nothing shared */
	bool registered;		/* in the registry (deferred kicks need it) */
	bool kick_deferred;		/* frames queued, kick deferred (tx lock; racy reads) */
	uint64_t kick_first_ns;		/* when the deferred kick's first frame was queued */
	uint64_t kick_last_ns;		/* last kick (streaming senders defer the next) */
	int stats_index;		/* slot in the stats segment (socket.ring), -1 none */
	void *pub;			/* stats segment blocks (ring_stats.c) */
	struct ring_stats stats;
	struct ring *next;		/* registry list */
};

/* --- locking ------------------------------------------------------------- */
static inline bool ring_rx_trylock(struct ring *r)
{
	return pthread_spin_trylock(&r->rx_lock) == 0;
}
static inline void ring_rx_lock(struct ring *r) { pthread_spin_lock(&r->rx_lock); }
static inline void ring_rx_unlock(struct ring *r) { pthread_spin_unlock(&r->rx_lock); }
static inline void ring_tx_lock(struct ring *r) { pthread_spin_lock(&r->tx_lock); }
static inline void ring_tx_unlock(struct ring *r) { pthread_spin_unlock(&r->tx_lock); }

/* Relaxed counter update: one writer (the lock holder), lock-free readers. */
#define RING_STAT_ADD(r, field, n)                                                   \
	__atomic_store_n(&(r)->stats.field, (r)->stats.field + (n), __ATOMIC_RELAXED)
#define RING_STAT_SET(r, field, v) __atomic_store_n(&(r)->stats.field, (v), __ATOMIC_RELAXED)

/* --- TX fast path (tx lock held) -------------------------------------------- */
/* Up to n empty buffers to build frames in place (caller takes them). */
static inline unsigned ring_tx_alloc(struct ring *r, struct shim_pkt **pkts, unsigned n)
{
	return r->ops->tx_alloc(r, pkts, n);
}
/* Queue and flush frames (takes all n); returns how many were queued. */
static inline unsigned ring_tx_send(struct ring *r, struct shim_pkt **pkts, unsigned n)
{
	unsigned sent = r->ops->tx_burst(r, pkts, n);

	r->ops->tx_flush(r);
	return sent;
}
/* Queue frames without pushing them yet (takes all n), for senders that build
 * several frames (sendmmsg, IP fragments) and then call ring_tx_flush() once. */
static inline unsigned ring_tx_queue(struct ring *r, struct shim_pkt **pkts, unsigned n)
{
	return r->ops->tx_burst(r, pkts, n);
}
static inline void ring_tx_flush(struct ring *r)
{
	r->ops->tx_flush(r);
}
/* TX kick batching (SHIM_TX_KICK_BATCH > 1). A backend whose kick is a system call
 * (AF_XDP copy mode: sendto() on the XSK) asks, from tx_flush, whether it may leave
 * the kick for later: yes while the sender is streaming (its last kick was under
 * cfg.tx_kick_usec ago) and the oldest unkicked frame is younger than that. A
 * deferred kick is done by the next send that fills the batch or passes the
 * deadline, by the next ring poll or arm (any receive, poll, select or epoll call
 * of the process), at ring close, and by the internal thread within about 1 ms
 * (the bound for a sender that goes quiet). tx lock held. */
bool ring_tx_defer(struct ring *r);
/* The backend kicked (tx lock held): clears the deferred state. */
void ring_tx_kicked(struct ring *r);
/* Do every deferred kick of the process (rings whose tx lock is busy are left to
 * their sender). wait: wait for the registry lock instead of giving up (not on a
 * path that holds it). Cheap when nothing is deferred. */
void ring_kick_deferred_slow(bool wait);
extern int ring_kicks_deferred;
static inline void ring_kick_deferred(bool wait)
{
	if (__atomic_load_n(&ring_kicks_deferred, __ATOMIC_RELAXED))
		ring_kick_deferred_slow(wait);
}

/* Reap completions; returns buffers returned to the pool. */
static inline unsigned ring_tx_reap(struct ring *r)
{
	return r->ops->tx_reap(r);
}

/* --- registry and demux (ring.c) -------------------------------------------- */
/* Defaults, then from shim_params once parameters are loaded. */
void ring_config_default(struct ring_config *c);
void ring_config_from_params(struct ring_config *c);
/* Replace the configuration used for rings opened from now on (tests, start-up). */
void ring_set_config(const struct ring_config *c);

/* The ring serving interface ifindex in direction dir for socket fd, chosen by the
 * allocation logic (per interface, socket, thread or core) and the per-interface
 * limit; opened on first use. 0 and *out referenced, or -errno when the interface
 * has no usable backend (the socket stays with the kernel; logged once per
 * interface and counted in ring_not_offloaded()). */
int ring_get(int ifindex, enum ring_dir dir, int fd, struct ring **out);
/* Drop a reference; the last one closes the ring. Sockets should empty their queues
 * first; packets still held then stay valid and their buffers are released when the
 * last of them is freed (pkt->ring must not be used after the close). */
void ring_put(struct ring *r);
/* Open a ring directly, outside the registry (tests, tools). */
int ring_open(int ifindex, const struct ring_config *cfg, struct ring **out);
void ring_close(struct ring *r);
/* Close every ring (exit, fork child). */
void ring_registry_shutdown(void);
/* In a fork() child: release every inherited ring without touching the steering
 * the parent still uses; the child's sockets get new rings on demand. */
void ring_registry_atfork_child(void);
/* Requests that found no backend. */
uint64_t ring_not_offloaded(void);
/* Call fn for every open ring (stats publishing), under the registry mutex. */
void ring_for_each(void (*fn)(struct ring *r, void *arg), void *arg);
/* The same unless the registry is busy (then false, nothing called): data paths. */
bool ring_for_each_try(void (*fn)(struct ring *r, void *arg), void *arg);

/* Attach a sink to a flow of r: matching frames are redirected to the ring and
 * handed to rx (which takes them). Several sinks may share one key: each gets a
 * reference (multicast semantics); SO_REUSEPORT spreading belongs to the caller. */
int ring_flow_attach(struct ring *r, const struct ring_flow *f, pkt_take_fn rx, void *ctx);
/* Remove the sink (rx, ctx) from flow f; steering goes when the last sink leaves. */
int ring_flow_detach(struct ring *r, const struct ring_flow *f, pkt_take_fn rx, void *ctx);
/* fork() child: the flows that steer a shared socket's frames to the parent's rings,
 * held by handle until the child uses the socket; then they are taken away from the
 * parent, so the frames reach the kernel (and the socket both processes share
 * there), as prefork servers need. ring_inherit_flow() runs in the fork handler,
 * while the child still has its parent's privileges (a worker may drop them before
 * it accepts); it allocates *set on first use. A NULL set means nothing inherited. */
struct ring_inherited;
void ring_inherit_flow(struct ring_inherited **set, int ifindex, const struct ring_flow *f);
/* Once (a second call, from another thread too, finds NULL and returns 0): hand every
 * flow back and free the set. Returns how many flows went; *err gets the first
 * failure other than a flow already gone (0 if none). */
int ring_inherited_release(struct ring_inherited **set, int *err);
/* Forget the set without touching the steering (the socket is destroyed). */
void ring_inherited_free(struct ring_inherited **set);
/* Frames the demux cannot place alone: IPv4 fragments go to this handler (the IP
 * reassembler), which later gives whole datagrams back through ring_deliver(). One
 * handler for all rings; NULL drops fragments (counted). */
void ring_set_frag_handler(pkt_take_fn fn, void *ctx);
/* Demux one packet (or reassembled frag chain) to its sinks; takes it. Call with
 * r's rx lock held: the fragment handler runs under it inside ring_poll(). */
void ring_deliver(struct ring *r, struct shim_pkt *pkt);

/* Poll the ring: receive up to budget frames (0 = cfg.batch), demux them to the
 * sinks, refill, reap TX completions. Returns frames delivered, 0 if none, or
 * -EBUSY if another thread holds the rx lock (it is delivering for us). */
int ring_poll(struct ring *r, unsigned budget);
/* Before sleeping on r->wake_fd: 0 = sleep, -EAGAIN = frames pending, poll first. */
int ring_arm(struct ring *r);
/* Count a wake-up of the wake fd (the caller's poll/epoll said readable). */
static inline void ring_woken(struct ring *r)
{
	__atomic_fetch_add(&r->stats.wakeups_received, 1, __ATOMIC_RELAXED);
}
/* Snapshot of the counters (refreshes kernel counters and gauges). */
void ring_get_stats(struct ring *r, struct ring_stats *out);

/* Ethernet source for frames sent on r (interface MAC). */
static inline const uint8_t *ring_mac(const struct ring *r) { return r->mac; }

/* Backends. ring_verbs_ops is weak: absent when libibverbs is not built in. */
extern const struct ring_ops ring_xdp_ops;
extern const struct ring_ops ring_verbs_ops __attribute__((weak));

#endif
