/* tcp_timer.c — per-connection timers as absolute deadlines on the stack's clock, kept
 * in a min-heap: retransmission (SYN, SYN-ACK, data with exponential backoff and
 * TCP_USER_TIMEOUT) doubling as the tail loss probe and zero-window persist timer,
 * delayed ACK, keepalive, TIME_WAIT / FIN_WAIT_2 expiry and the cork deadline.
 * tcp_tick() runs what expired; tcp_next_deadline() tells the owner how long to sleep. */
#include <errno.h>
#include <stdlib.h>

#include "net/tcp_priv.h"

/* The stack keeps connections with a pending timer in a binary min-heap keyed by their
 * earliest deadline, so tick and next-deadline cost O(log n) and O(1), not O(n). */
static bool heap_less(const struct tcp_stack *st, uint32_t a, uint32_t b)
{
	return st->theap[a]->tnext < st->theap[b]->tnext;
}

static void heap_swap(struct tcp_stack *st, uint32_t a, uint32_t b)
{
	struct tcp_conn *t = st->theap[a];

	st->theap[a] = st->theap[b];
	st->theap[b] = t;
	st->theap[a]->heap_idx = a;
	st->theap[b]->heap_idx = b;
}

static void heap_up(struct tcp_stack *st, uint32_t i)
{
	while (i && heap_less(st, i, (i - 1) / 2)) {
		heap_swap(st, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct tcp_stack *st, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < st->theap_len && heap_less(st, l, m))
			m = l;
		if (r < st->theap_len && heap_less(st, r, m))
			m = r;
		if (m == i)
			return;
		heap_swap(st, i, m);
		i = m;
	}
}

static void heap_remove(struct tcp_stack *st, struct tcp_conn *c)
{
	uint32_t i = c->heap_idx;

	c->heap_idx = TCP_NOT_IN_HEAP;
	if (--st->theap_len == i)
		return;
	st->theap[i] = st->theap[st->theap_len];
	st->theap[i]->heap_idx = i;
	heap_up(st, i);
	heap_down(st, st->theap[i]->heap_idx);
}

static void heap_insert(struct tcp_stack *st, struct tcp_conn *c)
{
	if (st->theap_len == st->theap_cap) {
		uint32_t cap = st->theap_cap ? 2 * st->theap_cap : 64;
		struct tcp_conn **h = realloc(st->theap, cap * sizeof(*h));

		if (!h)
			return;	/* the conn keeps tnext; heap_update retries on the next change */
		st->theap = h;
		st->theap_cap = cap;
	}
	c->heap_idx = st->theap_len;
	st->theap[st->theap_len++] = c;
	heap_up(st, c->heap_idx);
}

static void heap_update(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	uint64_t next = TCP_NO_DEADLINE;

	for (int t = 0; t < TT_MAX; t++)
		if (c->timer[t] < next)
			next = c->timer[t];
	if (next == c->tnext && (next == TCP_NO_DEADLINE) == (c->heap_idx == TCP_NOT_IN_HEAP))
		return;
	c->tnext = next;
	if (next == TCP_NO_DEADLINE) {
		if (c->heap_idx != TCP_NOT_IN_HEAP)
			heap_remove(st, c);
	} else if (c->heap_idx == TCP_NOT_IN_HEAP) {
		heap_insert(st, c);
	} else {
		heap_up(st, c->heap_idx);
		heap_down(st, c->heap_idx);
	}
}

void tcp_timer_set(struct tcp_conn *c, enum tcp_timer t, uint64_t delay_us)
{
	c->timer[t] = c->st->now + delay_us;
	heap_update(c);
}

void tcp_timer_clear(struct tcp_conn *c, enum tcp_timer t)
{
	if (c->timer[t] == TCP_NO_DEADLINE)
		return;
	c->timer[t] = TCP_NO_DEADLINE;
	heap_update(c);
}

void tcp_timer_clear_all(struct tcp_conn *c)
{
	for (int t = 0; t < TT_MAX; t++)
		c->timer[t] = TCP_NO_DEADLINE;
	heap_update(c);
}

uint32_t tcp_current_rto(const struct tcp_conn *c)
{
	uint64_t rto = (uint64_t)c->rto_us << c->backoff;

	return rto > c->st->cfg.rto_max_us ? c->st->cfg.rto_max_us : (uint32_t)rto;
}

/* Tail loss probe (RFC 8985 section 7): with SACK, a probe sent about two RTTs after
 * the last transmission turns the loss of a flight's tail into SACK-driven recovery
 * instead of a retransmission timeout. With one segment in flight the probe must also
 * wait out the peer's delayed ACK (200 ms worst case), so the RTO usually comes first. */
#define TLP_WCDELACK_US 200000
#define TLP_MIN_US 10000

static uint64_t tlp_timeout(const struct tcp_conn *c)
{
	uint64_t pto;

	if (!c->sack_ok || !c->rtt_valid || c->in_recovery || c->after_rto || c->tlp_out ||
	    c->backoff || (c->state != TCP_ST_ESTABLISHED && c->state != TCP_ST_CLOSE_WAIT))
		return TCP_NO_DEADLINE;
	pto = 2ull * c->srtt_us;
	if (tcp_flight(c) <= c->mss && pto < c->srtt_us * 3ull / 2 + TLP_WCDELACK_US)
		pto = c->srtt_us * 3ull / 2 + TLP_WCDELACK_US;
	return pto < TLP_MIN_US ? TLP_MIN_US : pto;
}

void tcp_rearm_rtx(struct tcp_conn *c)
{
	c->persist = false;
	c->tlp_armed = false;
	if (c->snd_una != c->snd_max || (c->sndq.head && c->sndq.head->flags & TCP_SYN)) {
		uint64_t rto = tcp_current_rto(c), pto = tlp_timeout(c);

		c->tlp_armed = pto < rto;
		tcp_timer_set(c, TT_RTX, c->tlp_armed ? pto : rto);
	} else {
		tcp_timer_clear(c, TT_RTX);
	}
}

/* Sends the probe: one new segment if the window takes it, else the last one sent. */
static void tlp_send(struct tcp_conn *c)
{
	uint32_t before = c->snd_max;
	struct tcp_seg *last = NULL;

	c->st->stats.tail_loss_probes++;
	tcp_log(SHIM_LOG_DEBUG, c, "loss probe: una %u nxt %u wnd %u cwnd %u", c->snd_una,
		c->snd_nxt, c->snd_wnd, c->cwnd);
	c->tlp_out = true;
	c->cwnd += c->mss;
	c->push_now = true;
	tcp_output(c);
	c->push_now = false;
	c->cwnd -= c->mss;
	if (c->snd_max == before) {
		for (struct tcp_seg *s = c->sndq.head; s && s != c->snd_next_seg; s = s->next)
			last = s;
		if (last && tcp_retransmit_seg(c, last)) {
			c->tlp_rexmit = true;
			c->tlp_rexmit_seq = last->seq;
		}
	}
	c->tlp_high = c->snd_max;
	tcp_timer_set(c, TT_RTX, tcp_current_rto(c));
}

void tcp_keepalive_reset(struct tcp_conn *c)
{
	if (c->keepalive && (c->state == TCP_ST_ESTABLISHED || c->state == TCP_ST_CLOSE_WAIT))
		tcp_timer_set(c, TT_KEEPALIVE, (uint64_t)c->keepidle_s * 1000000);
	else
		tcp_timer_clear(c, TT_KEEPALIVE);
}

static void backoff_up(struct tcp_conn *c)
{
	if (c->backoff < 16)
		c->backoff++;
}

static void rtx_handshake(struct tcp_conn *c, uint32_t limit)
{
	if (++c->retries > limit) {
		if (c->state == TCP_ST_SYN_SENT)
			c->st->stats.attempt_fails++;
		tcp_conn_done(c, ETIMEDOUT);
		return;
	}
	backoff_up(c);
	c->cwnd = c->mss;	/* RFC 6298 5.7: lost SYN means a one-segment start */
	tcp_send_syn(c);
	tcp_timer_set(c, TT_RTX, tcp_current_rto(c));
}

static void rtx_expired(struct tcp_conn *c)
{
	struct tcp_seg *head;
	uint64_t rto;

	if (c->tlp_armed) {
		c->tlp_armed = false;
		if (c->snd_una != c->snd_max)
			tlp_send(c);
		return;
	}
	if (c->persist) {
		c->st->stats.zero_window_probes++;
		tcp_send_probe(c);
		backoff_up(c);
		tcp_timer_set(c, TT_RTX, tcp_current_rto(c));
		return;
	}
	if (c->state == TCP_ST_SYN_SENT) {
		rtx_handshake(c, c->st->cfg.syn_retries);
		return;
	}
	if (c->state == TCP_ST_SYN_RECEIVED) {
		rtx_handshake(c, c->st->cfg.synack_retries);
		return;
	}
	head = c->sndq.head;
	if (!head || c->snd_una == c->snd_max)
		return;
	if (!c->retries)
		c->rtx_start_us = head->xmit_us;	/* when the oldest data went out */
	/* TCP_USER_TIMEOUT, when set, replaces the retry count (as in Linux). */
	if (c->user_timeout_ms ? c->st->now - c->rtx_start_us >= c->user_timeout_ms * 1000ull :
	    c->retries >= c->st->cfg.retries2) {
		tcp_log(SHIM_LOG_DEBUG, c, "gave up after %u retransmissions", c->retries);
		tcp_conn_done(c, ETIMEDOUT);
		return;
	}
	tcp_log(SHIM_LOG_DEBUG, c, "RTO: una %u nxt %u max %u wnd %u cwnd %u flight %u backoff %u in %s%s",
		c->snd_una, c->snd_nxt, c->snd_max, c->snd_wnd, c->cwnd, tcp_flight(c), c->backoff,
		c->in_recovery ? "recovery" : c->after_rto ? "loss" : "open",
		c->tlp_out ? " after a loss probe" : "");
	tcp_rto_recovery(c);
	c->retries++;
	backoff_up(c);
	while (head && head->sacked)
		head = head->next;
	if (head && SEQ_LT(head->seq, c->snd_max)) {
		tcp_retransmit_seg(c, head);
		c->snd_nxt = seg_end(head);
		c->snd_next_seg = head->next;
	}
	rto = tcp_current_rto(c);
	if (c->user_timeout_ms) {
		/* Fire exactly when the user timeout runs out, not a whole backoff later. */
		uint64_t end = c->rtx_start_us + c->user_timeout_ms * 1000ull;

		if (end > c->st->now && end - c->st->now < rto)
			rto = end - c->st->now;
	}
	tcp_timer_set(c, TT_RTX, rto);
	tcp_output(c);
}

static void keepalive_expired(struct tcp_conn *c)
{
	uint64_t idle = c->st->now - c->last_rcv_us;
	uint64_t idle_lim = (uint64_t)c->keepidle_s * 1000000;

	if (!c->keepalive || (c->state != TCP_ST_ESTABLISHED && c->state != TCP_ST_CLOSE_WAIT))
		return;
	if (c->snd_una != c->snd_max || c->snd_next_seg) {
		/* Data is outstanding: the retransmission timer watches the peer. */
		tcp_timer_set(c, TT_KEEPALIVE, idle_lim);
		return;
	}
	if (idle < idle_lim && !c->probes) {
		tcp_timer_set(c, TT_KEEPALIVE, idle_lim - idle);
		return;
	}
	if (c->probes >= c->keepcnt) {
		c->st->stats.keepalive_timeouts++;
		tcp_log(SHIM_LOG_DEBUG, c, "%u keepalive probes unanswered", c->probes);
		tcp_send_rst(c);
		tcp_conn_done(c, ETIMEDOUT);
		return;
	}
	tcp_send_probe(c);
	c->probes++;
	tcp_timer_set(c, TT_KEEPALIVE, (uint64_t)c->keepintvl_s * 1000000);
}

static void conn_timers(struct tcp_conn *c)
{
	uint64_t now = c->st->now;

	for (int t = 0; t < TT_MAX && c->state != TCP_ST_CLOSED; t++) {
		if (c->timer[t] > now)
			continue;
		tcp_timer_clear(c, (enum tcp_timer)t);
		switch (t) {
		case TT_RTX:
			rtx_expired(c);
			break;
		case TT_DELACK:
			if (c->ack_pending)
				tcp_send_ack(c);
			break;
		case TT_KEEPALIVE:
			keepalive_expired(c);
			break;
		case TT_CLOSE:
			tcp_conn_done(c, 0);
			return;
		case TT_CORK:
			c->push_now = true;
			tcp_output(c);
			c->push_now = false;
			break;
		}
	}
}

void tcp_tick(struct tcp_stack *st)
{
	/* Bounded so a timer re-armed at "now" cannot spin us. */
	uint32_t budget = st->theap_len * TT_MAX + 16;

	st->now = st->ops.now_us(st->ctx);
	while (st->theap_len && st->theap[0]->tnext <= st->now && budget--)
		conn_timers(st->theap[0]);
	tcp_reap(st);
}

uint64_t tcp_conn_deadline(const struct tcp_conn *c)
{
	return c->tnext;
}

uint64_t tcp_next_deadline(const struct tcp_stack *st)
{
	return st->theap_len ? st->theap[0]->tnext : TCP_NO_DEADLINE;
}
