/* test_stats_segment.c — the stats segment as writer and reader see it: layout round
 * trip, 0600, slot exhaustion and reuse, custom stats, -z baselines, and a writer
 * hammering counters while a reader snapshots (no torn or decreasing value). */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stats_test_util.h"
#include "core/internal_thread.h"
#include "core/stats.h"
#include "core/stats_reader.h"
#include "core/stats_segment.h"

static char dir[64];

static void setup(void)
{
	/* start from no segment, whatever the library's start-up did in this process */
	internal_thread_stop();
	stats_segment_reset();
	stats_test_mkdir(dir, sizeof(dir), "shim-stats-test");
}

static void teardown(void)
{
	stats_segment_reset();
	stats_test_rmdir(dir);
}

static void take(struct stats_reader *r, struct stats_snap *s)
{
	ck_assert_int_eq(stats_reader_open(r, stats_seg.path, false), 0);
	ck_assert_int_eq(stats_snap_take(r, s, -1, -1), 0);
}

static const struct snap_slot *slot_with_id(const struct stats_snap *s, const char *kind, int64_t id)
{
	int k = stats_snap_kind(s, kind);

	ck_assert_int_ge(k, 0);
	for (unsigned i = 0; i < s->kinds[k].nslots; i++)
		if (s->kinds[k].slots[i].id == id)
			return &s->kinds[k].slots[i];
	return NULL;
}

START_TEST(round_trip)
{
	struct stats_reader r;
	struct stats_snap s;
	char path[PATH_MAX];

	ck_assert_int_eq(stats_segment_create(dir, 8), 0);
	snprintf(path, sizeof(path), "%s/shim.%d", dir, getpid());
	ck_assert_str_eq(stats_seg.path, path);

	int i = stats_slot_open(STATS_KIND_SOCKET, 14, "udp");
	ck_assert_int_ge(i, 0);
	struct shim_sock_stats *ss = stats_slot_values(STATS_KIND_SOCKET, (unsigned)i);
	STAT_SET(ss, fd, 14);
	STAT_ADD(ss, rx_offload_packets, 140479898);
	STAT_ADD(ss, rx_offload_bytes, 274374u * 1024);
	STAT_MAX(ss, rx_bytes_max, 23520);
	STAT_MAX(ss, rx_bytes_max, 100);
	STAT_SET(ss, mc_groups_v[1], 0x0707070e);
	int ri = stats_slot_open(STATS_KIND_RING, 0, "veth0:0 xdp");
	struct shim_ring_stats *rs = stats_slot_values(STATS_KIND_RING, (unsigned)ri);
	STAT_INC(rs, wakeups_requested);
	STAT_ADD_MT((struct shim_global_stats *)stats_slot_values(STATS_KIND_GLOBAL, 0), sockets_created, 2);

	take(&r, &s);
	ck_assert_int_eq(s.pid, getpid());
	ck_assert_str_eq(s.program, "test_stats_segment");
	ck_assert_int_eq(s.layout_version, SHIM_STATS_LAYOUT_VERSION);
	ck_assert_int_ge(stats_snap_kind(&s, "socket"), 0);
	ck_assert_int_ge(stats_snap_kind(&s, "custom"), 0);
	const struct snap_slot *sl = slot_with_id(&s, "socket", 14);
	ck_assert_ptr_nonnull(sl);
	ck_assert_str_eq(sl->label, "udp");
	ck_assert_uint_eq(stats_snap_get_name(&s, sl, "socket.fd"), 14);
	ck_assert_uint_eq(stats_snap_get_name(&s, sl, "socket.rx_offload_packets"), 140479898);
	ck_assert_uint_eq(stats_snap_get_name(&s, sl, "socket.rx_offload_bytes"), 274374u * 1024);
	ck_assert_uint_eq(stats_snap_get_name(&s, sl, "socket.rx_bytes_max"), 23520);
	int g = stats_snap_find(&s, "socket.mc_groups");
	ck_assert_int_ge(g, 0);
	ck_assert_uint_eq(s.stats[g].count, 16);
	ck_assert_str_eq(s.stats[g].unit, "ipv4");
	ck_assert_str_eq(s.stats[g].short_name, "mc_groups");
	ck_assert_str_eq(s.stats[stats_snap_find(&s, "socket.offloaded")].unit, "bool");
	ck_assert_uint_eq(stats_snap_get(&s, sl, g, 1), 0x0707070e);
	int m = stats_snap_find(&s, "socket.rx_bytes_max");
	ck_assert_uint_eq(s.stats[m].mode, SHIM_STAT_MAXIMUM);
	sl = slot_with_id(&s, "ring", 0);
	ck_assert_ptr_nonnull(sl);
	ck_assert_uint_eq(stats_snap_get_name(&s, sl, "ring.wakeups_requested"), 1);
	/* every stat of stats.def made it into the schema, with a doc line */
	ck_assert_uint_eq(s.nstats, stats_seg.hdr->schema_core_count);
	for (unsigned k = 0; k < s.nstats; k++)
		ck_assert_msg(s.stats[k].doc[0], "%s has no doc", s.stats[k].name);
	/* index lookups agree between writer and reader */
	ck_assert_int_eq(stats_index("socket.rx_offload_packets"),
			 stats_snap_find(&s, "socket.rx_offload_packets"));
	ck_assert_int_eq(stats_index("socket.nope"), -ENOENT);
	stats_snap_free(&s);
	stats_reader_close(&r);
}
END_TEST

START_TEST(mode_0600)
{
	struct stat st;
	mode_t old = umask(0);

	ck_assert_int_eq(stats_segment_create(dir, 4), 0);
	umask(old);
	ck_assert_int_eq(stat(stats_seg.path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, getuid());
	stats_segment_remove();
	ck_assert_int_ne(access(stats_seg.path[0] ? stats_seg.path : "/nonexistent", F_OK), 0);
}
END_TEST

START_TEST(removed_and_no_dir)
{
	char path[PATH_MAX];

	ck_assert_int_eq(stats_segment_create(dir, 4), 0);
	snprintf(path, sizeof(path), "%s", stats_seg.path);
	ck_assert_int_eq(access(path, F_OK), 0);
	stats_segment_remove();
	ck_assert_int_ne(access(path, F_OK), 0);
	stats_segment_reset();
	ck_assert_int_eq(stats_segment_create("/nonexistent/dir", 4), -ENOENT);
	ck_assert_int_eq(stats_segment_create("", 4), -ENOENT);
	ck_assert_int_eq(stats_slot_open(STATS_KIND_SOCKET, 3, NULL), -ENODEV);
}
END_TEST

START_TEST(slots_exhaust_and_reuse)
{
	int idx[4];

	ck_assert_int_eq(stats_segment_create(dir, 4), 0);
	for (int i = 0; i < 4; i++) {
		idx[i] = stats_slot_open(STATS_KIND_SOCKET, 10 + i, NULL);
		ck_assert_int_eq(idx[i], i);
		struct shim_sock_stats *ss = stats_slot_values(STATS_KIND_SOCKET, (unsigned)i);
		STAT_ADD(ss, tx_offload_packets, 100 + i);
		ck_assert_int_eq(stats_slot_find(STATS_KIND_SOCKET, ss), i);
	}
	ck_assert_int_eq(stats_slot_open(STATS_KIND_SOCKET, 99, NULL), -ENOSPC);
	ck_assert_int_eq(stats_slot_by_id(STATS_KIND_SOCKET, 12), 2);
	uint64_t gen = stats_slot_hdr(STATS_KIND_SOCKET, 2)->gen;
	stats_slot_close(STATS_KIND_SOCKET, 2);
	ck_assert_int_eq(stats_slot_by_id(STATS_KIND_SOCKET, 12), -ENOENT);
	ck_assert_int_eq(stats_slot_open(STATS_KIND_SOCKET, 20, NULL), 2);
	ck_assert_uint_eq(stats_slot_hdr(STATS_KIND_SOCKET, 2)->gen, gen + 1);
	struct shim_sock_stats *ss = stats_slot_values(STATS_KIND_SOCKET, 2);
	ck_assert_uint_eq(STAT_GET(ss, tx_offload_packets), 0);
	/* a pointer outside the slots is no slot */
	struct shim_sock_stats local;
	ck_assert_int_eq(stats_slot_find(STATS_KIND_SOCKET, &local), -ENOENT);
	ck_assert_int_eq(stats_slot_find(STATS_KIND_SOCKET, (char *)ss + 8), -ENOENT);
	ck_assert_uint_eq(stats_seg.kinds[STATS_KIND_SOCKET].slot_hwm, 4);
}
END_TEST

START_TEST(zero_slots)
{
	ck_assert_int_eq(stats_segment_create(dir, 0), 0);
	ck_assert_int_eq(stats_slot_open(STATS_KIND_SOCKET, 3, NULL), -ENOSPC);
}
END_TEST

START_TEST(custom_stats)
{
	struct stats_reader r;
	struct stats_snap s;
	uint64_t v;

	ck_assert_int_eq(stats_custom_register("myapp.orders", SHIM_STAT_COUNTER), -ENODEV);
	ck_assert_int_eq(stats_segment_create(dir, 4), 0);
	int a = stats_custom_register("myapp.orders", SHIM_STAT_COUNTER);
	int b = stats_custom_register("myapp.queue_max", SHIM_STAT_MAXIMUM);
	ck_assert_int_ge(a, (int)stats_seg.hdr->schema_core_count);
	ck_assert_int_eq(b, a + 1);
	ck_assert_int_eq(stats_custom_register("myapp.orders", SHIM_STAT_COUNTER), -EEXIST);
	ck_assert_int_eq(stats_custom_register("noprefix", SHIM_STAT_COUNTER), -EINVAL);
	ck_assert_int_eq(stats_custom_register("socket.fake", SHIM_STAT_COUNTER), -EINVAL);
	ck_assert_int_eq(stats_custom_register("bad name.x", SHIM_STAT_COUNTER), -EINVAL);
	ck_assert_int_eq(stats_custom_register("a.b", SHIM_STAT_VALUE), -EINVAL);
	ck_assert_int_eq(stats_custom_register(NULL, SHIM_STAT_COUNTER), -EINVAL);
	ck_assert_int_eq(stats_custom_add(a, 5), 0);
	ck_assert_int_eq(stats_custom_add(a, 7), 0);
	ck_assert_int_eq(stats_custom_max(b, 9), 0);
	ck_assert_int_eq(stats_custom_max(b, 3), 0);
	ck_assert_int_eq(stats_custom_add(b, 1), -EINVAL);	/* wrong mode */
	ck_assert_int_eq(stats_custom_max(a, 1), -EINVAL);
	ck_assert_int_eq(stats_custom_add(0, 1), -EINVAL);	/* a core stat */
	ck_assert_int_eq(stats_custom_add(100000, 1), -EINVAL);
	ck_assert_int_eq(stats_index("myapp.orders"), a);
	ck_assert_int_eq(stats_read(a, &v), 0);
	ck_assert_uint_eq(v, 12);
	ck_assert_int_eq(stats_read(b, &v), 0);
	ck_assert_uint_eq(v, 9);
	take(&r, &s);
	int i = stats_snap_find(&s, "myapp.orders");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(s.stats[i].short_name, "myapp.orders");
	int k = stats_snap_kind(&s, "custom");
	ck_assert_uint_eq(s.kinds[k].nslots, 1);
	ck_assert_uint_eq(stats_snap_get(&s, &s.kinds[k].slots[0], i, 0), 12);
	ck_assert_uint_eq(stats_snap_get_name(&s, &s.kinds[k].slots[0], "myapp.queue_max"), 9);
	stats_snap_free(&s);
	stats_reader_close(&r);
	/* the table has room for SHIM_STATS_CUSTOM_MAX */
	char name[32];
	int n = 2;
	for (; n < SHIM_STATS_CUSTOM_MAX; n++) {
		snprintf(name, sizeof(name), "fill.s%d", n);
		ck_assert_int_ge(stats_custom_register(name, SHIM_STAT_COUNTER), 0);
	}
	ck_assert_int_eq(stats_custom_register("fill.last", SHIM_STAT_COUNTER), -ENOSPC);
}
END_TEST

START_TEST(sum_over_slots)
{
	uint64_t v;

	ck_assert_int_eq(stats_segment_create(dir, 4), 0);
	for (int i = 0; i < 3; i++) {
		int s = stats_slot_open(STATS_KIND_SOCKET, i, NULL);
		struct shim_sock_stats *ss = stats_slot_values(STATS_KIND_SOCKET, (unsigned)s);
		STAT_ADD(ss, rx_offload_packets, 10 * (i + 1));
		STAT_MAX(ss, rx_packets_max, 5 - i);
	}
	stats_slot_close(STATS_KIND_SOCKET, 1);
	ck_assert_int_eq(stats_read(stats_index("socket.rx_offload_packets"), &v), 0);
	ck_assert_uint_eq(v, 10 + 30);
	ck_assert_int_eq(stats_read(stats_index("socket.rx_packets_max"), &v), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_int_eq(stats_read(-1, &v), -ENOENT);
}
END_TEST

START_TEST(zero_request)
{
	struct stats_reader r;
	struct stats_snap s;

	ck_assert_int_eq(stats_segment_create(dir, 4), 0);
	int i = stats_slot_open(STATS_KIND_SOCKET, 7, NULL);
	struct shim_sock_stats *ss = stats_slot_values(STATS_KIND_SOCKET, (unsigned)i);
	STAT_SET(ss, fd, 7);
	STAT_ADD(ss, rx_offload_packets, 1000);
	STAT_MAX(ss, rx_packets_max, 16);
	STAT_SET(ss, rx_bytes_limit, 65536);
	stats_segment_zero();
	STAT_ADD(ss, rx_offload_packets, 3);
	take(&r, &s);
	const struct snap_slot *sl = slot_with_id(&s, "socket", 7);
	ck_assert_uint_eq(stats_snap_get_name(&s, sl, "socket.rx_offload_packets"), 3);
	ck_assert_uint_eq(stats_snap_get_name(&s, sl, "socket.rx_packets_max"), 0);
	ck_assert_uint_eq(stats_snap_get_name(&s, sl, "socket.rx_bytes_limit"), 65536);
	ck_assert_uint_eq(stats_snap_get_name(&s, sl, "socket.fd"), 7);
	stats_snap_free(&s);
	/* a reopened slot does not inherit the old baseline */
	stats_slot_close(STATS_KIND_SOCKET, (unsigned)i);
	ck_assert_int_eq(stats_slot_open(STATS_KIND_SOCKET, 8, NULL), i);
	STAT_ADD(ss, rx_offload_packets, 5);
	ck_assert_int_eq(stats_snap_take(&r, &s, -1, -1), 0);
	sl = slot_with_id(&s, "socket", 8);
	ck_assert_uint_eq(stats_snap_get_name(&s, sl, "socket.rx_offload_packets"), 5);
	stats_snap_free(&s);
	stats_reader_close(&r);
}
END_TEST

START_TEST(fork_child_segment)
{
	char child_path[PATH_MAX];
	int status;

	ck_assert_int_eq(stats_segment_create(dir, 4), 0);
	char parent_path[PATH_MAX];
	snprintf(parent_path, sizeof(parent_path), "%s", stats_seg.path);
	int i = stats_slot_open(STATS_KIND_SOCKET, 3, NULL);
	struct shim_sock_stats *ss = stats_slot_values(STATS_KIND_SOCKET, (unsigned)i);
	STAT_ADD(ss, rx_offload_packets, 100);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int bad = 0;
		bad |= stats_segment_fork_child() != 0;
		bad |= stats_seg.path[0] != '\0';		/* not yet published */
		bad |= stats_seg.hdr->pid != getpid();
		STAT_ADD(ss, rx_offload_packets, 5);		/* same pointer, private now */
		bad |= stats_segment_publish(false) != -EAGAIN;
		bad |= stats_segment_publish(true) != 0;
		snprintf(child_path, sizeof(child_path), "%s/shim.%d", dir, getpid());
		bad |= strcmp(stats_seg.path, child_path) != 0;
		struct stats_reader r;
		struct stats_snap s;
		bad |= stats_reader_open(&r, child_path, false) != 0;
		if (!bad && stats_snap_take(&r, &s, -1, -1) == 0) {
			bad |= s.pid != getpid();
			bad |= stats_snap_get_name(&s, &s.kinds[0].slots[0], "socket.rx_offload_packets") != 105;
			stats_snap_free(&s);
		}
		STAT_ADD(ss, rx_offload_packets, 1);		/* now into the child's file */
		size_t off = (size_t)((char *)&ss->rx_offload_packets - (char *)stats_seg.base);
		bad |= __atomic_load_n((uint64_t *)((char *)r.base + off), __ATOMIC_RELAXED) != 106;
		stats_reader_close(&r);
		stats_segment_remove();
		bad |= access(child_path, F_OK) == 0;
		_exit(bad);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_uint_eq(STAT_GET(ss, rx_offload_packets), 100);	/* parent untouched */
	ck_assert_int_eq(access(parent_path, F_OK), 0);
}
END_TEST

/* Copy the live segment to path, let fix() damage it, and open it with a reader. */
static int open_damaged(const char *path, void (*fix)(char *base, size_t size), size_t keep)
{
	struct stats_reader r;
	FILE *f = fopen(path, "w");
	char *copy = malloc(stats_seg.size);
	int err;

	ck_assert_ptr_nonnull(f);
	memcpy(copy, stats_seg.base, stats_seg.size);
	if (fix)
		fix(copy, stats_seg.size);
	ck_assert_uint_eq(fwrite(copy, 1, keep, f), keep);
	fclose(f);
	free(copy);
	err = stats_reader_open(&r, path, false);
	if (!err)
		stats_reader_close(&r);
	return err;
}

static void bad_magic(char *b, size_t n) { b[0] = 'X'; }
static void bad_version(char *b, size_t n) { ((struct shim_stats_hdr *)b)->layout_version = 99; }
static void not_ready(char *b, size_t n) { ((struct shim_stats_hdr *)b)->ready = 0; }
static void bad_kinds(char *b, size_t n) { ((struct shim_stats_hdr *)b)->kind_count = 1000; }
static void bad_slots(char *b, size_t n)
{
	struct shim_stats_hdr *h = (void *)b;
	struct shim_stats_kind *k = (void *)(b + h->kinds_off);
	k->slot_count = 1u << 30;
}
static void bad_entry(char *b, size_t n)
{
	struct shim_stats_hdr *h = (void *)b;
	struct shim_stats_schema *e = (void *)(b + h->schema_off);
	e[0].kind = 200;		/* no such kind */
	e[1].offset = 1u << 20;		/* outside the slot */
	e[2].offset = 3;		/* misaligned */
	memset(e[3].name, 'x', sizeof(e[3].name));	/* no terminator */
}

START_TEST(reader_rejects_bad_files)
{
	char path[PATH_MAX];
	struct stats_reader r;
	struct stats_snap s;

	ck_assert_int_eq(stats_segment_create(dir, 4), 0);
	snprintf(path, sizeof(path), "%s/copy", dir);
	ck_assert_int_eq(open_damaged(path, NULL, stats_seg.size), 0);
	ck_assert_int_eq(open_damaged(path, bad_magic, stats_seg.size), -EPROTO);
	ck_assert_int_eq(open_damaged(path, bad_version, stats_seg.size), -EPROTO);
	ck_assert_int_eq(open_damaged(path, not_ready, stats_seg.size), -EAGAIN);
	ck_assert_int_eq(open_damaged(path, bad_kinds, stats_seg.size), -EPROTO);
	ck_assert_int_eq(open_damaged(path, bad_slots, stats_seg.size), -EPROTO);
	ck_assert_int_eq(open_damaged(path, NULL, stats_seg.size / 2), -EPROTO);
	ck_assert_int_eq(open_damaged(path, NULL, 10), -EPROTO);
	ck_assert_int_eq(stats_reader_open(&r, "/nonexistent", false), -ENOENT);
	/* bad schema entries are skipped, the rest still reads */
	ck_assert_int_eq(open_damaged(path, bad_entry, stats_seg.size), 0);
	ck_assert_int_eq(stats_reader_open(&r, path, false), 0);
	ck_assert_int_eq(stats_snap_take(&r, &s, -1, -1), 0);
	ck_assert_uint_eq(s.nstats, stats_seg.hdr->schema_core_count - 3);
	for (unsigned i = 0; i < s.nstats; i++)
		ck_assert_uint_lt(strlen(s.stats[i].name), sizeof(s.stats[i].name));
	ck_assert_int_ge(stats_snap_find(&s, "socket.bound_addr"), 0);
	stats_snap_free(&s);
	stats_reader_close(&r);
}
END_TEST

/* --- concurrency ------------------------------------------------------------------ */
#define STEP 0x100000001ull	/* changes both 32-bit halves: a torn read is not a multiple */
static volatile int stop_writer;

static void *writer(void *arg)
{
	struct shim_sock_stats *ss = arg;

	while (!__atomic_load_n(&stop_writer, __ATOMIC_RELAXED)) {
		STAT_ADD(ss, rx_offload_packets, STEP);
		STAT_ADD(ss, rx_offload_bytes, STEP * 3);
		STAT_MAX(ss, rx_bytes_max, STAT_GET(ss, rx_offload_bytes));
	}
	return NULL;
}

START_TEST(no_torn_or_decreasing)
{
	struct stats_reader r;
	pthread_t t;
	uint64_t last_p = 0, last_b = 0, last_m = 0;
	unsigned snaps = 0;

	ck_assert_int_eq(stats_segment_create(dir, 4), 0);
	int i = stats_slot_open(STATS_KIND_SOCKET, 5, NULL);
	struct shim_sock_stats *ss = stats_slot_values(STATS_KIND_SOCKET, (unsigned)i);
	ck_assert_int_eq(stats_reader_open(&r, stats_seg.path, false), 0);
	stop_writer = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, writer, ss), 0);
	for (int loop = 0; loop < 20000; loop++) {
		struct stats_snap s;
		ck_assert_int_eq(stats_snap_take(&r, &s, 0, 5), 0);
		const struct snap_slot *sl = &s.kinds[0].slots[0];
		uint64_t p = stats_snap_get_name(&s, sl, "socket.rx_offload_packets");
		uint64_t b = stats_snap_get_name(&s, sl, "socket.rx_offload_bytes");
		uint64_t m = stats_snap_get_name(&s, sl, "socket.rx_bytes_max");
		ck_assert_msg(p % STEP == 0 && b % STEP == 0 && m % STEP == 0, "torn value");
		ck_assert_msg(p >= last_p && b >= last_b && m >= last_m, "value went down");
		last_p = p, last_b = b, last_m = m;
		stats_snap_free(&s);
		snaps++;
	}
	stop_writer = 1;
	pthread_join(t, NULL);
	ck_assert_uint_gt(last_p, 0);
	ck_assert_uint_eq(snaps, 20000);
	stats_reader_close(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("stats_segment");
	TCase *tc = tcase_create("segment");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, mode_0600);
	tcase_add_test(tc, removed_and_no_dir);
	tcase_add_test(tc, slots_exhaust_and_reuse);
	tcase_add_test(tc, zero_slots);
	tcase_add_test(tc, custom_stats);
	tcase_add_test(tc, sum_over_slots);
	tcase_add_test(tc, zero_request);
	tcase_add_test(tc, reader_rejects_bad_files);
	tcase_add_test(tc, fork_child_segment);
	tcase_add_test(tc, no_torn_or_decreasing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return stats_test_run(suite());
}
