/* udp_sock.h — the offloaded UDP socket object, shared by udp_sock.c (socket ops),
 * udp_sock_rx.c (receive calls) and net/udp.c (demux into the ready queue). The
 * kernel socket at base.fd always exists: it holds the port and carries everything
 * that is not offloaded. */
#ifndef SHIM_SOCK_UDP_SOCK_H
#define SHIM_SOCK_UDP_SOCK_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "core/stats.h"
#include "core/tid.h"
#include "net/ip.h"
#include "net/pkt.h"
#include "ring/ring.h"
#include "sock/sock.h"

#define UDP_MAX_RX_RINGS 8
#define UDP_DST_CACHE 8		/* direct-mapped destinations per socket */
#define UDP_MAX_TX_RINGS 8	/* interfaces one socket sends through */

enum udp_dst_state { UDP_DST_EMPTY, UDP_DST_OFFLOAD, UDP_DST_KERNEL, UDP_DST_PENDING };

/* A destination this socket sent to: the decision and the cached header template. */
struct udp_dst {
	uint32_t daddr;			/* network order */
	uint16_t dport;
	uint8_t state;			/* enum udp_dst_state */
	bool rules_offload;		/* udp_sender decision, taken once per destination */
	bool mcast;			/* a group: IP_MULTICAST_LOOP copies on send */
	uint32_t cp_gen, opt_gen;	/* template validity */
	struct ring *ring;		/* TX ring (borrowed from the socket's set) */
	unsigned mtu;
	int ifindex;
	uint64_t checked_ns;		/* last route/neighbour check (coarse clock) */
	struct net_tmpl tmpl;
};

struct udp_group;
struct udp_mc;
struct mc_ent;

struct udp_sock {
	struct shim_fd base;		/* first: the fd table sees this */
	pthread_mutex_t lock;		/* bind/connect/options/close (slow path) */

	/* ready queue (datagrams from the rings), under qlock */
	pthread_spinlock_t qlock;
	struct shim_pkt *q_head, *q_tail;
	uint32_t q_pkts;
	uint64_t q_bytes;
	uint64_t q_limit;		/* max(SO_RCVBUF, SHIM_RX_BYTES_MIN) */

	/* receive side */
	int nrx;
	struct ring *rx_rings[UDP_MAX_RX_RINGS];	/* rings to poll (referenced) */
	struct udp_group *group;	/* 3-tuple membership, or NULL */
	struct udp_group *held_group;	/* last group joined, released at destroy */
	struct ring *conn_ring;		/* 5-tuple flow ring, or NULL */
	struct ring *conn_ring_held;	/* referenced until destroy (iomux may use it) */
	struct ring_flow conn_flow;
	bool rx_offloaded;
	bool tx_offloaded;		/* at least one destination goes through a ring */
	unsigned os_poll_count;		/* ring polls since the kernel fd was last checked */
	int sleepers;			/* threads asleep in a receive call, under qlock */
	int wake_efd;			/* eventfd they also sleep on; -1 until needed */

	/* addresses (network order), mirrored from the kernel socket */
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	bool bound, connected;
	bool shut_rd, shut_wr;
	bool os_only;			/* fork child, or corked: everything to the kernel */
	/* fork() child: the parent's ring still takes this socket's datagrams until
	 * the child receives on it (udp_sock.c, release_inherited); NULL otherwise */
	struct ring_inherited *inherited;

	/* options mirrored from setsockopt (the kernel socket has them too) */
	bool ts_us, ts_ns, pktinfo, recvtos, recvttl, reuseport, corked;
	uint8_t tos, ttl;
	int bound_if;			/* SO_BINDTODEVICE */
	int64_t rcvtimeo_ns, sndtimeo_ns;	/* 0 = none */
	uint32_t opt_gen;		/* bumped when TOS/TTL change */

	/* transmit side */
	pthread_mutex_t dst_lock;
	struct udp_dst dst[UDP_DST_CACHE];
	int ntx;
	struct ring *tx_rings[UDP_MAX_TX_RINGS];	/* referenced until destroy */

	/* multicast (net/mcast.c, sock/udp_sock_mc.c) */
	struct udp_mc *mc;		/* memberships as the kernel holds them */
	bool mc_rx;			/* receive side in the multicast registry */
	bool mc_all;			/* IP_MULTICAST_ALL (the kernel's default: on) */
	bool mc_loop;			/* IP_MULTICAST_LOOP */
	uint8_t mc_ttl;			/* IP_MULTICAST_TTL */
	int mc_index;			/* IP_MULTICAST_IF interface, 0 = by route */
	uint32_t mc_addr;		/* IP_MULTICAST_IF address */
	struct udp_sock *mc_next;	/* multicast registry list */
	uint16_t mc_port;		/* local port it is registered under */
	struct mc_ent **mc_held;	/* steering entries whose rings this socket polls */
	int mc_nheld, mc_capheld;

	struct shim_sock_stats *st;
	struct udp_sock *group_next;	/* member list of the group */
};

static inline struct udp_sock *udp_sk(struct shim_fd *f) { return (struct udp_sock *)f; }

/* Who called last, and the blocking mode as it is now, for the stats view. */
static inline void udp_sock_note_caller(struct udp_sock *s, bool rx)
{
	uint64_t tid = (uint64_t)shim_tid();
	if (rx)
		STAT_SET(s->st, last_rx_tid, tid);
	else
		STAT_SET(s->st, last_tx_tid, tid);
	if (STAT_GET(s->st, blocking) != (uint64_t)!s->base.nonblock)
		STAT_SET(s->st, blocking, !s->base.nonblock);
}

/* sock/udp_sock_rx.c */
ssize_t udp_sock_recvmsg(struct shim_fd *f, struct msghdr *msg, int flags);
int udp_sock_recvmmsg(struct shim_fd *f, struct mmsghdr *v, unsigned n, int flags, struct timespec *tmo);
unsigned udp_sock_poll_ready(struct shim_fd *f, unsigned events);
void udp_sock_flush_queue(struct udp_sock *s);
/* Wake threads asleep in a receive call (new data, or the socket now has rings). */
void udp_sock_kick(struct udp_sock *s);
/* The socket's receive rings changed (multicast steering): receive path, iomux and
 * stats follow. */
void udp_sock_rx_changed(struct udp_sock *s);
/* Poll each ring of the socket once; true if anything arrived. */
bool udp_sock_poll_rings(struct udp_sock *s);

/* Bound to a group address or joined to a group, with the multicast receive side
 * ours: receive calls wait where a join can wake them, not in the kernel alone. */
static inline bool udp_mc_waits(const struct udp_sock *s)
{
	return s->mc_rx && ((ntohl(s->laddr) >> 28) == 0xe || __atomic_load_n(&s->mc, __ATOMIC_RELAXED));
}

/* sock/udp_sock_mc.c */
/* Multicast state of a new socket (TTL 1, loop from SHIM_TX_MC_LOOPBACK, ALL on). */
void udp_mc_init(struct udp_sock *s);
/* After the kernel accepted setsockopt(IPPROTO_IP, name): follow it. s->lock held.
 * True when the option was a multicast one. */
bool udp_mc_setsockopt(struct udp_sock *s, int name, const void *val, socklen_t len);
/* Output interface and source for a datagram to group daddr, as the kernel would
 * choose them (IP_MULTICAST_IF, SO_BINDTODEVICE, route). 0 or -errno. */
int udp_mc_path(struct udp_sock *s, uint32_t daddr, uint16_t dport, int *ifindex, uint32_t *saddr);

#endif
