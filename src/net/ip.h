/* ip.h — the IPv4 layer between the rings and UDP: Internet checksums, the cached
 * Ethernet+IPv4+UDP header template of a destination, fragmentation arithmetic for
 * transmit, validation of received packets and reassembly of fragments (ip_reasm.c).
 * Everything here works on plain memory so it can be tested without a ring. */
#ifndef SHIM_NET_IP_H
#define SHIM_NET_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "net/proto/eth.h"
#include "net/proto/ip.h"
#include "net/proto/udp.h"

/* ---- checksums (RFC 1071) ---- */

/* One's-complement sum of len bytes added to sum (32-bit accumulator, unfolded). */
uint32_t csum_partial(const void *p, size_t len, uint32_t sum);
/* Copy len bytes and add them to the sum in the same pass; like csum_partial, the sum
 * is that of a block starting at an even offset. */
uint32_t csum_copy(void *dst, const void *src, size_t len, uint32_t sum);

static inline uint16_t csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Add a 32-bit sum to another (end-around carry). */
static inline uint32_t csum_add(uint32_t a, uint32_t b)
{
	uint64_t s = (uint64_t)a + b;
	return (uint32_t)((s & 0xffffffffu) + (s >> 32));
}

/* A partial sum computed over a block that starts at an odd offset of the whole must be
 * byte-swapped before it is added (RFC 1071 §2(B)). */
static inline uint32_t csum_shift_odd(uint32_t sum)
{
	uint16_t f = (uint16_t)~csum_fold(sum);
	return (uint32_t)(uint16_t)((f << 8) | (f >> 8));
}

/* Pseudo-header sum for UDP/TCP over IPv4 (addresses in network order, len host order). */
uint32_t csum_pseudo(uint32_t saddr, uint32_t daddr, uint8_t proto, uint16_t len);

/* ---- header template of one destination ---- */

#define NET_HDRS_LEN (ETH_HDR_LEN + IPV4_HDR_LEN + UDP_HDR_LEN)	/* 42 */

struct net_tmpl {
	uint8_t hdr[NET_HDRS_LEN];	/* eth + ipv4 + udp, constant fields filled */
	uint32_t ip_sum;		/* partial sum of the constant IPv4 fields */
	uint32_t pseudo_sum;		/* partial sum of the pseudo-header without length, ports */
};

struct net_tmpl_args {
	uint8_t dmac[ETHER_ALEN], smac[ETHER_ALEN];
	uint32_t saddr, daddr;		/* network order */
	uint16_t sport, dport;		/* network order */
	uint8_t tos, ttl;
};

void net_tmpl_init(struct net_tmpl *t, const struct net_tmpl_args *a);
/* Set TOS or TTL of an existing template (setsockopt after first send). */
void net_tmpl_set_tos_ttl(struct net_tmpl *t, uint8_t tos, uint8_t ttl);

/* Write Ethernet + IPv4 headers of one frame at frame: ip_len is the IPv4 total length,
 * frag_off includes the DF/MF flags (host order). */
void net_tmpl_write_ip(const struct net_tmpl *t, void *frame, unsigned ip_len, uint16_t id,
		       uint16_t frag_off);
/* UDP header for a datagram of udp_len bytes (header included) whose payload sums to
 * data_sum (csum_partial over the payload, from offset 0). Writes it at udp. */
void net_tmpl_write_udp(const struct net_tmpl *t, void *udp, unsigned udp_len, uint32_t data_sum,
			bool csum);

/* Bytes of IP payload per fragment for an MTU: a multiple of 8 (RFC 791). */
static inline unsigned ip_frag_payload(unsigned mtu) { return (mtu - IPV4_HDR_LEN) & ~7u; }
/* Number of frames needed for an IP payload of len bytes. */
static inline unsigned ip_frag_count(unsigned len, unsigned mtu)
{
	unsigned fs = ip_frag_payload(mtu);
	return len <= mtu - IPV4_HDR_LEN ? 1 : (len + fs - 1) / fs;
}
/* One UDP datagram being cut into frames: built once per send, then frames 0..n-1 are
 * written in order into transmit buffers of at least ETH_HDR_LEN + mtu bytes. */
struct ip_txd {
	const struct net_tmpl *t;
	const struct iovec *iov;
	int iovcnt;
	int ci;				/* copy cursor: iovec index and offset */
	size_t co;
	unsigned len;			/* UDP payload bytes */
	unsigned mtu;
	unsigned nframes;
	unsigned next;			/* next frame to write */
	uint32_t data_sum;		/* payload sum, when fragmented */
	uint16_t id;
	bool csum;
};

/* mtu is the path MTU (IP header included), csum false sends a zero UDP checksum. */
void ip_txd_init(struct ip_txd *d, const struct net_tmpl *t, unsigned mtu,
		 const struct iovec *iov, int iovcnt, unsigned len, bool csum);
/* Write the next frame at frame; returns its length (Ethernet header included). */
unsigned ip_txd_frame(struct ip_txd *d, void *frame);

/* Sum and copy helpers over iovecs. */
uint32_t csum_iov(const struct iovec *iov, int iovcnt, size_t len);
size_t iov_total(const struct iovec *iov, int iovcnt);

/* Identification for a fragmented datagram (RFC 6864: unique per src/dst/proto). */
uint16_t ip_next_id(void);

/* ---- receive ---- */

/* Why a received frame was dropped: each has a counter in ip_stats. */
enum ip_drop {
	IP_DROP_NONE = 0,
	IP_DROP_SHORT,		/* shorter than an IPv4 header, or than its IHL */
	IP_DROP_VERSION,	/* not version 4 / IHL < 5 */
	IP_DROP_LEN,		/* total length beyond the frame or below the header */
	IP_DROP_CSUM,		/* header checksum */
	IP_DROP_FRAG_BAD,	/* fragment beyond 65535 or bad flags */
	UDP_DROP_SHORT,		/* no room for a UDP header */
	UDP_DROP_LEN,		/* UDP length field beyond the IP payload or below 8 */
	UDP_DROP_CSUM,		/* UDP checksum */
	IP_DROP__COUNT,
};

struct ip_rx {
	const struct ipv4_hdr *ip;
	const uint8_t *payload;		/* IP payload (after options) */
	unsigned payload_len;		/* from tot_len, frame padding removed */
	uint16_t frag_off;		/* host order, flags and offset */
};

static inline bool ip_rx_is_frag(const struct ip_rx *r)
{
	return (r->frag_off & (IPV4_FLAG_MF | IPV4_OFF_MASK)) != 0;
}

/* Check an IPv4 packet of len bytes at p (after the Ethernet header). */
enum ip_drop ip_rx_parse(const void *p, unsigned len, struct ip_rx *out);

/* Check a complete UDP datagram (header + data of ip_payload_len bytes) against its
 * length field and checksum. *data_len receives the payload length. */
enum ip_drop udp_rx_check(uint32_t saddr, uint32_t daddr, const void *udp,
			  unsigned ip_payload_len, unsigned *data_len);

/* ---- counters ---- */

struct ip_stats {
	uint64_t rx_packets;		/* IPv4 frames seen */
	uint64_t rx_drop[IP_DROP__COUNT];
	uint64_t rx_frags;		/* fragments accepted into reassembly */
	uint64_t reasm_ok;		/* datagrams reassembled */
	uint64_t reasm_timeout;		/* incomplete datagrams expired */
	uint64_t reasm_overlap;		/* datagrams dropped for overlapping fragments */
	uint64_t reasm_limit;		/* fragments dropped: too many incomplete datagrams */
	uint64_t reasm_bad;		/* inconsistent end / length beyond 65535 */
	uint64_t rx_csum_partial;	/* accepted with a veth peer's offload placeholder */
	uint64_t tx_packets;		/* frames sent */
	uint64_t tx_frags;		/* of which fragments */
};

extern struct ip_stats ip_stats;

#define IP_STAT_INC(field) __atomic_add_fetch(&ip_stats.field, 1, __ATOMIC_RELAXED)
#define IP_STAT_ADD(field, n) __atomic_add_fetch(&ip_stats.field, (n), __ATOMIC_RELAXED)
const char *ip_drop_name(enum ip_drop d);
/* Copy the counters into the process-wide stats block (ip_*, udp_rx_drop_*), read by
 * shim_stats; net/flow.c runs it on the internal thread and at exit. */
void ip_stats_publish(void);

/* ---- reassembly (ip_reasm.c) ---- */

struct shim_pkt;

struct ip_reasm_limits {
	unsigned max_datagrams;		/* incomplete datagrams held at once */
	size_t max_bytes;		/* frame bytes held at once (ring buffers) */
	uint64_t timeout_ns;		/* age at which an incomplete datagram is dropped */
};

/* Defaults: 64 datagrams, 1 MiB, and the kernel's net.ipv4.ipfrag_time of this netns. */
void ip_reasm_set_limits(const struct ip_reasm_limits *l);
void ip_reasm_get_limits(struct ip_reasm_limits *l);
/* Where complete datagrams go: a chain of the fragments in offset order, linked by
 * ->frag, headed by the fragment at offset 0 (takes it). The rings' fragment
 * handler delivers through ring_deliver(); tests install their own. */
typedef void (*ip_reasm_out_fn)(void *ctx, struct shim_pkt *chain);
void ip_reasm_set_output(ip_reasm_out_fn fn, void *ctx);
/* The fragment handler (pkt_take_fn): takes one received IPv4 fragment, validates
 * it, holds it, and hands the chain on when the datagram is complete. */
void ip_frag_take(void *ctx, struct shim_pkt *pkt);
/* Same with an explicit clock (tests). Returns 1 when it completed a datagram, 0 when
 * the fragment is held, -1 when it was dropped (counted). */
int ip_frag_input(struct shim_pkt *pkt, uint64_t now_ns);
/* Drop incomplete datagrams older than the timeout. Cheap when nothing is held. */
void ip_reasm_expire(uint64_t now_ns);
/* Incomplete datagrams and bytes held now. */
unsigned ip_reasm_pending(size_t *bytes);
/* Drop everything held (tests, exit, fork child). */
void ip_reasm_flush(void);

uint64_t net_now_ns(void);

#endif
