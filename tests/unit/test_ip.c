/* test_ip.c — IPv4 layer: checksums against a bit-by-bit reference, header templates,
 * parsing of good and malformed packets (table-driven), and the fragment layout of
 * every size class. Reassembly is tested with real packet buffers in test_udp.c. */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "net/ip.h"

static uint16_t ref_csum(const uint8_t *p, size_t len, uint32_t add)
{
	uint64_t s = add;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

START_TEST(csum_matches_reference)
{
	uint8_t buf[1500];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	for (size_t len = 0; len < sizeof(buf); len += (len < 80 ? 1 : 37)) {
		uint16_t mine = ntohs(csum_fold(csum_partial(buf, len, 0)));
		ck_assert_uint_eq(mine, ref_csum(buf, len, 0));
	}
}
END_TEST

START_TEST(csum_iov_odd_splits)
{
	uint8_t buf[999];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	uint16_t want = csum_fold(csum_partial(buf, sizeof(buf), 0));
	static const size_t cuts[][3] = { { 1, 2, 3 }, { 7, 7, 7 }, { 0, 500, 1 }, { 333, 1, 0 }, { 998, 0, 0 } };
	for (unsigned c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		struct iovec iov[4];
		size_t off = 0;
		for (int i = 0; i < 3; i++) {
			iov[i].iov_base = buf + off;
			iov[i].iov_len = cuts[c][i];
			off += cuts[c][i];
		}
		iov[3].iov_base = buf + off;
		iov[3].iov_len = sizeof(buf) - off;
		ck_assert_uint_eq(csum_fold(csum_iov(iov, 4, sizeof(buf))), want);
	}
}
END_TEST

static void tmpl(struct net_tmpl *t, unsigned ttl)
{
	struct net_tmpl_args a = {
		.dmac = { 2, 0, 0, 0, 0, 2 }, .smac = { 2, 0, 0, 0, 0, 1 },
		.saddr = htonl(0xc6120001), .daddr = htonl(0xc6120002),
		.sport = htons(1234), .dport = htons(5678), .tos = 0x10, .ttl = (uint8_t)ttl,
	};
	net_tmpl_init(t, &a);
}

/* Build every frame of a datagram; returns the frame count. */
static unsigned build(const struct net_tmpl *t, unsigned mtu, const uint8_t *data, unsigned len,
		      uint8_t frames[][1600], unsigned *flen)
{
	struct iovec iov[2] = { { (void *)data, len / 3 }, { (void *)(data + len / 3), len - len / 3 } };
	struct ip_txd d;
	ip_txd_init(&d, t, mtu, iov, 2, len, true);
	for (unsigned k = 0; k < d.nframes; k++)
		flen[k] = ip_txd_frame(&d, frames[k]);
	return d.nframes;
}

START_TEST(single_frame_valid)
{
	static uint8_t frames[1][1600];
	unsigned flen[1];
	uint8_t data[1472];
	struct net_tmpl t;
	tmpl(&t, 64);
	for (unsigned len = 0; len <= sizeof(data); len += (len < 20 ? 1 : 97)) {
		for (unsigned i = 0; i < len; i++)
			data[i] = (uint8_t)rand();
		ck_assert_uint_eq(build(&t, 1500, data, len, frames, flen), 1);
		ck_assert_uint_eq(flen[0], 42 + len);
		struct ip_rx r;
		ck_assert_int_eq(ip_rx_parse(frames[0] + 14, flen[0] - 14, &r), IP_DROP_NONE);
		ck_assert(!ip_rx_is_frag(&r));
		ck_assert(r.frag_off & IPV4_FLAG_DF);
		ck_assert_uint_eq(r.ip->ttl, 64);
		ck_assert_uint_eq(r.ip->tos, 0x10);
		unsigned dl;
		ck_assert_int_eq(udp_rx_check(r.ip->saddr, r.ip->daddr, r.payload, r.payload_len, &dl), IP_DROP_NONE);
		ck_assert_uint_eq(dl, len);
		ck_assert_uint_ne(((struct udp_hdr *)r.payload)->csum, 0);
		ck_assert(memcmp(r.payload + 8, data, len) == 0);
	}
}
END_TEST

/* Fragment layout for every size class: offsets contiguous, multiples of 8, MF on
 * all but the last, one id, each frame within the MTU with a valid header. */
static const unsigned sizes[] = { 0, 1, 1471, 1472, 1473, 1480, 1481, 2952, 2953, 8192,
				  65000, 65507 };

START_TEST(fragment_layout)
{
	static uint8_t frames[64][1600];
	static uint8_t data[65507];
	unsigned flen[64];
	struct net_tmpl t;
	unsigned len = sizes[_i];
	tmpl(&t, 64);
	unsigned n = build(&t, 1500, data, len, frames, flen);
	ck_assert_uint_eq(n, ip_frag_count(len + 8, 1500));
	unsigned at = 0;
	uint16_t id = 0;
	for (unsigned k = 0; k < n; k++) {
		struct ip_rx r;
		ck_assert_uint_le(flen[k], 1514);
		ck_assert_int_eq(ip_rx_parse(frames[k] + 14, flen[k] - 14, &r), IP_DROP_NONE);
		if (n == 1) {
			ck_assert(!ip_rx_is_frag(&r));
			break;
		}
		ck_assert(ip_rx_is_frag(&r));
		ck_assert_uint_eq((r.frag_off & IPV4_OFF_MASK) * 8u, at);
		ck_assert_uint_eq(!!(r.frag_off & IPV4_FLAG_MF), k + 1 < n);
		ck_assert(!(r.frag_off & IPV4_FLAG_DF));
		if (k == 0)
			id = r.ip->id;
		ck_assert_uint_eq(r.ip->id, id);
		at += r.payload_len;
	}
	if (n > 1)
		ck_assert_uint_eq(at, len + 8);
}
END_TEST

/* Malformed packets: each row mutates a valid 100-byte UDP packet. */
struct bad_case {
	const char *name;
	unsigned cut;		/* bytes to present (0: all) */
	int off;		/* byte offset in the IP packet to overwrite (-1: none) */
	uint8_t val;
	bool fix_ip_csum;	/* recompute the IP header checksum after the change */
	enum ip_drop want_ip, want_udp;
};

static const struct bad_case bad_cases[] = {
	{ "good", 0, -1, 0, false, IP_DROP_NONE, IP_DROP_NONE },
	{ "truncated ip", 19, -1, 0, false, IP_DROP_SHORT, 0 },
	{ "version 6", 0, 0, 0x65, true, IP_DROP_VERSION, 0 },
	{ "ihl 4", 0, 0, 0x44, true, IP_DROP_VERSION, 0 },
	{ "ihl beyond frame", 40, 0, 0x4f, true, IP_DROP_SHORT, 0 },
	{ "tot_len beyond frame", 0, 2, 0x10, true, IP_DROP_LEN, 0 },
	{ "tot_len below header", 0, 3, 0x04, true, IP_DROP_LEN, 0 },
	{ "ip checksum", 0, 10, 0x55, false, IP_DROP_CSUM, 0 },
	{ "reserved flag", 0, 6, 0x80, true, IP_DROP_FRAG_BAD, 0 },
	{ "udp checksum", 0, 30, 0xaa, false, IP_DROP_NONE, UDP_DROP_CSUM },
	{ "udp len beyond ip", 0, 24, 0x10, false, IP_DROP_NONE, UDP_DROP_LEN },
	{ "udp len below 8", 0, 25, 0x04, false, IP_DROP_NONE, UDP_DROP_LEN },
	{ "udp truncated", 0, 3, 24, true, IP_DROP_NONE, UDP_DROP_SHORT },
	{ "odd MF fragment", 0, 6, 0x20, true, IP_DROP_FRAG_BAD, 0 },
};

START_TEST(malformed)
{
	const struct bad_case *c = &bad_cases[_i];
	static uint8_t frames[1][1600];
	unsigned flen[1];
	uint8_t data[71];	/* odd IP payload */
	struct net_tmpl t;
	tmpl(&t, 64);
	memset(data, 0x5a, sizeof(data));
	build(&t, 1500, data, sizeof(data), frames, flen);
	uint8_t *ip = frames[0] + 14;
	unsigned len = c->cut ? c->cut : flen[0] - 14;
	if (c->off == 6) {
		ip[6] = c->val;	/* flags byte */
		ip[7] = 0;
	} else if (c->off >= 0) {
		ip[c->off] = c->val;
	}
	if (c->fix_ip_csum) {
		ip[10] = ip[11] = 0;
		uint16_t s = csum_fold(csum_partial(ip, (ip[0] & 15) * 4u > len ? 20 : (ip[0] & 15) * 4u, 0));
		memcpy(ip + 10, &s, 2);
	}
	struct ip_rx r;
	enum ip_drop d = ip_rx_parse(ip, len, &r);
	ck_assert_msg(d == c->want_ip, "%s: ip %s", c->name, ip_drop_name(d));
	if (d == IP_DROP_NONE) {
		unsigned dl;
		d = udp_rx_check(r.ip->saddr, r.ip->daddr, r.payload, r.payload_len, &dl);
		ck_assert_msg(d == c->want_udp, "%s: udp %s", c->name, ip_drop_name(d));
	}
}
END_TEST


static Suite *ip_suite(void)
{
	Suite *s = suite_create("ip");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, csum_matches_reference);
	tcase_add_test(tc, csum_iov_odd_splits);
	tcase_add_test(tc, single_frame_valid);
	tcase_add_loop_test(tc, fragment_layout, 0, (int)(sizeof(sizes) / sizeof(sizes[0])));
	tcase_add_loop_test(tc, malformed, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ip_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
