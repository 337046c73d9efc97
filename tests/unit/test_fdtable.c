/* test_fdtable.c — the fd table: install/lookup/remove and references, destroy on
 * the last reference, growth past the start-up size with existing entries kept,
 * cached data-op bits following fdt_set_ops, walks, and lookups racing removals and
 * growth from several threads (run under SANITIZE=address to catch use after free). */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "intercept/intercept.h"

static int destroyed;

static void count_destroy(struct shim_fd *f)
{
	__atomic_add_fetch(&destroyed, 1, __ATOMIC_RELAXED);
	free(f);
}

static ssize_t rx_op(struct shim_fd *f, struct msghdr *msg, int flags)
{
	return 0;
}

static const struct fd_ops plain_ops = { .name = "plain", .destroy = count_destroy };
static const struct fd_ops rx_ops = { .name = "rx", .destroy = count_destroy, .recvmsg = rx_op };

static struct shim_fd *obj_new(int fd, const struct fd_ops *ops)
{
	struct shim_fd *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	f->fd = fd;
	f->ops = ops;
	f->refcnt = 1;
	return f;
}

/* Numbers far from anything the process has open: the table does not care whether
 * the kernel fd exists. */
#define FD_A 700
#define FD_B 701

static void setup(void)
{
	ck_assert_int_eq(fdt_init(), 0);
	destroyed = 0;
}

START_TEST(test_install_get_remove)
{
	struct shim_fd *f = obj_new(FD_A, &plain_ops), *g;

	ck_assert_ptr_null(fdt_get(FD_A));
	ck_assert_int_eq(fdt_install(f), 0);
	ck_assert(fdt_peek(FD_A) != 0);
	g = obj_new(FD_A, &plain_ops);
	ck_assert_int_eq(fdt_install(g), -EEXIST);
	fd_put(g);
	ck_assert_int_eq(destroyed, 1);
	destroyed = 0;
	g = fdt_get(FD_A);
	ck_assert_ptr_eq(g, f);
	ck_assert_int_eq(f->refcnt, 2);
	fd_put(g);
	ck_assert_int_eq(f->refcnt, 1);
	ck_assert_ptr_null(fdt_get(FD_B));
	ck_assert_ptr_null(fdt_get(-1));
	g = fdt_remove(FD_A);
	ck_assert_ptr_eq(g, f);
	ck_assert_ptr_null(fdt_get(FD_A));
	ck_assert_ptr_null(fdt_remove(FD_A));
	ck_assert_int_eq(destroyed, 0);
	fd_put(g);
	ck_assert_int_eq(destroyed, 1);
}
END_TEST

START_TEST(test_bad_install)
{
	struct shim_fd *f = obj_new(-1, &plain_ops);

	ck_assert_int_eq(fdt_install(f), -EBADF);
	fd_put(f);
}
END_TEST

START_TEST(test_reference_outlives_remove)
{
	struct shim_fd *f = obj_new(FD_A, &plain_ops), *held;

	ck_assert_int_eq(fdt_install(f), 0);
	held = fdt_get(FD_A);
	fd_put(fdt_remove(FD_A));
	ck_assert_int_eq(destroyed, 0);	/* a caller is still inside an op */
	ck_assert_int_eq(held->fd, FD_A);
	fd_put(held);
	ck_assert_int_eq(destroyed, 1);
}
END_TEST

START_TEST(test_growth_keeps_entries)
{
	unsigned size = fdt_size();
	int hi = (int)size + 1000;
	struct shim_fd *lo = obj_new(FD_A, &rx_ops), *f = obj_new(hi, &plain_ops), *g;

	ck_assert_int_eq(fdt_install(lo), 0);
	ck_assert_int_eq(fdt_install(f), 0);
	ck_assert_uint_gt(fdt_size(), (unsigned)hi);
	g = fdt_get(hi);
	ck_assert_ptr_eq(g, f);
	fd_put(g);
	ck_assert(fdt_peek(FD_A) & FDT_RECV);
	g = fdt_get(FD_A);
	ck_assert_ptr_eq(g, lo);
	fd_put(g);
	fd_put(fdt_remove(hi));
	fd_put(fdt_remove(FD_A));
	ck_assert_int_eq(destroyed, 2);
}
END_TEST

START_TEST(test_set_ops_updates_bits)
{
	struct shim_fd *f = obj_new(FD_A, &plain_ops);

	ck_assert_int_eq(fdt_install(f), 0);
	ck_assert(!(fdt_peek(FD_A) & (FDT_RECV | FDT_SEND)));
	fdt_set_ops(f, &rx_ops);
	ck_assert(fdt_peek(FD_A) & FDT_RECV);
	ck_assert(!(fdt_peek(FD_A) & FDT_SEND));
	ck_assert_ptr_eq(f->ops, &rx_ops);
	fdt_set_ops(f, &plain_ops);
	ck_assert(!(fdt_peek(FD_A) & FDT_RECV));
	fd_put(fdt_remove(FD_A));
}
END_TEST

static long rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%ld %ld", &pages, &resident), 2);
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Resident-memory budget of the test below: a quarter of what a fully touched table
 * would cost (8 MiB), leaving room for allocator and page-accounting noise (516 KB
 * was seen against an earlier 512). AddressSanitizer adds shadow pages and redzones
 * to whatever the table touches: a sanitized build gets twice the budget. */
#if defined(__SANITIZE_ADDRESS__)
#define HUGE_FD_RSS_KB 4096
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HUGE_FD_RSS_KB 4096
#endif
#endif
#ifndef HUGE_FD_RSS_KB
#define HUGE_FD_RSS_KB 2048
#endif

/* A descriptor near 2^20 (what `ulimit -n 1048576` allows) grows the table to 8 MiB
 * of address space, but only the pages actually used become resident. */
START_TEST(test_huge_fd_costs_little)
{
	int hi = (1 << 20) - 5;
	long before = rss_kb();
	struct shim_fd *f = obj_new(hi, &rx_ops), *g;

	ck_assert_int_eq(fdt_install(f), 0);
	ck_assert_uint_ge(fdt_size(), (unsigned)hi + 1);
	g = fdt_get(hi);
	ck_assert_ptr_eq(g, f);
	fd_put(g);
	ck_assert_uint_eq(fdt_peek(hi - 1000), 0);
	fd_put(fdt_remove(hi));
	ck_assert_int_lt(rss_kb() - before, HUGE_FD_RSS_KB);
}
END_TEST

static void visit(struct shim_fd *f, void *arg)
{
	*(int *)arg += f->fd;
}

START_TEST(test_for_each)
{
	int sum = 0;

	ck_assert_int_eq(fdt_install(obj_new(FD_A, &plain_ops)), 0);
	ck_assert_int_eq(fdt_install(obj_new(FD_B, &plain_ops)), 0);
	fdt_for_each(visit, &sum);
	ck_assert_int_eq(sum, FD_A + FD_B);
	fd_put(fdt_remove(FD_A));
	fd_put(fdt_remove(FD_B));
}
END_TEST

/* Readers look up a handful of fds while the main thread installs, removes and grows
 * the table under them. Every object must be destroyed exactly once, never while a
 * reader holds it (a reader checks its object is intact after taking it). */
#define RACE_FDS 8
#define RACE_BASE 800
static int race_stop;

static void *reader(void *arg)
{
	long hits = 0;

	while (!__atomic_load_n(&race_stop, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < RACE_FDS; i++) {
			struct shim_fd *f = fdt_get(RACE_BASE + i);

			if (f) {
				ck_assert_int_eq(f->fd, RACE_BASE + i);
				ck_assert_int_gt(__atomic_load_n(&f->refcnt, __ATOMIC_RELAXED), 0);
				hits++;
				fd_put(f);
			}
		}
	}
	*(long *)arg = hits;
	return NULL;
}

START_TEST(test_concurrent_lookups)
{
	pthread_t t[3];
	long hits[3];
	int installs = 0;

	race_stop = 0;
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, reader, &hits[i]);
	for (int round = 0; round < 20000; round++) {
		int fd = RACE_BASE + round % RACE_FDS;

		struct shim_fd *f = obj_new(fd, &plain_ops);

		if (fdt_install(f) == 0)
			installs++;
		else
			free(f);	/* never installed: not one of the destroyed */
		if (round % 3)
			fd_put(fdt_remove(RACE_BASE + (round * 7) % RACE_FDS));
		if (round % 5000 == 0) {	/* growth while readers run */
			struct shim_fd *g = obj_new((int)fdt_size() + 10, &plain_ops);

			ck_assert_int_eq(fdt_install(g), 0);
			installs++;
			fd_put(fdt_remove(g->fd));
		}
	}
	for (int i = 0; i < RACE_FDS; i++)
		fd_put(fdt_remove(RACE_BASE + i));
	__atomic_store_n(&race_stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(destroyed, installs);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fdtable");
	TCase *tc = tcase_create("fdtable");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_install_get_remove);
	tcase_add_test(tc, test_bad_install);
	tcase_add_test(tc, test_reference_outlives_remove);
	tcase_add_test(tc, test_growth_keeps_entries);
	tcase_add_test(tc, test_set_ops_updates_bits);
	tcase_add_test(tc, test_huge_fd_costs_little);
	tcase_add_test(tc, test_for_each);
	tcase_add_test(tc, test_concurrent_lookups);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
