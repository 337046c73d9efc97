/* errno_exact.c — failing calls print the errno they got, successful ones check the
 * caller's errno survived. errno_exact.sh runs it with and without libshim and
 * requires the two transcripts to be identical. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);

static void show(const char *what, long r)
{
	printf("%-28s r=%ld errno=%s\n", what, r, r < 0 ? strerror(errno) : "-");
	errno = 0;
}

#define TRY(call) show(#call, (long)(call))

static void on_alarm(int sig)
{
	(void)sig;
}

static struct sockaddr_in lo(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	return a;
}

int main(void)
{
	char buf[70000];
	int p[2], u, t, big;
	struct sockaddr_in a = lo(0), b;
	socklen_t len = sizeof(b);

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* EBADF */
	TRY(read(-1, buf, 1));
	TRY(write(12345, buf, 1));
	TRY(close(-1));
	TRY(close(12345));
	TRY(recv(12345, buf, 1, 0));
	TRY(fcntl(12345, F_GETFL));
	TRY(dup(12345));
	TRY(dup2(12345, 5));
	TRY(getsockopt(-1, SOL_SOCKET, SO_TYPE, buf, &len));
	/* ENOTSOCK */
	TRY(pipe(p));
	TRY(recv(p[0], buf, 1, MSG_DONTWAIT));
	TRY(send(p[1], buf, 1, 0));
	TRY(bind(p[0], (struct sockaddr *)&a, sizeof(a)));
	TRY(getsockopt(p[0], SOL_SOCKET, SO_TYPE, buf, &len));
	TRY(listen(p[0], 1));
	/* EAGAIN, EINVAL, ENOPROTOOPT, EOPNOTSUPP, EMSGSIZE, ENOTCONN, ECONNREFUSED */
	u = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	TRY(u >= 0 ? 0 : -1);
	TRY(bind(u, (struct sockaddr *)&a, 3));
	TRY(bind(u, (struct sockaddr *)&a, sizeof(a)));
	TRY(bind(u, (struct sockaddr *)&a, sizeof(a)));
	TRY(recvfrom(u, buf, sizeof(buf), 0, NULL, NULL));
	TRY(recv(u, buf, sizeof(buf), 0));
	TRY(read(u, buf, sizeof(buf)));
	TRY(recvmsg(u, &(struct msghdr){ 0 }, 0));
	TRY(setsockopt(u, 9999, 1, buf, 4));
	TRY(setsockopt(u, SOL_SOCKET, SO_RCVBUF, buf, 1));
	TRY(listen(u, 1));
	TRY(getsockname(u, (struct sockaddr *)&b, &len));
	TRY(sendto(u, buf, sizeof(buf), 0, (struct sockaddr *)&b, len));
	TRY(socket(AF_INET, 999, 0));
	TRY(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	TRY(fcntl(u, 9999));
	TRY(ioctl(u, 0xdead, buf));
	TRY(dup3(u, u, 0));
	TRY(accept(u, NULL, NULL));
	t = socket(AF_INET, SOCK_STREAM, 0);
	TRY(recv(t, buf, 1, 0));
	TRY(send(t, buf, 1, MSG_NOSIGNAL));
	TRY(getpeername(t, (struct sockaddr *)&b, &len));
	TRY(shutdown(t, SHUT_RDWR));
	TRY(shutdown(t, 99));
	a = lo(1);	/* nothing listens on port 1 */
	TRY(connect(t, (struct sockaddr *)&a, sizeof(a)));
	TRY(close(t));
	/* FIONBIO and F_SETFL reach the kernel: a blocking socket becomes non-blocking. */
	t = socket(AF_INET, SOCK_DGRAM, 0);
	TRY(ioctl(t, FIONBIO, &(int){ 1 }));
	TRY(recv(t, buf, 1, 0));
	TRY(ioctl(t, FIONBIO, &(int){ 0 }));
	TRY(fcntl(t, F_SETFL, O_NONBLOCK));
	TRY(recv(t, buf, 1, 0));
	TRY(fcntl(t, F_GETFL) & O_NONBLOCK);
	big = fcntl(t, F_DUPFD_CLOEXEC, 500);
	TRY(big);
	TRY(fcntl(big, F_GETFD));
	TRY(recv(big, buf, 1, 0));
	TRY(close(big));
	/* errno survives successful calls */
	errno = 4242;
	t = socket(AF_INET, SOCK_DGRAM, 0);
	a = lo(0);
	bind(t, (struct sockaddr *)&a, sizeof(a));
	len = sizeof(b);
	getsockname(t, (struct sockaddr *)&b, &len);
	sendto(t, "x", 1, 0, (struct sockaddr *)&b, len);
	recvfrom(t, buf, 1, 0, NULL, NULL);
	fcntl(t, F_SETFL, O_NONBLOCK);
	close(t);
	printf("errno after successful calls: %d\n", errno);
	/* EINTR: a handler without SA_RESTART interrupts a blocking recv */
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	sigemptyset(&sa.sa_mask);
	TRY(sigaction(SIGALRM, &sa, NULL));
	TRY(sigaction(SIGALRM, NULL, &old));
	printf("handler is ours: %d flags %#x\n", old.sa_handler == on_alarm, old.sa_flags);
	t = socket(AF_INET, SOCK_DGRAM, 0);
	bind(t, (struct sockaddr *)&a, sizeof(a));
	setitimer(ITIMER_REAL, &(struct itimerval){ .it_value = { 0, 50000 } }, NULL);
	TRY(recv(t, buf, 1, 0));
	TRY(signal(SIGALRM, SIG_DFL) == on_alarm);
	TRY(signal(SIGALRM, SIG_IGN) == SIG_DFL);
	TRY(signal(SIGKILL, on_alarm) == SIG_ERR);
	TRY(sigaction(SIGKILL, &sa, NULL));
	TRY(sigaction(0, &sa, NULL));
	close(t);
	/* SIGINT (libshim owns it with SHIM_HANDLE_SIGINTR=1): the application still sees
	 * the default action, a raised SIGINT still kills, its own handler still runs. */
	TRY(sigaction(SIGINT, NULL, &old));
	printf("SIGINT action is default: %d flags %#x\n", old.sa_handler == SIG_DFL, old.sa_flags);
	pid_t kid = fork();
	if (kid == 0) {
		raise(SIGINT);
		_exit(0);
	}
	int st;
	waitpid(kid, &st, 0);
	printf("raise(SIGINT) with no handler: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "survived");
	TRY(signal(SIGINT, on_alarm) == SIG_DFL);
	TRY(raise(SIGINT));
	TRY(signal(SIGINT, SIG_DFL) == on_alarm);
	/* __read_chk: a length beyond the buffer aborts, with or without the library */
	pid_t pid = fork();
	if (pid == 0) {
		close(2);
		__read_chk(p[0], buf, 10, 5);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("__read_chk overflow: %s\n", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "returned");
	TRY(write(p[1], "abc", 3));
	TRY(__read_chk(p[0], buf, 3, 5));
	return 0;
}
