/* stats_bench.c — what the stats cost: a counter update on the hot path (single-writer
 * STAT_INC against a plain increment and an atomic RMW), the same with shim_stats
 * reading the segment all the time, and one reader snapshot of a full segment.
 * Interleaved rounds, medians; machine noise (2 shared cores) applies. Not a test.
 *
 *   build/tests/bench/stats_bench [iterations]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/internal_thread.h"
#include "core/stats.h"
#include "core/stats_reader.h"
#include "core/stats_segment.h"

#define ROUNDS 7

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define BARRIER() __asm__ __volatile__("" ::: "memory")

__attribute__((noinline)) static double run_plain(struct shim_sock_stats *s, long n)
{
	double t = now_ns();
	for (long i = 0; i < n; i++) {
		s->rx_offload_packets++;
		s->rx_offload_bytes += 64;
		BARRIER();
	}
	return (now_ns() - t) / (double)n;
}

__attribute__((noinline)) static double run_stat(struct shim_sock_stats *s, long n)
{
	double t = now_ns();
	for (long i = 0; i < n; i++) {
		STAT_INC(s, rx_offload_packets);
		STAT_ADD(s, rx_offload_bytes, 64);
		BARRIER();
	}
	return (now_ns() - t) / (double)n;
}

__attribute__((noinline)) static double run_mt(struct shim_sock_stats *s, long n)
{
	double t = now_ns();
	for (long i = 0; i < n; i++) {
		STAT_INC_MT(s, rx_offload_packets);
		STAT_ADD_MT(s, rx_offload_bytes, 64);
		BARRIER();
	}
	return (now_ns() - t) / (double)n;
}

static volatile int reader_stop;
static long reader_snaps;

static void *reader(void *arg)
{
	struct stats_reader *r = arg;

	while (!reader_stop) {
		struct stats_snap s;
		if (stats_snap_take(r, &s, -1, -1) == 0) {
			stats_snap_free(&s);
			reader_snaps++;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000000;
	char dir[] = "/tmp/shim-stats-bench.XXXXXX";
	double plain[ROUNDS], stat[ROUNDS], mt[ROUNDS], busy[ROUNDS];
	struct stats_reader r;

	/* our own segment, not one the library's start-up may have made */
	internal_thread_stop();
	stats_segment_reset();
	if (!mkdtemp(dir) || stats_segment_create(dir, 1024) < 0) {
		perror("segment");
		return 1;
	}
	/* a full segment: 1024 open sockets */
	for (int i = 0; i < 1024; i++)
		stats_slot_open(STATS_KIND_SOCKET, i, "udp");
	struct shim_sock_stats *s = stats_slot_values(STATS_KIND_SOCKET, 0);
	if (stats_reader_open(&r, stats_seg.path, false) < 0)
		return 1;

	for (int k = 0; k < ROUNDS; k++) {	/* interleaved */
		/* alternate the order so no variant always runs first */
		if (k & 1) {
			plain[k] = run_plain(s, n);
			stat[k] = run_stat(s, n);
		} else {
			stat[k] = run_stat(s, n);
			plain[k] = run_plain(s, n);
		}
		mt[k] = run_mt(s, n);
	}
	pthread_t t;
	reader_stop = 0;
	pthread_create(&t, NULL, reader, &r);
	double t0 = now_ns();
	for (int k = 0; k < ROUNDS; k++)
		busy[k] = run_stat(s, n);
	reader_stop = 1;
	pthread_join(t, NULL);
	double snap_us = (now_ns() - t0) / 1e3 / (double)(reader_snaps ? reader_snaps : 1);
	qsort(plain, ROUNDS, sizeof(double), cmp);
	qsort(stat, ROUNDS, sizeof(double), cmp);
	qsort(mt, ROUNDS, sizeof(double), cmp);
	qsort(busy, ROUNDS, sizeof(double), cmp);
	printf("counter update (2 stats per op, %ld ops x %d rounds, median):\n", n, ROUNDS);
	printf("  plain increment          %6.2f ns/op\n", plain[ROUNDS / 2]);
	printf("  STAT_INC/STAT_ADD        %6.2f ns/op  (%.2fx plain)\n", stat[ROUNDS / 2],
	       stat[ROUNDS / 2] / plain[ROUNDS / 2]);
	printf("  STAT_*_MT (atomic RMW)   %6.2f ns/op  (%.2fx plain)\n", mt[ROUNDS / 2],
	       mt[ROUNDS / 2] / plain[ROUNDS / 2]);
	printf("  STAT_INC, reader looping %6.2f ns/op  (%.2fx plain)\n", busy[ROUNDS / 2],
	       busy[ROUNDS / 2] / plain[ROUNDS / 2]);
	printf("reader: full snapshot of 1024 sockets: %.1f us (%ld snapshots)\n", snap_us, reader_snaps);
	stats_reader_close(&r);
	stats_segment_reset();
	rmdir(dir);
	return 0;
}
