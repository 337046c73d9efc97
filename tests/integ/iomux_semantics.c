/* iomux_semantics — prints a transcript of select/poll/epoll behaviour over one kind of
 * event source, to be compared between a run without libshim and a run under it:
 *
 *   iomux_semantics pipe                     sources are pipes (kernel fds)
 *   iomux_semantics udp LOCAL_IP PEER_NETNS  sources are UDP sockets bound to
 *                                            LOCAL_IP, fed by a kernel socket created
 *                                            in the peer namespace (path of its netns
 *                                            file), so under libshim on the testbed
 *                                            they are offloaded and the set is mixed.
 *
 * Every scenario mixes the sources with a pipe and an eventfd (kernel fds). Lines
 * carry no timings or fd numbers, only events, counts and errno names. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int udp_mode;
static const char *local_ip;
static int peer_fd = -1;	/* kernel socket in the peer namespace (raw syscalls) */
static uint16_t next_port = 47000;

struct src {
	int fd;		/* what the application polls */
	int wfd;	/* pipe mode: write end */
	struct sockaddr_in addr;
};

static void src_open(struct src *s)
{
	if (!udp_mode) {
		int p[2];

		if (pipe(p) < 0)
			exit(2);
		s->fd = p[0];
		s->wfd = p[1];
		return;
	}
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	s->wfd = -1;
	memset(&s->addr, 0, sizeof(s->addr));
	s->addr.sin_family = AF_INET;
	inet_pton(AF_INET, local_ip, &s->addr.sin_addr);
	for (;;) {
		s->addr.sin_port = htons(next_port++);
		if (bind(s->fd, (struct sockaddr *)&s->addr, sizeof(s->addr)) == 0)
			break;
		if (errno != EADDRINUSE)
			exit(3);
	}
}

static void src_close(struct src *s)
{
	close(s->fd);
	if (s->wfd >= 0)
		close(s->wfd);
}

/* Make it readable (one more datagram / byte) and wait until it surely arrived. */
static void src_fire(struct src *s)
{
	if (!udp_mode) {
		if (write(s->wfd, "x", 1) != 1)
			exit(4);
		return;
	}
	syscall(SYS_sendto, peer_fd, "x", 1, 0, &s->addr, sizeof(s->addr));
	/* At least one datagram is there (a loaded machine may take a while), and a
	 * pause for this one when others were already queued. */
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	poll(&p, 1, 2000);
	usleep(5000);
}

/* Read everything queued; returns how many units. */
static int src_drain(struct src *s)
{
	char b[64];
	int n = 0;

	if (!udp_mode) {
		int fl = fcntl(s->fd, F_GETFL);

		fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
		for (ssize_t r; (r = read(s->fd, b, sizeof(b))) > 0;)
			n += (int)r;
		fcntl(s->fd, F_SETFL, fl);
		return n;
	}
	while (recv(s->fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

static const char *ev_name(uint32_t e)
{
	static char buf[128];

	buf[0] = 0;
	if (e & EPOLLIN) strcat(buf, "IN|");
	if (e & EPOLLOUT) strcat(buf, "OUT|");
	if (e & EPOLLERR) strcat(buf, "ERR|");
	if (e & EPOLLHUP) strcat(buf, "HUP|");
	if (e & EPOLLRDHUP) strcat(buf, "RDHUP|");
	if (e & EPOLLPRI) strcat(buf, "PRI|");
	if (e & POLLNVAL) strcat(buf, "NVAL|");
	if (!buf[0])
		return "-";
	buf[strlen(buf) - 1] = 0;
	return buf;
}

static void show(const char *what, int r)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, strerrorname_np(errno));
	else
		printf("%s: %d\n", what, r);
}

static void show_events(const char *what, int n, struct epoll_event *ev)
{
	show(what, n);
	/* Order within one call is not part of the contract: print sorted by data. */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (ev[j].data.u64 < ev[i].data.u64) {
				struct epoll_event t = ev[i];
				ev[i] = ev[j];
				ev[j] = t;
			}
	for (int i = 0; i < n; i++)
		printf("  data=%llu %s\n", (unsigned long long)ev[i].data.u64, ev_name(ev[i].events));
}

static int ep_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static volatile sig_atomic_t sigs;
static void on_alarm(int s)
{
	(void)s;
	sigs++;
}

static void alarm_ms(int ms, int restart)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0 };
	struct itimerval it = { .it_value = { 0, ms * 1000 } };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

static long elapsed_ms(struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void scenario_poll(void)
{
	struct src a, b;
	int e = eventfd(0, EFD_NONBLOCK), p[2];
	struct timespec t0;

	printf("== poll\n");
	src_open(&a);
	src_open(&b);
	if (pipe(p) < 0)
		exit(2);
	struct pollfd f[5] = {
		{ .fd = a.fd, .events = POLLIN }, { .fd = b.fd, .events = POLLIN | POLLOUT },
		{ .fd = e, .events = POLLIN }, { .fd = p[1], .events = POLLOUT }, { .fd = -1 },
	};
	show("nothing ready", poll(f, 4, 0));
	for (int i = 0; i < 4; i++)
		printf("  [%d] %s\n", i, ev_name((uint32_t)f[i].revents));
	src_fire(&a);
	uint64_t one = 1;
	if (write(e, &one, 8) != 8)
		exit(5);
	show("a and eventfd", poll(f, 5, 0));
	for (int i = 0; i < 5; i++)
		printf("  [%d] %s\n", i, ev_name((uint32_t)f[i].revents));
	show("still (level)", poll(f, 1, 0));
	printf("drained %d\n", src_drain(&a));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	show("timeout 50", poll(f, 1, 50));
	printf("  waited enough: %s\n", elapsed_ms(&t0) >= 49 ? "yes" : "no");
	struct timespec ts = { 0, 30000000 };
	sigset_t none;
	sigemptyset(&none);
	show("ppoll timeout 30", ppoll(f, 1, &ts, &none));
	src_fire(&b);
	show("ppoll b", ppoll(f, 2, &ts, NULL));
	printf("  [1] %s\n", ev_name((uint32_t)f[1].revents));
	int d = dup(p[0]);
	close(d);
	f[0].fd = d;
	show("closed fd", poll(f, 2, 0));
	printf("  [0] %s\n", ev_name((uint32_t)f[0].revents));
	alarm_ms(20, 1);
	f[0].fd = a.fd;
	show("signal during poll(-1), SA_RESTART", poll(f, 1, -1));
	src_close(&a);
	src_close(&b);
	close(e);
	close(p[0]);
	close(p[1]);
}

static void scenario_select(void)
{
	struct src a;
	int p[2];
	fd_set r, w, x;
	struct timeval tv;

	printf("== select\n");
	src_open(&a);
	if (pipe(p) < 0)
		exit(2);
	int n = (a.fd > p[1] ? a.fd : p[1]) + 1;
	FD_ZERO(&r); FD_ZERO(&w); FD_ZERO(&x);
	FD_SET(a.fd, &r); FD_SET(p[0], &r); FD_SET(p[1], &w); FD_SET(a.fd, &x);
	tv = (struct timeval){ 0, 20000 };
	show("writable pipe only", select(n, &r, &w, &x, &tv));
	printf("  a:r=%d pipe:r=%d pipe:w=%d a:x=%d time left written back: %s\n", FD_ISSET(a.fd, &r),
	       FD_ISSET(p[0], &r), FD_ISSET(p[1], &w), FD_ISSET(a.fd, &x),
	       tv.tv_sec == 0 && tv.tv_usec <= 20000 ? "yes" : "no");
	src_fire(&a);
	FD_ZERO(&r); FD_ZERO(&w);
	FD_SET(a.fd, &r); FD_SET(p[0], &r);
	tv = (struct timeval){ 0, 20000 };
	show("a readable", select(n, &r, &w, NULL, &tv));
	printf("  a:r=%d pipe:r=%d\n", FD_ISSET(a.fd, &r), FD_ISSET(p[0], &r));
	struct timespec ts = { 0, 10000000 };
	FD_ZERO(&r);
	FD_SET(a.fd, &r);
	show("pselect a", pselect(n, &r, NULL, NULL, &ts, NULL));
	printf("drained %d\n", src_drain(&a));
	FD_ZERO(&r);
	FD_SET(a.fd, &r);
	show("pselect nothing", pselect(n, &r, NULL, NULL, &ts, NULL));
	int d = dup(p[0]);
	close(d);
	FD_ZERO(&r);
	FD_SET(a.fd, &r);
	FD_SET(d, &r);
	tv = (struct timeval){ 0, 0 };
	show("closed fd in set", select((d > a.fd ? d : a.fd) + 1, &r, NULL, NULL, &tv));
	show("negative nfds", select(-1, NULL, NULL, NULL, &tv));
	src_close(&a);
	close(p[0]);
	close(p[1]);
}

static void scenario_epoll(void)
{
	struct src a, b, c;
	struct epoll_event ev[8];
	int ep = epoll_create1(EPOLL_CLOEXEC), p[2];

	printf("== epoll\n");
	src_open(&a);
	src_open(&b);
	src_open(&c);
	if (pipe(p) < 0)
		exit(2);
	show("add a LT", ep_add(ep, a.fd, EPOLLIN, 1));
	show("add b ET", ep_add(ep, b.fd, EPOLLIN | EPOLLET, 2));
	show("add c ONESHOT", ep_add(ep, c.fd, EPOLLIN | EPOLLONESHOT, 3));
	show("add pipe", ep_add(ep, p[0], EPOLLIN, 4));
	show("add a again", ep_add(ep, a.fd, EPOLLIN, 1));
	show_events("nothing", epoll_wait(ep, ev, 8, 0), ev);
	src_fire(&a);
	src_fire(&b);
	src_fire(&c);
	show_events("a b c", epoll_wait(ep, ev, 8, 100), ev);
	show_events("again: a (level) only", epoll_wait(ep, ev, 8, 0), ev);
	src_fire(&b);
	src_fire(&c);
	show_events("b new edge, c disabled", epoll_wait(ep, ev, 8, 0), ev);
	struct epoll_event m = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = 33 };
	show("re-arm c", epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &m));
	show_events("c back", epoll_wait(ep, ev, 8, 0), ev);
	if (write(p[1], "x", 1) != 1)
		exit(5);
	show_events("maxevents 1", epoll_wait(ep, ev, 1, 0), ev);
	show_events("maxevents 1 again", epoll_wait(ep, ev, 1, 0), ev);
	printf("drained %d %d %d\n", src_drain(&a), src_drain(&b), src_drain(&c));
	char x;
	if (read(p[0], &x, 1) != 1)
		exit(5);
	show_events("all drained", epoll_wait(ep, ev, 8, 20), ev);
	show("del b", epoll_ctl(ep, EPOLL_CTL_DEL, b.fd, NULL));
	show("del b again", epoll_ctl(ep, EPOLL_CTL_DEL, b.fd, NULL));
	src_fire(&b);
	show_events("b deleted", epoll_wait(ep, ev, 8, 0), ev);
	show("maxevents 0", epoll_wait(ep, ev, 0, 0));
	m.events = EPOLLIN | EPOLLOUT;
	m.data.u64 = 11;
	show("mod a IN|OUT", epoll_ctl(ep, EPOLL_CTL_MOD, a.fd, &m));
	src_fire(&a);
	show_events("a IN|OUT", epoll_wait(ep, ev, 8, 0), ev);
	m.events = EPOLLIN;
	m.data.u64 = 1;
	epoll_ctl(ep, EPOLL_CTL_MOD, a.fd, &m);
	src_drain(&a);
	/* Closed while registered: registration follows the file. */
	src_fire(&c);
	m.events = EPOLLIN;
	m.data.u64 = 3;
	epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &m);
	src_close(&c);
	show_events("c closed", epoll_wait(ep, ev, 8, 0), ev);
	/* Signal while waiting forever. */
	alarm_ms(20, 1);
	show("signal during epoll_wait(-1)", epoll_wait(ep, ev, 8, -1));
	sigset_t block, old, none;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigs = 0;
	alarm_ms(10, 0);
	show("epoll_pwait unblocks SIGALRM", epoll_pwait(ep, ev, 8, 200, &none));
	sigs = 0;
	alarm_ms(10, 0);
	show("epoll_pwait keeps it blocked", epoll_pwait(ep, ev, 8, 50, &block));
	printf("  handled during the call: %d\n", sigs);
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("  handled after: %d\n", sigs);
	close(ep);
	src_close(&a);
	src_close(&b);
	close(p[0]);
	close(p[1]);
}

static void scenario_nesting(void)
{
	struct src a;
	struct epoll_event ev[4];
	int inner = epoll_create1(0), outer = epoll_create1(0), other = epoll_create1(0);

	printf("== nesting\n");
	src_open(&a);
	show("a in inner", ep_add(inner, a.fd, EPOLLIN, 1));
	show("a in other (ET)", ep_add(other, a.fd, EPOLLIN | EPOLLET, 2));
	show("inner in outer", ep_add(outer, inner, EPOLLIN, 9));
	show("outer in inner (loop)", ep_add(inner, outer, EPOLLIN, 8));
	struct pollfd pf = { .fd = inner, .events = POLLIN };
	show("poll inner, idle", poll(&pf, 1, 0));
	src_fire(&a);
	show("poll inner", poll(&pf, 1, 100));
	printf("  %s\n", ev_name((uint32_t)pf.revents));
	fd_set r;
	FD_ZERO(&r);
	FD_SET(inner, &r);
	struct timeval tv = { 0, 0 };
	show("select inner", select(inner + 1, &r, NULL, NULL, &tv));
	show_events("outer", epoll_wait(outer, ev, 4, 100), ev);
	show_events("inner", epoll_wait(inner, ev, 4, 0), ev);
	show_events("other", epoll_wait(other, ev, 4, 0), ev);
	show_events("other again (edge)", epoll_wait(other, ev, 4, 0), ev);
	printf("drained %d\n", src_drain(&a));
	show_events("outer idle", epoll_wait(outer, ev, 4, 10), ev);
	/* Shared across fork: the child waits on the same instance (holding an offloaded
	 * socket too, whose datagrams stay with the process that owns its ring) and
	 * sees the kernel fd the parent makes ready. */
	int p[2];
	if (pipe(p) < 0)
		exit(2);
	show("pipe in inner", ep_add(inner, p[0], EPOLLIN, 5));
	pid_t pid = fork();
	if (pid == 0) {
		int n = epoll_wait(inner, ev, 4, 3000);
		_exit(n == 1 && ev[0].data.u64 == 5 ? 0 : 1);
	}
	usleep(30000);
	if (write(p[1], "x", 1) != 1)
		exit(5);
	int st;
	waitpid(pid, &st, 0);
	close(p[0]);
	close(p[1]);
	printf("child saw the event: %s\n", WIFEXITED(st) && !WEXITSTATUS(st) ? "yes" : "no");
	close(outer);
	close(inner);
	close(other);
	src_close(&a);
}

static int open_peer(const char *ns_path)
{
	int self = open("/proc/self/ns/net", O_RDONLY), ns = open(ns_path, O_RDONLY), fd;

	if (self < 0 || ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
		perror("setns");
		exit(6);
	}
	fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
	if (setns(self, CLONE_NEWNET) < 0)
		exit(6);
	syscall(SYS_close, self);
	syscall(SYS_close, ns);
	return fd;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "udp")) {
		if (argc < 4) {
			fprintf(stderr, "usage: %s udp LOCAL_IP PEER_NETNS\n", argv[0]);
			return 2;
		}
		udp_mode = 1;
		local_ip = argv[2];
		peer_fd = open_peer(argv[3]);
	} else if (argc < 2 || strcmp(argv[1], "pipe")) {
		fprintf(stderr, "usage: %s pipe | udp LOCAL_IP PEER_NETNS\n", argv[0]);
		return 2;
	}
	scenario_poll();
	scenario_select();
	scenario_epoll();
	scenario_nesting();
	return 0;
}
