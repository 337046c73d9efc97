/* noise_floor.c — how often this machine takes a busy-polling thread off its CPU.
 * One thread per CPU (pinned) reads the clock in a tight loop for S seconds and counts
 * the gaps between reads: a gap of several microseconds is time the thread did not
 * run (an interrupt, the hypervisor, another task). A ping-pong whose round trip meets
 * such a gap takes at least that long, whatever the stack does, so these rates bound
 * the tail percentiles a latency benchmark can show here.
 *
 *   noise_floor [SECONDS]
 * prints a line per CPU and a last line "noise <T_us> <stalls/s at or above T, all
 * CPUs> ..." for the benchmark scripts. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const unsigned thr_us[] = { 2, 5, 10, 20, 50, 100, 1000 };
#define NTHR (sizeof(thr_us) / sizeof(thr_us[0]))

struct cpu_run {
	int cpu;
	double secs;
	uint64_t at_least[NTHR];	/* gaps >= thr_us[i] */
	uint64_t lost_ns;		/* sum of gaps >= 2 us */
	int pinned;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *spin(void *arg)
{
	struct cpu_run *r = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(r->cpu, &set);
	r->pinned = pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
	uint64_t prev = now_ns(), end = prev + (uint64_t)(r->secs * 1e9);
	for (;;) {
		uint64_t t = now_ns(), gap = t - prev;
		prev = t;
		if (t >= end)
			break;
		if (gap < 2000)
			continue;
		r->lost_ns += gap;
		for (unsigned i = 0; i < NTHR && gap >= thr_us[i] * 1000ull; i++)
			r->at_least[i]++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (secs <= 0 || secs > 600 || n < 1) {
		fprintf(stderr, "usage: %s [SECONDS (0-600]]\n", argv[0]);
		return 2;
	}
	struct cpu_run *runs = calloc((size_t)n, sizeof(*runs));
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	if (!runs || !th)
		return 1;
	for (long i = 0; i < n; i++) {
		runs[i] = (struct cpu_run){ .cpu = (int)i, .secs = secs };
		if (pthread_create(&th[i], NULL, spin, &runs[i])) {
			perror("pthread_create");
			return 1;
		}
	}
	uint64_t total[NTHR] = { 0 };
	for (long i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		printf("cpu %d%s: stalls per second:", runs[i].cpu, runs[i].pinned ? "" : " (unpinned)");
		for (unsigned k = 0; k < NTHR; k++) {
			printf(" >=%uus %.0f", thr_us[k], runs[i].at_least[k] / secs);
			total[k] += runs[i].at_least[k];
		}
		printf("; time lost %.2f%%\n", runs[i].lost_ns / (secs * 1e7));
	}
	printf("noise");
	for (unsigned k = 0; k < NTHR; k++)
		printf(" %u %.0f", thr_us[k], total[k] / secs);
	printf("\n");
	free(runs);
	free(th);
	return 0;
}
