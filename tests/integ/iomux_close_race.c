/* iomux_close_race.c — descriptors closed, replaced and re-registered by one thread
 * while others wait on them in epoll_wait, poll and select, and datagrams keep
 * arriving. The kernel allows all of it (a closed fd leaves its epoll sets, poll
 * reports POLLNVAL); the library must too: no crash, no hang, no event for a
 * descriptor number that was never registered.
 *
 *   iomux_close_race LOCAL_IP BASE_PORT NSOCK SECONDS
 * binds NSOCK UDP sockets to LOCAL_IP:BASE_PORT.., prints "close race: N closes,
 * M epoll events, K poll/select wake-ups, R datagrams read" and exits 0. */
#include <errno.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXSOCK 64

static int ep, nsock, base_port;
static struct in_addr local;
static int fds[MAXSOCK];		/* current fd of each slot, -1 while replaced */
static volatile int stop;
static unsigned long closes, ep_events, mux_wakes, reads;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *what)
{
	fprintf(stderr, "close race: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A bound, non-blocking socket for slot i, registered in the epoll set. The port may
 * still be held by the socket just closed for a moment: retry with SO_REUSEADDR. */
static int open_slot(int i)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(base_port + i)),
				  .sin_addr = local };
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)i << 32) | (uint32_t)fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl ADD");
	return fd;
}

static void drain(int fd)
{
	char buf[2048];
	unsigned long n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	if (n) {
		pthread_mutex_lock(&count_lock);
		reads += n;
		pthread_mutex_unlock(&count_lock);
	}
}

static void *epoll_waiter(void *arg)
{
	struct epoll_event ev[16];

	(void)arg;
	while (!stop) {
		int n = epoll_wait(ep, ev, 16, 5);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int k = 0; k < n; k++) {
			unsigned slot = (unsigned)(ev[k].data.u64 >> 32);
			if (slot >= (unsigned)nsock) {
				fprintf(stderr, "close race: epoll_wait returned unknown data %#llx\n",
					(unsigned long long)ev[k].data.u64);
				exit(1);
			}
			/* the fd may be closed (and even reused) by now: reading it is
			 * harmless, as for any program with this race */
			drain((int)(uint32_t)ev[k].data.u64);
		}
		pthread_mutex_lock(&count_lock);
		ep_events += (unsigned long)(n > 0 ? n : 0);
		pthread_mutex_unlock(&count_lock);
	}
	return NULL;
}

static void *poll_waiter(void *arg)
{
	bool use_select = arg != NULL;

	while (!stop) {
		struct pollfd p[MAXSOCK];
		fd_set r;
		int n = 0, maxfd = -1;

		FD_ZERO(&r);
		for (int i = 0; i < nsock; i++) {
			int fd = __atomic_load_n(&fds[i], __ATOMIC_RELAXED);
			if (fd < 0 || fd >= FD_SETSIZE)
				continue;
			p[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
			FD_SET(fd, &r);
			if (fd > maxfd)
				maxfd = fd;
		}
		int rc;
		if (use_select) {
			struct timeval tv = { 0, 5000 };
			rc = select(maxfd + 1, &r, NULL, NULL, &tv);
			/* EBADF: an fd of the set was closed before the call, as in the kernel */
			if (rc < 0 && errno != EINTR && errno != EBADF)
				die("select");
			for (int i = 0; rc > 0 && i < n; i++)
				if (FD_ISSET(p[i].fd, &r))
					drain(p[i].fd);
		} else {
			rc = poll(p, (nfds_t)n, 5);
			if (rc < 0 && errno != EINTR)
				die("poll");
			for (int i = 0; rc > 0 && i < n; i++)
				if (p[i].revents & POLLIN)
					drain(p[i].fd);
		}
		if (rc > 0) {
			pthread_mutex_lock(&count_lock);
			mux_wakes++;
			pthread_mutex_unlock(&count_lock);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5 || inet_pton(AF_INET, argv[1], &local) != 1) {
		fprintf(stderr, "usage: %s LOCAL_IP BASE_PORT NSOCK SECONDS\n", argv[0]);
		return 2;
	}
	base_port = atoi(argv[2]);
	nsock = atoi(argv[3]);
	double secs = atof(argv[4]);
	if (nsock < 1 || nsock > MAXSOCK || base_port < 1 || base_port + nsock > 65535 || secs <= 0) {
		fprintf(stderr, "close race: bad arguments\n");
		return 2;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	for (int i = 0; i < nsock; i++)
		fds[i] = open_slot(i);
	printf("close race ready\n");
	fflush(stdout);

	pthread_t t[3];
	pthread_create(&t[0], NULL, epoll_waiter, NULL);
	pthread_create(&t[1], NULL, poll_waiter, NULL);
	pthread_create(&t[2], NULL, poll_waiter, (void *)1);

	unsigned seed = 1;
	double end = now_s() + secs;
	while (now_s() < end) {
		int i = (int)(rand_r(&seed) % (unsigned)nsock);
		int fd = fds[i];
		__atomic_store_n(&fds[i], -1, __ATOMIC_RELAXED);
		/* half the time leave the set by close alone, as many servers do */
		if (rand_r(&seed) & 1)
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
		if (close(fd) < 0)
			die("close");
		closes++;
		__atomic_store_n(&fds[i], open_slot(i), __ATOMIC_RELAXED);
		usleep(200);
	}
	stop = 1;
	for (int k = 0; k < 3; k++)
		pthread_join(t[k], NULL);
	printf("close race: %lu closes, %lu epoll events, %lu poll/select wake-ups, %lu datagrams read\n",
	       closes, ep_events, mux_wakes, reads);
	for (int i = 0; i < nsock; i++)
		close(fds[i]);
	close(ep);
	return 0;
}
