/* udp_peer.c — the UDP programs of the integration tests, run with or without
 * libshim on either side of the testbed:
 *   udp_peer echo PORT [-t IDLE_S] [-n NSOCK]     echo every datagram back (NSOCK ports)
 *   udp_peer integrity IP PORT [-n NSOCK] [-c] [-r ROUNDS]
 *        every size class 0..65507 with random payloads to NSOCK echo ports, each
 *        echo checked byte for byte (-c: connected sockets)
 *   udp_peer count PORT N [-t S]                   receive until N good datagrams, print them
 *   udp_peer blockwake PORT                         blocking recv on 0.0.0.0:PORT, print what woke it
 *   udp_peer semantics IP PORT                      receive-side API checks against an echo peer
 * Exit 0 on success; messages go to stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAXSOCK 64
#define MAXDG 65507

static const unsigned sizes[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127,
				  128, 255, 256, 511, 512, 1000, 1023, 1024, 1400, 1471, 1472, 1473,
				  1479, 1480, 1481, 2000, 2951, 2952, 2953, 4096, 8192, 8972, 9000,
				  12345, 16384, 20000, 32767, 32768, 40000, 50000, 60000, 65000,
				  65500, 65506, 65507 };

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in sin_of(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = ip ? inet_addr(ip) : INADDR_ANY;
	return sa;
}

static void set_timeout(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("SO_RCVTIMEO");
}

static int bound_socket(int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, big = 4 << 20;
	struct sockaddr_in sa = sin_of(NULL, port);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	return fd;
}

static int echo(int port, int idle_s, int n)
{
	static uint8_t buf[MAXDG + 1];
	struct pollfd pf[MAXSOCK];
	unsigned long count = 0;

	for (int i = 0; i < n; i++) {
		pf[i].fd = bound_socket(port + i);
		pf[i].events = POLLIN;
		/* Non-blocking: poll() sees only the kernel fds until the iomux layer
		 * knows ours, so the loop also tries each socket in turn. */
		fcntl(pf[i].fd, F_SETFL, O_NONBLOCK);
	}
	printf("echo ready on %d..%d\n", port, port + n - 1);
	fflush(stdout);
	time_t last = time(NULL);
	for (;;) {
		int any = 0;
		for (int i = 0; i < n; i++) {
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			ssize_t r = recvfrom(pf[i].fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
			if (r < 0) {
				if (errno != EAGAIN)
					die("recvfrom");
				continue;
			}
			any = 1;
			if (r == 4 && !memcmp(buf, "quit", 4)) {
				printf("echoed %lu\n", count);
				for (int k = 0; k < n; k++)
					close(pf[k].fd);
				return 0;
			}
			if (sendto(pf[i].fd, buf, (size_t)r, 0, (struct sockaddr *)&from, fl) != r)
				die("sendto");
			count++;
		}
		if (any) {
			last = time(NULL);
		} else if (time(NULL) - last > idle_s) {
			printf("echoed %lu (idle)\n", count);
			return 0;
		}
	}
}

static int integrity(const char *ip, int port, int n, int conn, int rounds)
{
	static uint8_t out[MAXDG], in[MAXDG + 16];
	int fds[MAXSOCK];
	struct sockaddr_in to[MAXSOCK];
	unsigned long ok = 0, retries = 0;

	srand((unsigned)getpid());
	for (int i = 0; i < n; i++) {
		int big = 4 << 20;
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[i] < 0)
			die("socket");
		setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		set_timeout(fds[i], 1000);
		to[i] = sin_of(ip, port + i);
		if (conn && connect(fds[i], (struct sockaddr *)&to[i], sizeof(to[i])) < 0)
			die("connect");
	}
	for (int round = 0; round < rounds; round++)
		for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
			for (int i = 0; i < n; i++) {
				unsigned len = sizes[k];
				int tries = 0;
				for (unsigned b = 0; b < len; b++)
					out[b] = (uint8_t)rand();
				out[0 % (len ? len : 1)] = len ? (uint8_t)k : 0;
again:
				if ((conn ? send(fds[i], out, len, 0)
					  : sendto(fds[i], out, len, 0, (struct sockaddr *)&to[i], sizeof(to[i]))) != (ssize_t)len)
					die("send");
				struct sockaddr_in from;
				socklen_t fl;
				ssize_t r;
				/* Read until this datagram's echo: a late echo of an earlier resend
				 * (a busy machine can delay one past the timeout) is skipped. */
				for (int stale = 0;; stale++) {
					fl = sizeof(from);
					r = recvfrom(fds[i], in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
					if (r < 0 || ((size_t)r == len && !memcmp(in, out, len)) || !retries || stale > 8)
						break;
				}
				if (r < 0 && errno == EAGAIN && ++tries < 4) {
					retries++;	/* lost on the way (first ARP, a full ring): send again */
					goto again;
				}
				if (r < 0)
					die("recv (no echo)");
				if ((size_t)r != len || memcmp(in, out, len)) {
					printf("FAIL size %u: got %zd bytes, content %s\n", len, r,
					       (size_t)r == len ? "differs" : "-");
					return 1;
				}
				if (from.sin_addr.s_addr != to[i].sin_addr.s_addr || from.sin_port != to[i].sin_port) {
					printf("FAIL size %u: echo from %s:%d\n", len, inet_ntoa(from.sin_addr),
					       ntohs(from.sin_port));
					return 1;
				}
				ok++;
			}
	for (int i = 0; i < n; i++) {
		sendto(fds[i], "quit", 4, 0, (struct sockaddr *)&to[i], sizeof(to[i]));
		close(fds[i]);
	}
	printf("integrity ok: %lu datagrams (%zu size classes x %d sockets x %d rounds), %lu resent\n",
	       ok, sizeof(sizes) / sizeof(sizes[0]), n, rounds, retries);
	return 0;
}

static int count(int port, int want, int secs)
{
	static uint8_t buf[MAXDG + 1];
	int fd = bound_socket(port), got = 0;

	set_timeout(fd, secs * 1000);
	printf("count ready\n");
	fflush(stdout);
	while (got < want) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0) {
			printf("timeout after %d datagrams\n", got);
			return 1;
		}
		printf("got %zd bytes: %.*s\n", r, r > 40 ? 40 : (int)r, (char *)buf);
		got++;
	}
	return 0;
}

static int blockwake(int port)
{
	char buf[64];
	int fd = bound_socket(port);
	struct timespec a, b;

	printf("blocking\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ssize_t r = recv(fd, buf, sizeof(buf), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (r < 0)
		die("recv");
	printf("woken by %zd bytes \"%.*s\" after %.3f s\n", r, (int)r, buf,
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}

#define SHOW(label, expr)                                                        \
	do {                                                                     \
		errno = 0;                                                       \
		long r_ = (long)(expr);                                          \
		int e_ = errno;                                                  \
		printf("%s: %ld %s\n", label, r_, r_ < 0 ? strerror(e_) : "");  \
	} while (0)

/* Receive-side API against an echo peer: each line printed must be the same with
 * and without libshim. */
static int semantics(const char *ip, int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), on = 1;
	struct sockaddr_in to = sin_of(ip, port), me;
	char buf[256], cbuf[512];
	socklen_t ml = sizeof(me);

	if (fd < 0)
		die("socket");
	SHOW("send unconnected no addr", send(fd, "x", 1, 0));
	SHOW("recv DONTWAIT empty", recv(fd, buf, sizeof(buf), MSG_DONTWAIT));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on));
	setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on));
	set_timeout(fd, 2000);
	if (sendto(fd, "hello world", 11, 0, (struct sockaddr *)&to, sizeof(to)) != 11)
		die("sendto");
	getsockname(fd, (struct sockaddr *)&me, &ml);
	printf("bound port nonzero: %d\n", me.sin_port != 0);
	/* Peek, then truncated read with MSG_TRUNC, then nothing left. */
	ssize_t r = recv(fd, buf, 5, MSG_PEEK);
	printf("peek 5: %zd \"%.*s\"\n", r, (int)(r > 0 ? r : 0), buf);
	int avail = -1;
	ioctl(fd, FIONREAD, &avail);
	printf("FIONREAD: %d\n", avail);
	struct iovec iov = { buf, 4 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct sockaddr_in from;
	m.msg_name = &from;
	m.msg_namelen = sizeof(from);
	r = recvmsg(fd, &m, MSG_TRUNC);
	printf("recvmsg 4 MSG_TRUNC: %zd flags TRUNC=%d \"%.4s\" from port ok=%d namelen=%u\n", r,
	       !!(m.msg_flags & MSG_TRUNC), buf, from.sin_port == to.sin_port, m.msg_namelen);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
			struct timespec ts, now;
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			clock_gettime(CLOCK_REALTIME, &now);
			printf("cmsg TIMESTAMPNS recent: %d\n", labs(now.tv_sec - ts.tv_sec) < 5);
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			printf("cmsg PKTINFO addr %s ifindex>0 %d\n", inet_ntoa(pi.ipi_addr), pi.ipi_ifindex > 0);
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
			int ttl;
			memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
			printf("cmsg TTL %d\n", ttl);
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
			printf("cmsg TOS %d\n", *(unsigned char *)CMSG_DATA(c));
		} else {
			printf("cmsg other %d/%d\n", c->cmsg_level, c->cmsg_type);
		}
	}
	SHOW("recv DONTWAIT after", recv(fd, buf, sizeof(buf), MSG_DONTWAIT));
	/* Receive timeout. */
	set_timeout(fd, 200);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	errno = 0;
	r = recv(fd, buf, sizeof(buf), 0);
	int rerr = errno;
	clock_gettime(CLOCK_MONOTONIC, &b);
	double el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("recv SO_RCVTIMEO 200ms: %zd %s in range %d\n", r, strerror(rerr), el > 0.15 && el < 1.0);
	/* Connected: read/write, readv, then disconnect. */
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0)
		die("connect");
	SHOW("write", write(fd, "abcdef", 6));
	char x[3], y[3];
	struct iovec v2[2] = { { x, 3 }, { y, 3 } };
	r = readv(fd, v2, 2);
	printf("readv: %zd \"%.3s\" \"%.3s\"\n", r, x, y);
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);
	SHOW("getpeername", getpeername(fd, (struct sockaddr *)&peer, &pl));
	printf("peer port ok %d\n", peer.sin_port == to.sin_port);
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	SHOW("disconnect", connect(fd, &unspec, sizeof(unspec)));
	SHOW("getpeername after", getpeername(fd, (struct sockaddr *)&peer, &pl));
	SHOW("send after disconnect", send(fd, "x", 1, 0));
	/* recvmmsg with MSG_WAITFORONE: two datagrams sent, both come back. */
	sendto(fd, "one", 3, 0, (struct sockaddr *)&to, sizeof(to));
	sendto(fd, "two", 3, 0, (struct sockaddr *)&to, sizeof(to));
	usleep(100000);
	char b1[8], b2[8], b3[8];
	struct iovec i1 = { b1, 8 }, i2 = { b2, 8 }, i3 = { b3, 8 };
	struct mmsghdr mm[3] = { { .msg_hdr = { .msg_iov = &i1, .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &i2, .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &i3, .msg_iovlen = 1 } } };
	errno = 0;
	int n = recvmmsg(fd, mm, 3, MSG_WAITFORONE, NULL);
	printf("recvmmsg WAITFORONE: %d \"%.3s\" \"%.3s\" %s\n", n, b1, b2, n < 0 ? strerror(errno) : "");
	/* sendmmsg: three datagrams in one call, three echoes. */
	struct iovec s1 = { "m1", 2 }, s2 = { "m22", 3 }, s3 = { "m333", 4 };
	struct mmsghdr sm[3] = { { .msg_hdr = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &s1, .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &s2, .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &s3, .msg_iovlen = 1 } } };
	SHOW("sendmmsg", sendmmsg(fd, sm, 3, 0));
	printf("sendmmsg lengths: %u %u %u\n", sm[0].msg_len, sm[1].msg_len, sm[2].msg_len);
	for (int k = 0; k < 3; k++) {
		char e[8] = { 0 };
		ssize_t g = recv(fd, e, sizeof(e) - 1, 0);
		printf("echo %d: %zd \"%s\"\n", k, g, e);
	}
	static char huge[65508];
	SHOW("sendto too big", sendto(fd, huge, sizeof(huge), 0, (struct sockaddr *)&to, sizeof(to)));
	SHOW("shutdown unconnected", shutdown(fd, SHUT_RD));
	SHOW("recv after SHUT_RD", recv(fd, buf, sizeof(buf), 0));
	SHOW("close", close(fd));
	/* Tell the echo peer to stop. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	sendto(fd, "quit", 4, 0, (struct sockaddr *)&to, sizeof(to));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 1, idle = 5, conn = 0, rounds = 1;
	const char *mode = argc > 1 ? argv[1] : "";

	/* Options may come anywhere after the mode. */
	int npos = 0;
	const char *pos[4] = { 0 };
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-c")) {
			conn = 1;
		} else if ((!strcmp(a, "-n") || !strcmp(a, "-t") || !strcmp(a, "-r")) && i + 1 < argc) {
			int v = atoi(argv[++i]);
			*(a[1] == 'n' ? &n : a[1] == 't' ? &idle : &rounds) = v;
		} else if (npos < 4) {
			pos[npos++] = a;
		}
	}
	if (n < 1 || n > MAXSOCK)
		n = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "echo") && npos >= 1)
		return echo(atoi(pos[0]), idle, n);
	if (!strcmp(mode, "integrity") && npos >= 2)
		return integrity(pos[0], atoi(pos[1]), n, conn, rounds);
	if (!strcmp(mode, "count") && npos >= 2)
		return count(atoi(pos[0]), atoi(pos[1]), idle);
	if (!strcmp(mode, "blockwake") && npos >= 1)
		return blockwake(atoi(pos[0]));
	if (!strcmp(mode, "semantics") && npos >= 2)
		return semantics(pos[0], atoi(pos[1]));
	fprintf(stderr, "usage: see the head of udp_peer.c\n");
	return 2;
}
