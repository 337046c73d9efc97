/* forkexec.c — process creation under libshim: a fork child uses an inherited socket
 * and execs; vfork children exec (one after a shell-style dup2) without disturbing
 * the parent's stack or sockets; daemon() leaves a working library behind. Prints one
 * line per check; forkexec.sh compares with the run without libshim. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int udp_bound(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)a, sizeof(*a));
	getsockname(s, (struct sockaddr *)a, &len);
	return s;
}

static int status_of(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
	struct sockaddr_in a;
	char buf[64];
	int s = udp_bound(&a), p[2];
	volatile int canary = 0x5a5a;
	pid_t pid;

	setvbuf(stdout, NULL, _IONBF, 0);
	/* fork: the child sends on the inherited socket, closes it, then execs */
	pid = fork();
	if (pid == 0) {
		sendto(s, "from child", 10, 0, (struct sockaddr *)&a, sizeof(a));
		close(s);
		execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL);
		_exit(99);
	}
	ssize_t n = recv(s, buf, sizeof(buf), 0);
	printf("fork: parent got %.*s, child exit %d\n", (int)n, buf, status_of(pid));
	sendto(s, "still", 5, 0, (struct sockaddr *)&a, sizeof(a));
	n = recv(s, buf, sizeof(buf), 0);
	printf("fork: parent socket after child closed it: %.*s\n", (int)n, buf);

	/* vfork + exec: the parent is suspended until the child has exec'd */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = vfork();
	if (pid == 0) {
		usleep(200000);
		execl("/bin/true", "true", (char *)NULL);
		_exit(99);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("vfork: parent resumed after the child's exec: %d\n", waited_ms >= 190);
	printf("vfork: child exit %d, canary %#x\n", status_of(pid), canary);

	/* vfork, dup2 the socket over stdout and close it (as a shell does), exec */
	pipe(p);
	pid = vfork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(s);
		execl("/bin/echo", "echo", "vfork child output", (char *)NULL);
		_exit(99);
	}
	close(p[1]);
	n = read(p[0], buf, sizeof(buf));
	close(p[0]);
	printf("vfork+dup2: %d, read %.*s", status_of(pid), (int)n, buf);
	sendto(s, "intact", 6, 0, (struct sockaddr *)&a, sizeof(a));
	n = recv(s, buf, sizeof(buf), 0);
	printf("vfork+dup2: parent socket %.*s, canary %#x\n", (int)n, buf, canary);

	/* daemon(): the grandchild reports through a pipe that daemon() leaves open */
	pipe(p);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (daemon(1, 0) < 0)
			_exit(1);
		struct sockaddr_in b;
		int d = udp_bound(&b);
		sendto(d, "daemon", 6, 0, (struct sockaddr *)&b, sizeof(b));
		n = recv(d, buf, sizeof(buf), 0);
		dprintf(p[1], "daemon: socket works: %.*s, stdin %s\n", (int)n, buf,
			read(0, buf, 1) == 0 ? "is /dev/null" : "is not /dev/null");
		_exit(0);
	}
	close(p[1]);
	status_of(pid);
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	return 0;
}
