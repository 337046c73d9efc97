/* tcp_api.c — socket-API behaviour of TCP, checked the same way with and without
 * libshim (the kernel's answers are the reference). The server (kernel side) picks a
 * behaviour from the first byte of each connection; the client runs the checks and
 * prints "ok: NAME" or "FAIL: NAME: why", exiting with the number of failures.
 *   tcp_api server PORT
 *   tcp_api client IP PORT CLOSED_PORT */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "integ_check.h"

static volatile sig_atomic_t sigpipes, alarms;

static struct sockaddr_in sa_of(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (ip)
		inet_pton(AF_INET, ip, &sa.sin_addr);
	return sa;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int writeall(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- server (kernel reference peer) ---- */

static void serve(int fd)
{
	char buf[65536], mode;
	ssize_t n;

	if (recv(fd, &mode, 1, 0) != 1)
		return;
	switch (mode) {
	case 'E':	/* echo to EOF */
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			if (writeall(fd, buf, (size_t)n))
				break;
		break;
	case 'R': {	/* reset at once */
		struct linger lg = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		break;
	}
	case 'H':	/* read to EOF, then answer and close (half-close) */
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			;
		writeall(fd, "bye", 3);
		break;
	case 'N':	/* never read: the client's send buffer must fill */
		sleep(3);
		break;
	case 'L': {	/* report how the client's close arrived: 'F' EOF, 'R' reset */
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			;
		printf("close: %s\n", n == 0 ? "eof" : errno == ECONNRESET ? "reset" : strerror(errno));
		fflush(stdout);
		break;
	}
	}
}

static int server(int port)
{
	struct sockaddr_in sa = sa_of(NULL, port);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64)) {
		perror("tcp_api server");
		return 1;
	}
	fprintf(stderr, "ready\n");
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		/* One process per connection: a slow behaviour never delays the next. */
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			serve(fd);
			close(fd);
			_exit(0);
		}
		close(fd);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

/* ---- client checks ---- */

static int conn(const char *ip, int port, char mode)
{
	struct sockaddr_in sa = sa_of(ip, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		printf("FAIL: connect mode %c: %s\n", mode, strerror(errno));
		failures++;
		return -1;
	}
	if (mode && send(fd, &mode, 1, 0) != 1)
		return -1;
	return fd;
}

static void on_sigpipe(int sig) { (void)sig; sigpipes++; }
static void on_alarm(int sig) { (void)sig; alarms++; }

static void check_nonblocking_connect(const char *ip, int port, int closed)
{
	struct sockaddr_in sa = sa_of(ip, port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), r, e = 0;
	socklen_t el = sizeof(e);

	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	CHECK("nonblocking connect: EINPROGRESS", r < 0 && errno == EINPROGRESS, "r=%d", r);
	double t0 = now();
	do {
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (r < 0 && (errno == EALREADY || errno == EINPROGRESS))
			usleep(100);
	} while (r < 0 && (errno == EALREADY || errno == EINPROGRESS) && now() - t0 < 3);
	/* Linux answers 0 to the call that sees the handshake done, EISCONN after. */
	CHECK("nonblocking connect: completes", r == 0 || errno == EISCONN, "r=%d", r);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
	CHECK("nonblocking connect: SO_ERROR 0", e == 0, "so_error %d", e);
	close(fd);

	sa = sa_of(ip, closed);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	t0 = now();
	e = 0;
	while (now() - t0 < 3) {
		el = sizeof(e);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
		if (e)
			break;
		usleep(1000);
	}
	CHECK("nonblocking connect to a closed port: SO_ERROR ECONNREFUSED", e == ECONNREFUSED,
	      "so_error %s", strerror(e));
	close(fd);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	CHECK("blocking connect to a closed port: ECONNREFUSED", r < 0 && errno == ECONNREFUSED, "r=%d", r);
	close(fd);
}

static void check_data(const char *ip, int port)
{
	char out[5000], in[5000];
	int fd = conn(ip, port, 'E'), v;
	struct sockaddr_in la, pa;
	socklen_t ll = sizeof(la), pl = sizeof(pa);

	if (fd < 0)
		return;
	getsockname(fd, (struct sockaddr *)&la, &ll);
	getpeername(fd, (struct sockaddr *)&pa, &pl);
	CHECK("getpeername", pa.sin_port == htons((uint16_t)port) && pa.sin_addr.s_addr == inet_addr(ip),
	      "%s:%u", inet_ntoa(pa.sin_addr), ntohs(pa.sin_port));
	CHECK("getsockname", la.sin_port != 0 && la.sin_addr.s_addr != 0, "%s:%u",
	      inet_ntoa(la.sin_addr), ntohs(la.sin_port));

	errno = 0;
	ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
	CHECK("MSG_DONTWAIT on an empty socket: EAGAIN", n < 0 && errno == EAGAIN, "n=%zd", n);

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7);
	send(fd, out, 100, 0);
	double t1 = now();
	do {
		usleep(1000);
		v = -1;
		ioctl(fd, FIONREAD, &v);
	} while (v < 100 && now() - t1 < 1);
	CHECK("FIONREAD", v == 100, "%d", v);
	n = recv(fd, in, 10, MSG_PEEK);
	CHECK("MSG_PEEK", n == 10 && !memcmp(in, out, 10), "n=%zd", n);
	n = recv(fd, in, 100, 0);
	CHECK("recv after peek sees the same bytes", n == 100 && !memcmp(in, out, 100), "n=%zd", n);
	v = -1;
	ioctl(fd, SIOCOUTQ, &v);
	CHECK("SIOCOUTQ after the echo", v == 0, "%d", v);

	send(fd, out, 3000, 0);
	usleep(2000);
	send(fd, out + 3000, 2000, 0);
	n = recv(fd, in, 5000, MSG_WAITALL);
	CHECK("MSG_WAITALL", n == 5000 && !memcmp(in, out, 5000), "n=%zd", n);

	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl);
	CHECK("TCP_INFO", ti.tcpi_state == 1 /* TCP_ESTABLISHED */ && ti.tcpi_snd_mss > 0 &&
	      ti.tcpi_rtt > 0, "state %u mss %u rtt %u", ti.tcpi_state, ti.tcpi_snd_mss, ti.tcpi_rtt);

	int one = 1, got = 0;
	socklen_t gl = sizeof(got);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &got, &gl);
	CHECK("TCP_NODELAY", got == 1, "%d", got);
	int idle = 30;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	got = 0;
	gl = sizeof(got);
	getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &got, &gl);
	CHECK("SO_KEEPALIVE + TCP_KEEPIDLE", got == 30, "%d", got);
	got = 0;
	gl = sizeof(got);
	getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &got, &gl);
	CHECK("TCP_MAXSEG", got > 500 && got <= 1460, "%d", got);

	struct timeval tv = { 0, 200000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	double t0 = now();
	n = recv(fd, in, 10, 0);
	double dt = now() - t0;
	CHECK("SO_RCVTIMEO: EAGAIN after the timeout", n < 0 && errno == EAGAIN && dt > 0.15 && dt < 1.5,
	      "n=%zd after %.3f s", n, dt);

	tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { .it_value = { 0, 100000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	n = recv(fd, in, 10, 0);
	CHECK("signal without SA_RESTART interrupts recv: EINTR", n < 0 && errno == EINTR && alarms == 1,
	      "n=%zd alarms %d", n, (int)alarms);
	close(fd);
}

static void check_half_close(const char *ip, int port)
{
	char in[16];
	int fd = conn(ip, port, 'H');

	if (fd < 0)
		return;
	send(fd, "data", 4, 0);
	CHECK("shutdown(SHUT_WR)", shutdown(fd, SHUT_WR) == 0, "failed");
	ssize_t n = recv(fd, in, sizeof(in), MSG_WAITALL);
	CHECK("half-close: the peer still answers", n == 3 && !memcmp(in, "bye", 3), "n=%zd", n);
	n = recv(fd, in, sizeof(in), 0);
	CHECK("half-close: then EOF", n == 0, "n=%zd", n);
	close(fd);
}

static void check_reset(const char *ip, int port)
{
	char in[16];
	int fd = conn(ip, port, 'R');

	if (fd < 0)
		return;
	ssize_t n = recv(fd, in, sizeof(in), 0);
	CHECK("peer reset: recv ECONNRESET", n < 0 && errno == ECONNRESET, "n=%zd", n);
	signal(SIGPIPE, on_sigpipe);
	n = send(fd, "x", 1, 0);
	CHECK("send after reset: EPIPE and SIGPIPE", n < 0 && errno == EPIPE && sigpipes == 1,
	      "n=%zd sigpipes %d", n, (int)sigpipes);
	n = send(fd, "x", 1, MSG_NOSIGNAL);
	CHECK("MSG_NOSIGNAL: EPIPE without SIGPIPE", n < 0 && errno == EPIPE && sigpipes == 1,
	      "n=%zd sigpipes %d", n, (int)sigpipes);
	close(fd);
}

static void check_send_buffer(const char *ip, int port)
{
	static char buf[65536];
	int fd = conn(ip, port, 'N');
	size_t total = 0;
	ssize_t n = 0;

	if (fd < 0)
		return;
	while (total < (64u << 20)) {
		n = send(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	CHECK("MSG_DONTWAIT send fills the buffers: EAGAIN", n < 0 && errno == EAGAIN,
	      "n=%zd after %zu bytes", n, total);
	int v = -1;
	ioctl(fd, SIOCOUTQ, &v);
	CHECK("SIOCOUTQ with a stalled peer", v > 0, "%d", v);
	/* Abort: a graceful close would outlive this process, and its last segments
	 * would then reach the kernel of this host. */
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void check_linger(const char *ip, int port)
{
	int fd = conn(ip, port, 'L');
	struct linger lg = { 1, 0 };

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	CHECK("close with SO_LINGER 0", close(fd) == 0, "failed");
}

static int client(const char *ip, int port, int closed)
{
	check_nonblocking_connect(ip, port, closed);
	check_data(ip, port);
	check_half_close(ip, port);
	check_reset(ip, port);
	check_send_buffer(ip, port);
	check_linger(ip, port);
	return failures;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: tcp_api server PORT | tcp_api client IP PORT CLOSED_PORT\n");
	return 2;
}
