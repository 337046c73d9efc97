/* test_ring_steer.c — the XDP steering program run on crafted frames through
 * BPF_PROG_TEST_RUN (no interface needed): ARP, ICMP, IPv6, short and bogus frames,
 * flows we do not own pass to the kernel; 5-tuple, 3-tuple, any-address 3-tuple and
 * multicast group hits are redirected (counted in the program's stats map, since a
 * redirect into an empty XSKMAP falls back to XDP_PASS); IP options are skipped by
 * IHL; later fragments follow a first fragment that hit a flow, and only those.
 * Loading BPF needs privileges: without them the tests pass with a note. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "ring/steer.h"
#include "ring/steer.skel.h"
#include "ring_frames.h"

static struct ring_steer_bpf *skel;
static bool no_bpf;

static void setup(void)
{
	libbpf_set_print(NULL);
	skel = ring_steer_bpf__open_and_load();
	no_bpf = !skel;
	if (no_bpf)
		fprintf(stderr, "test_ring_steer: cannot load BPF here (%s): checks skipped\n",
			strerror(errno));
}

static void teardown(void)
{
	ring_steer_bpf__destroy(skel);
	skel = NULL;
}

static uint64_t stat(enum steer_stat which)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu > 0 ? ncpu : 1], sum = 0;
	__u32 key = which;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &key, v) < 0)
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

/* Run the program on a frame; returns the XDP verdict. */
static int run(const uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (__u32)len,
		    .repeat = 1);
	int rc = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.shim_steer), &opts);

	ck_assert_int_eq(rc, 0);
	return (int)opts.retval;
}

/* Did this frame get redirected? */
static bool hit(const uint8_t *frame, size_t len)
{
	uint64_t before = stat(STEER_ST_REDIRECT);

	ck_assert_int_eq(run(frame, len), XDP_PASS);	/* empty XSKMAP: fallback */
	return stat(STEER_ST_REDIRECT) == before + 1;
}

static void add3(const char *dst, uint16_t port, uint8_t proto)
{
	struct steer_key3 k = { .dport = htons(port), .proto = proto };
	struct steer_val v = { 0 };

	if (dst)
		inet_pton(AF_INET, dst, &k.daddr);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.flow3), &k, &v, 0), 0);
}

START_TEST(test_pass_and_hits)
{
	uint8_t f[128];
	size_t n;

	if (no_bpf)
		return;
	/* ARP */
	memset(f, 0, sizeof(f));
	f[12] = 0x08;
	f[13] = 0x06;
	ck_assert(!hit(f, 42));
	/* Short frames of every length up to a full header. */
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 5000, 7000, 5, 0, 1);
	add3("198.18.0.1", 7000, IPPROTO_UDP);
	for (size_t len = 14; len < 14 + 20 + 4; len++)	/* test runs need >= ETH_HLEN */
		ck_assert(!hit(f, len));
	ck_assert(hit(f, n));
	/* ICMP, IPv6, the other protocol, another port: kernel. */
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_ICMP, 5000, 7000, 5, 0, 1);
	ck_assert(!hit(f, n));
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_TCP, 5000, 7000, 5, 0, 1);
	ck_assert(!hit(f, n));
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 5000, 7001, 5, 0, 1);
	ck_assert(!hit(f, n));
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 5000, 7000, 5, 0, 1);
	f[13] = 0xdd;
	f[12] = 0x86;
	ck_assert(!hit(f, n));
	/* Bogus IHL (< 5) and options (IHL 8) found by IHL. */
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 5000, 7000, 4, 0, 1);
	ck_assert(!hit(f, n));
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 5000, 7000, 8, 0, 1);
	ck_assert(hit(f, n));
	/* Any-address 3-tuple, TCP. */
	add3(NULL, 80, IPPROTO_TCP);
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.77", IPPROTO_TCP, 40000, 80, 5, 0, 1);
	ck_assert(hit(f, n));
	/* 5-tuple. */
	struct steer_key5 k5 = { .sport = htons(1111), .dport = htons(2222), .proto = IPPROTO_UDP };
	struct steer_val v = { 0 };

	inet_pton(AF_INET, "198.18.0.2", &k5.saddr);
	inet_pton(AF_INET, "198.18.0.1", &k5.daddr);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.flow5), &k5, &v, 0), 0);
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 1111, 2222, 5, 0, 1);
	ck_assert(hit(f, n));
	n = test_ip_frame(f, "198.18.0.3", "198.18.0.1", IPPROTO_UDP, 1111, 2222, 5, 0, 1);
	ck_assert(!hit(f, n));
	/* Multicast group, not a unicast address. */
	__u32 g;

	inet_pton(AF_INET, "239.1.2.3", &g);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.mcast), &g, &v, 0), 0);
	n = test_ip_frame(f, "198.18.0.2", "239.1.2.3", IPPROTO_UDP, 1, 9999, 5, 0, 1);
	ck_assert(hit(f, n));
	n = test_ip_frame(f, "198.18.0.2", "239.1.2.4", IPPROTO_UDP, 1, 9999, 5, 0, 1);
	ck_assert(!hit(f, n));
}
END_TEST

START_TEST(test_fragments)
{
	uint8_t f[128];
	size_t n;

	if (no_bpf)
		return;
	add3("198.18.0.1", 7000, IPPROTO_UDP);
	/* A later fragment before any first fragment: kernel. */
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 0, 0, 5, 185, 42);
	ck_assert(!hit(f, n));
	/* First fragment of a datagram to our port: learned, then later ones follow. */
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 5000, 7000, 5, 0x2000, 42);
	ck_assert(hit(f, n));
	ck_assert_uint_eq(stat(STEER_ST_FRAG_LEARN), 1);
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 0, 0, 5, 0x2000 | 185, 42);
	ck_assert(hit(f, n));
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 0, 0, 5, 370, 42);
	ck_assert(hit(f, n));
	ck_assert_uint_eq(stat(STEER_ST_FRAG_FOLLOW), 2);
	/* Same id from another source, or a kernel port's datagram: kernel. */
	n = test_ip_frame(f, "198.18.0.9", "198.18.0.1", IPPROTO_UDP, 0, 0, 5, 185, 42);
	ck_assert(!hit(f, n));
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 5000, 7001, 5, 0x2000, 43);
	ck_assert(!hit(f, n));
	n = test_ip_frame(f, "198.18.0.2", "198.18.0.1", IPPROTO_UDP, 0, 0, 5, 185, 43);
	ck_assert(!hit(f, n));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ring_steer");
	TCase *tc = tcase_create("xdp");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pass_and_hits);
	tcase_add_test(tc, test_fragments);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
