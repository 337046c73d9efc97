/* mcast_peer.c — the multicast programs of the integration tests, run with or
 * without libshim; the kernel run of each is what the libshim run must match.
 *   mcast_peer send G1 G2 PORT N IFADDR DIR   N datagrams to each group, wait for
 *        DIR/phase2, N more to each (every size class, fragmented ones included)
 *   mcast_peer recv G1 G2 PORT N IFADDR DIR   five receivers (below) checking every
 *        datagram byte for byte and the group in IP_PKTINFO
 *   mcast_peer loop G PORT N IFADDR           IP_MULTICAST_LOOP inside one process
 *   mcast_peer errors IFADDR                  errno of bad joins, option read-back
 *   mcast_peer hold G1 G2 PORT IFADDR SECS    one socket in two groups, for shim_stats
 * Exit 0 on success; messages go to stdout. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAXDG 65507
#define MAGIC 0x4d435354u

static const unsigned sizes[] = { 16, 17, 64, 100, 512, 1000, 1471, 1472, 1473, 1480, 2000,
				  2952, 4096, 8972, 9000, 16384, 32768, 50000, 65507 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint32_t ip(const char *s)
{
	return inet_addr(s);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint8_t pat(unsigned seq, unsigned gi, unsigned i)
{
	return (uint8_t)(seq * 131u + i * 7u + gi * 29u + (i >> 8));
}

static unsigned fill(uint8_t *b, unsigned gi, unsigned seq)
{
	unsigned len = sizes[seq % NSIZES];
	uint32_t h[4] = { MAGIC, gi, seq, len };

	for (unsigned i = 16; i < len; i++)
		b[i] = pat(seq, gi, i);
	memcpy(b, h, sizeof(h));
	return len;
}

/* -1 bad, else the sequence number. */
static int check(const uint8_t *b, ssize_t n, unsigned gi)
{
	uint32_t h[4];

	if (n < 16)
		return -1;
	memcpy(h, b, sizeof(h));
	if (h[0] != MAGIC || h[1] != gi || h[3] != (uint32_t)n || h[3] != sizes[h[2] % NSIZES])
		return -1;
	for (unsigned i = 16; i < (unsigned)n; i++)
		if (b[i] != pat(h[2], gi, i))
			return -1;
	return (int)h[2];
}

static void wait_file(const char *dir, const char *name, int secs)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	for (int i = 0; i < secs * 100; i++) {
		if (stat(p, &st) == 0)
			return;
		usleep(10000);
	}
	printf("FAIL: no %s after %d s\n", p, secs);
	exit(1);
}

static void touch(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	if (f)
		fclose(f);
}

static int mc_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, big = 8 << 20;
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	return fd;
}

static void bind_to(int fd, uint32_t addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = addr };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
}

static int sender(uint32_t g[2], int port, int n, uint32_t ifaddr, const char *dir)
{
	static uint8_t buf[MAXDG];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct in_addr ia = { ifaddr };

	if (fd < 0)
		die("socket");
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ia, sizeof(ia)) < 0)
		die("IP_MULTICAST_IF");
	wait_file(dir, "ready", 10);
	for (int phase = 0; phase < 2; phase++) {
		if (phase)
			wait_file(dir, "phase2", 20);
		for (int k = phase * n; k < (phase + 1) * n; k++)
			for (unsigned gi = 0; gi < 2; gi++) {
				struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
							  .sin_addr.s_addr = g[gi] };
				unsigned len = fill(buf, gi, (unsigned)k);
				if (sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)len)
					die("sendto");
				usleep(len > 9000 ? 3000 : 500);
			}
	}
	printf("sent %d datagrams\n", 4 * n);
	return 0;
}

/* The receivers, as the kernel delivers to them:
 *   A 0.0.0.0:P, IP_MULTICAST_ALL 0, joins G1 (ip_mreqn, interface index)   G1
 *   B G1:P, joins G1 (ip_mreq, interface address)                           G1
 *   C G2:P, joins G2 (MCAST_JOIN_GROUP), leaves it before phase 2           G2 phase 1
 *   D 0.0.0.0:P, IP_MULTICAST_ALL 1, joins nothing: every group joined here G1, G2 phase 1
 *   E 0.0.0.0:P, IP_MULTICAST_ALL 0, joins G1 (route), leaves before phase 2 G1 phase 1
 *   F G1:P, joins G1 from another source only (IP_ADD_SOURCE_MEMBERSHIP)    nothing
 *   G G1:P, joins G1 from the sender (MCAST_JOIN_SOURCE_GROUP)              G1
 *   H G1:P, joins G1 and blocks the sender (IP_BLOCK_SOURCE)                nothing */
#define NRX 8
struct rx {
	const char *name;
	int fd;
	int want[2][2];		/* [group][phase] */
	int got[2];
	int next[2];
};

static int receiver(uint32_t g[2], int port, int n, uint32_t ifaddr, const char *dir)
{
	static uint8_t buf[MAXDG + 1];
	int ifindex = 0, zero = 0;
	struct rx r[NRX] = {
		{ "A", -1, { { n, n }, { 0, 0 } }, { 0 }, { 0 } },
		{ "B", -1, { { n, n }, { 0, 0 } }, { 0 }, { 0 } },
		{ "C", -1, { { 0, 0 }, { n, 0 } }, { 0 }, { 0 } },
		{ "D", -1, { { n, n }, { n, 0 } }, { 0 }, { 0 } },
		{ "E", -1, { { n, 0 }, { 0, 0 } }, { 0 }, { 0 } },
		{ "F", -1, { { 0, 0 }, { 0, 0 } }, { 0 }, { 0 } },
		{ "G", -1, { { n, n }, { 0, 0 } }, { 0 }, { 0 } },
		{ "H", -1, { { 0, 0 }, { 0, 0 } }, { 0 }, { 0 } },
	};
	struct if_nameindex *ifs = if_nameindex();

	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		if (strncmp(i->if_name, "lo", 3) != 0)
			ifindex = (int)i->if_index;
	for (int i = 0; i < NRX; i++)
		r[i].fd = mc_socket();
	bind_to(r[0].fd, 0, port);
	bind_to(r[1].fd, g[0], port);
	bind_to(r[2].fd, g[1], port);
	bind_to(r[3].fd, 0, port);
	bind_to(r[4].fd, 0, port);
	for (int i = 5; i < NRX; i++)
		bind_to(r[i].fd, g[0], port);
	setsockopt(r[0].fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));
	setsockopt(r[4].fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof(zero));

	struct ip_mreqn mn = { .imr_multiaddr.s_addr = g[0], .imr_ifindex = ifindex };
	struct ip_mreq m = { .imr_multiaddr.s_addr = g[0], .imr_interface.s_addr = ifaddr };
	struct ip_mreq mroute = { .imr_multiaddr.s_addr = g[0] };
	struct group_req gr = { .gr_interface = (uint32_t)ifindex };
	struct sockaddr_in *gs = (struct sockaddr_in *)&gr.gr_group;
	gs->sin_family = AF_INET;
	gs->sin_addr.s_addr = g[1];
	if (setsockopt(r[0].fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mn, sizeof(mn)) < 0)
		die("A join");
	if (setsockopt(r[1].fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m)) < 0)
		die("B join");
	if (setsockopt(r[2].fd, IPPROTO_IP, MCAST_JOIN_GROUP, &gr, sizeof(gr)) < 0)
		die("C join");
	if (setsockopt(r[4].fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mroute, sizeof(mroute)) < 0)
		die("E join");
	struct ip_mreq_source other = { .imr_multiaddr.s_addr = g[0], .imr_interface.s_addr = ifaddr,
					.imr_sourceaddr.s_addr = ip("198.18.0.99") };
	if (setsockopt(r[5].fd, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &other, sizeof(other)) < 0)
		die("F join");
	struct group_source_req gsr = { .gsr_interface = (uint32_t)ifindex };
	struct sockaddr_in *gg = (struct sockaddr_in *)&gsr.gsr_group, *gsrc = (struct sockaddr_in *)&gsr.gsr_source;
	gg->sin_family = gsrc->sin_family = AF_INET;
	gg->sin_addr.s_addr = g[0];
	gsrc->sin_addr.s_addr = ip("198.18.0.1");
	if (setsockopt(r[6].fd, IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, &gsr, sizeof(gsr)) < 0)
		die("G join");
	struct ip_mreq_source blk = other;
	blk.imr_sourceaddr.s_addr = ip("198.18.0.1");
	if (setsockopt(r[7].fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m)) < 0 ||
	    setsockopt(r[7].fd, IPPROTO_IP, IP_BLOCK_SOURCE, &blk, sizeof(blk)) < 0)
		die("H join");
	touch(dir, "ready");
	printf("recv ready\n");
	fflush(stdout);

	int phase = 0;
	uint64_t deadline = now_ms() + 30000, quiet_until = 0;
	for (;;) {
		struct pollfd pf[NRX];
		int done = 1;
		for (int i = 0; i < NRX; i++)
			for (int k = 0; k < 2; k++) {
				int want = r[i].want[k][0] + (phase ? r[i].want[k][1] : 0);
				if (r[i].got[k] < want)
					done = 0;
			}
		if (done && !phase) {
			/* Phase 1 complete everywhere: E and C leave, the sender goes on. */
			if (setsockopt(r[4].fd, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mroute, sizeof(mroute)) < 0)
				die("E leave");
			if (setsockopt(r[2].fd, IPPROTO_IP, MCAST_LEAVE_GROUP, &gr, sizeof(gr)) < 0)
				die("C leave");
			phase = 1;
			touch(dir, "phase2");
			printf("phase 1 complete\n");
			fflush(stdout);
			continue;
		}
		if (done && !quiet_until)
			quiet_until = now_ms() + 300;	/* anything extra would show now */
		if (quiet_until && now_ms() >= quiet_until)
			break;
		if (now_ms() > deadline) {
			printf("FAIL: timed out in phase %d\n", phase + 1);
			for (int i = 0; i < NRX; i++)
				printf("  %s got G1 %d G2 %d\n", r[i].name, r[i].got[0], r[i].got[1]);
			return 1;
		}
		for (int i = 0; i < NRX; i++)
			pf[i] = (struct pollfd){ .fd = r[i].fd, .events = POLLIN };
		if (poll(pf, NRX, 50) < 0)
			die("poll");
		for (int i = 0; i < NRX; i++) {
			if (!(pf[i].revents & POLLIN))
				continue;
			for (;;) {
				char cbuf[256];
				struct sockaddr_in from;
				struct iovec iov = { buf, sizeof(buf) };
				struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
						     .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
				ssize_t len = recvmsg(r[i].fd, &mh, MSG_DONTWAIT);
				if (len < 0) {
					if (errno == EAGAIN)
						break;
					die("recvmsg");
				}
				uint32_t dst = 0;
				for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
					if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
						dst = ((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr.s_addr;
				int gi = dst == g[0] ? 0 : dst == g[1] ? 1 : -1;
				if (gi < 0) {
					printf("FAIL %s: IP_PKTINFO destination %s is neither group\n", r[i].name,
					       inet_ntoa((struct in_addr){ dst }));
					return 1;
				}
				int seq = check(buf, len, (unsigned)gi);
				if (seq < 0) {
					printf("FAIL %s: datagram of %zd bytes to G%d corrupt\n", r[i].name, len, gi + 1);
					return 1;
				}
				if (seq != r[i].next[gi]) {
					printf("FAIL %s: G%d seq %d, expected %d\n", r[i].name, gi + 1, seq, r[i].next[gi]);
					return 1;
				}
				r[i].next[gi] = seq + 1;
				r[i].got[gi]++;
				int want = r[i].want[gi][0] + (phase ? r[i].want[gi][1] : 0);
				if (r[i].got[gi] > want) {
					printf("FAIL %s: one datagram too many to G%d (seq %d)\n", r[i].name, gi + 1, seq);
					return 1;
				}
			}
		}
	}
	for (int i = 0; i < NRX; i++) {
		printf("%s: G1 %d G2 %d\n", r[i].name, r[i].got[0], r[i].got[1]);
		close(r[i].fd);
	}
	printf("recv ok\n");
	return 0;
}

/* One process: a receiver joined to G and a sender to G; with IP_MULTICAST_LOOP on
 * the receiver gets every datagram (source: our address), off: none. */
static int loop(uint32_t g, int port, int n, uint32_t ifaddr)
{
	static uint8_t buf[MAXDG + 1];
	int rx = mc_socket(), tx = socket(AF_INET, SOCK_DGRAM, 0);
	struct ip_mreq m = { .imr_multiaddr.s_addr = g, .imr_interface.s_addr = ifaddr };
	struct in_addr ia = { ifaddr };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = g };

	bind_to(rx, 0, port);
	if (setsockopt(rx, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m)) < 0)
		die("join");
	if (setsockopt(tx, IPPROTO_IP, IP_MULTICAST_IF, &ia, sizeof(ia)) < 0)
		die("IP_MULTICAST_IF");
	for (int on = 1; on >= 0; on--) {
		int got = 0;
		if (setsockopt(tx, IPPROTO_IP, IP_MULTICAST_LOOP, &on, sizeof(on)) < 0)
			die("IP_MULTICAST_LOOP");
		for (int k = 0; k < n; k++) {
			unsigned len = fill(buf, 0, (unsigned)k);
			uint64_t t0 = now_ms();
			if (sendto(tx, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)len)
				die("sendto");
			if (on && !k)
				printf("first send took %llu ms\n", (unsigned long long)(now_ms() - t0));
		}
		uint64_t end = now_ms() + 500;
		while (now_ms() < end) {
			struct pollfd pf = { rx, POLLIN, 0 };
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			if (poll(&pf, 1, 20) <= 0)
				continue;
			ssize_t len = recvfrom(rx, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
			if (len < 0)
				continue;
			if (check(buf, len, 0) != got || from.sin_addr.s_addr != ifaddr) {
				printf("FAIL loop %d: datagram %d wrong (from %s)\n", on, got, inet_ntoa(from.sin_addr));
				return 1;
			}
			got++;
		}
		printf("loop %d: got %d of %d\n", on, got, n);
		if (got != (on ? n : 0))
			return 1;
	}
	printf("loop ok\n");
	return 0;
}

static void try_opt(int fd, const char *what, int name, const void *v, socklen_t len)
{
	int r = setsockopt(fd, IPPROTO_IP, name, v, len);
	printf("%s: %s\n", what, r < 0 ? strerror(errno) : "ok");
}

static void show(int fd)
{
	int v = -1;
	unsigned char c = 0;
	struct in_addr a = { 0 };
	socklen_t l = sizeof(v);
	getsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &v, &l);
	printf("ttl %d len %u", v, (unsigned)l);
	l = 1;
	getsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &c, &l);
	printf(" ttl(byte) %u", c);
	l = sizeof(v);
	getsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &v, &l);
	printf(" loop %d", v);
	l = sizeof(v);
	getsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &v, &l);
	printf(" all %d", v);
	l = sizeof(a);
	getsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &a, &l);
	printf(" if %s\n", inet_ntoa(a));
}

static int errors(uint32_t ifaddr)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), v;
	struct ip_mreq m = { .imr_multiaddr.s_addr = ip("239.9.9.9"), .imr_interface.s_addr = ifaddr };
	struct ip_mreqn mn = { .imr_multiaddr.s_addr = ip("239.9.9.9"), .imr_ifindex = 9999 };
	struct ip_mreq bad = { .imr_multiaddr.s_addr = ip("198.18.0.77"), .imr_interface.s_addr = ifaddr };
	struct ip_mreq lo = { .imr_multiaddr.s_addr = ip("239.9.9.10"), .imr_interface.s_addr = ip("127.0.0.1") };

	bind_to(fd, 0, 9000);
	show(fd);
	try_opt(fd, "join unicast", IP_ADD_MEMBERSHIP, &bad, sizeof(bad));
	try_opt(fd, "join short", IP_ADD_MEMBERSHIP, &m, 4);
	try_opt(fd, "join no such interface", IP_ADD_MEMBERSHIP, &mn, sizeof(mn));
	try_opt(fd, "leave not joined", IP_DROP_MEMBERSHIP, &m, sizeof(m));
	try_opt(fd, "join", IP_ADD_MEMBERSHIP, &m, sizeof(m));
	try_opt(fd, "join again", IP_ADD_MEMBERSHIP, &m, sizeof(m));
	try_opt(fd, "join on lo", IP_ADD_MEMBERSHIP, &lo, sizeof(lo));
	try_opt(fd, "leave", IP_DROP_MEMBERSHIP, &m, sizeof(m));
	try_opt(fd, "leave again", IP_DROP_MEMBERSHIP, &m, sizeof(m));
	v = 300;
	try_opt(fd, "ttl 300", IP_MULTICAST_TTL, &v, sizeof(v));
	v = 7;
	try_opt(fd, "ttl 7", IP_MULTICAST_TTL, &v, sizeof(v));
	v = 0;
	try_opt(fd, "loop 0", IP_MULTICAST_LOOP, &v, sizeof(v));
	try_opt(fd, "all 0", IP_MULTICAST_ALL, &v, sizeof(v));
	struct in_addr ia = { ifaddr };
	try_opt(fd, "if addr", IP_MULTICAST_IF, &ia, sizeof(ia));
	show(fd);
	struct in_addr nope = { ip("198.18.0.99") };
	try_opt(fd, "if unknown addr", IP_MULTICAST_IF, &nope, sizeof(nope));
	show(fd);
	return 0;
}

/* One socket joined to two groups, held open for the stats reader. */
static int hold(uint32_t g1, uint32_t g2, int port, uint32_t ifaddr, int secs)
{
	int fd = mc_socket();
	struct ip_mreq m1 = { .imr_multiaddr.s_addr = g1, .imr_interface.s_addr = ifaddr };
	struct ip_mreq m2 = { .imr_multiaddr.s_addr = g2, .imr_interface.s_addr = ifaddr };

	bind_to(fd, 0, port);
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m1, sizeof(m1)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m2, sizeof(m2)) < 0)
		die("join");
	printf("holding\n");
	sleep((unsigned)secs);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 8 && !strcmp(argv[1], "send")) {
		uint32_t g[2] = { ip(argv[2]), ip(argv[3]) };
		return sender(g, atoi(argv[4]), atoi(argv[5]), ip(argv[6]), argv[7]);
	}
	if (argc >= 8 && !strcmp(argv[1], "recv")) {
		uint32_t g[2] = { ip(argv[2]), ip(argv[3]) };
		return receiver(g, atoi(argv[4]), atoi(argv[5]), ip(argv[6]), argv[7]);
	}
	if (argc >= 6 && !strcmp(argv[1], "loop"))
		return loop(ip(argv[2]), atoi(argv[3]), atoi(argv[4]), ip(argv[5]));
	if (argc >= 7 && !strcmp(argv[1], "hold"))
		return hold(ip(argv[2]), ip(argv[3]), atoi(argv[4]), ip(argv[5]), atoi(argv[6]));
	if (argc >= 3 && !strcmp(argv[1], "errors"))
		return errors(ip(argv[2]));
	fprintf(stderr, "usage: see the head of mcast_peer.c\n");
	return 2;
}
