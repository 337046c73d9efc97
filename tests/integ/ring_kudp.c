/* ring_kudp.c — the kernel-socket side of the ring tests: a UDP echo server and a
 * ping-pong latency client over plain kernel sockets, to interoperate with
 * ring_pingpong and to measure the kernel's latency in the same run.
 *   ring_kudp echo PORT [COUNT]             echo datagrams (COUNT 0 = forever)
 *   ring_kudp lat IP PORT SECONDS SIZE [-s] half-RTT percentiles (-s busy-polls)
 *   ring_kudp flood IP PORT SECONDS SIZE    numbered datagrams as fast as possible
 *   ring_kudp sink PORT                     count them until idle for a second */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int echo(int port, long count)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static char buf[65536];
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	long n = 0;

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("echo: bind");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (count <= 0 || n < count) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			perror("recvfrom");
			return 1;
		}
		sendto(s, buf, (size_t)len, 0, (struct sockaddr *)&from, fl);
		n++;
	}
	return 0;
}

static int lat(const char *ip, int port, double secs, int size, int spin)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	size_t cap = 1 << 22, n = 0;
	uint64_t *rtt = malloc(cap * sizeof(*rtt)), end;
	char buf[2048] = { 0 };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	long lost = 0;

	if (!rtt || s < 0)
		return 1;
	inet_pton(AF_INET, ip, &a.sin_addr);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("connect");
		return 1;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (size > (int)sizeof(buf))
		size = sizeof(buf);
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end && n < cap) {
		uint64_t t0 = now_ns();
		ssize_t r;

		send(s, buf, (size_t)size, 0);
		do
			r = recv(s, buf, sizeof(buf), spin ? MSG_DONTWAIT : 0);
		while (spin && r < 0 && errno == EAGAIN && now_ns() - t0 < 100000000ull);
		if (r < 0) {
			lost++;
			continue;
		}
		rtt[n++] = now_ns() - t0;
	}
	if (!n) {
		printf("lat: no replies\n");
		free(rtt);
		close(s);
		return 1;
	}
	qsort(rtt, n, sizeof(*rtt), cmp_u64);
	printf("lat kernel%s: n=%zu lost=%ld half-rtt_us p50=%.2f p99=%.2f p99.9=%.2f max=%.2f\n",
	       spin ? "-spin" : "", n, lost, rtt[n / 2] / 2e3, rtt[n * 99 / 100] / 2e3,
	       rtt[n * 999 / 1000] / 2e3, rtt[n - 1] / 2e3);
	free(rtt);
	close(s);
	return 0;
}

static int flood(const char *ip, int port, double secs, int size)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char buf[2048] = { 0 };
	uint64_t seq = 0, end;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("flood: connect");
		return 1;
	}
	if (size > (int)sizeof(buf))
		size = sizeof(buf);
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end) {
		for (int i = 0; i < 32; i++, seq++) {
			memcpy(buf, &seq, sizeof(seq));
			send(s, buf, (size_t)size, 0);
		}
	}
	printf("flood: sent %llu datagrams in %.1f s: %.0f/s\n", (unsigned long long)seq, secs,
	       seq / secs);
	return 0;
}

static int sink(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 30 };
	char buf[2048];
	uint64_t got = 0, maxseq = 0, first = 0, last = 0;
	int s = socket(AF_INET, SOCK_DGRAM, 0), big = 1 << 24;

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("sink: bind");
		return 1;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	printf("ready\n");
	for (;;) {
		uint64_t seq = 0;
		ssize_t n = recv(s, buf, sizeof(buf), 0);

		if (n < 0)
			break;
		last = now_ns();
		if (!got++) {
			first = last;
			tv.tv_sec = 1;
			setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		}
		if (n >= (ssize_t)sizeof(seq))
			memcpy(&seq, buf, sizeof(seq));
		if (seq + 1 > maxseq)
			maxseq = seq + 1;
	}
	printf("sink: received %llu of %llu datagrams (%.2f%% lost), %.0f/s\n",
	       (unsigned long long)got, (unsigned long long)maxseq,
	       maxseq ? 100.0 * (double)(maxseq - got) / (double)maxseq : 0.0,
	       last > first ? got / ((last - first) / 1e9) : 0.0);
	return got ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "echo"))
		return echo(atoi(argv[2]), argc > 3 ? atol(argv[3]) : 0);
	if (argc >= 6 && !strcmp(argv[1], "lat"))
		return lat(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]),
			   argc > 6 && !strcmp(argv[6], "-s"));
	if (argc >= 6 && !strcmp(argv[1], "flood"))
		return flood(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
	if (argc >= 3 && !strcmp(argv[1], "sink"))
		return sink(atoi(argv[2]));
	fprintf(stderr, "usage: ring_kudp echo PORT [COUNT] | lat IP PORT SECONDS SIZE [-s] | "
		"flood IP PORT SECONDS SIZE | sink PORT\n");
	return 2;
}
