/* tcp_output.c — everything the engine puts on the wire: header building with the
 * pseudo-header checksum, the send loop (receive window, congestion window or RFC 6675
 * pipe, Nagle / cork / MSG_MORE, sender SWS avoidance), retransmissions, pure ACKs,
 * window updates, RSTs and probes. Segments leave through ops->output. */
#include <string.h>
#include <arpa/inet.h>

#include "net/ip.h"
#include "net/tcp_priv.h"

/* Pseudo-header plus segment, with the IP layer's RFC 1071 helpers. hlen is even (a
 * TCP header is a multiple of 4 bytes), so data keeps its alignment in the sum. */
uint16_t tcp_csum(uint32_t saddr, uint32_t daddr, const uint8_t *hdr, size_t hlen,
		  const uint8_t *data, size_t dlen)
{
	uint32_t sum = csum_pseudo(saddr, daddr, IPPROTO_NUM_TCP, (uint16_t)(hlen + dlen));

	sum = csum_partial(hdr, hlen, sum);
	if (dlen)
		sum = csum_partial(data, dlen, sum);
	return csum_fold(sum);
}

/* Window we can offer now: never shrinks what we already advertised, and grows only by
 * a meaningful amount (receiver-side SWS avoidance, RFC 1122 4.2.3.3). */
uint32_t tcp_rcv_window(struct tcp_conn *c)
{
	uint32_t used = c->rcvq.bytes;
	uint32_t free_sp = c->rcvbuf > used ? c->rcvbuf - used : 0;
	uint32_t cur = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t max = 65535u << c->rcv_wscale;
	uint32_t step = c->rcvbuf / 2 < c->mss ? c->rcvbuf / 2 : c->mss;

	if (free_sp > max)
		free_sp = max;
	if (free_sp > cur && free_sp - cur >= step)
		return free_sp;
	return cur;
}

static void xmit(struct tcp_conn *c, uint32_t seq, uint8_t flags, const uint8_t *data,
		 uint32_t len)
{
	struct tcp_stack *st = c->st;
	struct tcp_hdr *h = (struct tcp_hdr *)st->scratch;
	size_t olen = tcp_write_options(c, st->scratch + TCP_HDR_LEN, flags);
	size_t hlen = TCP_HDR_LEN + olen;
	uint32_t wnd = 0;
	struct tcp_out_pkt pkt;

	if (flags & TCP_SYN) {
		wnd = tcp_rcv_window(c);
		if (wnd > 65535)
			wnd = 65535;	/* never scaled on a SYN (RFC 7323 2.2) */
	} else if (!(flags & TCP_RST)) {
		wnd = tcp_rcv_window(c) >> c->rcv_wscale;
		c->rcv_adv = c->rcv_nxt + (wnd << c->rcv_wscale);
	}
	h->sport = c->lport;
	h->dport = c->rport;
	h->seq = htonl(seq);
	h->ack = (flags & TCP_ACK) ? htonl(c->rcv_nxt) : 0;
	h->doff_rsvd = (uint8_t)((hlen / 4) << 4);
	h->flags = flags;
	h->wnd = htons((uint16_t)wnd);
	h->csum = 0;
	h->urg = 0;
	h->csum = tcp_csum(c->laddr, c->raddr, st->scratch, hlen, data, len);

	if (flags & TCP_ACK) {
		c->last_ack_sent = c->rcv_nxt;
		c->ack_pending = false;
		c->unacked_segs = 0;
		tcp_timer_clear(c, TT_DELACK);
	}
	if (flags & TCP_RST)
		st->stats.out_rsts++;
	st->stats.out_segs++;
	c->segs_out++;
	c->last_snd_us = st->now;

	pkt.saddr = c->laddr;
	pkt.daddr = c->raddr;
	pkt.hdr = st->scratch;
	pkt.hdr_len = hlen;
	pkt.payload = data;
	pkt.payload_len = len;
	st->ops.output(st->ctx, &pkt);
}

static void xmit_seg(struct tcp_conn *c, struct tcp_seg *s)
{
	uint8_t flags = s->flags & (TCP_SYN | TCP_FIN);

	if (s->len && (!s->next || s->next == c->snd_next_seg))
		flags |= TCP_PSH;
	if (c->state == TCP_ST_SYN_SENT)
		flags &= ~TCP_ACK;
	else
		flags |= TCP_ACK;
	s->xmits++;
	s->xmit_us = c->st->now;
	xmit(c, s->seq, flags, s->data + s->off, s->len);
}

/* Retransmits one segment from the send queue; false when nothing was sent. */
bool tcp_retransmit_seg(struct tcp_conn *c, struct tcp_seg *s)
{
	if (s->sacked)
		return false;
	xmit_seg(c, s);
	if (!s->retx) {
		s->retx = 1;
		c->retx_bytes += seg_seqlen(s);
	}
	c->st->stats.retrans_segs++;
	c->total_retrans++;
	if (c->in_recovery)
		c->undo_retrans++;
	c->bytes_retrans += s->len;
	if (SEQ_GT(seg_end(s), c->high_rxt))
		c->high_rxt = seg_end(s);
	return true;
}

void tcp_send_syn(struct tcp_conn *c)
{
	struct tcp_seg *s = c->sndq.head;

	if (!s || !(s->flags & TCP_SYN))
		return;
	if (s->xmits)
		tcp_retransmit_seg(c, s);
	else
		xmit_seg(c, s);
	c->snd_nxt = c->iss + 1;
	c->snd_max = SEQ_MAX(c->snd_max, c->snd_nxt);
	c->snd_next_seg = s->next;
	if (c->timer[TT_RTX] == TCP_NO_DEADLINE)
		tcp_rearm_rtx(c);
}

void tcp_send_ack(struct tcp_conn *c)
{
	xmit(c, c->snd_nxt, TCP_ACK, NULL, 0);
}

void tcp_send_rst(struct tcp_conn *c)
{
	xmit(c, c->snd_nxt, TCP_RST | TCP_ACK, NULL, 0);
}

void tcp_send_probe(struct tcp_conn *c)
{
	xmit(c, c->snd_una - 1, TCP_ACK, NULL, 0);
}

void tcp_send_challenge_ack(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	if (st->now - st->challenge_window_us >= 1000000) {
		st->challenge_window_us = st->now;
		st->challenge_count = 0;
	}
	if (st->challenge_count >= st->cfg.challenge_ack_limit) {
		if (!st->stats.challenge_ack_limited++)
			tcp_log(SHIM_LOG_DEBUG, c, "challenge ACK limit (%u/s) reached",
				st->cfg.challenge_ack_limit);
		return;
	}
	st->challenge_count++;
	st->stats.challenge_acks++;
	tcp_send_ack(c);
}

/* RST for a segment no connection wants (RFC 9293 3.10.7.1). */
void tcp_send_reset_for(struct tcp_stack *st, uint32_t saddr, uint32_t daddr,
			uint16_t sport, uint16_t dport, const struct tcp_parsed *p)
{
	struct tcp_hdr *h = (struct tcp_hdr *)st->scratch;
	struct tcp_out_pkt pkt;

	if (p->flags & TCP_RST)
		return;
	memset(h, 0, TCP_HDR_LEN);
	h->sport = dport;
	h->dport = sport;
	if (p->flags & TCP_ACK) {
		h->seq = htonl(p->ack);
		h->flags = TCP_RST;
	} else {
		uint32_t seglen = p->len + !!(p->flags & TCP_SYN) + !!(p->flags & TCP_FIN);

		h->ack = htonl(p->seq + seglen);
		h->flags = TCP_RST | TCP_ACK;
	}
	h->doff_rsvd = (TCP_HDR_LEN / 4) << 4;
	h->csum = tcp_csum(daddr, saddr, st->scratch, TCP_HDR_LEN, NULL, 0);
	st->stats.out_rsts++;
	st->stats.out_segs++;
	pkt.saddr = daddr;
	pkt.daddr = saddr;
	pkt.hdr = st->scratch;
	pkt.hdr_len = TCP_HDR_LEN;
	pkt.payload = NULL;
	pkt.payload_len = 0;
	st->ops.output(st->ctx, &pkt);
}

/* Splits s so that its first part carries n payload bytes. */
static int seg_split(struct tcp_conn *c, struct tcp_seg *s, uint32_t n)
{
	struct tcp_seg *t = tcp_seg_alloc(c->st, s->len - n);

	if (!t)
		return -1;
	t->len = s->len - n;
	memcpy(t->data, s->data + s->off + n, t->len);
	t->seq = s->seq + n;
	t->flags = s->flags & TCP_FIN;
	s->flags &= ~TCP_FIN;
	s->len = n;
	t->next = s->next;
	s->next = t;
	if (c->sndq.tail == s)
		c->sndq.tail = t;
	c->sndq.count++;
	return 0;
}

static bool can_send_state(const struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_ST_ESTABLISHED:
	case TCP_ST_CLOSE_WAIT:
	case TCP_ST_FIN_WAIT_1:
	case TCP_ST_CLOSING:
	case TCP_ST_LAST_ACK:
		return true;
	default:
		return false;
	}
}

/* RFC 6675 NextSeg() rule 1: the first lost, unSACKed, not yet retransmitted segment. */
static struct tcp_seg *next_lost(struct tcp_conn *c)
{
	for (struct tcp_seg *s = c->sndq.head; s && s != c->snd_next_seg; s = s->next)
		if (s->lost && !s->sacked && !s->retx)
			return s;
	return NULL;
}

void tcp_output(struct tcp_conn *c)
{
	struct tcp_seg *s;
	bool sent = false, wnd_limited = false;

	if (!can_send_state(c))
		return;
	if (c->in_recovery && c->sack_ok) {
		while (tcp_pipe(c) + c->mss <= c->cwnd && (s = next_lost(c))) {
			tcp_retransmit_seg(c, s);
			sent = true;
		}
	}
	/* RFC 3042 limited transmit: the first two dupacks each let one new segment out,
	 * so a small window still collects the three dupacks fast retransmit needs. */
	uint32_t cwnd = c->cwnd;

	if (!c->in_recovery && c->dupacks && c->dupacks < 3)
		cwnd += c->dupacks * (uint32_t)c->mss;
	while ((s = c->snd_next_seg)) {
		uint32_t wnd_edge = c->snd_una + c->snd_wnd;
		uint32_t usable = SEQ_GT(wnd_edge, s->seq) ? wnd_edge - s->seq : 0;
		uint32_t flight = c->in_recovery && c->sack_ok ? tcp_pipe(c) : tcp_flight(c);
		bool resend = SEQ_LT(s->seq, c->snd_max);

		if (s->sacked) {	/* after an RTO rewind: the peer has it */
			c->snd_nxt = seg_end(s);
			c->snd_next_seg = s->next;
			continue;
		}
		if (s->len > usable) {
			/* Sender SWS avoidance: split only when the peer's window is all we
			 * will get (nothing in flight) or at least half its largest offer. */
			if (usable && (tcp_flight(c) == 0 || usable >= c->max_snd_wnd / 2) &&
			    usable < s->len) {
				if (seg_split(c, s, usable))
					break;
			} else if (!(s->len == 0 && usable == 0 && (s->flags & TCP_FIN))) {
				wnd_limited = true;
				break;
			}
		}
		if (flight + (s->len ? s->len : 1) > cwnd && flight > 0)
			break;
		if (!resend && s->len < c->mss && s == c->sndq.tail && !(s->flags & TCP_FIN)) {
			if ((c->cork || c->more_pending) && !c->push_now) {
				if (c->timer[TT_CORK] == TCP_NO_DEADLINE)
					tcp_timer_set(c, TT_CORK, c->st->cfg.cork_us);
				break;
			}
			if (!c->nodelay && !c->push_now && tcp_flight(c) > 0)
				break;	/* Nagle: wait for the outstanding data's ACK */
		}
		if (resend)
			tcp_retransmit_seg(c, s);
		else
			xmit_seg(c, s);
		if (!resend)
			c->bytes_sent += s->len;
		if (s->flags & TCP_FIN)
			c->fin_sent_once = true;
		c->snd_nxt = seg_end(s);
		c->snd_max = SEQ_MAX(c->snd_max, c->snd_nxt);
		c->snd_next_seg = s->next;
		sent = true;
		if (c->persist) {
			c->persist = false;
			tcp_timer_clear(c, TT_RTX);
		}
		if (c->timer[TT_RTX] == TCP_NO_DEADLINE)
			tcp_rearm_rtx(c);
	}
	if (sent)
		tcp_timer_clear(c, TT_CORK);
	/* Data waits on a closed window with nothing in flight: probe it (persist). */
	if (wnd_limited && tcp_flight(c) == 0 && c->timer[TT_RTX] == TCP_NO_DEADLINE) {
		c->persist = true;
		tcp_timer_set(c, TT_RTX, tcp_current_rto(c));
	}
}

/* After the application read data: tell the peer when the window opened enough. */
void tcp_maybe_window_update(struct tcp_conn *c)
{
	uint32_t adv = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t free_sp = c->rcvbuf > c->rcvq.bytes ? c->rcvbuf - c->rcvq.bytes : 0;
	uint32_t step = c->rcvbuf / 2 < 2u * c->mss ? c->rcvbuf / 2 : 2u * c->mss;

	if (!can_send_state(c) && c->state != TCP_ST_FIN_WAIT_2)
		return;
	if (c->fin_rcvd)
		return;
	if (free_sp >= adv + step)
		tcp_send_ack(c);
}
