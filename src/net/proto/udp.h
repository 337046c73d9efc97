/* udp.h — UDP header (RFC 768) as it is on the wire. A zero checksum means "none"
 * on IPv4; a computed checksum of zero is sent as 0xffff. */
#ifndef SHIM_PROTO_UDP_H
#define SHIM_PROTO_UDP_H

#include <stdint.h>

#define UDP_HDR_LEN	8
#define UDP_MAX_PAYLOAD	65507	/* 65535 - 20 (IPv4) - 8 (UDP) */

struct udp_hdr {
	uint16_t sport;
	uint16_t dport;
	uint16_t len;		/* header + payload */
	uint16_t csum;
} __attribute__((packed, aligned(2)));

_Static_assert(sizeof(struct udp_hdr) == UDP_HDR_LEN, "UDP header is 8 bytes");

#endif
