/* ip.h — IPv4 header (RFC 791) as it is on the wire, and the bits of it the stack
 * reads: version/IHL, fragment offset and flags, protocol numbers. All multi-byte
 * fields are in network order. */
#ifndef SHIM_PROTO_IP_H
#define SHIM_PROTO_IP_H

#include <stdint.h>

#define IPV4_HDR_LEN	20	/* without options */
#define IPV4_MAX_LEN	65535
#define IPV4_VERSION	4

#define IPV4_FLAG_RF	0x8000	/* reserved, must be zero */
#define IPV4_FLAG_DF	0x4000	/* don't fragment */
#define IPV4_FLAG_MF	0x2000	/* more fragments */
#define IPV4_OFF_MASK	0x1fff	/* offset in 8-byte units */

#define IPPROTO_NUM_ICMP 1
#define IPPROTO_NUM_TCP	 6
#define IPPROTO_NUM_UDP	 17

struct ipv4_hdr {
	uint8_t ver_ihl;	/* version << 4 | header length in 32-bit words */
	uint8_t tos;
	uint16_t tot_len;
	uint16_t id;
	uint16_t frag_off;	/* flags | offset / 8 */
	uint8_t ttl;
	uint8_t proto;
	uint16_t csum;
	uint32_t saddr;
	uint32_t daddr;
} __attribute__((packed, aligned(2)));

_Static_assert(sizeof(struct ipv4_hdr) == IPV4_HDR_LEN, "IPv4 header is 20 bytes");

static inline unsigned ipv4_hdr_len(const struct ipv4_hdr *ip) { return (ip->ver_ihl & 0x0f) * 4u; }
static inline unsigned ipv4_version(const struct ipv4_hdr *ip) { return ip->ver_ihl >> 4; }

#endif
