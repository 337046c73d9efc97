/* tcp_engine.c — CPU cost of the TCP engine alone: two stacks joined by the in-process
 * harness (no kernel, no rings), timed with the process CPU clock. Prints bulk
 * throughput, 64-byte request/response cost and connection setup/teardown rate.
 * Usage: tcp_engine [megabytes] [round-trips] [connections] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tcp_harness.h"

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bulk(size_t mbytes)
{
	struct tcp_conn *cl, *sv, *ls;
	struct tcp_config a, b;
	struct th *th;
	double t0, t;
	long got;
	uint64_t segs;

	th_config(&a);
	th_config(&b);
	a.sndbuf = b.rcvbuf = 4 << 20;
	th = th_setup(&a, &b, &cl, &sv, &ls);
	if (!th)
		return 1;
	segs = th->side[TH_A].sent;
	t0 = cpu_seconds();
	got = th_transfer(th, cl, sv, mbytes << 20, 1000000000ull);
	t = cpu_seconds() - t0;
	segs = th->side[TH_A].sent - segs;
	printf("bulk: %zu MiB in %.3f s CPU: %.0f MiB/s, %.2f Mseg/s (both stacks + wire copy)\n",
	       mbytes, t, (double)mbytes / t, (double)segs / t / 1e6);
	th_teardown(th, cl, sv, ls);
	return got == (long)(mbytes << 20) ? 0 : 1;
}

static int pingpong(long rounds)
{
	struct tcp_conn *cl, *sv, *ls;
	struct th *th = th_setup(NULL, NULL, &cl, &sv, &ls);
	char buf[64] = { 0 };
	double t0, t;

	if (!th)
		return 1;
	tcp_setopt(cl, TCP_OPT_NODELAY, 1);
	tcp_setopt(sv, TCP_OPT_NODELAY, 1);
	th->delay_us = 0;
	t0 = cpu_seconds();
	for (long i = 0; i < rounds; i++) {
		if (tcp_send(cl, buf, sizeof(buf), 0) != sizeof(buf))
			return 1;
		th_advance(th, 0);
		if (tcp_recv(sv, buf, sizeof(buf), 0) != sizeof(buf))
			return 1;
		tcp_send(sv, buf, sizeof(buf), 0);
		th_advance(th, 0);
		if (tcp_recv(cl, buf, sizeof(buf), 0) != sizeof(buf))
			return 1;
	}
	t = cpu_seconds() - t0;
	printf("ping-pong: %ld round trips of 64 B in %.3f s CPU: %.2f us per round trip "
	       "(4 segments through two stacks)\n", rounds, t, t / (double)rounds * 1e6);
	th_teardown(th, cl, sv, ls);
	return 0;
}

static int setups(int n)
{
	struct tcp_conn *c, *s, *ls;
	struct th *th = th_new(NULL, NULL);
	double t0, t;

	if (th_listen(th, TH_B, 80, 128, &ls))
		return 1;
	t0 = cpu_seconds();
	for (int i = 0; i < n; i++) {
		if (th_connect(th, TH_A, 80, &c)) {
			fprintf(stderr, "connect %d failed\n", i);
			return 1;
		}
		th_advance(th, 2000);
		if (tcp_accept(ls, &s)) {
			fprintf(stderr, "accept %d failed\n", i);
			return 1;
		}
		tcp_close(c);
		tcp_close(s);
		th_advance(th, 1000);
	}
	t = cpu_seconds() - t0;
	printf("connections: %d opened and closed in %.3f s CPU: %.0f per second\n", n, t,
	       (double)n / t);
	tcp_close(ls);
	return th_finish(th) ? 1 : 0;
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 0) : 256;
	long rounds = argc > 2 ? strtol(argv[2], NULL, 0) : 200000;
	int conns = argc > 3 ? atoi(argv[3]) : 20000;

	return bulk(mb) | pingpong(rounds) | setups(conns);
}
