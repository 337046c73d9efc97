/* tcp_srv_api.c — server-side socket API of TCP, checked the same way with and
 * without libshim: accept on an empty non-blocking listener (EAGAIN), accept4 with
 * SOCK_NONBLOCK|SOCK_CLOEXEC (flags on the new fd, peer and local addresses), a
 * client on this very host (which reaches the listener through the kernel), then a
 * plain accept (blocking, no close-on-exec). Each accepted connection is echoed to EOF.
 *   tcp_srv_api PORT LOCAL_IP       prints "ready", then "next" before each remote
 *                                   client it waits for; "ok: ..." / "FAIL: ..." */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "integ_check.h"

static void echo(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			break;
}

/* The same-host client: 100 bytes, half-close, the echo back, EOF. */
static int local_client(const char *ip, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char out[100], in[100];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, ip, &sa.sin_addr);
	memset(out, 'l', sizeof(out));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || send(fd, out, sizeof(out), 0) != 100 ||
	    shutdown(fd, SHUT_WR) || recv(fd, in, sizeof(in), MSG_WAITALL) != 100 ||
	    memcmp(in, out, 100) || recv(fd, in, 1, 0) != 0)
		return 1;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: tcp_srv_api PORT LOCAL_IP\n");
		return 2;
	}
	int port = atoi(argv[1]), one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) }, pa, la;
	socklen_t pl, ll;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 8)) {
		perror("tcp_srv_api");
		return 2;
	}
	int acc = -1;
	socklen_t al = sizeof(acc);
	getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al);
	CHECK("SO_ACCEPTCONN on the listener", acc == 1, "%d", acc);

	fcntl(lfd, F_SETFL, O_NONBLOCK);
	fd = accept(lfd, NULL, NULL);
	CHECK("accept on an empty non-blocking listener: EAGAIN", fd < 0 && errno == EAGAIN, "fd %d", fd);
	fcntl(lfd, F_SETFL, 0);
	printf("ready\nnext\n");
	fflush(stdout);

	pl = sizeof(pa);
	fd = accept4(lfd, (struct sockaddr *)&pa, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	CHECK("accept4", fd >= 0, "fd %d", fd);
	if (fd >= 0) {
		CHECK("accept4 SOCK_NONBLOCK", fcntl(fd, F_GETFL) & O_NONBLOCK, "flags %x", fcntl(fd, F_GETFL));
		CHECK("accept4 SOCK_CLOEXEC", fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd flags %x", fcntl(fd, F_GETFD));
		CHECK("accept4 peer address", pl == sizeof(pa) && pa.sin_family == AF_INET && pa.sin_port != 0,
		      "%s:%u", inet_ntoa(pa.sin_addr), ntohs(pa.sin_port));
		ll = sizeof(la);
		getsockname(fd, (struct sockaddr *)&la, &ll);
		CHECK("accepted socket's local address", la.sin_port == htons((uint16_t)port) &&
		      la.sin_addr.s_addr == inet_addr(argv[2]), "%s:%u", inet_ntoa(la.sin_addr), ntohs(la.sin_port));
		struct sockaddr_in pb;
		socklen_t pbl = sizeof(pb);
		getpeername(fd, (struct sockaddr *)&pb, &pbl);
		CHECK("getpeername of the accepted socket", pb.sin_addr.s_addr == pa.sin_addr.s_addr &&
		      pb.sin_port == pa.sin_port, "%s:%u", inet_ntoa(pb.sin_addr), ntohs(pb.sin_port));
		fcntl(fd, F_SETFL, 0);
		echo(fd);
		close(fd);
	}

	pid_t child = fork();
	if (child == 0)
		_exit(local_client(argv[2], port));
	fd = accept(lfd, NULL, NULL);
	CHECK("same-host client accepted", fd >= 0, "fd %d", fd);
	if (fd >= 0) {
		echo(fd);
		close(fd);
	}
	int st = 0;
	waitpid(child, &st, 0);
	CHECK("same-host client echoed", WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %x", st);

	printf("next\n");
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	CHECK("plain accept", fd >= 0, "fd %d", fd);
	if (fd >= 0) {
		CHECK("accept: blocking", !(fcntl(fd, F_GETFL) & O_NONBLOCK), "flags %x", fcntl(fd, F_GETFL));
		CHECK("accept: no close-on-exec", !(fcntl(fd, F_GETFD) & FD_CLOEXEC), "fd flags %x",
		      fcntl(fd, F_GETFD));
		acc = -1;
		al = sizeof(acc);
		getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al);
		CHECK("SO_ACCEPTCONN on the accepted socket", acc == 0, "%d", acc);
		echo(fd);
		close(fd);
	}
	close(lfd);
	return failures;
}
