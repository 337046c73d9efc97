/* tcp_harness.c — the fake wire and fake clock behind the TCP behaviour tests: two
 * engine instances exchange segments through an in-memory queue with programmable
 * faults, and time moves only when the harness jumps to the next due packet or timer. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_harness.h"
#include "core/log.h"
#include "net/proto/tcp.h"

uint32_t th_addr(int side)
{
	return htonl(side == TH_A ? 0x0a000001 : 0x0a000002);
}

static uint64_t rng_next(struct th *th)
{
	/* xorshift64*: small, seeded, repeatable */
	th->rng ^= th->rng >> 12;
	th->rng ^= th->rng << 25;
	th->rng ^= th->rng >> 27;
	return th->rng * 0x2545F4914F6CDD1DULL;
}

static bool chance(struct th *th, double p)
{
	if (p <= 0)
		return false;
	return (double)(rng_next(th) >> 11) / (double)(1ULL << 53) < p;
}

void th_seed(struct th *th, uint64_t seed)
{
	th->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t clock_now(void *ctx)
{
	struct th_side *s = ctx;

	return s->th->now;
}

static void log_seg(struct th *th, int from, const uint8_t *hdr, size_t hlen, size_t plen,
		    struct th_seg *out)
{
	const struct tcp_hdr *h = (const struct tcp_hdr *)hdr;
	size_t olen = hlen > TCP_HDR_LEN ? hlen - TCP_HDR_LEN : 0;
	const uint8_t *o = hdr + TCP_HDR_LEN;

	memset(out, 0, sizeof(*out));
	out->from = from;
	out->idx = th->side[from].sent;
	out->t_us = th->now;
	out->flags = h->flags;
	out->seq = ntohl(h->seq);
	out->ack = ntohl(h->ack);
	out->wnd = ntohs(h->wnd);
	out->len = (uint32_t)plen;
	for (size_t i = 0; i < olen;) {
		uint8_t k = o[i];

		if (k == TCPOPT_EOL)
			break;
		if (k == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= olen || o[i + 1] < 2)
			break;
		switch (k) {
		case TCPOPT_MSS:
			out->has_mss = true;
			out->mss = (uint16_t)(o[i + 2] << 8 | o[i + 3]);
			break;
		case TCPOPT_WSCALE:
			out->has_ws = true;
			out->ws = o[i + 2];
			break;
		case TCPOPT_SACK_PERM:
			out->sack_ok = true;
			break;
		case TCPOPT_TIMESTAMP:
			out->has_ts = true;
			memcpy(&out->tsval, o + i + 2, 4);
			memcpy(&out->tsecr, o + i + 6, 4);
			out->tsval = ntohl(out->tsval);
			out->tsecr = ntohl(out->tsecr);
			break;
		case TCPOPT_SACK:
			for (int b = 0; b < (o[i + 1] - 2) / 8 && b < 4; b++) {
				uint32_t l, r;

				memcpy(&l, o + i + 2 + 8 * b, 4);
				memcpy(&r, o + i + 6 + 8 * b, 4);
				out->sack[b][0] = ntohl(l);
				out->sack[b][1] = ntohl(r);
				out->nsack++;
			}
			break;
		}
		i += o[i + 1];
	}
}

static void wire_push(struct th *th, int from, const uint8_t *buf, size_t len, uint64_t at)
{
	struct th_pkt *p = malloc(sizeof(*p) + len), **pp;

	if (!p)
		abort();
	p->from = from;
	p->at = at;
	p->order = th->order++;
	p->len = len;
	memcpy(p->data, buf, len);
	/* Nearly every packet goes to the end: keep that O(1). */
	if (!th->wire || th->wire_tail->at <= at) {
		p->next = NULL;
		if (th->wire)
			th->wire_tail->next = p;
		else
			th->wire = p;
		th->wire_tail = p;
		return;
	}
	for (pp = &th->wire; *pp && (*pp)->at <= at; pp = &(*pp)->next)
		;
	p->next = *pp;
	*pp = p;
}

static bool rule_drops(struct th *th, const struct th_seg *s)
{
	for (int i = 0; i < th->nrules; i++) {
		struct th_rule *r = &th->rules[i];

		if (r->from >= 0 && r->from != s->from)
			continue;
		if ((s->flags & r->mask) != r->val)
			continue;
		if (r->data == 1 && !s->len)
			continue;
		if (r->data == 0 && s->len)
			continue;
		if (r->skip > 0) {
			r->skip--;
			continue;
		}
		if (r->count == 0)
			continue;
		if (r->count > 0)
			r->count--;
		return true;
	}
	return false;
}

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len);

/* Checks a segment's checksum with a plain RFC 1071 sum, independent of the engine's
 * own code, so a checksum both stacks got wrong the same way cannot go unnoticed. */
static bool wire_csum_ok(int from, const uint8_t *seg, size_t len)
{
	uint32_t saddr = th_addr(from), daddr = th_addr(!from), sum;
	uint16_t tl = htons((uint16_t)len);
	uint8_t ph[12];

	memcpy(ph, &saddr, 4);
	memcpy(ph + 4, &daddr, 4);
	ph[8] = 0;
	ph[9] = 6;
	memcpy(ph + 10, &tl, 2);
	sum = sum16(sum16(0, ph, 12), seg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static void on_output(void *ctx, const struct tcp_out_pkt *pkt)
{
	struct th_side *side = ctx;
	struct th *th = side->th;
	uint8_t buf[70000];
	size_t len = pkt->hdr_len + pkt->payload_len;
	struct th_seg seg, *ls = &seg;
	bool drop = false;
	uint64_t at = th->now + th->delay_us;

	if (len > sizeof(buf))
		abort();
	memcpy(buf, pkt->hdr, pkt->hdr_len);
	if (pkt->payload_len)
		memcpy(buf + pkt->hdr_len, pkt->payload, pkt->payload_len);
	if (pkt->saddr != side->addr || pkt->daddr != th_addr(!side->id) ||
	    !wire_csum_ok(side->id, buf, len)) {
		fprintf(stderr, "side %c emitted a segment with bad addresses or checksum\n",
			'A' + side->id);
		abort();
	}
	if (th->nlog < TH_LOG_MAX)
		ls = &th->log[th->nlog++];
	log_seg(th, side->id, pkt->hdr, pkt->hdr_len, pkt->payload_len, ls);
	for (int i = 0; i < th->ndrop_idx[side->id]; i++)
		if (th->drop_idx[side->id][i] == side->sent)
			drop = true;
	side->sent++;
	if (th->blackhole[side->id] || rule_drops(th, ls) ||
	    (th->drop_pred && th->drop_pred(ls, th->drop_arg)) || chance(th, th->loss))
		drop = true;
	if (drop) {
		ls->dropped = true;
		th->dropped++;
		return;
	}
	if (chance(th, th->corrupt)) {
		buf[rng_next(th) % len] ^= (uint8_t)(1u << (rng_next(th) % 8));
		th->corrupted++;
	}
	if (chance(th, th->reorder)) {
		at += th->reorder_us;
		th->reordered++;
	}
	wire_push(th, side->id, buf, len, at);
	if (chance(th, th->dup)) {
		wire_push(th, side->id, buf, len, at);
		th->duplicated++;
	}
}

static void on_event(void *ctx, struct tcp_conn *c, unsigned ev)
{
	struct th_side *side = ctx;

	side->events |= ev;
	side->ev_count++;
	side->last_ev_conn = c;
}

void th_config(struct tcp_config *cfg)
{
	tcp_config_default(cfg);
	cfg->msl_us = 1000000;		/* TIME_WAIT 2 s of fake time */
	cfg->fin_timeout_us = 5000000;
}

struct th *th_new(const struct tcp_config *cfg_a, const struct tcp_config *cfg_b)
{
	return th_new_keyed(cfg_a, cfg_b, NULL, NULL);
}

struct th *th_new_keyed(const struct tcp_config *cfg_a, const struct tcp_config *cfg_b,
			const uint8_t *secret_a, const uint8_t *secret_b)
{
	struct th *th = calloc(1, sizeof(*th));
	static const struct tcp_stack_ops ops = {
		.output = on_output, .event = on_event, .now_us = clock_now,
	};
	struct tcp_config def;

	if (!th)
		abort();
	if (getenv("TCP_HARNESS_LOG"))	/* e.g. 5: every state change of the engine */
		log_set_level(atoi(getenv("TCP_HARNESS_LOG")));
	th->log = calloc(TH_LOG_MAX, sizeof(*th->log));
	if (!th->log)
		abort();
	th->now = 1000000;
	th->delay_us = 500;
	th->reorder_us = 3000;
	th_seed(th, 1);
	th_config(&def);
	for (int i = 0; i < 2; i++) {
		const struct tcp_config *cfg = i == TH_A ? cfg_a : cfg_b;
		uint8_t secret[16];

		memset(secret, 0x11 * (i + 1), sizeof(secret));
		if (i == TH_A && secret_a)
			memcpy(secret, secret_a, sizeof(secret));
		if (i == TH_B && secret_b)
			memcpy(secret, secret_b, sizeof(secret));
		th->side[i].th = th;
		th->side[i].id = i;
		th->side[i].addr = th_addr(i);
		th->side[i].st = tcp_stack_create(cfg ? cfg : &def, &ops, &th->side[i], secret);
		if (!th->side[i].st)
			abort();
	}
	return th;
}

bool th_idle(const struct th *th)
{
	return !th->wire && tcp_next_deadline(th->side[0].st) == UINT64_MAX &&
	       tcp_next_deadline(th->side[1].st) == UINT64_MAX;
}

size_t th_in_flight(const struct th *th)
{
	size_t n = 0;

	for (struct th_pkt *p = th->wire; p; p = p->next)
		n++;
	return n;
}

static uint64_t next_event(const struct th *th)
{
	uint64_t t = UINT64_MAX;

	if (th->wire)
		t = th->wire->at;
	for (int i = 0; i < 2; i++) {
		uint64_t d = tcp_next_deadline(th->side[i].st);

		if (d < t)
			t = d;
	}
	return t;
}

/* Delivers everything due at th->now and runs due timers. */
static void process_now(struct th *th)
{
	struct th_pkt *p;

	while ((p = th->wire) && p->at <= th->now) {
		int to = !p->from;

		th->wire = p->next;
		th->delivered++;
		tcp_input(th->side[to].st, th->side[p->from].addr, th->side[to].addr, p->data,
			  p->len);
		free(p);
	}
	tcp_tick(th->side[0].st);
	tcp_tick(th->side[1].st);
}

void th_advance(struct th *th, uint64_t us)
{
	uint64_t end = th->now + us;

	for (;;) {
		uint64_t t = next_event(th);

		if (t > end)
			break;
		if (t > th->now)
			th->now = t;
		process_now(th);
	}
	th->now = end;
	process_now(th);
}

bool th_run_until(struct th *th, bool (*cond)(void *arg), void *arg, uint64_t max_us)
{
	uint64_t end = th->now + max_us;

	process_now(th);
	while (!(cond && cond(arg))) {
		uint64_t t = next_event(th);

		if (t == UINT64_MAX || t > end)
			break;
		if (t > th->now)
			th->now = t;
		process_now(th);
	}
	return cond ? cond(arg) : th_idle(th);
}

void th_run(struct th *th, uint64_t max_us)
{
	th_run_until(th, NULL, NULL, max_us);
}

void th_drop_nth(struct th *th, int from, uint64_t idx)
{
	if (th->ndrop_idx[from] < 64)
		th->drop_idx[from][th->ndrop_idx[from]++] = idx;
}

void th_drop_rule(struct th *th, int from, uint8_t mask, uint8_t val, int data, int skip,
		  int count)
{
	struct th_rule *r;

	if (th->nrules >= TH_MAX_RULES)
		abort();
	r = &th->rules[th->nrules++];
	r->from = from;
	r->mask = mask;
	r->val = val;
	r->data = data;
	r->skip = skip;
	r->count = count;
}

int th_listen(struct th *th, int side, uint16_t port, int backlog, struct tcp_conn **out)
{
	int err = tcp_conn_create(th->side[side].st, out);

	if (!err)
		err = tcp_bind(*out, th->side[side].addr, htons(port));
	if (!err)
		err = tcp_listen(*out, backlog);
	return err;
}

int th_connect(struct th *th, int side, uint16_t port, struct tcp_conn **out)
{
	int err = tcp_conn_create(th->side[side].st, out);

	if (!err)
		err = tcp_bind(*out, th->side[side].addr, 0);
	if (!err)
		err = tcp_connect(*out, th->side[!side].addr, htons(port));
	return err;
}

int th_establish(struct th *th, uint16_t port, struct tcp_conn **client,
		 struct tcp_conn **server, struct tcp_conn **listener)
{
	int err;

	if (!*listener) {
		err = th_listen(th, TH_B, port, 16, listener);
		if (err)
			return err;
	}
	err = th_connect(th, TH_A, port, client);
	if (err)
		return err;
	th_advance(th, 100000);
	if (tcp_state(*client) != TCP_ST_ESTABLISHED)
		return -ETIMEDOUT;
	return tcp_accept(*listener, server);
}

/* The transfer pattern repeats with a prime period, so a byte that lands at the wrong
 * offset (lost, duplicated or misordered data) is caught; a doubled table makes every
 * window of up to PATTERN_PERIOD bytes contiguous for memcpy/memcmp. */
#define PATTERN_PERIOD 65521
static uint8_t pattern_tab[2 * PATTERN_PERIOD];

static const uint8_t *pattern_at(size_t offset)
{
	if (!pattern_tab[0])
		for (size_t i = 0; i < sizeof(pattern_tab); i++)
			pattern_tab[i] = (uint8_t)((i % PATTERN_PERIOD) * 7 +
						   ((i % PATTERN_PERIOD) >> 8) * 13 + 1);
	return pattern_tab + offset % PATTERN_PERIOD;
}

long th_transfer(struct th *th, struct tcp_conn *src, struct tcp_conn *dst, size_t nbytes,
		 uint64_t max_us)
{
	static uint8_t buf[PATTERN_PERIOD];
	size_t sent = 0, got = 0;
	uint64_t end = th->now + max_us;

	while (got < nbytes && th->now < end) {
		while (sent < nbytes) {
			size_t n = nbytes - sent > PATTERN_PERIOD ? PATTERN_PERIOD : nbytes - sent;
			ssize_t r = tcp_send(src, pattern_at(sent), n, 0);

			if (r <= 0)
				break;
			sent += (size_t)r;
		}
		for (;;) {
			ssize_t r = tcp_recv(dst, buf, sizeof(buf), 0);

			if (r <= 0)
				break;
			if (memcmp(buf, pattern_at(got), (size_t)r))
				return -1;
			got += (size_t)r;
		}
		if (got >= nbytes)
			break;
		{
			uint64_t t = next_event(th);

			if (t == UINT64_MAX)
				break;
			th->now = t > th->now ? t : th->now;
			process_now(th);
		}
	}
	return (long)got;
}

size_t th_drain(struct tcp_conn *c, void *buf, size_t cap)
{
	size_t got = 0;

	for (;;) {
		ssize_t r = tcp_recv(c, (uint8_t *)buf + got, cap - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == cap)
			break;
	}
	return got;
}

size_t th_count(const struct th *th, int from, uint8_t mask, uint8_t val)
{
	size_t n = 0;

	for (size_t i = 0; i < th->nlog; i++)
		if ((from < 0 || th->log[i].from == from) && (th->log[i].flags & mask) == val)
			n++;
	return n;
}

size_t th_count_data(const struct th *th, int from)
{
	size_t n = 0;

	for (size_t i = 0; i < th->nlog; i++)
		if ((from < 0 || th->log[i].from == from) && th->log[i].len)
			n++;
	return n;
}

const struct th_seg *th_find(const struct th *th, int from, uint8_t mask, uint8_t val,
			     size_t nth)
{
	for (size_t i = 0; i < th->nlog; i++)
		if ((from < 0 || th->log[i].from == from) && (th->log[i].flags & mask) == val &&
		    nth-- == 0)
			return &th->log[i];
	return NULL;
}

const struct th_seg *th_last(const struct th *th, int from)
{
	for (size_t i = th->nlog; i-- > 0;)
		if (from < 0 || th->log[i].from == from)
			return &th->log[i];
	return NULL;
}

long th_finish(struct th *th)
{
	long leaked = 0;

	/* Faults off: let closing handshakes and TIME_WAIT run out. */
	th->loss = th->dup = th->reorder = th->corrupt = 0;
	th->nrules = 0;
	th->drop_pred = NULL;
	th->ndrop_idx[0] = th->ndrop_idx[1] = 0;
	th->blackhole[0] = th->blackhole[1] = false;
	th_run(th, 600ull * 1000000);
	for (int i = 0; i < 2; i++) {
		long conns, bufs;

		tcp_stack_live(th->side[i].st, &conns, &bufs);
		if (conns || bufs)
			fprintf(stderr, "side %c leaked %ld connections, %ld buffers\n",
				'A' + i, conns, bufs);
		leaked += conns + bufs;
		tcp_stack_destroy(th->side[i].st);
	}
	while (th->wire) {
		struct th_pkt *p = th->wire;

		th->wire = p->next;
		free(p);
	}
	free(th->log);
	free(th);
	return leaked;
}

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)(p[0] << 8);
	return sum;
}

void th_fix_csum(int from, uint8_t *seg, size_t len)
{
	struct tcp_hdr *h = (struct tcp_hdr *)seg;
	uint32_t saddr = th_addr(from), daddr = th_addr(!from), sum;
	uint16_t tl = htons((uint16_t)len);
	uint8_t ph[12];

	memcpy(ph, &saddr, 4);
	memcpy(ph + 4, &daddr, 4);
	ph[8] = 0;
	ph[9] = 6;
	memcpy(ph + 10, &tl, 2);
	h->csum = 0;
	sum = sum16(sum16(0, ph, 12), seg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	h->csum = htons((uint16_t)~sum);
}

uint64_t th_random(struct th *th)
{
	return rng_next(th);
}

int th_inject(struct th *th, int from, uint16_t sport, uint16_t dport, uint8_t flags,
	      uint32_t seq, uint32_t ack, uint16_t wnd, const void *data, size_t len,
	      const uint32_t *ts)
{
	uint8_t buf[2048];
	struct tcp_hdr *h = (struct tcp_hdr *)buf;
	size_t hlen = TCP_HDR_LEN + (ts ? 12 : 0);
	uint32_t saddr = th_addr(from), daddr = th_addr(!from);

	if (hlen + len > sizeof(buf))
		return -EMSGSIZE;

	memset(buf, 0, hlen);
	h->sport = htons(sport);
	h->dport = htons(dport);
	h->seq = htonl(seq);
	h->ack = htonl(ack);
	h->doff_rsvd = (uint8_t)((hlen / 4) << 4);
	h->flags = flags;
	h->wnd = htons(wnd);
	if (ts) {
		uint32_t v = htonl(ts[0]), e = htonl(ts[1]);

		buf[20] = TCPOPT_NOP;
		buf[21] = TCPOPT_NOP;
		buf[22] = TCPOPT_TIMESTAMP;
		buf[23] = TCPOLEN_TIMESTAMP;
		memcpy(buf + 24, &v, 4);
		memcpy(buf + 28, &e, 4);
	}
	if (len)
		memcpy(buf + hlen, data, len);
	th_fix_csum(from, buf, hlen + len);
	return tcp_input(th->side[!from].st, saddr, daddr, buf, hlen + len);
}

struct th *th_setup(const struct tcp_config *a, const struct tcp_config *b,
		    struct tcp_conn **cl, struct tcp_conn **sv, struct tcp_conn **ls)
{
	struct th *th = th_new(a, b);

	*cl = *sv = *ls = NULL;
	if (th_establish(th, 80, cl, sv, ls)) {
		th_finish(th);
		return NULL;
	}
	return th;
}

long th_teardown(struct th *th, struct tcp_conn *cl, struct tcp_conn *sv, struct tcp_conn *ls)
{
	if (cl)
		tcp_close(cl);
	if (sv)
		tcp_close(sv);
	if (ls)
		tcp_close(ls);
	return th_finish(th);
}

int th_run_suite(struct Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
