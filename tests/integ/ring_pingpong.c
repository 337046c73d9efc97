/* ring_pingpong.c — drives one ring directly, without sockets: attaches a UDP flow on
 * an interface, builds Ethernet/IPv4/UDP frames in place in the ring's TX buffers and
 * exchanges datagrams with a peer (a kernel socket or another ring_pingpong).
 *   echo:  send every datagram of the flow back to its sender
 *   check: send N datagrams of random sizes and random bytes, expect each echoed
 *   lat:   ping-pong for S seconds, print half-RTT percentiles
 *   flood: send numbered datagrams for S seconds; sink: count them, report the rate
 *   alloc: rings from the registry under an allocation logic (-L), then released
 * -F takes the ring from the registry and forks a child that exits at once.
 * -H (echo) keeps every received packet and frees them after the ring is closed.
 * -S publishes the ring in a stats segment ($SHIM_STATS_SHMEM_DIR or /dev/shm).
 * RX_WRE and BATCH in the environment override the fill ring size and poll batch.
 * Ring counters are printed at the end as "ring.NAME=VALUE" lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/stats.h"
#include "ring/ring.h"

struct opts {
	const char *ifname, *mode;
	uint8_t peer_mac[6];
	uint32_t lip, pip;	/* network order */
	uint16_t lport, pport;	/* network order */
	long count;
	double seconds;
	unsigned size;
	int queues;
	int xdp_mode, zerocopy, logic;
	bool block, fork, stats, hold;
};

static volatile sig_atomic_t stop;
static struct shim_pkt *held;	/* -H: received packets freed after the ring closed */
static struct shim_pkt *rxq_head, **rxq_tail = &rxq_head;
static unsigned rxq_len;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Flow sink: takes the packet, queues it for the main loop. */
static void sink(void *ctx, struct shim_pkt *p)
{
	(void)ctx;
	p->next = NULL;
	*rxq_tail = p;
	rxq_tail = &p->next;
	rxq_len++;
}

/* IP fragments (no reassembler here): counted by the ring, dropped. */
static void frag_drop(void *ctx, struct shim_pkt *p)
{
	(void)ctx;
	pkt_free(p);
}

static struct shim_pkt *rxq_pop(void)
{
	struct shim_pkt *p = rxq_head;

	if (p) {
		rxq_head = p->next;
		if (!rxq_head)
			rxq_tail = &rxq_head;
		rxq_len--;
	}
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Build Ethernet + IPv4 + UDP around payload in a TX buffer; returns frame length. */
static uint32_t build(struct ring *r, const struct opts *o, uint8_t *f, const void *pay,
		      uint32_t plen, uint32_t dip, uint16_t dport, const uint8_t *dmac)
{
	static uint16_t ip_id;
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint32_t sum;
	uint16_t v;

	memcpy(f, dmac, 6);
	memcpy(f + 6, ring_mac(r), 6);
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = 0;
	v = htons((uint16_t)(20 + 8 + plen));
	memcpy(ip + 2, &v, 2);
	v = htons(ip_id++);
	memcpy(ip + 4, &v, 2);
	ip[6] = 0x40;	/* DF */
	ip[7] = 0;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	ip[10] = ip[11] = 0;
	memcpy(ip + 12, &o->lip, 4);
	memcpy(ip + 16, &dip, 4);
	v = htons(csum_fold(csum_add(0, ip, 20)));
	memcpy(ip + 10, &v, 2);
	memcpy(udp, &o->lport, 2);
	memcpy(udp + 2, &dport, 2);
	v = htons((uint16_t)(8 + plen));
	memcpy(udp + 4, &v, 2);
	udp[6] = udp[7] = 0;
	memcpy(udp + 8, pay, plen);
	/* Pseudo header, then header and payload. */
	sum = csum_add(0, ip + 12, 8);
	sum += IPPROTO_UDP + 8 + plen;
	sum = csum_add(sum, udp, 8 + plen);
	v = csum_fold(sum);
	v = htons(v ? v : 0xffff);
	memcpy(udp + 6, &v, 2);
	return 14 + 20 + 8 + plen;
}

static int send_one(struct ring *r, const struct opts *o, const void *pay, uint32_t plen,
		    uint32_t dip, uint16_t dport, const uint8_t *dmac)
{
	struct shim_pkt *p;
	unsigned n;

	for (int tries = 0; tries < 100000; tries++) {
		ring_tx_lock(r);
		n = ring_tx_alloc(r, &p, 1);
		if (n == 1) {
			p->len = build(r, o, p->data, pay, plen, dip, dport, dmac);
			n = ring_tx_send(r, &p, 1);
			ring_tx_unlock(r);
			return n == 1 ? 0 : -ENOBUFS;
		}
		ring_tx_reap(r);
		ring_tx_unlock(r);
	}
	return -ENOBUFS;
}

/* Wait for one datagram: busy poll, or sleep on the wake fd with -b. */
static struct shim_pkt *recv_one(struct ring *r, const struct opts *o, uint64_t deadline)
{
	struct shim_pkt *p;

	while (!(p = rxq_pop())) {
		if (stop || now_ns() > deadline)
			return NULL;
		if (ring_poll(r, 0) > 0 || !o->block)
			continue;
		if (ring_arm(r) == 0) {
			struct pollfd pfd = { .fd = r->wake_fd, .events = POLLIN };

			if (poll(&pfd, 1, 100) > 0)
				ring_woken(r);
		}
	}
	return p;
}

static const uint8_t *udp_payload(const struct shim_pkt *p, uint32_t *len)
{
	const uint8_t *udp = p->data + p->l4_off;
	uint16_t ulen = (uint16_t)(udp[4] << 8 | udp[5]);

	*len = ulen >= 8 ? ulen - 8u : 0;
	return udp + 8;
}

static int do_echo(struct ring *r, const struct opts *o)
{
	long n = 0;

	while (!stop && (o->count <= 0 || n < o->count)) {
		struct shim_pkt *p = recv_one(r, o, UINT64_MAX);
		const uint8_t *ip, *udp, *pay;
		uint32_t plen, sip;
		uint16_t sport;
		uint8_t smac[6];

		if (!p)
			break;
		ip = p->data + p->l3_off;
		udp = p->data + p->l4_off;
		memcpy(&sip, ip + 12, 4);
		memcpy(&sport, udp, 2);
		memcpy(smac, p->data + 6, 6);
		pay = udp_payload(p, &plen);
		send_one(r, o, pay, plen, sip, sport, smac);
		if (o->hold) {	/* keep it past ring_close() */
			p->next = held;
			held = p;
		} else {
			pkt_free(p);
		}
		n++;
	}
	fprintf(stderr, "echoed %ld datagrams\n", n);
	return 0;
}

static int do_check(struct ring *r, const struct opts *o)
{
	static uint8_t buf[2048];
	uint32_t maxp = r->mtu - 28;
	long bad = 0, lost = 0;

	if (maxp > 1472)
		maxp = 1472;
	srand((unsigned)getpid());
	for (long i = 0; i < o->count && !stop; i++) {
		uint32_t len = i == 0 ? 0 : (i == 1 ? maxp : (uint32_t)rand() % (maxp + 1));
		struct shim_pkt *p;
		const uint8_t *pay;
		uint32_t plen;

		for (uint32_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rand();
		if (send_one(r, o, buf, len, o->pip, o->pport, o->peer_mac) < 0) {
			fprintf(stderr, "send %ld failed\n", i);
			return 1;
		}
		p = recv_one(r, o, now_ns() + 1000000000ull);
		if (!p) {
			lost++;
			continue;
		}
		pay = udp_payload(p, &plen);
		if (plen != len || memcmp(pay, buf, len) != 0) {
			fprintf(stderr, "datagram %ld: sent %u bytes, got %u back, %s\n", i, len,
				plen, plen == len ? "contents differ" : "length differs");
			bad++;
		}
		pkt_free(p);
	}
	printf("check: %ld datagrams, %ld lost, %ld corrupt\n", o->count, lost, bad);
	return bad || lost ? 1 : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Send numbered datagrams for o->seconds, 32 frames per kick. */
static int do_flood(struct ring *r, const struct opts *o)
{
	uint8_t pay[2048];
	uint64_t seq = 0, end = now_ns() + (uint64_t)(o->seconds * 1e9);
	struct shim_pkt *v[32];

	memset(pay, 0x5a, sizeof(pay));
	while (!stop && now_ns() < end) {
		unsigned n;

		ring_tx_lock(r);
		n = ring_tx_alloc(r, v, 32);
		for (unsigned i = 0; i < n; i++) {
			memcpy(pay, &seq, sizeof(seq));
			seq++;
			v[i]->len = build(r, o, v[i]->data, pay, o->size, o->pip, o->pport,
					  o->peer_mac);
		}
		ring_tx_send(r, v, n);
		if (n < 32)
			ring_tx_reap(r);
		ring_tx_unlock(r);
		if (n < 32)
			ring_poll(r, 0);	/* reaps completions too */
	}
	printf("flood: sent %llu datagrams in %.1f s: %.0f/s\n", (unsigned long long)seq,
	       o->seconds, seq / o->seconds);
	return 0;
}

/* Count numbered datagrams until none arrives for a second; report the rate. */
static int do_sink(struct ring *r, const struct opts *o)
{
	uint64_t got = 0, maxseq = 0, first = 0, last = 0;

	while (!stop) {
		struct shim_pkt *p = recv_one(r, o, now_ns() + (got ? 1000000000ull : 30000000000ull));
		const uint8_t *pay;
		uint32_t plen;
		uint64_t seq = 0;

		if (!p)
			break;
		last = now_ns();
		if (!got)
			first = last;
		pay = udp_payload(p, &plen);
		if (plen >= sizeof(seq))
			memcpy(&seq, pay, sizeof(seq));
		if (seq + 1 > maxseq)
			maxseq = seq + 1;
		got++;
		pkt_free(p);
	}
	printf("sink: received %llu of %llu datagrams (%.2f%% lost), %.0f/s\n",
	       (unsigned long long)got, (unsigned long long)maxseq,
	       maxseq ? 100.0 * (double)(maxseq - got) / (double)maxseq : 0.0,
	       last > first ? got / ((last - first) / 1e9) : 0.0);
	return got ? 0 : 1;
}

static int do_lat(struct ring *r, const struct opts *o)
{
	size_t cap = 1 << 22, n = 0;
	uint64_t *rtt = malloc(cap * sizeof(*rtt)), end;
	uint8_t buf[2048];
	long lost = 0;

	if (!rtt)
		return 1;
	memset(buf, 0xa5, sizeof(buf));
	end = now_ns() + (uint64_t)(o->seconds * 1e9);
	while (!stop && now_ns() < end && n < cap) {
		uint64_t t0 = now_ns();
		struct shim_pkt *p;

		memcpy(buf, &t0, sizeof(t0));
		send_one(r, o, buf, o->size, o->pip, o->pport, o->peer_mac);
		p = recv_one(r, o, t0 + 100000000ull);
		if (!p) {
			lost++;
			continue;
		}
		rtt[n++] = now_ns() - t0;
		pkt_free(p);
	}
	if (!n) {
		printf("lat: no replies\n");
		return 1;
	}
	qsort(rtt, n, sizeof(*rtt), cmp_u64);
	printf("lat ring: n=%zu lost=%ld half-rtt_us p50=%.2f p99=%.2f p99.9=%.2f max=%.2f\n",
	       n, lost, rtt[n / 2] / 2e3, rtt[n * 99 / 100] / 2e3, rtt[n * 999 / 1000] / 2e3,
	       rtt[n - 1] / 2e3);
	free(rtt);
	return 0;
}

/* Registry: two sockets and the interface's ring(s) under allocation logic o->logic. */
static int do_alloc(int ifindex, const struct ring_config *base, const struct opts *o)
{
	struct ring_config cfg = *base;
	struct ring *a = NULL, *b = NULL, *t = NULL;
	int rc;

	cfg.logic_rx = o->logic;
	cfg.logic_tx = RING_LOGIC_PER_INTERFACE;
	ring_set_config(&cfg);
	rc = ring_get(ifindex, RING_RX, 10, &a);
	if (rc == 0)
		rc = ring_get(ifindex, RING_RX, 11, &b);
	if (rc == 0)
		rc = ring_get(ifindex, RING_TX, 10, &t);
	if (rc < 0) {
		printf("alloc: ring_get: %s\n", strerror(-rc));
		ring_put(a);
		ring_put(b);
		return 1;
	}
	printf("alloc: logic %d: socket rings %s, tx ring %s, refs %d\n", o->logic,
	       a == b ? "shared" : "distinct", t == a ? "shared" : "distinct", a->refcnt);
	ring_put(a);
	ring_put(b);
	ring_put(t);
	return 0;
}

static void print_stats(struct ring *r)
{
	struct ring_stats s;

	ring_get_stats(r, &s);
#define P(f) printf("ring.%s=%llu\n", #f, (unsigned long long)s.f)
	P(rx_packets); P(rx_bytes); P(rx_drops); P(rx_frags); P(tx_packets); P(tx_bytes); P(tx_drops);
	P(tx_completions); P(wakeups_requested); P(wakeups_received); P(fill_level);
	P(rx_polls); P(rx_empty_polls); P(k_rx_dropped); P(k_rx_ring_full); P(k_fill_empty);
#undef P
	fflush(stdout);
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ring_pingpong -i IF -s LOCAL_IP -l LPORT [-m PEER_MAC -d PEER_IP "
		"-p PPORT] [-n COUNT] [-t SECONDS] [-z SIZE] [-q QUEUES] [-b] [-5] "
		"[-M auto|native|generic] [-Z 0|1|2] [-L LOGIC] [-F] [-S] [-H] echo|check|lat|flood|sink|alloc\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .count = 1000, .seconds = 2, .size = 64, .zerocopy = 2 };
	struct ring_config cfg;
	struct ring_flow f = { .kind = RING_FLOW_3TUPLE, .proto = IPPROTO_UDP };
	struct ring *r;
	int c, ifindex, rc;
	bool five = false;

	while ((c = getopt(argc, argv, "i:s:l:m:d:p:n:t:z:q:b5M:Z:L:FSH")) != -1) {
		switch (c) {
		case 'i': o.ifname = optarg; break;
		case 's': inet_pton(AF_INET, optarg, &o.lip); break;
		case 'l': o.lport = htons((uint16_t)atoi(optarg)); break;
		case 'm': if (parse_mac(optarg, o.peer_mac) < 0) usage(); break;
		case 'd': inet_pton(AF_INET, optarg, &o.pip); break;
		case 'p': o.pport = htons((uint16_t)atoi(optarg)); break;
		case 'n': o.count = atol(optarg); break;
		case 't': o.seconds = atof(optarg); break;
		case 'z': o.size = (unsigned)atoi(optarg); break;
		case 'q': o.queues = atoi(optarg); break;
		case 'b': o.block = true; break;
		case '5': five = true; break;
		case 'M':
			o.xdp_mode = !strcmp(optarg, "native") ? RING_XDP_NATIVE :
				     !strcmp(optarg, "generic") ? RING_XDP_GENERIC : RING_XDP_AUTO;
			break;
		case 'Z': o.zerocopy = atoi(optarg); break;
		case 'L': o.logic = atoi(optarg); break;
		case 'F': o.fork = true; break;
		case 'S': o.stats = true; break;
		case 'H': o.hold = true; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || !o.ifname || !o.lip || !o.lport)
		usage();
	o.mode = argv[optind];
	if (o.size > 1472)
		o.size = 1472;
	ifindex = (int)if_nametoindex(o.ifname);
	if (!ifindex) {
		fprintf(stderr, "no interface %s\n", o.ifname);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (o.stats) {
		const char *dir = getenv("SHIM_STATS_SHMEM_DIR");
		struct stats_config sc = { .dir = dir && *dir ? dir : "/dev/shm", .fd_num = 16 };

		if (stats_init_with(&sc) < 0)
			return 1;
	}
	ring_config_default(&cfg);
	cfg.rx_bufs = 4096;
	cfg.tx_bufs = 1024;
	cfg.rx_wre = getenv("RX_WRE") ? (uint32_t)atoi(getenv("RX_WRE")) : 1024;
	cfg.batch = getenv("BATCH") ? (uint32_t)atoi(getenv("BATCH")) : 16;
	cfg.tx_wre = 512;
	if (o.queues)
		cfg.nqueues = o.queues;
	cfg.xdp_mode = o.xdp_mode;
	cfg.zerocopy = o.zerocopy;
	if (!strcmp(o.mode, "alloc"))
		return do_alloc(ifindex, &cfg, &o);
	if (o.fork) {	/* through the registry, whose fork handler the child runs */
		ring_set_config(&cfg);
		rc = ring_get(ifindex, RING_RX, 0, &r);
	} else {
		rc = ring_open(ifindex, &cfg, &r);
	}
	if (rc < 0) {
		fprintf(stderr, "ring_open(%s): %s\n", o.ifname, strerror(-rc));
		return rc == -EPERM || rc == -EOPNOTSUPP ? 77 : 1;
	}
	f.dst_ip = o.lip;
	f.dst_port = o.lport;
	if (five) {
		f.kind = RING_FLOW_5TUPLE;
		f.src_ip = o.pip;
		f.src_port = o.pport;
	}
	ring_set_frag_handler(frag_drop, NULL);
	rc = ring_flow_attach(r, &f, sink, NULL);
	if (rc < 0) {
		fprintf(stderr, "ring_flow_attach: %s\n", strerror(-rc));
		o.fork ? ring_put(r) : ring_close(r);
		return 1;
	}
	if (o.fork) {
		/* A child that inherits the ring and exits: the parent's steering, XSKs
		 * and link must survive it. */
		pid_t child = fork();

		if (child == 0)
			_exit(0);
		waitpid(child, NULL, 0);
	}
	printf("ready\n");
	if (!strcmp(o.mode, "echo"))
		rc = do_echo(r, &o);
	else if (!strcmp(o.mode, "check"))
		rc = do_check(r, &o);
	else if (!strcmp(o.mode, "lat"))
		rc = do_lat(r, &o);
	else if (!strcmp(o.mode, "flood"))
		rc = do_flood(r, &o);
	else if (!strcmp(o.mode, "sink"))
		rc = do_sink(r, &o);
	else
		usage();
	print_stats(r);
	ring_flow_detach(r, &f, sink, NULL);
	pkt_free_list(rxq_head);
	if (o.fork)
		ring_put(r);
	else
		ring_close(r);
	if (held) {
		pkt_free_list(held);
		printf("freed the held packets after close\n");
	}
	return rc;
}
