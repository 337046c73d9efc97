/* iomux_late_rings.c — a thread blocks in poll, epoll_wait or select over a UDP
 * socket that is not bound yet (nothing offloaded, no rings); then another thread
 * sends from it, which binds it and, under libshim, gives it rings. The peer's echo
 * arrives on those rings: the sleeping thread must be woken and see it (recv: a
 * blocking recv(MSG_PEEK) instead of a multiplexing call).
 *   iomux_late_rings poll|epoll|select|recv PEER_ADDR PORT
 * Exit 0 when the echo woke the poller within 5 s, 1 otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int sock;
static const char *mode;
static volatile int entered;

static int wait_readable(void)
{
	if (!strcmp(mode, "recv")) {
		char c;

		return recv(sock, &c, 1, MSG_PEEK) >= 0;
	}
	if (!strcmp(mode, "poll")) {
		struct pollfd p = { .fd = sock, .events = POLLIN };

		return poll(&p, 1, 5000) == 1 && (p.revents & POLLIN);
	}
	if (!strcmp(mode, "epoll")) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = sock }, out;
		int ep = epoll_create1(0), n;

		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sock, &ev) < 0)
			return 0;
		n = epoll_wait(ep, &out, 1, 5000);
		close(ep);
		return n == 1 && out.data.fd == sock && (out.events & EPOLLIN);
	}
	fd_set r;
	struct timeval tv = { .tv_sec = 5 };

	FD_ZERO(&r);
	FD_SET(sock, &r);
	return select(sock + 1, &r, NULL, NULL, &tv) == 1 && FD_ISSET(sock, &r);
}

static void *poller(void *arg)
{
	char buf[64];
	ssize_t n;

	(void)arg;
	entered = 1;
	if (!wait_readable()) {
		printf("FAIL: %s over the socket was not woken by the echo\n", mode);
		return (void *)1;
	}
	n = recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n < 0) {
		printf("FAIL: %s said readable, recv: %s\n", mode, strerror(errno));
		return (void *)1;
	}
	buf[n] = 0;
	printf("%s woken by the echo \"%s\"\n", mode, buf);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in peer = { .sin_family = AF_INET };
	struct timespec nap = { .tv_nsec = 300 * 1000000 };
	pthread_t t;
	void *res;

	if (argc != 4 || inet_pton(AF_INET, argv[2], &peer.sin_addr) != 1) {
		fprintf(stderr, "usage: %s poll|epoll|select|recv PEER_ADDR PORT\n", argv[0]);
		return 2;
	}
	mode = argv[1];
	peer.sin_port = htons((unsigned short)atoi(argv[3]));
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || pthread_create(&t, NULL, poller, NULL)) {
		perror("socket/thread");
		return 2;
	}
	/* Let the poller get past its spin and sleep in the kernel. */
	while (!entered)
		nanosleep(&nap, NULL);
	nanosleep(&nap, NULL);
	if (sendto(sock, "late", 4, 0, (struct sockaddr *)&peer, sizeof(peer)) != 4) {
		perror("sendto");
		return 2;
	}
	pthread_join(t, &res);
	close(sock);
	return res ? 1 : 0;
}
