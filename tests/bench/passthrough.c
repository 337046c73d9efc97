/* passthrough.c — the cost of libshim on calls it does not offload.
 *
 *   passthrough calls <recvfrom|pipe> [blocks] [calls-per-block]
 *	Non-blocking recvfrom() on an idle UDP socket (EAGAIN: the fd has an object
 *	with no data ops) or 1-byte write()+read() on a pipe (fds with no object).
 *	Each block is timed twice, alternately: calling the function by name (libshim's
 *	wrapper when preloaded) and calling libc's own entry directly (dlopen of libc).
 *	Prints the best and 10th-percentile ns/call of each and their ratios: an in-process A/B comparison,
 *	immune to the machine-wide noise that separate runs suffer.
 *   passthrough spawn <libshim.so> [runs]
 *	Spawns /bin/true alternately without and with LD_PRELOAD and prints the median
 *	time of each and the difference: the start-up cost of the library.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

typedef __typeof__(&recvfrom) recvfrom_fn;
typedef __typeof__(&write) write_fn;
typedef __typeof__(&read) read_fn;

static recvfrom_fn libc_recvfrom;
static write_fn libc_write;
static read_fn libc_read;
static int sock, pipefd[2];

/* One block of `n` operations through the named functions (direct = 0) or libc's. */
static double block(const char *mode, long n, int direct)
{
	recvfrom_fn rf = direct ? libc_recvfrom : recvfrom;
	write_fn wr = direct ? libc_write : write;
	read_fn rd = direct ? libc_read : read;
	struct sockaddr_in from;
	socklen_t len;
	char buf[64];
	double t0 = now_ns();

	if (!strcmp(mode, "recvfrom")) {
		for (long i = 0; i < n; i++) {
			len = sizeof(from);
			if (rf(sock, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len) != -1 || errno != EAGAIN)
				exit(1);
		}
		return (now_ns() - t0) / n;
	}
	for (long i = 0; i < n; i++)
		if (wr(pipefd[1], "x", 1) != 1 || rd(pipefd[0], buf, 1) != 1)
			exit(1);
	return (now_ns() - t0) / (2 * n);
}

static int calls(const char *mode, int blocks, long n)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	double *named = calloc((size_t)blocks, sizeof(double));
	double *direct = calloc((size_t)blocks, sizeof(double));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	if (!libc || !named || !direct)
		return 1;
	libc_recvfrom = (recvfrom_fn)dlsym(libc, "recvfrom");
	libc_write = (write_fn)dlsym(libc, "write");
	libc_read = (read_fn)dlsym(libc, "read");
	/* Each workload opens only what it uses. */
	if (!strcmp(mode, "recvfrom")) {
		sock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (sock < 0 || bind(sock, (struct sockaddr *)&a, sizeof(a)))
			return 1;
	} else if (pipe(pipefd)) {
		return 1;
	}
	block(mode, n, 0);	/* warm up both paths */
	block(mode, n, 1);
	for (int b = 0; b < blocks; b++) {
		if (b & 1) {
			direct[b] = block(mode, n, 1);
			named[b] = block(mode, n, 0);
		} else {
			named[b] = block(mode, n, 0);
			direct[b] = block(mode, n, 1);
		}
	}
	qsort(named, (size_t)blocks, sizeof(double), cmp_double);
	qsort(direct, (size_t)blocks, sizeof(double), cmp_double);
	/* The best blocks are the ones the shared machine disturbed least. */
	int p10 = blocks / 10;
	printf("%s: by name %.1f ns (p10 %.1f), libc direct %.1f ns (p10 %.1f): ratio best %.4f p10 %.4f, +%.1f ns\n",
	       mode, named[0], named[p10], direct[0], direct[p10], named[0] / direct[0],
	       named[p10] / direct[p10], named[p10] - direct[p10]);
	return 0;
}

static double spawn_once(char **env)
{
	char *argv[] = { "true", NULL };
	double t0 = now_ns();
	pid_t pid;
	int st;

	if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, env) || waitpid(pid, &st, 0) != pid)
		exit(1);
	return now_ns() - t0;
}

static int spawn(const char *lib, int runs)
{
	double *plain = calloc((size_t)runs, sizeof(double)), *shim = calloc((size_t)runs, sizeof(double));
	char preload[4096];
	int n = 0;

	while (environ[n])
		n++;
	char **env = calloc((size_t)n + 2, sizeof(char *));
	if (!plain || !shim || !env)
		return 1;
	for (int i = 0, j = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11))
			env[j++] = environ[i];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lib);
	char **env_shim = calloc((size_t)n + 2, sizeof(char *));
	if (!env_shim)
		return 1;
	memcpy(env_shim, env, ((size_t)n + 1) * sizeof(char *));
	for (int i = 0; ; i++)
		if (!env_shim[i]) {
			env_shim[i] = preload;
			break;
		}
	for (int r = 0; r < runs; r++) {
		plain[r] = spawn_once(env);
		shim[r] = spawn_once(env_shim);
	}
	qsort(plain, (size_t)runs, sizeof(double), cmp_double);
	qsort(shim, (size_t)runs, sizeof(double), cmp_double);
	printf("start-up: /bin/true median %.0f us, with libshim %.0f us: libshim adds %.0f us per process\n",
	       plain[runs / 2] / 1e3, shim[runs / 2] / 1e3, (shim[runs / 2] - plain[runs / 2]) / 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "calls"))
		return calls(argv[2], argc > 3 ? atoi(argv[3]) : 201, argc > 4 ? atol(argv[4]) : 5000);
	if (argc > 2 && !strcmp(argv[1], "spawn"))
		return spawn(argv[2], argc > 3 ? atoi(argv[3]) : 200);
	fprintf(stderr, "usage: %s calls recvfrom|pipe [blocks] [calls] | spawn libshim.so [runs]\n", argv[0]);
	return 2;
}
