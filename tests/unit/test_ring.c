/* test_ring.c — the ring layer without a NIC: buffer pools (local and cross-thread
 * frees, address lookup, frag chains), the flow table (precedence 5-tuple > 3-tuple >
 * any-address 3-tuple > multicast group+port > group, several sinks, steering
 * installed once per key), and the RX demux of ring_poll() over a fake backend that
 * replays prepared frames (malformed frames dropped and counted, fragments to the
 * reassembly handler). Also: SHIM_BACKEND=none and loopback are "not offloaded". */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "net/pkt.h"
#include "ring/ring.h"
#include "ring/ring_flow.h"
#include "ring_frames.h"

/* --- a fake backend ---------------------------------------------------------- */
#define NBUF 64
static uint8_t mem[NBUF * 256];
static struct pkt_pool pool;
static struct shim_pkt *script[NBUF];
static unsigned nscript;
static int flow_adds, flow_dels;

static unsigned fake_rx(struct ring *r, struct shim_pkt **pkts, unsigned n)
{
	unsigned k = 0;

	while (k < n && k < nscript)
		pkts[k] = script[k], k++;
	memmove(script, script + k, (nscript - k) * sizeof(*script));
	nscript -= k;
	return k;
}
static unsigned fake_refill(struct ring *r) { return 0; }
static unsigned fake_reap(struct ring *r) { return 0; }
static int fake_flow_add(struct ring *r, const struct ring_flow *f) { flow_adds++; return 0; }
static int fake_flow_del(struct ring *r, const struct ring_flow *f) { flow_dels++; return 0; }

static const struct ring_ops fake_ops = {
	.name = "fake", .rx_burst = fake_rx, .refill = fake_refill, .tx_reap = fake_reap,
	.flow_add = fake_flow_add, .flow_del = fake_flow_del,
};
static struct ring ring;

static void setup(void)
{
	memset(&ring, 0, sizeof(ring));
	ring.ops = &fake_ops;
	ring.cfg.batch = 16;
	pthread_spin_init(&ring.rx_lock, 0);
	pthread_spin_init(&ring.tx_lock, 0);
	ck_assert_int_eq(ring_flow_table_new(&ring.flows), 0);
	ck_assert_int_eq(pkt_pool_init(&pool, mem, 0, NBUF, 256, 0), 0);
	nscript = 0;
	flow_adds = flow_dels = 0;
	ring_set_frag_handler(NULL, NULL);
}

static void teardown(void)
{
	ring_flow_table_clear(&ring, ring.flows);
	ring_flow_table_free(ring.flows);
	/* No leak: every buffer is back in the pool. */
	ck_assert_uint_eq(pkt_pool_available(&pool), NBUF);
	pkt_pool_fini(&pool);
}

/* A frame in a pool buffer (see ring_frames.h). */
static struct shim_pkt *frame(const char *src, const char *dst, uint16_t sport,
			      uint16_t dport, uint8_t proto, unsigned ihl, uint16_t frag)
{
	struct shim_pkt *p = pkt_pool_get(&pool);

	ck_assert_ptr_nonnull(p);
	p->len = (uint32_t)test_ip_frame(p->data, src, dst, proto, sport, dport, ihl, frag, 1);
	return p;
}

static struct ring_flow flow(int kind, const char *dst, uint16_t dport, const char *src,
			     uint16_t sport)
{
	struct ring_flow f = { .kind = (uint8_t)kind, .proto = IPPROTO_UDP,
			       .dst_port = htons(dport), .src_port = htons(sport) };

	if (dst)
		inet_pton(AF_INET, dst, &f.dst_ip);
	if (src)
		inet_pton(AF_INET, src, &f.src_ip);
	return f;
}

/* Sinks count what they get, then free it. */
static int got[8];
static void sink(void *ctx, struct shim_pkt *p)
{
	got[(long)ctx]++;
	pkt_free(p);
}

static void poll_all(void)
{
	while (nscript)
		ck_assert_int_ge(ring_poll(&ring, 0), 0);
}

/* --- tests ------------------------------------------------------------------ */
static void *free_in_thread(void *arg)
{
	struct shim_pkt **v = arg;

	for (int i = 0; i < 8; i++)
		pkt_free(v[i]);
	return NULL;
}

START_TEST(test_pool)
{
	struct shim_pkt *v[NBUF];
	pthread_t t;

	for (int i = 0; i < NBUF; i++) {
		v[i] = pkt_pool_get(&pool);
		ck_assert_ptr_nonnull(v[i]);
		ck_assert_uint_eq(v[i]->cap, 256);
	}
	ck_assert_ptr_null(pkt_pool_get(&pool));
	ck_assert_ptr_eq(pkt_pool_lookup(&pool, 5 * 256 + 100), v[5]);
	ck_assert_ptr_null(pkt_pool_lookup(&pool, NBUF * 256));
	pthread_create(&t, NULL, free_in_thread, v);
	pthread_join(t, NULL);
	ck_assert_uint_eq(pkt_pool_available(&pool), 8);
	ck_assert_ptr_nonnull(pkt_pool_get(&pool));	/* drains the returns */
	ck_assert_uint_eq(pool.nfree, 7);
	pkt_pool_put_local(&pool, v[0]);
	for (int i = 8; i < NBUF; i++)
		pkt_free(v[i]);
	ck_assert_uint_eq(pkt_pool_available(&pool), NBUF);
	ck_assert_uint_eq(pkt_pool_drain(&pool), NBUF - 8);
}
END_TEST

START_TEST(test_frag_chain_refs)
{
	struct shim_pkt *a = pkt_pool_get(&pool), *b = pkt_pool_get(&pool);

	a->frag = b;
	a->len = 10;
	b->len = 20;
	ck_assert_uint_eq(pkt_chain_len(a), 30);
	pkt_ref(a);
	pkt_free(a);	/* one holder left: nothing returns */
	ck_assert_uint_eq(pkt_pool_available(&pool), NBUF - 2);
	pkt_free(a);
	ck_assert_uint_eq(pkt_pool_available(&pool), NBUF);
}
END_TEST

START_TEST(test_flow_precedence)
{
	struct ring_flow f5 = flow(RING_FLOW_5TUPLE, "198.18.0.1", 7000, "198.18.0.2", 5000);
	struct ring_flow f3 = flow(RING_FLOW_3TUPLE, "198.18.0.1", 7000, NULL, 0);
	struct ring_flow fany = flow(RING_FLOW_3TUPLE, NULL, 7000, NULL, 0);

	memset(got, 0, sizeof(got));
	ck_assert_int_eq(ring_flow_attach(&ring, &f5, sink, (void *)1), 0);
	ck_assert_int_eq(ring_flow_attach(&ring, &f3, sink, (void *)2), 0);
	ck_assert_int_eq(ring_flow_attach(&ring, &fany, sink, (void *)3), 0);
	ck_assert_int_eq(ring_flow_attach(&ring, &f3, sink, (void *)2), -EEXIST);
	ck_assert_int_eq(flow_adds, 3);

	script[nscript++] = frame("198.18.0.2", "198.18.0.1", 5000, 7000, IPPROTO_UDP, 5, 0);
	script[nscript++] = frame("198.18.0.2", "198.18.0.1", 5001, 7000, IPPROTO_UDP, 5, 0);
	script[nscript++] = frame("198.18.0.2", "198.18.0.9", 5000, 7000, IPPROTO_UDP, 5, 0);
	/* IP options (ihl 7): the ports are found after them. */
	script[nscript++] = frame("198.18.0.2", "198.18.0.1", 5000, 7000, IPPROTO_UDP, 7, 0);
	/* Same ports over TCP: no TCP flow, dropped. */
	script[nscript++] = frame("198.18.0.2", "198.18.0.1", 5000, 7000, IPPROTO_TCP, 5, 0);
	poll_all();
	ck_assert_int_eq(got[1], 2);
	ck_assert_int_eq(got[2], 1);
	ck_assert_int_eq(got[3], 1);
	ck_assert_uint_eq(ring.stats.rx_drops, 1);

	ck_assert_int_eq(ring_flow_detach(&ring, &f5, sink, (void *)1), 0);
	ck_assert_int_eq(ring_flow_detach(&ring, &f5, sink, (void *)1), -ENOENT);
	ck_assert_int_eq(flow_dels, 1);
	script[nscript++] = frame("198.18.0.2", "198.18.0.1", 5000, 7000, IPPROTO_UDP, 5, 0);
	poll_all();
	ck_assert_int_eq(got[2], 2);
}
END_TEST

START_TEST(test_mcast_sinks)
{
	struct ring_flow g = flow(RING_FLOW_MCAST, "239.1.1.1", 9000, NULL, 0);
	struct ring_flow gall = flow(RING_FLOW_MCAST, "239.1.1.1", 0, NULL, 0);
	struct ring_flow bad = flow(RING_FLOW_MCAST, "198.18.0.1", 0, NULL, 0);

	memset(got, 0, sizeof(got));
	ck_assert_int_eq(ring_flow_attach(&ring, &bad, sink, (void *)1), -EINVAL);
	ck_assert_int_eq(ring_flow_attach(&ring, &g, sink, (void *)1), 0);
	ck_assert_int_eq(ring_flow_attach(&ring, &g, sink, (void *)2), 0);
	ck_assert_int_eq(ring_flow_attach(&ring, &gall, sink, (void *)3), 0);
	ck_assert_int_eq(flow_adds, 2);	/* one steering entry per key */
	script[nscript++] = frame("198.18.0.2", "239.1.1.1", 1234, 9000, IPPROTO_UDP, 5, 0);
	script[nscript++] = frame("198.18.0.2", "239.1.1.1", 1234, 9001, IPPROTO_UDP, 5, 0);
	poll_all();
	ck_assert_int_eq(got[1], 1);
	ck_assert_int_eq(got[2], 1);	/* both sockets of the group got the datagram */
	ck_assert_int_eq(got[3], 1);
	ck_assert_int_eq(ring_flow_detach(&ring, &g, sink, (void *)1), 0);
	ck_assert_int_eq(flow_dels, 0);	/* still one sink on the key */
	ck_assert_int_eq(ring_flow_detach(&ring, &g, sink, (void *)2), 0);
	ck_assert_int_eq(flow_dels, 1);
}
END_TEST

/* A group's datagram is the group's flow only: a port bound to any address (or a
 * connected socket on it) never takes it, and without a group flow it is dropped. */
START_TEST(test_mcast_not_by_wildcard)
{
	struct ring_flow any = flow(RING_FLOW_3TUPLE, "0.0.0.0", 9000, NULL, 0);
	struct ring_flow g = flow(RING_FLOW_MCAST, "239.1.1.1", 0, NULL, 0);

	memset(got, 0, sizeof(got));
	ck_assert_int_eq(ring_flow_attach(&ring, &any, sink, (void *)1), 0);
	script[nscript++] = frame("198.18.0.2", "239.1.1.1", 1234, 9000, IPPROTO_UDP, 5, 0);
	poll_all();
	ck_assert_int_eq(got[1], 0);
	ck_assert_int_eq(ring_flow_attach(&ring, &g, sink, (void *)2), 0);
	script[nscript++] = frame("198.18.0.2", "239.1.1.1", 1234, 9000, IPPROTO_UDP, 5, 0);
	script[nscript++] = frame("198.18.0.2", "198.18.0.1", 1234, 9000, IPPROTO_UDP, 5, 0);
	poll_all();
	ck_assert_int_eq(got[2], 1);	/* the group */
	ck_assert_int_eq(got[1], 1);	/* the unicast datagram only */
	ck_assert_int_eq(ring_flow_detach(&ring, &g, sink, (void *)2), 0);
	ck_assert_int_eq(ring_flow_detach(&ring, &any, sink, (void *)1), 0);
}
END_TEST

static struct shim_pkt *frags_seen;
static void frag_sink(void *ctx, struct shim_pkt *p)
{
	p->next = frags_seen;
	frags_seen = p;
}

START_TEST(test_demux_malformed_and_frags)
{
	struct ring_flow f3 = flow(RING_FLOW_3TUPLE, "198.18.0.1", 7000, NULL, 0);
	struct shim_pkt *p;

	memset(got, 0, sizeof(got));
	ck_assert_int_eq(ring_flow_attach(&ring, &f3, sink, (void *)1), 0);
	/* Too short. */
	p = frame("198.18.0.2", "198.18.0.1", 1, 7000, IPPROTO_UDP, 5, 0);
	p->len = 30;
	script[nscript++] = p;
	/* Not IPv4 (ARP ethertype). */
	p = frame("198.18.0.2", "198.18.0.1", 1, 7000, IPPROTO_UDP, 5, 0);
	p->data[13] = 0x06;
	script[nscript++] = p;
	/* ihl below 5. */
	p = frame("198.18.0.2", "198.18.0.1", 1, 7000, IPPROTO_UDP, 5, 0);
	p->data[14] = 0x44;
	script[nscript++] = p;
	/* Total length beyond the frame. */
	p = frame("198.18.0.2", "198.18.0.1", 1, 7000, IPPROTO_UDP, 5, 0);
	p->data[16] = 0x40;
	script[nscript++] = p;
	/* Fragments without a handler: dropped. */
	script[nscript++] = frame("198.18.0.2", "198.18.0.1", 1, 7000, IPPROTO_UDP, 5, 0x2000);
	poll_all();
	ck_assert_int_eq(got[1], 0);
	ck_assert_uint_eq(ring.stats.rx_drops, 5);

	/* With a handler: first and later fragments go there, then come back whole. */
	frags_seen = NULL;
	ring_set_frag_handler(frag_sink, NULL);
	script[nscript++] = frame("198.18.0.2", "198.18.0.1", 1, 7000, IPPROTO_UDP, 5, 0x2000);
	script[nscript++] = frame("198.18.0.2", "198.18.0.1", 1, 7000, IPPROTO_UDP, 5, 0x0010);
	poll_all();
	ck_assert_uint_eq(ring.stats.rx_frags, 2);
	ck_assert_ptr_nonnull(frags_seen);
	ck_assert_uint_eq(frags_seen->l4_off, 0);		/* later fragment: no ports */
	ck_assert_uint_eq(frags_seen->next->l4_off, 34);	/* first fragment */
	ck_assert(frags_seen->flags & PKT_F_IPFRAG);
	p = frags_seen->next;
	p->frag = frags_seen;
	frags_seen->next = NULL;
	p->next = NULL;
	ring_rx_lock(&ring);
	ring_deliver(&ring, p);	/* the reassembled chain */
	ring_rx_unlock(&ring);
	ck_assert_int_eq(got[1], 1);
	ring_set_frag_handler(NULL, NULL);
}
END_TEST

START_TEST(test_not_offloaded)
{
	struct ring_config c;
	struct ring *r = NULL;
	uint64_t before = ring_not_offloaded();
	int lo = (int)if_nametoindex("lo");

	ring_config_default(&c);
	c.backend = RING_BACKEND_NONE;
	ring_set_config(&c);
	ck_assert_int_lt(ring_get(lo ? lo : 1, RING_RX, 3, &r), 0);
	ck_assert_ptr_null(r);
	c.backend = RING_BACKEND_XDP;	/* loopback has no XDP receive path */
	ck_assert_int_lt(ring_open(lo ? lo : 1, &c, &r), 0);
	ck_assert_uint_eq(ring_not_offloaded(), before + 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pool);
	tcase_add_test(tc, test_frag_chain_refs);
	tcase_add_test(tc, test_flow_precedence);
	tcase_add_test(tc, test_mcast_sinks);
	tcase_add_test(tc, test_mcast_not_by_wildcard);
	tcase_add_test(tc, test_demux_malformed_and_frags);
	tcase_add_test(tc, test_not_offloaded);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
