/* threads.c — sockets created, used and closed concurrently by many threads, while
 * another thread keeps calling control functions on fds that are being closed, and
 * the process raises its fd limit so the fd table grows under them. Every datagram
 * and stream byte must arrive intact; nothing may crash or hang. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define THREADS 8
#define ROUNDS 400

static atomic_int failures, stop;

static void fail(const char *what, int round)
{
	fprintf(stderr, "FAIL %s round %d: %s\n", what, round, strerror(errno));
	atomic_fetch_add(&failures, 1);
}

static void udp_round(int id, int round)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	char out[64], in[64];
	int s = socket(AF_INET, SOCK_DGRAM, 0), d;

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || getsockname(s, (struct sockaddr *)&a, &len))
		return fail("udp socket", round);
	snprintf(out, sizeof(out), "t%d r%d", id, round);
	if (sendto(s, out, strlen(out), 0, (struct sockaddr *)&a, len) != (ssize_t)strlen(out))
		fail("sendto", round);
	ssize_t n = recv(s, in, sizeof(in), 0);
	if (n != (ssize_t)strlen(out) || memcmp(in, out, (size_t)n))
		fail("recv", round);
	fcntl(s, F_SETFL, O_NONBLOCK);
	d = dup(s);
	if (d < 0 || recv(d, in, sizeof(in), 0) != -1 || errno != EAGAIN)
		fail("dup nonblocking recv", round);
	close(d);
	close(s);
}

static void tcp_round(int round)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c, s;
	char buf[4096];
	size_t got = 0;

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		return fail("listen", round);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, len))
		fail("connect", round);
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	memset(buf, round & 0xff, sizeof(buf));
	if (s < 0 || write(c, buf, sizeof(buf)) != sizeof(buf))
		fail("write", round);
	shutdown(c, SHUT_WR);
	for (ssize_t n; (n = read(s, buf, sizeof(buf))) > 0; got += (size_t)n)
		for (ssize_t i = 0; i < n; i++)
			if ((unsigned char)buf[i] != (round & 0xff))
				fail("stream content", round);
	if (got != sizeof(buf))
		fail("stream length", round);
	close(s);
	close(c);
	close(l);
}

static void *worker(void *arg)
{
	int id = (int)(long)arg;

	for (int r = 0; r < ROUNDS; r++) {
		udp_round(id, r);
		if (r % 8 == 0)
			tcp_round(r);
	}
	return NULL;
}

/* Control calls on whatever fds exist, racing their close() in the workers: results
 * may be EBADF or anything the kernel says, but never a crash. */
static void *racer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		for (int fd = 3; fd < 64; fd++) {
			int v;
			socklen_t len = sizeof(v);

			getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len);
			fcntl(fd, F_GETFL);
		}
	}
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS], r;
	struct rlimit rl;
	int held[1500], nheld = 0;

	/* The table was sized from the limit at start-up; raise it and open sockets past
	 * the old size so the table grows while the workers run. */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
	setrlimit(RLIMIT_NOFILE, &rl);
	pthread_create(&r, NULL, racer, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(long)i);
	while (nheld < (int)(sizeof(held) / sizeof(held[0])) && (long)nheld + 64 < (long)rl.rlim_cur) {
		held[nheld] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (held[nheld] < 0)
			break;
		nheld++;
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop, 1);
	pthread_join(r, NULL);
	/* The high sockets still work and still know they are non-blocking. */
	char c;
	for (int i = 0; i < nheld; i++) {
		if (recv(held[i], &c, 1, 0) != -1 || errno != EAGAIN)
			fail("held socket", i);
		close(held[i]);
	}
	printf("threads=%d rounds=%d held=%d (highest fd %d) failures=%d\n", THREADS, ROUNDS, nheld,
	       nheld ? held[nheld - 1] : -1, atomic_load(&failures));
	return atomic_load(&failures) ? 1 : 0;
}
