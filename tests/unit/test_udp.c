/* test_udp.c — UDP on real packet buffers: datagrams of every size class built into
 * the TX buffers of a fake ring, carried to RX buffers as a wire would, reassembled
 * in any order and checked byte for byte after the one copy out; damaged fragment
 * chains, overlaps, limits and timeouts are counted and dropped; every buffer comes
 * back to its pool (no leaks). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/ip.h"
#include "net/pkt.h"
#include "net/udp.h"
#include "ring/ring.h"

#define NBUF 512
#define BUFSZ 2048

static struct pkt_pool txp, rxp;
static uint8_t *txmem, *rxmem;
static struct ring fr;
static struct shim_pkt *wire[NBUF];
static unsigned nwire;
static struct shim_pkt *chains[64];
static unsigned nchains;

static unsigned fake_tx_alloc(struct ring *r, struct shim_pkt **pk, unsigned n)
{
	unsigned i;
	for (i = 0; i < n; i++)
		if (!(pk[i] = pkt_pool_get(&txp)))
			break;
	return i;
}

static unsigned fake_tx_burst(struct ring *r, struct shim_pkt **pk, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		wire[nwire++] = pk[i];
	return n;
}

static void fake_tx_flush(struct ring *r) {}
static unsigned fake_tx_reap(struct ring *r) { return pkt_pool_drain(&txp); }

static const struct ring_ops fake_ops = {
	.name = "fake",
	.tx_alloc = fake_tx_alloc,
	.tx_burst = fake_tx_burst,
	.tx_flush = fake_tx_flush,
	.tx_reap = fake_tx_reap,
};

static void capture(void *ctx, struct shim_pkt *chain)
{
	chains[nchains++] = chain;
}

static void setup(void)
{
	txmem = aligned_alloc(4096, (size_t)NBUF * BUFSZ);
	rxmem = aligned_alloc(4096, (size_t)NBUF * BUFSZ);
	ck_assert_int_eq(pkt_pool_init(&txp, txmem, 0, NBUF, BUFSZ, PKT_F_TX), 0);
	ck_assert_int_eq(pkt_pool_init(&rxp, rxmem, 0, NBUF, BUFSZ, 0), 0);
	memset(&fr, 0, sizeof(fr));
	fr.ops = &fake_ops;
	fr.mtu = 1500;
	pthread_spin_init(&fr.tx_lock, 0);
	nwire = nchains = 0;
	ip_reasm_set_output(capture, NULL);
	struct ip_reasm_limits l = { .max_datagrams = 64, .max_bytes = 1 << 20, .timeout_ns = 1000000000 };
	ip_reasm_set_limits(&l);
}

static void teardown(void)
{
	ip_reasm_flush();
	pkt_pool_drain(&txp);
	pkt_pool_drain(&rxp);
	/* No leak: every buffer is back. */
	ck_assert_uint_eq(pkt_pool_available(&txp), NBUF);
	ck_assert_uint_eq(pkt_pool_available(&rxp), NBUF);
	pkt_pool_fini(&txp);
	pkt_pool_fini(&rxp);
	free(txmem);
	free(rxmem);
}

static void tmpl(struct net_tmpl *t)
{
	struct net_tmpl_args a = {
		.dmac = { 2, 0, 0, 0, 0, 2 }, .smac = { 2, 0, 0, 0, 0, 1 },
		.saddr = htonl(0xc6120001), .daddr = htonl(0xc6120002),
		.sport = htons(4000), .dport = htons(5000), .ttl = 64,
	};
	net_tmpl_init(t, &a);
}

/* Move the frames on the wire into RX buffers, in the given order. */
static struct shim_pkt *to_rx(struct shim_pkt *tx)
{
	struct shim_pkt *p = pkt_pool_get(&rxp);
	ck_assert_ptr_nonnull(p);
	memcpy(p->data, tx->data, tx->len);
	p->len = tx->len;
	p->l3_off = ETH_HDR_LEN;
	p->ring = &fr;
	pkt_free(tx);
	return p;
}

static bool is_frag(const struct shim_pkt *p)
{
	const struct ipv4_hdr *ip = (const void *)(p->data + ETH_HDR_LEN);
	return (ntohs(ip->frag_off) & (IPV4_FLAG_MF | IPV4_OFF_MASK)) != 0;
}

static const unsigned sizes[] = { 0, 1, 2, 7, 8, 9, 100, 1471, 1472, 1473, 1480, 1481, 2951,
				  2952, 2953, 4000, 8192, 9000, 16383, 32768, 50001, 65000,
				  65506, 65507 };

static void send_one(const uint8_t *data, unsigned len, unsigned mtu)
{
	struct net_tmpl t;
	/* Three iovecs with odd lengths, like a scattered application buffer. */
	unsigned a = len / 3 | 1, b = len / 5 | 1;
	if (a > len)
		a = len;
	if (a + b > len)
		b = len - a;
	struct iovec iov[3] = { { (void *)data, a }, { (void *)(data + a), b },
				{ (void *)(data + a + b), len - a - b } };
	tmpl(&t);
	ck_assert_int_eq(udp_tx_ring(&fr, &t, mtu, iov, 3, len, true), 0);
}

START_TEST(integrity_every_size)
{
	static uint8_t data[65507], out[65507 + 100];
	unsigned len = sizes[_i / 3], mode = _i % 3;
	struct udp_meta m;
	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)rand();
	send_one(data, len, 1500);
	unsigned n = nwire, order[64];
	ck_assert_uint_eq(n, ip_frag_count(len + 8, 1500));
	for (unsigned k = 0; k < n; k++)
		order[k] = mode == 1 ? n - 1 - k : k;
	if (mode == 2)
		for (unsigned k = n - 1; k > 0; k--) {
			unsigned j = (unsigned)rand() % (k + 1), x = order[k];
			order[k] = order[j];
			order[j] = x;
		}
	struct shim_pkt *dg = NULL;
	for (unsigned k = 0; k < n; k++) {
		struct shim_pkt *p = to_rx(wire[order[k]]);
		if (!is_frag(p)) {
			dg = p;
			continue;
		}
		int r = ip_frag_input(p, 1000);
		ck_assert_int_eq(r, k + 1 == n ? 1 : 0);
	}
	if (n > 1) {
		ck_assert_uint_eq(nchains, 1);
		dg = chains[0];
	}
	ck_assert_ptr_nonnull(dg);
	ck_assert_int_eq(udp_rx_parse(dg, &m), 0);
	ck_assert_uint_eq(m.len, len);
	ck_assert_uint_eq(ntohs(m.sport), 4000);
	ck_assert_uint_eq(ntohs(m.dport), 5000);
	udp_meta_store(dg, &m);
	struct udp_meta m2;
	udp_meta_load(dg, &m2);
	ck_assert_uint_eq(m2.len, m.len);
	ck_assert_uint_eq(m2.off, m.off);
	/* Copy out through uneven iovecs, then as one buffer. */
	memset(out, 0, sizeof(out));
	unsigned c1 = len / 7 + 1, c2 = len / 2 + 3;
	struct iovec iov[3] = { { out, c1 }, { out + c1, c2 }, { out + c1 + c2, sizeof(out) - c1 - c2 } };
	ck_assert_uint_eq(udp_copy_out(dg, &m2, 0, iov, 3), len);
	ck_assert(memcmp(out, data, len) == 0);
	/* Truncated read: only what fits. */
	if (len > 10) {
		struct iovec small = { out, 10 };
		memset(out, 0, 10);
		ck_assert_uint_eq(udp_copy_out(dg, &m2, 0, &small, 1), 10);
		ck_assert(memcmp(out, data, 10) == 0);
	}
	pkt_free(dg);
	ck_assert_uint_eq(ip_reasm_pending(NULL), 0);
}
END_TEST

/* Corruption in any fragment is caught by the UDP checksum over the chain. */
START_TEST(chain_corruption)
{
	static uint8_t data[6000];
	struct udp_meta m;
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	send_one(data, sizeof(data), 1500);
	ck_assert_uint_eq(nwire, 5);
	for (unsigned k = 0; k < nwire; k++) {
		struct shim_pkt *p = to_rx(wire[k]);
		if (k == 2)
			p->data[p->len - 1] ^= 0x40;	/* payload byte: IP header still valid */
		ip_frag_input(p, 1000);
	}
	ck_assert_uint_eq(nchains, 1);
	uint64_t before = ip_stats.rx_drop[UDP_DROP_CSUM];
	ck_assert_int_eq(udp_rx_parse(chains[0], &m), UDP_DROP_CSUM);
	ck_assert_uint_eq(ip_stats.rx_drop[UDP_DROP_CSUM], before + 1);
	pkt_free(chains[0]);
}
END_TEST

START_TEST(reasm_timeout_overlap_limits)
{
	static uint8_t data[5000];
	struct shim_pkt *f[8];

	/* Never completes: expires, counted, buffers back. */
	send_one(data, sizeof(data), 1500);
	ck_assert_uint_eq(nwire, 4);
	for (unsigned k = 0; k < 4; k++)
		f[k] = to_rx(wire[k]);
	uint64_t before = ip_stats.reasm_timeout;
	ck_assert_int_eq(ip_frag_input(f[0], 0), 0);
	ck_assert_int_eq(ip_frag_input(f[1], 10), 0);
	ck_assert_uint_eq(ip_reasm_pending(NULL), 1);
	ip_reasm_expire(2000000000);
	ck_assert_uint_eq(ip_reasm_pending(NULL), 0);
	ck_assert_uint_eq(ip_stats.reasm_timeout, before + 1);

	/* Duplicate fragment: overlap drops the datagram. */
	struct shim_pkt *dup = pkt_pool_get(&rxp);
	memcpy(dup->data, f[2]->data, f[2]->len);
	dup->len = f[2]->len;
	dup->l3_off = ETH_HDR_LEN;
	before = ip_stats.reasm_overlap;
	ck_assert_int_eq(ip_frag_input(f[2], 0), 0);
	ck_assert_int_eq(ip_frag_input(dup, 0), -1);
	ck_assert_uint_eq(ip_stats.reasm_overlap, before + 1);
	ck_assert_uint_eq(ip_reasm_pending(NULL), 0);

	/* A second last fragment with another end: the datagram is dropped. */
	before = ip_stats.reasm_bad;
	struct shim_pkt *bad = pkt_pool_get(&rxp);
	memcpy(bad->data, f[3]->data, f[3]->len);
	bad->len = f[3]->len;
	bad->l3_off = ETH_HDR_LEN;
	struct ipv4_hdr *ip = (void *)(bad->data + ETH_HDR_LEN);
	ip->frag_off = htons((uint16_t)(ntohs(ip->frag_off) - 1));	/* 8 bytes earlier */
	ip->csum = 0;
	ip->csum = csum_fold(csum_partial(ip, 20, 0));
	ck_assert_int_eq(ip_frag_input(f[3], 0), 0);
	ck_assert_int_eq(ip_frag_input(bad, 0), -1);
	ck_assert_uint_eq(ip_stats.reasm_bad, before + 1);
	ck_assert_uint_eq(ip_reasm_pending(NULL), 0);

	/* Limit on incomplete datagrams: the 4th is refused. */
	struct ip_reasm_limits l = { .max_datagrams = 3, .max_bytes = 1 << 20, .timeout_ns = 1000000000 };
	ip_reasm_set_limits(&l);
	before = ip_stats.reasm_limit;
	for (int i = 0; i < 4; i++) {
		nwire = 0;
		send_one(data, sizeof(data), 1500);
		for (unsigned k = 1; k < nwire; k++)
			pkt_free(wire[k]);
		ck_assert_int_eq(ip_frag_input(to_rx(wire[0]), 0), i < 3 ? 0 : -1);
	}
	ck_assert_uint_eq(ip_stats.reasm_limit, before + 1);
	size_t bytes;
	ck_assert_uint_eq(ip_reasm_pending(&bytes), 3);
	ck_assert_uint_gt(bytes, 0);
	ip_reasm_flush();
	ck_assert_uint_eq(ip_reasm_pending(&bytes), 0);
	ck_assert_uint_eq(bytes, 0);
}
END_TEST

/* Malformed fragments: bad header checksum, beyond 65535, odd MF length. */
START_TEST(bad_fragments)
{
	static uint8_t data[3000];
	send_one(data, sizeof(data), 1500);
	struct shim_pkt *p = to_rx(wire[0]);
	struct ipv4_hdr *ip = (void *)(p->data + ETH_HDR_LEN);
	ip->csum ^= 1;
	uint64_t before = ip_stats.rx_drop[IP_DROP_CSUM];
	ck_assert_int_eq(ip_frag_input(p, 0), -1);
	ck_assert_uint_eq(ip_stats.rx_drop[IP_DROP_CSUM], before + 1);

	p = to_rx(wire[1]);
	ip = (void *)(p->data + ETH_HDR_LEN);
	ip->frag_off = htons(IPV4_FLAG_MF | 8190);	/* 65520 + payload > 65535 */
	ip->csum = 0;
	ip->csum = csum_fold(csum_partial(ip, 20, 0));
	before = ip_stats.rx_drop[IP_DROP_FRAG_BAD];
	ck_assert_int_eq(ip_frag_input(p, 0), -1);
	ck_assert_uint_eq(ip_stats.rx_drop[IP_DROP_FRAG_BAD], before + 1);
	pkt_free(to_rx(wire[2]));
	ck_assert_uint_eq(ip_reasm_pending(NULL), 0);
}
END_TEST

START_TEST(tx_no_buffers)
{
	static uint8_t data[65507];
	/* Hold all but 10 TX buffers: a 45-frame datagram cannot go, nothing is sent. */
	struct shim_pkt *held[NBUF];
	unsigned nh = 0;
	while (pkt_pool_available(&txp) > 10)
		held[nh++] = pkt_pool_get(&txp);
	struct net_tmpl t;
	struct iovec iov = { data, sizeof(data) };
	tmpl(&t);
	ck_assert_int_eq(udp_tx_ring(&fr, &t, 1500, &iov, 1, sizeof(data), true), -ENOBUFS);
	ck_assert_uint_eq(nwire, 0);
	ck_assert_uint_eq(fr.stats.tx_no_buf, 1);
	for (unsigned i = 0; i < nh; i++)
		pkt_free(held[i]);
}
END_TEST

static Suite *udp_suite(void)
{
	Suite *s = suite_create("udp");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, integrity_every_size, 0, 3 * (int)(sizeof(sizes) / sizeof(sizes[0])));
	tcase_add_test(tc, chain_corruption);
	tcase_add_test(tc, reasm_timeout_overlap_limits);
	tcase_add_test(tc, bad_fragments);
	tcase_add_test(tc, tx_no_buffers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(udp_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
