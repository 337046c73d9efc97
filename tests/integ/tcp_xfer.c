/* tcp_xfer.c — TCP peer for the offload interop tests, run with or without libshim
 * preloaded: plain blocking socket calls, so the same binary is the kernel side and
 * the libshim side.
 *   tcp_xfer send IP PORT          stdin -> connection; half-close; wait for EOF
 *   tcp_xfer recv PORT             accept one connection; its bytes -> stdout
 *   tcp_xfer echo PORT N           accept N connections one by one; echo each to EOF
 *   tcp_xfer conns IP PORT N       N short connections: send 100 bytes, read them back
 *   tcp_xfer hold IP PORT          connect, print "connected", then sleep forever
 *   tcp_xfer refused IP PORT       connect must fail with ECONNREFUSED
 *   tcp_xfer expect-rst IP|- PORT FILE  connect (or accept on PORT with -), print
 *                                  "connected", wait for FILE to exist, then send until
 *                                  the peer's RST surfaces as ECONNRESET/EPIPE (5 s)
 * "ready" on stderr once listening. Exit 0 on success, 1 with a message otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "tcp_xfer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };

	if (ip && inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		fprintf(stderr, "tcp_xfer: bad address %s\n", ip);
		exit(2);
	}
	return sa;
}

static int writeall(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int connect_to(const char *ip, const char *port)
{
	struct sockaddr_in sa = addr_of(ip, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	return fd;
}

static int listen_on(const char *port)
{
	struct sockaddr_in sa = addr_of(NULL, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	if (listen(fd, 128) < 0)
		die("listen");
	fprintf(stderr, "ready\n");
	return fd;
}

static void do_send(const char *ip, const char *port)
{
	static char buf[1 << 16];
	int fd = connect_to(ip, port);
	ssize_t n;

	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (writeall(fd, buf, (size_t)n))
			die("send");
	if (n < 0)
		die("read stdin");
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		;
	if (n < 0)
		die("recv after shutdown");
	close(fd);
}

static void do_recv(const char *port)
{
	static char buf[1 << 16];
	int lfd = listen_on(port), fd;
	ssize_t n;

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if (writeall(1, buf, (size_t)n))
			die("write stdout");
	if (n < 0)
		die("recv");
	close(fd);
	close(lfd);
}

static void do_echo(const char *port, long count)
{
	static char buf[1 << 16];
	int lfd = listen_on(port);

	for (long i = 0; i < count; i++) {
		int fd = accept(lfd, NULL, NULL);
		ssize_t n;
		if (fd < 0)
			die("accept");
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			if (writeall(fd, buf, (size_t)n))
				die("echo send");
		if (n < 0)
			die("echo recv");
		close(fd);
	}
	close(lfd);
}

static void do_conns(const char *ip, const char *port, long count)
{
	char out[100], in[100];

	for (long i = 0; i < count; i++) {
		int fd = connect_to(ip, port);
		memset(out, (int)(i & 0xff), sizeof(out));
		if (writeall(fd, out, sizeof(out)))
			die("send");
		if (shutdown(fd, SHUT_WR) < 0)
			die("shutdown");
		ssize_t n = recv(fd, in, sizeof(in), MSG_WAITALL);
		if (n != (ssize_t)sizeof(in) || memcmp(in, out, sizeof(in))) {
			fprintf(stderr, "tcp_xfer: connection %ld: echo mismatch (%zd bytes)\n", i, n);
			exit(1);
		}
		if (recv(fd, in, 1, 0) != 0)
			die("no EOF");
		close(fd);
	}
}

static void do_expect_rst(const char *ip, const char *port, const char *file)
{
	int fd;
	char buf[1000] = { 0 };

	if (!strcmp(ip, "-")) {
		int lfd = listen_on(port);
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			die("accept");
	} else {
		fd = connect_to(ip, port);
	}
	printf("connected\n");
	fflush(stdout);
	while (access(file, F_OK))
		usleep(10000);
	for (int i = 0; i < 500; i++) {
		if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL) < 0) {
			if (errno == ECONNRESET || errno == EPIPE) {
				printf("reset after %d sends\n", i);
				return;
			}
			die("send");
		}
		usleep(10000);
	}
	fprintf(stderr, "tcp_xfer: no RST from the peer\n");
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "send"))
		do_send(argv[2], argv[3]);
	else if (argc == 3 && !strcmp(argv[1], "recv"))
		do_recv(argv[2]);
	else if (argc == 4 && !strcmp(argv[1], "echo"))
		do_echo(argv[2], atol(argv[3]));
	else if (argc == 5 && !strcmp(argv[1], "conns"))
		do_conns(argv[2], argv[3], atol(argv[4]));
	else if (argc == 4 && !strcmp(argv[1], "hold")) {
		connect_to(argv[2], argv[3]);
		printf("connected\n");
		fflush(stdout);
		for (;;)
			pause();
	} else if (argc == 5 && !strcmp(argv[1], "expect-rst")) {
		do_expect_rst(argv[2], argv[3], argv[4]);
	} else if (argc == 4 && !strcmp(argv[1], "refused")) {
		struct sockaddr_in sa = addr_of(argv[2], argv[3]);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno != ECONNREFUSED) {
			fprintf(stderr, "tcp_xfer: connect: want ECONNREFUSED, got %s\n", strerror(errno));
			return 1;
		}
	} else {
		fprintf(stderr, "usage: see the head of tcp_xfer.c\n");
		return 2;
	}
	return 0;
}
