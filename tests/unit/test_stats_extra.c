/* test_stats_extra.c — the extra API table as an application sees it (through the
 * getsockopt entry point), the per-thread offload choice the socket layer reads, and
 * the library side of stats blocks: scratch blocks, dumps, closing, idempotent init. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <shim_extra.h>

#include "stats_test_util.h"
#include "core/extra.h"
#include "core/internal_thread.h"
#include "core/params.h"
#include "core/stats.h"
#include "core/stats_segment.h"

static char dir[64];

static void setup(void)
{
	params_defaults();
	/* start from no segment, whatever the library's start-up did in this process */
	internal_thread_stop();
	stats_segment_reset();
	stats_test_mkdir(dir, sizeof(dir), "shim-extra-test");
}

static void teardown(void)
{
	internal_thread_stop();	/* its control task reads the segment we unmap */
	stats_segment_reset();
	stats_test_rmdir(dir);
}

static struct shim_api *get_api(void)
{
	struct shim_api *api = NULL;
	socklen_t len = sizeof(api);

	ck_assert_int_eq(shim_extra_getsockopt(&api, &len), 0);
	ck_assert_uint_eq(len, sizeof(api));
	ck_assert_ptr_nonnull(api);
	return api;
}

static void with_segment(void)
{
	struct stats_config cfg = { .dir = dir, .fd_num = 8 };

	ck_assert_int_eq(stats_init_with(&cfg), 0);
	ck_assert_int_eq(stats_init_with(&cfg), 0);	/* once per process */
}

START_TEST(table_header)
{
	struct shim_api *api = get_api(), *p;
	socklen_t len = 4;

	ck_assert(api->magic == SHIM_API_MAGIC);
	ck_assert_uint_eq(api->size, sizeof(struct shim_api));
	ck_assert_uint_eq(api->version, SHIM_API_VERSION);
	ck_assert(api->cap_mask & SHIM_CAP_STATS);
	ck_assert(api->cap_mask & SHIM_CAP_THREAD_OFFLOAD);
	ck_assert(!(api->cap_mask & (SHIM_CAP_ZCOPY_RECV | SHIM_CAP_RECV_CALLBACK)));
	ck_assert(SHIM_API_HAS(api, stat_get));
	ck_assert_ptr_null(api->reserved[0]);
	ck_assert_int_eq(shim_extra_getsockopt(&p, &len), -EINVAL);
	ck_assert_int_eq(shim_extra_getsockopt(NULL, &len), -EFAULT);
	ck_assert_int_eq(shim_extra_getsockopt(&p, NULL), -EFAULT);
}
END_TEST

START_TEST(custom_stats_through_api)
{
	struct shim_api *api = get_api();
	uint64_t v;

	ck_assert_int_eq(api->add_stat("myapp.orders", SHIM_STAT_MODE_COUNTER), -ENODEV);
	with_segment();
	int orders = api->add_stat("myapp.orders", SHIM_STAT_MODE_COUNTER);
	int peak = api->add_stat("myapp.peak", SHIM_STAT_MODE_MAXIMUM);
	ck_assert_int_ge(orders, 0);
	ck_assert_int_eq(peak, orders + 1);
	ck_assert_int_eq(api->add_stat("myapp.bad", 7), -EINVAL);
	ck_assert_int_eq(api->add_stat("myapp.orders", SHIM_STAT_MODE_COUNTER), -EEXIST);
	ck_assert_int_eq(api->stat_index("myapp.orders"), orders);
	ck_assert_int_eq(api->stat_index("myapp.none"), -ENOENT);
	ck_assert_int_eq(api->stat_index(NULL), -EINVAL);
	ck_assert_int_ge(api->stat_index("socket.rx_offload_packets"), 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(api->stat_add(orders, 3), 0);
	ck_assert_int_eq(api->stat_max(peak, 5), 0);
	ck_assert_int_eq(api->stat_max(peak, 2), 0);
	ck_assert_int_eq(api->stat_add(peak, 1), -EINVAL);
	ck_assert_int_eq(api->stat_add(api->stat_index("socket.rx_offload_packets"), 1), -EINVAL);
	ck_assert_int_eq(api->stat_get(orders, &v), 0);
	ck_assert_uint_eq(v, 30);
	ck_assert_int_eq(api->stat_get(peak, &v), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_int_eq(api->stat_get(orders, NULL), -EINVAL);
	/* core stats are readable by index too, summed over sockets */
	struct shim_sock_stats *a = stats_sock_open(40, AF_INET, SOCK_DGRAM, 0);
	struct shim_sock_stats *b = stats_sock_open(41, AF_INET, SOCK_DGRAM, 0);
	STAT_ADD(a, tx_offload_packets, 4);
	STAT_ADD(b, tx_offload_packets, 6);
	ck_assert_int_eq(api->stat_get(api->stat_index("socket.tx_offload_packets"), &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(api->stat_get(api->stat_index("global.sockets_created"), &v), 0);
	ck_assert_uint_eq(v, 2);
}
END_TEST

static void *counting_thread(void *arg)
{
	struct shim_api *api = get_api();
	int idx = *(int *)arg;

	for (int i = 0; i < 100000; i++)
		api->stat_add(idx, 1);
	return NULL;
}

START_TEST(custom_counter_many_threads)
{
	struct shim_api *api = get_api();
	pthread_t t[4];
	uint64_t v;

	with_segment();
	int idx = api->add_stat("myapp.events", SHIM_STAT_MODE_COUNTER);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, counting_thread, &idx);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(api->stat_get(idx, &v), 0);
	ck_assert_uint_eq(v, 400000);
}
END_TEST

struct offload_probe {
	int set;	/* -1: leave alone */
	bool may;
};

static void *probe_thread(void *arg)
{
	struct offload_probe *p = arg;

	if (p->set >= 0)
		get_api()->thread_offload(p->set, pthread_self());
	p->may = shim_thread_may_offload();
	return NULL;
}

START_TEST(thread_offload)
{
	struct shim_api *api = get_api();
	struct offload_probe p = { -1, false };
	pthread_t t;

	ck_assert(shim_thread_may_offload());	/* SHIM_OFFLOADED_SOCKETS=1 */
	ck_assert_int_eq(api->thread_offload(0, pthread_self()), 0);
	ck_assert(!shim_thread_may_offload());
	/* another thread keeps the default */
	pthread_create(&t, NULL, probe_thread, &p);
	pthread_join(t, NULL);
	ck_assert(p.may);
	ck_assert_int_eq(api->thread_offload(1, pthread_self()), 0);
	ck_assert(shim_thread_may_offload());
	ck_assert_int_eq(api->thread_offload(2, pthread_self()), -EINVAL);
	/* with SHIM_OFFLOADED_SOCKETS=0 a thread opts in */
	shim_params.offloaded_sockets = 0;
	ck_assert_int_eq(api->thread_offload(0, pthread_self()), 0);
	ck_assert(!shim_thread_may_offload());
	p = (struct offload_probe){ 1, false };
	pthread_create(&t, NULL, probe_thread, &p);
	pthread_join(t, NULL);
	ck_assert(p.may);
	/* ... and its choice ends with it: a new thread starts from the default */
	for (int i = 0; i < 300; i++) {
		p = (struct offload_probe){ 1, false };
		pthread_create(&t, NULL, probe_thread, &p);
		pthread_join(t, NULL);
		ck_assert(p.may);
	}
	p = (struct offload_probe){ -1, true };
	pthread_create(&t, NULL, probe_thread, &p);
	pthread_join(t, NULL);
	ck_assert(!p.may);
}
END_TEST

START_TEST(conf_rule_entry)
{
	struct shim_api *api = get_api();
	int r;

	ck_assert_int_eq(api->add_conf_rule(NULL), -EINVAL);
	r = api->add_conf_rule("use os tcp_client *:6379");
	if (api->cap_mask & SHIM_CAP_RULES)
		ck_assert_int_eq(r, 0);
	else
		ck_assert_int_eq(r, -ENOSYS);
}
END_TEST

START_TEST(blocks_and_dumps)
{
	struct shim_api *api = get_api();

	/* no segment: scratch blocks, never NULL, closing them is harmless */
	struct shim_sock_stats *s = stats_sock_open(5, AF_INET, SOCK_STREAM, 0);
	ck_assert_ptr_nonnull(s);
	STAT_INC(s, rx_offload_packets);
	stats_sock_close(s);
	stats_sock_close(NULL);
	ck_assert_ptr_nonnull(stats_ring_open("x", 1, 0));
	ck_assert_int_eq(stats_ring_index(stats_ring_open("x", 1, 0)), -1);
	ck_assert_ptr_nonnull(stats_global());
	ck_assert_ptr_null(stats_segment_path());
	ck_assert_int_eq(api->dump_fd_stats(5, 3), -ENOENT);

	with_segment();
	ck_assert_ptr_nonnull(stats_segment_path());
	s = stats_sock_open(6, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_uint_eq(STAT_GET(s, fd), 6);
	ck_assert_uint_eq(STAT_GET(s, protocol), 6);
	ck_assert_uint_eq(STAT_GET(s, blocking), 0);
	STAT_ADD(s, rx_offload_packets, 9);
	ck_assert_int_eq(api->dump_fd_stats(6, 4), 0);
	ck_assert_int_eq(api->dump_fd_stats(6, 9), -EINVAL);
	ck_assert_int_eq(api->dump_fd_stats(7, 3), -ENOENT);
	stats_sock_set_fd(s, 7);
	ck_assert_int_eq(api->dump_fd_stats(7, 4), 0);
	ck_assert_int_eq(api->dump_fd_stats(6, 4), -ENOENT);
	stats_sock_close(s);
	ck_assert_int_eq(api->dump_fd_stats(7, 4), -ENOENT);
	struct shim_ring_stats *r = stats_ring_open("veth0:0", 3, 0);
	ck_assert_int_eq(stats_ring_index(r), 0);
	struct shim_cq_stats *c = stats_cq_open("veth0:0 rx", 0);
	ck_assert_uint_eq(STAT_GET(c, ring), 0);
	ck_assert_uint_eq(STAT_GET(r, ifindex), 3);
	stats_cq_close(c);
	stats_ring_close(r);
	stats_bpool_close(stats_bpool_open("pool"));
	stats_iomux_close(stats_iomux_open("epoll", 9));
	/* slots run out: the shared "other sockets" block, counted */
	for (int i = 0; i < 8; i++)
		stats_sock_open(100 + i, AF_INET, SOCK_DGRAM, 0);
	s = stats_sock_open(200, AF_INET, SOCK_DGRAM, 0);
	struct shim_sock_stats *s2 = stats_sock_open(201, AF_INET, SOCK_DGRAM, 0);
	ck_assert_ptr_eq(s, s2);
	int o = stats_slot_find(STATS_KIND_SOCKET, s);
	ck_assert_int_eq(o, 8);
	ck_assert_int_eq(stats_slot_hdr(STATS_KIND_SOCKET, (unsigned)o)->id, -1);
	ck_assert_str_eq(stats_slot_hdr(STATS_KIND_SOCKET, (unsigned)o)->label, "other sockets");
	ck_assert_uint_eq(STAT_GET(s, fd), 0);
	ck_assert_uint_eq(STAT_GET(stats_global(), stats_slots_exhausted), 2);
	STAT_ADD(s, tx_os_packets, 3);
	stats_sock_close(s);	/* stays open for the others */
	ck_assert_uint_eq(stats_slot_hdr(STATS_KIND_SOCKET, (unsigned)o)->in_use, 1);
	uint64_t v;
	ck_assert_int_eq(stats_read(stats_index("socket.tx_os_packets"), &v), 0);
	ck_assert_uint_eq(v, 3);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("stats_extra");
	TCase *tc = tcase_create("extra");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, table_header);
	tcase_add_test(tc, custom_stats_through_api);
	tcase_add_test(tc, custom_counter_many_threads);
	tcase_add_test(tc, thread_offload);
	tcase_add_test(tc, conf_rule_entry);
	tcase_add_test(tc, blocks_and_dumps);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return stats_test_run(suite());
}
