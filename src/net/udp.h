/* udp.h — UDP over the rings: receive demux from ring flow sinks into socket ready
 * queues (groups of sockets sharing a local address and port, SO_REUSEPORT spread),
 * validation of datagrams (single frames and reassembled fragment chains), copying
 * a queued datagram out, and building a datagram into TX frames of a ring. Socket
 * semantics (bind, connect, options, blocking) live in sock/udp_sock.c. */
#ifndef SHIM_NET_UDP_H
#define SHIM_NET_UDP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "net/ip.h"
#include "net/pkt.h"
#include "ring/ring.h"

struct udp_sock;

/* What the receive path records about a queued datagram, kept in pkt->cb. */
struct udp_meta {
	uint32_t saddr, daddr;		/* network order */
	uint16_t sport, dport;		/* network order */
	uint32_t len;			/* payload bytes */
	uint16_t off;			/* payload offset in the first buffer */
	uint8_t tos, ttl;
	int ifindex;
	uint64_t ts_ns;			/* CLOCK_REALTIME, 0 when not taken */
};

static inline void udp_meta_store(struct shim_pkt *p, const struct udp_meta *m)
{
	p->cb[0] = m->saddr | (uint64_t)m->sport << 32 | (uint64_t)m->dport << 48;
	p->cb[1] = m->daddr | (uint64_t)m->len << 32;
	p->cb[2] = m->off | (uint64_t)m->tos << 16 | (uint64_t)m->ttl << 24 | (uint64_t)(uint32_t)m->ifindex << 32;
	p->cb[3] = m->ts_ns;
}

static inline void udp_meta_load(const struct shim_pkt *p, struct udp_meta *m)
{
	m->saddr = (uint32_t)p->cb[0];
	m->sport = (uint16_t)(p->cb[0] >> 32);
	m->dport = (uint16_t)(p->cb[0] >> 48);
	m->daddr = (uint32_t)p->cb[1];
	m->len = (uint32_t)(p->cb[1] >> 32);
	m->off = (uint16_t)p->cb[2];
	m->tos = (uint8_t)(p->cb[2] >> 16);
	m->ttl = (uint8_t)(p->cb[2] >> 24);
	m->ifindex = (int)(uint32_t)(p->cb[2] >> 32);
	m->ts_ns = p->cb[3];
}

static inline uint32_t udp_meta_len(const struct shim_pkt *p) { return (uint32_t)(p->cb[1] >> 32); }

/* Frames received on this interface may carry a kernel peer's pending checksum
 * offload (veth): see udp.c. */
#define UDP_PARTIAL_IF_MAX 4096
void udp_set_partial_csum_if(int ifindex);

/* Check a received frame or fragment chain and fill *m (borrows pkt). 0 or the
 * enum ip_drop reason; counted in ip_stats. */
int udp_rx_parse(const struct shim_pkt *pkt, struct udp_meta *m);

/* Copy up to max payload bytes of a queued datagram, starting at payload offset
 * skip, into the iovecs (borrows pkt). Returns bytes copied. */
size_t udp_copy_out(const struct shim_pkt *pkt, const struct udp_meta *m, size_t skip,
		    const struct iovec *iov, int iovcnt);

/* ---- receive demux ---- */

/* A socket joins the group of (local address, port) on the rings of the given
 * interfaces: the first member attaches the group's sink to a 3-tuple flow on each
 * ring. reuseport: members spread by 4-tuple hash; else the newest member gets
 * every datagram (the kernel's choice for SO_REUSEADDR unicast). Takes the ring
 * references (the group keeps or drops them); on success the socket's rx_rings are
 * the group's (borrowed while it is a member). */
int udp_group_join(struct udp_sock *s, uint32_t laddr, uint16_t lport, bool reuseport,
		   struct ring **rings, int nrings);
void udp_group_leave(struct udp_sock *s);
/* The rings of the 3-tuple group s is a member of (0 when none). */
int udp_group_rings(struct udp_sock *s, struct ring **out, int max);
/* A flow sink's first step: validate a delivered datagram and describe it in *m;
 * false when it was dropped (taken). */
bool udp_sink_accept(struct shim_pkt *pkt, struct udp_meta *m);
/* At destroy: the socket no longer needs the rings of the last group it joined. */
void udp_group_release(struct udp_sock *s);

/* Connected sockets: their own 5-tuple sink on one ring (the socket keeps its
 * reference to r in conn_ring until it is destroyed or connects elsewhere). */
int udp_conn_attach(struct udp_sock *s, struct ring *r, uint32_t laddr, uint16_t lport,
		    uint32_t raddr, uint16_t rport);
void udp_conn_detach(struct udp_sock *s);
/* fork() child, before the inherited rings go: the parent's steering of s's receive
 * flows into *set (ring_inherit_flow): the 3-tuple of its group on each ring, its
 * 5-tuple when connected, the groups it joined. */
void udp_sock_inherit_flows(struct udp_sock *s, struct ring_inherited **set);

/* Register the IP reassembler as the rings' fragment handler (once). */
void udp_frag_init(void);

/* Implemented by sock/udp_sock.c: queue a validated datagram (takes pkt). Runs under
 * the ring's rx lock: never blocks. */
void udp_sock_enqueue(struct udp_sock *s, struct shim_pkt *pkt, const struct udp_meta *m);

/* ---- transmit ---- */

/* Build and send one datagram of len bytes through r using template t and path MTU
 * mtu. Returns 0, -ENOBUFS when the ring has no free buffers for all its frames
 * (nothing sent), or -EMSGSIZE when a frame does not fit the ring's buffers. With
 * flush false the frames are queued but not pushed: a batch (sendmmsg) ends with
 * udp_tx_flush(), so the backend is kicked once for all of them. */
int udp_tx_ring(struct ring *r, const struct net_tmpl *t, unsigned mtu, const struct iovec *iov,
		int iovcnt, unsigned len, bool flush);
void udp_tx_flush(struct ring *r);

#endif
