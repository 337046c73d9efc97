/* ring_frames.h — crafted Ethernet/IPv4 frames for the ring and steering tests:
 * IPv4 with IHL words of header (options zeroed), then 16 bytes of L4 starting
 * with the source and destination ports (UDP and TCP share those offsets). */
#ifndef SHIM_TEST_RING_FRAMES_H
#define SHIM_TEST_RING_FRAMES_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

static inline void put16(uint8_t *p, uint16_t host)
{
	uint16_t v = htons(host);

	memcpy(p, &v, 2);
}

/* Writes the frame at f (128 bytes are cleared); returns its length. */
static inline size_t test_ip_frame(uint8_t *f, const char *src, const char *dst,
				   uint8_t proto, uint16_t sport, uint16_t dport,
				   unsigned ihl, uint16_t frag, uint16_t id)
{
	uint8_t *ip = f + 14, *l4 = ip + ihl * 4;

	memset(f, 0, 128);
	f[12] = 0x08;
	ip[0] = (uint8_t)(0x40 | ihl);
	put16(ip + 2, (uint16_t)(ihl * 4 + 16));
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	put16(l4, sport);
	put16(l4 + 2, dport);
	return 14 + ihl * 4 + 16;
}

#endif
