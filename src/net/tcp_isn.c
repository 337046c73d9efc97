/* tcp_isn.c — initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret),
 * M a 4 µs clock and F SipHash-2-4 keyed by the stack's secret, so sequence numbers of
 * one connection are unpredictable from another's. Also derives timestamp offsets. */
#include <string.h>

#include "net/tcp_priv.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t r = 0;

	for (int i = 7; i >= 0; i--)
		r = (r << 8) | p[i];
	return r;
}

uint64_t tcp_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL,
	};
	size_t full = len & ~(size_t)7;
	uint64_t m, b = (uint64_t)len << 56;

	for (size_t i = 0; i < full; i += 8) {
		m = load_le64(in + i);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	for (size_t i = 0; i < (len & 7); i++)
		b |= (uint64_t)in[full + i] << (8 * i);
	v[3] ^= b;
	sip_round(v);
	sip_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint32_t tcp_isn(const struct tcp_stack *st, uint32_t laddr, uint16_t lport,
		 uint32_t raddr, uint16_t rport, uint64_t now_us)
{
	uint8_t tuple[12];

	memcpy(tuple, &laddr, 4);
	memcpy(tuple + 4, &raddr, 4);
	memcpy(tuple + 8, &lport, 2);
	memcpy(tuple + 10, &rport, 2);
	return (uint32_t)tcp_siphash(st->secret, tuple, sizeof(tuple)) + (uint32_t)(now_us / 4);
}
