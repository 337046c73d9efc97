/* tcp_timer.c — per-connection timers as absolute deadlines on the stack's clock:
 * retransmission (SYN, SYN-ACK, data with exponential backoff) doubling as the
 * zero-window persist timer, delayed ACK, keepalive, TIME_WAIT / FIN_WAIT_2 expiry and
 * the cork deadline. tcp_tick() runs what expired; tcp_next_deadline() tells the
 * owner how long it may sleep. */
#include <errno.h>

#include "net/tcp_priv.h"

void tcp_timer_set(struct tcp_conn *c, enum tcp_timer t, uint64_t delay_us)
{
	c->timer[t] = c->st->now + delay_us;
}

void tcp_timer_clear(struct tcp_conn *c, enum tcp_timer t)
{
	c->timer[t] = TCP_NO_DEADLINE;
}

uint32_t tcp_current_rto(const struct tcp_conn *c)
{
	uint64_t rto = (uint64_t)c->rto_us << c->backoff;

	return rto > c->st->cfg.rto_max_us ? c->st->cfg.rto_max_us : (uint32_t)rto;
}

void tcp_rearm_rtx(struct tcp_conn *c)
{
	c->persist = false;
	if (c->snd_una != c->snd_max || (c->sndq.head && c->sndq.head->flags & TCP_SYN))
		tcp_timer_set(c, TT_RTX, tcp_current_rto(c));
	else
		tcp_timer_clear(c, TT_RTX);
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
	if (c->retries >= c->st->cfg.retries2) {
		tcp_conn_done(c, ETIMEDOUT);
		return;
	}
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
	tcp_timer_set(c, TT_RTX, tcp_current_rto(c));
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
		c->timer[t] = TCP_NO_DEADLINE;
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
			return;	/* c may be gone */
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
	struct tcp_conn *c, *next;

	st->now = st->ops.now_us(st->ctx);
	for (c = st->all; c; c = next) {
		next = c->all_next;
		conn_timers(c);
	}
	tcp_reap(st);
}

uint64_t tcp_next_deadline(const struct tcp_stack *st)
{
	uint64_t d = TCP_NO_DEADLINE;

	for (const struct tcp_conn *c = st->all; c; c = c->all_next)
		for (int t = 0; t < TT_MAX; t++)
			if (c->timer[t] < d)
				d = c->timer[t];
	return d;
}
