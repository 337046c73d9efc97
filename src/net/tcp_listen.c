/* tcp_listen.c — passive open: a listener answers SYNs with embryonic connections in
 * SYN_RECEIVED (its SYN queue), promotes them to its accept queue when the handshake
 * completes, and counts what it had to drop when either queue was full (listen
 * overflow), like Linux without syncookies. */
#include <errno.h>

#include "net/tcp_priv.h"

int tcp_listen(struct tcp_conn *c, int backlog)
{
	struct tcp_stack *st = c->st;

	if (c->state == TCP_ST_LISTEN) {
		c->backlog = backlog < 1 ? 1 : backlog;	/* listen() again adjusts it */
		return 0;
	}
	if (c->state != TCP_ST_CLOSED || c->so_error || c->raddr)
		return -EINVAL;
	if (!c->lport)
		return -EDESTADDRREQ;
	if (tcp_listener_lookup(st, c->laddr, c->lport) &&
	    tcp_listener_lookup(st, c->laddr, c->lport)->laddr == c->laddr)
		return -EADDRINUSE;
	if (backlog < 1)
		backlog = 1;
	if ((uint32_t)backlog > st->cfg.max_syn_backlog)
		backlog = (int)st->cfg.max_syn_backlog;
	c->backlog = backlog;
	tcp_set_state(c, TCP_ST_LISTEN);
	tcp_listener_add(c);
	return 0;
}

static void queue_remove(struct tcp_conn **head, struct tcp_conn **tail, struct tcp_conn *c)
{
	struct tcp_conn *prev = NULL;

	for (struct tcp_conn *q = *head; q; prev = q, q = q->qnext) {
		if (q != c)
			continue;
		if (prev)
			prev->qnext = q->qnext;
		else
			*head = q->qnext;
		if (tail && *tail == q)
			*tail = prev;
		q->qnext = NULL;
		return;
	}
}

void tcp_listen_unlink_child(struct tcp_conn *c)
{
	struct tcp_conn *l = c->parent;

	if (!l)
		return;
	if (c->in_acceptq) {
		queue_remove(&l->acceptq_head, &l->acceptq_tail, c);
		l->acceptq_len--;
		c->in_acceptq = false;
	} else {
		queue_remove(&l->synq_head, NULL, c);
		l->synq_len--;
	}
	c->parent = NULL;
}

/* Handshake done; false when the accept queue is full (the ACK is dropped and the
 * child keeps retransmitting its SYN-ACK, as Linux does). */
bool tcp_listen_child_established(struct tcp_conn *c)
{
	struct tcp_conn *l = c->parent;

	if (!l)
		return true;
	if (l->acceptq_len >= l->backlog) {
		c->st->stats.listen_overflows++;
		tcp_log(SHIM_LOG_DEBUG, l, "accept queue full (%d): handshake ACK dropped",
			l->backlog);
		return false;
	}
	queue_remove(&l->synq_head, NULL, c);
	l->synq_len--;
	c->qnext = NULL;
	if (l->acceptq_tail)
		l->acceptq_tail->qnext = c;
	else
		l->acceptq_head = c;
	l->acceptq_tail = c;
	l->acceptq_len++;
	c->in_acceptq = true;
	tcp_notify(l, TCP_EV_ACCEPT | TCP_EV_READABLE);
	return true;
}

int tcp_accept(struct tcp_conn *l, struct tcp_conn **out)
{
	struct tcp_conn *c;

	if (l->state != TCP_ST_LISTEN)
		return -EINVAL;
	c = l->acceptq_head;
	if (!c)
		return -EAGAIN;
	tcp_listen_unlink_child(c);
	c->accepted = true;
	c->app_ref = true;
	*out = c;
	return 0;
}

void tcp_listen_close(struct tcp_conn *l)
{
	struct tcp_conn *c;

	while ((c = l->synq_head)) {
		tcp_listen_unlink_child(c);
		tcp_conn_done(c, 0);
	}
	while ((c = l->acceptq_head)) {
		tcp_listen_unlink_child(c);
		if (c->state != TCP_ST_CLOSED && c->state != TCP_ST_TIME_WAIT)
			tcp_send_rst(c);
		tcp_conn_done(c, 0);
	}
}

static void inherit(struct tcp_conn *c, const struct tcp_conn *l)
{
	c->nodelay = l->nodelay;
	c->keepalive = l->keepalive;
	c->keepidle_s = l->keepidle_s;
	c->keepintvl_s = l->keepintvl_s;
	c->keepcnt = l->keepcnt;
	c->sndbuf = l->sndbuf;
	c->rcvbuf = l->rcvbuf;
	c->mss_clamp = l->mss_clamp;
	c->linger_s = l->linger_s;
	c->user_timeout_ms = l->user_timeout_ms;
	c->user = NULL;
}

void tcp_listen_input(struct tcp_conn *l, uint32_t saddr, uint32_t daddr, uint16_t sport,
		      uint16_t dport, const struct tcp_parsed *p, uint32_t iss_hint)
{
	struct tcp_stack *st = l->st;
	struct tcp_conn *c;

	if (p->flags & TCP_RST)
		return;
	if (p->flags & TCP_ACK) {
		tcp_send_reset_for(st, saddr, daddr, sport, dport, p);
		return;
	}
	if (!(p->flags & TCP_SYN))
		return;
	if (l->acceptq_len >= l->backlog) {
		st->stats.listen_overflows++;
		st->stats.listen_drops++;
		return;
	}
	if (st->cfg.max_syn_rate) {
		if (st->now - l->syn_window_us >= 1000000) {
			l->syn_window_us = st->now;
			l->syn_count = 0;
		}
		if (l->syn_count >= st->cfg.max_syn_rate) {
			st->stats.syn_rate_drops++;
			st->stats.listen_drops++;
			return;
		}
		l->syn_count++;
	}
	if ((uint32_t)l->synq_len >= st->cfg.max_syn_backlog ||
	    l->synq_len >= (l->backlog < 8 ? 8 : l->backlog) * 2) {
		st->stats.syn_queue_drops++;
		st->stats.listen_drops++;
		return;
	}
	c = tcp_conn_alloc(st);
	if (!c) {
		st->stats.listen_drops++;
		return;
	}
	inherit(c, l);
	c->laddr = daddr;
	c->lport = dport;
	c->raddr = saddr;
	c->rport = sport;
	c->passive = true;
	c->parent = l;
	tcp_conn_init_seq(c);
	if (iss_hint) {
		c->iss = iss_hint;
		c->snd_una = c->snd_nxt = c->snd_max = c->snd_queued_end = iss_hint;
	}
	c->irs = p->seq;
	c->rcv_nxt = p->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	tcp_negotiate_syn_options(c, p);
	c->snd_wnd = p->wnd;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = p->seq;
	c->snd_wl2 = c->iss;
	c->last_rcv_us = st->now;
	tcp_set_state(c, TCP_ST_SYN_RECEIVED);
	tcp_conn_hash(c);
	c->qnext = l->synq_head;
	l->synq_head = c;
	l->synq_len++;
	st->stats.passive_opens++;
	if (tcp_conn_start_syn(c))
		tcp_conn_done(c, 0);
}
