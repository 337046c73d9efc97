/* tcp_input.c — segment arrival (RFC 9293 3.10.7): parsing and checksum, demux to a
 * connection, a TIME_WAIT slot or a listener, then the per-state processing with PAWS
 * (RFC 7323), the RFC 5961 defences (exact-sequence RST, challenge ACKs for in-window
 * RST/SYN and old ACKs), ACK processing, receive-side data and FIN, and the decision
 * between an immediate and a delayed ACK (RFC 1122 4.2.3.2). */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "net/tcp_priv.h"

#define PAWS_IDLE_US (24ull * 24 * 3600 * 1000000)	/* RFC 7323 5.5: 24 days */

int tcp_parse(const uint8_t *buf, size_t len, struct tcp_parsed *p)
{
	const struct tcp_hdr *h = (const struct tcp_hdr *)buf;
	unsigned doff;

	if (len < TCP_HDR_LEN)
		return -EINVAL;
	doff = tcp_hdr_doff(h);
	if (doff < TCP_HDR_LEN || doff > len)
		return -EBADMSG;
	memset(p, 0, sizeof(*p));
	p->seq = ntohl(h->seq);
	p->ack = ntohl(h->ack);
	p->wnd = ntohs(h->wnd);
	p->flags = h->flags;
	p->data = buf + doff;
	p->len = (uint32_t)(len - doff);
	tcp_parse_options(buf + TCP_HDR_LEN, doff - TCP_HDR_LEN, h->flags & TCP_SYN, p);
	return 0;
}

/* Receive window used for the acceptability test: what we advertised, or more if
 * the buffer has room (we never refuse data we can hold). */
static uint32_t accept_window(const struct tcp_conn *c)
{
	uint32_t adv = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t free_sp = c->rcvbuf > c->rcvq.bytes ? c->rcvbuf - c->rcvq.bytes : 0;

	if (c->rd_shut)
		free_sp = c->rcvbuf;	/* data is discarded anyway: accept and ACK it */
	return adv > free_sp ? adv : free_sp;
}

static bool seq_acceptable(const struct tcp_conn *c, uint32_t seq, uint32_t seglen)
{
	uint32_t wnd = accept_window(c);
	uint32_t nxt = c->rcv_nxt;

	if (!seglen)
		return wnd ? SEQ_LEQ(nxt, seq) && SEQ_LT(seq, nxt + wnd) : seq == nxt;
	/* Zero window: the data cannot be taken, but a segment right at rcv_nxt still
	 * carries a valid ACK (RFC 9293 3.10.7.4: "special allowance"); it is trimmed to
	 * nothing below and answered with our ACK. */
	if (!wnd)
		return seq == nxt;
	return (SEQ_LEQ(nxt, seq) && SEQ_LT(seq, nxt + wnd)) ||
	       (SEQ_LEQ(nxt, seq + seglen - 1) && SEQ_LT(seq + seglen - 1, nxt + wnd));
}

static void notify_writable(struct tcp_conn *c)
{
	if (c->sndq.bytes <= c->sndbuf - c->sndq.bytes / 2 &&
	    (c->state == TCP_ST_ESTABLISHED || c->state == TCP_ST_CLOSE_WAIT))
		tcp_notify(c, TCP_EV_WRITABLE);
}

static bool our_fin_acked(const struct tcp_conn *c)
{
	return c->fin_queued && c->fin_sent_once && c->snd_una == c->snd_queued_end;
}

/* RFC 2883: data we already had is reported back as a D-SACK block, which lets the
 * sender tell a needless retransmission from a loss. */
static void note_duplicate(struct tcp_conn *c, const struct tcp_parsed *p)
{
	uint32_t end = p->seq + p->len;

	if (!c->sack_ok || !p->len || !SEQ_LT(p->seq, c->rcv_nxt))
		return;
	c->dsack[0] = p->seq;
	c->dsack[1] = SEQ_LT(end, c->rcv_nxt) ? end : c->rcv_nxt;
	c->dsack_pending = true;
}

/* Answers a segment outside the window with our ACK. Two desynchronised ends would
 * answer each other's pure ACKs forever (an ACK loop), so pure ACKs get at most one
 * answer per interval per connection; segments carrying data always get one. */
static void send_oow_ack(struct tcp_conn *c, const struct tcp_parsed *p)
{
	if (!p->len && !(p->flags & (TCP_FIN | TCP_SYN)) &&
	    c->st->now - c->last_oow_ack_us < c->st->cfg.oow_ack_interval_us) {
		c->st->stats.oow_acks_skipped++;
		return;
	}
	c->last_oow_ack_us = c->st->now;
	tcp_send_ack(c);
}

static void syn_sent_input(struct tcp_conn *c, const struct tcp_parsed *p)
{
	uint64_t rtt = 0;

	if (p->flags & TCP_ACK) {
		if (SEQ_LEQ(p->ack, c->iss) || SEQ_GT(p->ack, c->snd_max)) {
			tcp_send_reset_for(c->st, c->raddr, c->laddr, c->rport, c->lport, p);
			return;
		}
	}
	if (p->flags & TCP_RST) {
		if (p->flags & TCP_ACK) {
			c->st->stats.attempt_fails++;
			tcp_conn_done(c, ECONNREFUSED);
		}
		return;
	}
	if (!(p->flags & TCP_SYN))
		return;
	c->irs = p->seq;
	c->rcv_nxt = p->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	tcp_negotiate_syn_options(c, p);
	c->snd_wnd = p->wnd;	/* never scaled in a SYN */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = p->seq;
	c->last_rcv_us = c->st->now;
	if (!(p->flags & TCP_ACK)) {
		/* Simultaneous open: answer with SYN-ACK on our ISN. */
		tcp_set_state(c, TCP_ST_SYN_RECEIVED);
		c->snd_wl2 = c->iss;
		tcp_send_syn(c);
		return;
	}
	c->snd_una = p->ack;
	c->snd_wl2 = p->ack;
	tcp_sndq_acked(c, p->ack, &rtt);
	if (c->ts_ok && p->tsecr)
		rtt = (uint64_t)(tcp_ts_now(c) - p->tsecr) * 1000;
	if (rtt)
		tcp_rtt_sample(c, (uint32_t)rtt);
	tcp_conn_established(c);
	tcp_rearm_rtx(c);
	tcp_send_ack(c);
	tcp_notify(c, TCP_EV_CONNECTED | TCP_EV_WRITABLE);
	tcp_output(c);
}

static void on_rst(struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_ST_SYN_RECEIVED:
		if (c->passive) {
			tcp_conn_done(c, 0);
		} else {
			c->st->stats.attempt_fails++;
			tcp_conn_done(c, ECONNREFUSED);
		}
		break;
	case TCP_ST_ESTABLISHED:
	case TCP_ST_FIN_WAIT_1:
	case TCP_ST_FIN_WAIT_2:
	case TCP_ST_CLOSE_WAIT:
		tcp_conn_done(c, c->state == TCP_ST_CLOSE_WAIT ? EPIPE : ECONNRESET);
		break;
	default:
		tcp_conn_done(c, 0);
		break;
	}
}

/* ACK field processing; false when the segment must be dropped. */
static bool ack_input(struct tcp_conn *c, const struct tcp_parsed *p)
{
	uint32_t wnd = (uint32_t)p->wnd << c->snd_wscale;
	uint32_t old_wnd = c->snd_wnd;

	/* RFC 5961 5.2: only ACKs within [snd_una - max_snd_wnd, snd_max] are believed. */
	if (SEQ_GT(p->ack, c->snd_max) || SEQ_LT(p->ack, c->snd_una - c->max_snd_wnd)) {
		tcp_send_challenge_ack(c);
		return false;
	}
	if (c->sack_ok && p->nsack)
		tcp_dsack_undo(c, p);
	if (SEQ_GT(p->ack, c->snd_una)) {
		uint32_t acked = p->ack - c->snd_una, prior = c->snd_una;
		uint64_t rtt = 0;

		c->snd_una = p->ack;
		if (SEQ_LT(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		if (c->sack_ok && p->nsack)
			tcp_sack_update(c, p);
		tcp_sndq_acked(c, p->ack, &rtt);
		if (c->sack_ok && tcp_sack_reneged(c))
			c->st->stats.sack_reneging++;
		if (c->ts_ok && p->has_ts && p->tsecr) {
			uint32_t ms = tcp_ts_now(c) - p->tsecr;

			rtt = ms < 600000 ? (uint64_t)ms * 1000 : 0;
		}
		if (rtt || (c->ts_ok && p->has_ts && p->tsecr))
			tcp_rtt_sample(c, (uint32_t)rtt);
		c->backoff = 0;
		c->retries = 0;
		if (c->tlp_out && SEQ_GEQ(c->snd_una, c->tlp_high))
			c->tlp_out = false;	/* the probe's episode is over */
		/* Congestion control counts data only, not the SYN or FIN sequence slot. */
		if (prior == c->iss && acked)
			acked--;
		if (our_fin_acked(c) && acked)
			acked--;
		tcp_undo_spurious(c, p);
		tcp_ack_newdata(c, acked, prior, rtt);
		if (p->nsack && c->sack_ok)
			tcp_detect_loss(c);
		tcp_rearm_rtx(c);
		notify_writable(c);
	} else if (p->ack == c->snd_una) {
		uint32_t newly = c->sack_ok && p->nsack ? tcp_sack_update(c, p) : 0;

		if (!p->len && !(p->flags & (TCP_SYN | TCP_FIN)) && wnd == old_wnd &&
		    c->snd_una != c->snd_max) {
			tcp_dupack(c);
		} else if (newly) {
			/* Not a duplicate ACK (it carries data or a new window), but new SACK
			 * information is loss evidence all the same: a peer sending data back
			 * never produces pure dupacks. */
			if (c->in_recovery)
				tcp_sack_mark_lost(c);
			else
				tcp_detect_loss(c);
		}
	}
	if (SEQ_LT(c->snd_wl1, p->seq) || (c->snd_wl1 == p->seq && SEQ_LEQ(c->snd_wl2, p->ack))) {
		c->snd_wnd = wnd;
		c->snd_wl1 = p->seq;
		c->snd_wl2 = p->ack;
		if (wnd > c->max_snd_wnd)
			c->max_snd_wnd = wnd;
		if (wnd > old_wnd && c->persist) {
			/* The window opened: stop probing and send. */
			c->persist = false;
			c->backoff = 0;
			tcp_timer_clear(c, TT_RTX);
		}
	}
	if (our_fin_acked(c)) {
		switch (c->state) {
		case TCP_ST_FIN_WAIT_1:
			tcp_set_state(c, TCP_ST_FIN_WAIT_2);
			if (!c->app_ref)
				tcp_timer_set(c, TT_CLOSE, c->st->cfg.fin_timeout_us);
			tcp_notify(c, TCP_EV_WRITABLE);
			break;
		case TCP_ST_CLOSING:
			tcp_enter_time_wait(c);
			return false;
		case TCP_ST_LAST_ACK:
			tcp_conn_done(c, 0);
			return false;
		default:
			break;
		}
	}
	return true;
}

static void fin_input(struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_ST_SYN_RECEIVED:
	case TCP_ST_ESTABLISHED:
		tcp_set_state(c, TCP_ST_CLOSE_WAIT);
		tcp_timer_clear(c, TT_KEEPALIVE);
		break;
	case TCP_ST_FIN_WAIT_1:
		if (our_fin_acked(c)) {
			tcp_send_ack(c);
			tcp_enter_time_wait(c);
			return;
		}
		tcp_set_state(c, TCP_ST_CLOSING);
		break;
	case TCP_ST_FIN_WAIT_2:
		tcp_send_ack(c);
		tcp_enter_time_wait(c);
		return;
	default:
		break;
	}
	tcp_notify(c, TCP_EV_READABLE);
}

static void ack_decision(struct tcp_conn *c, bool now)
{
	c->ack_pending = true;
	if (!now && (c->quickack || c->rcv_nxt - c->last_ack_sent >= 2u * c->mss))
		now = true;
	tcp_output(c);
	if (!c->ack_pending)
		return;
	if (now)
		tcp_send_ack(c);
	else if (c->timer[TT_DELACK] == TCP_NO_DEADLINE)
		tcp_timer_set(c, TT_DELACK, c->st->cfg.delack_us);
}

static void conn_input(struct tcp_conn *c, const struct tcp_parsed *p0)
{
	struct tcp_parsed p = *p0;
	uint32_t seglen = p.len + !!(p.flags & TCP_SYN) + !!(p.flags & TCP_FIN);
	uint32_t wnd;
	bool had_fin = c->fin_rcvd, ooo;

	c->segs_in++;
	if (c->state == TCP_ST_SYN_SENT) {
		syn_sent_input(c, &p);
		return;
	}
	/* Simultaneous open: the peer's SYN-ACK repeats the SYN we already took; what
	 * matters is its ACK. */
	if (c->state == TCP_ST_SYN_RECEIVED && (p.flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) &&
	    p.seq == c->irs) {
		p.flags &= (uint8_t)~TCP_SYN;
		p.seq++;
		seglen--;
	}
	/* PAWS (RFC 7323 5.3). */
	if (c->ts_ok && p.has_ts && !(p.flags & TCP_RST) && SEQ_LT(p.tsval, c->ts_recent) &&
	    c->st->now - c->ts_recent_us < PAWS_IDLE_US) {
		c->st->stats.paws_drops++;
		note_duplicate(c, &p);	/* an old duplicate: report it (Linux does too) */
		send_oow_ack(c, &p);
		return;
	}
	if (!seq_acceptable(c, p.seq, seglen)) {
		if (p.flags & TCP_RST)
			return;
		if (c->state == TCP_ST_SYN_RECEIVED && (p.flags & TCP_SYN) && p.seq == c->irs) {
			tcp_send_syn(c);	/* our SYN-ACK was lost */
			return;
		}
		if (c->state == TCP_ST_TIME_WAIT && (p.flags & TCP_FIN))
			tcp_timer_set(c, TT_CLOSE, 2ull * c->st->cfg.msl_us);
		note_duplicate(c, &p);
		send_oow_ack(c, &p);
		return;
	}
	/* RFC 7323 4.3: remember the timestamp of the segment that fills rcv_nxt. */
	if (c->ts_ok && p.has_ts && SEQ_LEQ(p.seq, c->last_ack_sent) &&
	    (SEQ_LT(c->last_ack_sent, p.seq + seglen) || (!seglen && p.seq == c->last_ack_sent))) {
		c->ts_recent = p.tsval;
		c->ts_recent_us = c->st->now;
	}
	/* RFC 5961 3.2: only an exact RST is obeyed; an in-window one gets a challenge. */
	if (p.flags & TCP_RST) {
		if (p.seq != c->rcv_nxt)
			tcp_send_challenge_ack(c);
		else
			on_rst(c);
		return;
	}
	/* RFC 5961 4.2: a SYN on a synchronized connection gets a challenge ACK. */
	if (p.flags & TCP_SYN) {
		tcp_send_challenge_ack(c);
		return;
	}
	if (!(p.flags & TCP_ACK))
		return;
	c->last_rcv_us = c->st->now;
	c->probes = c->persist ? c->probes : 0;
	if (c->state == TCP_ST_SYN_RECEIVED) {
		if (SEQ_LEQ(p.ack, c->snd_una) || SEQ_GT(p.ack, c->snd_max)) {
			tcp_send_reset_for(c->st, c->raddr, c->laddr, c->rport, c->lport, &p);
			return;
		}
		if (c->passive && !tcp_listen_child_established(c))
			return;
		tcp_conn_established(c);
		c->snd_wnd = (uint32_t)p.wnd << c->snd_wscale;
		c->max_snd_wnd = c->snd_wnd;
		c->snd_wl1 = p.seq;
		c->snd_wl2 = p.ack;
		if (!c->passive)
			tcp_notify(c, TCP_EV_CONNECTED | TCP_EV_WRITABLE);
	}
	if (!ack_input(c, &p))
		return;
	if (c->state == TCP_ST_TIME_WAIT)
		return;
	if (c->keepalive)
		tcp_keepalive_reset(c);

	/* Trim to the window: the front we already have, the tail beyond the edge. */
	if (SEQ_LT(p.seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - p.seq;

		if (d >= p.len) {
			d = p.len;
		}
		p.data += d;
		p.len -= d;
		p.seq += d;
		if (SEQ_LT(p.seq, c->rcv_nxt))	/* only a FIN we already had remains */
			p.flags &= (uint8_t)~TCP_FIN;
	}
	wnd = accept_window(c);
	if (SEQ_GT(p.seq + p.len, c->rcv_nxt + wnd)) {
		p.len = c->rcv_nxt + wnd - p.seq;
		p.flags &= (uint8_t)~TCP_FIN;
	}
	if (!p.len && !(p.flags & TCP_FIN)) {
		if (seglen && p0->len) {
			note_duplicate(c, p0);
			ack_decision(c, true);	/* a duplicate: tell the peer where we are */
		}
		else
			tcp_output(c);
		return;
	}
	if (c->state != TCP_ST_ESTABLISHED && c->state != TCP_ST_FIN_WAIT_1 &&
	    c->state != TCP_ST_FIN_WAIT_2 && c->state != TCP_ST_SYN_RECEIVED) {
		tcp_output(c);	/* the peer's FIN came earlier: nothing more to take */
		return;
	}
	if (p.len && !c->app_ref && c->rd_shut) {
		/* Data for a closed socket: nobody will read it (Linux sends RST). */
		tcp_send_rst(c);
		tcp_conn_done(c, 0);
		return;
	}
	ooo = p.seq != c->rcv_nxt || c->oooq.head;
	if (c->rd_shut) {
		/* SHUT_RD: acknowledge and discard. */
		if (p.seq == c->rcv_nxt) {
			c->rcv_nxt += p.len;
			if ((p.flags & TCP_FIN) && !c->fin_rcvd) {
				c->fin_rcvd = true;
				c->rcv_nxt++;
			}
		}
	} else {
		uint32_t before = c->rcvq.bytes;

		tcp_rcv_data(c, p.seq, p.data, p.len, p.flags & TCP_FIN);
		if (c->rcvq.bytes != before)
			tcp_notify(c, TCP_EV_READABLE);
	}
	if (c->fin_rcvd && !had_fin) {
		fin_input(c);
		if (c->state == TCP_ST_TIME_WAIT || c->state == TCP_ST_CLOSED)
			return;
		ooo = true;
	}
	ack_decision(c, ooo);
}

/* RFC 6191 (and Linux): a SYN may reopen a TIME_WAIT tuple when it is provably a new
 * incarnation: a sequence number beyond the old one or a newer timestamp, and never a
 * timestamp PAWS would reject. */
static bool time_wait_accepts_syn(const struct tcp_conn *c, const struct tcp_parsed *p)
{
	bool ts = c->ts_ok && p->has_ts;

	if (ts && SEQ_LT(p->tsval, c->ts_recent))
		return false;
	return SEQ_GT(p->seq, c->rcv_nxt) || (ts && SEQ_GT(p->tsval, c->ts_recent));
}

int tcp_input(struct tcp_stack *st, uint32_t saddr, uint32_t daddr, const void *seg,
	      size_t len)
{
	const struct tcp_hdr *h = seg;
	struct tcp_parsed p;
	struct tcp_conn *c, *l;
	uint32_t iss_hint = 0;
	int err;

	st->now = st->ops.now_us(st->ctx);
	err = tcp_parse(seg, len, &p);
	if (err) {
		st->stats.in_errs++;
		return err;
	}
	if (!st->cfg.rx_csum_verified && tcp_csum(saddr, daddr, seg, len, NULL, 0) != 0) {
		st->stats.bad_csum++;
		st->stats.in_errs++;
		return -EBADMSG;
	}
	st->stats.in_segs++;
	c = tcp_conn_lookup(st, daddr, h->dport, saddr, h->sport);
	if (c && c->state == TCP_ST_TIME_WAIT && (p.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
	    time_wait_accepts_syn(c, &p) && tcp_listener_lookup(st, daddr, h->dport)) {
		iss_hint = c->snd_nxt + 65535 + 2;
		st->stats.tw_reused++;
		tcp_conn_done(c, 0);
		tcp_conn_unhash(c);
		c = NULL;
	}
	if (c && c->state != TCP_ST_CLOSED) {
		conn_input(c, &p);
	} else if ((l = tcp_listener_lookup(st, daddr, h->dport))) {
		tcp_listen_input(l, saddr, daddr, h->sport, h->dport, &p, iss_hint);
	} else {
		tcp_send_reset_for(st, saddr, daddr, h->sport, h->dport, &p);
	}
	tcp_reap(st);
	return 0;
}
