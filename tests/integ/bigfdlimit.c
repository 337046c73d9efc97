/* bigfdlimit.c — under a huge `ulimit -n`: sockets work, a descriptor near the top of
 * the range works, and the resident memory is printed so bigfdlimit.sh can check the
 * library did not pay for the limit. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct rlimit rl;
	char buf[8];
	int s, hi;

	getrlimit(RLIMIT_NOFILE, &rl);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	bind(s, (struct sockaddr *)&a, sizeof(a));
	getsockname(s, (struct sockaddr *)&a, &len);
	hi = (int)rl.rlim_cur - 10;
	if (dup2(s, hi) != hi) {
		perror("dup2");
		return 1;
	}
	sendto(hi, "hi", 2, 0, (struct sockaddr *)&a, len);
	ssize_t n = recv(s, buf, sizeof(buf), 0);
	int ok = n == 2 && recv(hi, buf, sizeof(buf), 0) == -1 && errno == EAGAIN;
	close(hi);
	close(s);
	printf("limit %llu fd %d %s rss_kb %ld\n", (unsigned long long)rl.rlim_cur, hi,
	       ok ? "ok" : "BROKEN", rss_kb());
	return ok ? 0 : 1;
}
