/* iomux_scan — cost of select, poll and epoll_wait over kernel descriptors only (pipes
 * and UDP sockets on 127.0.0.1, none ready), the case where libshim must stay the
 * kernel's call plus one cheap scan. Prints ns per call for each; run it with and
 * without LD_PRELOAD=libshim.so (tests/bench/iomux_scan.sh does, interleaved).
 *
 * The program always runs a second, idle thread: the kernel's fdget() is cheaper in a
 * single-threaded process, and under libshim there is the library's internal thread,
 * so without it the comparison would measure that, not the library's calls.
 *
 *   iomux_scan [NFDS] [CALLS] */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void *idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	int nfds = argc > 1 ? atoi(argv[1]) : 200, calls = argc > 2 ? atoi(argv[2]) : 20000;
	struct pollfd *p = calloc((size_t)nfds, sizeof(*p));
	int ep = epoll_create1(0), maxfd = 0;
	struct epoll_event ev[16];
	fd_set r;
	double t;

	pthread_t th;

	pthread_create(&th, NULL, idle, NULL);
	if (nfds > 900)
		nfds = 900;	/* select's FD_SETSIZE */
	for (int i = 0; i < nfds; i++) {
		int fd;

		if (i % 2) {
			fd = socket(AF_INET, SOCK_DGRAM, 0);
			struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
			bind(fd, (struct sockaddr *)&a, sizeof(a));
		} else {
			int pp[2];

			if (pipe(pp) < 0)
				return 1;
			fd = pp[0];
		}
		p[i] = (struct pollfd){ .fd = fd, .events = POLLIN };
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = (unsigned)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
		if (fd > maxfd)
			maxfd = fd;
	}
	t = now_ns();
	for (int i = 0; i < calls; i++)
		poll(p, (nfds_t)nfds, 0);
	printf("poll %.0f\n", (now_ns() - t) / calls);
	t = now_ns();
	for (int i = 0; i < calls; i++) {
		struct timeval tv = { 0, 0 };

		FD_ZERO(&r);
		for (int k = 0; k < nfds; k++)
			FD_SET(p[k].fd, &r);
		select(maxfd + 1, &r, NULL, NULL, &tv);
	}
	printf("select %.0f\n", (now_ns() - t) / calls);
	t = now_ns();
	for (int i = 0; i < calls; i++)
		epoll_wait(ep, ev, 16, 0);
	printf("epoll_wait %.0f\n", (now_ns() - t) / calls);
	return 0;
}
