/* tcp_recovery.c — reacting to ACKs for reliability: RTT estimation and RTO (RFC 6298,
 * Karn's rule via per-segment transmit counts), loss detection (three dupacks, SACK
 * IsLost, early retransmit RFC 5827), fast retransmit and recovery with SACK (RFC 6675)
 * or NewReno partial-ACK handling (RFC 5681, 6582), and the RTO restart. */
#include "net/tcp_priv.h"

void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt)
{
	const struct tcp_config *cfg = &c->st->cfg;
	uint32_t rto;

	if (!rtt)
		rtt = 1;
	if (!c->rtt_valid) {
		c->srtt_us = rtt;
		c->rttvar_us = rtt / 2;
		c->rtt_valid = true;
	} else {
		uint32_t err = rtt > c->srtt_us ? rtt - c->srtt_us : c->srtt_us - rtt;

		c->rttvar_us = (3 * c->rttvar_us + err) / 4;
		c->srtt_us = (7 * c->srtt_us + rtt) / 8;
	}
	if (!c->min_rtt_us || rtt < c->min_rtt_us)
		c->min_rtt_us = rtt;
	rto = c->srtt_us + (4 * c->rttvar_us > 1000 ? 4 * c->rttvar_us : 1000);
	if (rto < cfg->rto_min_us)
		rto = cfg->rto_min_us;
	if (rto > cfg->rto_max_us)
		rto = cfg->rto_max_us;
	c->rto_us = rto;
}

void tcp_enter_recovery(struct tcp_conn *c)
{
	struct tcp_seg *head = c->sndq.head;

	c->undo_cwnd = c->cwnd;
	c->undo_ssthresh = c->ssthresh;
	c->undo_possible = c->ts_ok;
	c->undo_retrans = 0;
	c->undo_lo = c->snd_una;
	c->undo_hi = c->snd_max;
	c->rexmit_tsval = tcp_ts_now(c);	/* what the retransmission below carries */
	c->ssthresh = c->cc->ssthresh(c);
	c->prior_cwnd = c->cwnd;
	c->in_recovery = true;
	c->tlp_out = false;
	c->recover = c->snd_max;
	c->st->stats.fast_retrans++;
	if (c->sack_ok) {
		c->st->stats.sack_recoveries++;
		c->cwnd = c->ssthresh;
		tcp_sack_mark_lost(c);
		if (head && !head->sacked && !head->lost) {
			head->lost = 1;
			c->lost_bytes += seg_seqlen(head);
		}
		if (head && !head->sacked)
			tcp_retransmit_seg(c, head);
	} else {
		c->st->stats.reno_recoveries++;
		if (head)
			tcp_retransmit_seg(c, head);
		c->cwnd = c->ssthresh + 3u * c->mss;
	}
	tcp_rearm_rtx(c);
}

static void exit_recovery(struct tcp_conn *c)
{
	uint32_t flight = tcp_flight(c);

	c->in_recovery = false;
	/* RFC 6582 3.2 step 3 option 1, bounded to avoid a burst. */
	c->cwnd = c->ssthresh;
	if (c->cwnd > flight + c->mss)
		c->cwnd = flight + c->mss;
	if (c->cwnd < c->mss)
		c->cwnd = c->mss;
	c->dupacks = 0;
	tcp_sack_clear(c);
}

/* The reduction of the last recovery episode was for nothing: restore the window. The
 * dupack threshold stays: measured with random loss, raising it (as Linux does with
 * RACK behind it) only turned fast recoveries into timeouts. */
static void undo_reduction(struct tcp_conn *c, const char *why)
{
	tcp_log(SHIM_LOG_DEBUG, c, "undo (%s): cwnd %u -> %u", why, c->cwnd, c->undo_cwnd);
	c->undo_possible = false;
	c->undo_retrans = 0;
	c->undo_hi = c->undo_lo;	/* the episode is settled */
	if (c->in_recovery) {
		c->in_recovery = false;
		c->dupacks = 0;
		tcp_sack_clear(c);
	}
	if (c->undo_cwnd > c->cwnd)
		c->cwnd = c->undo_cwnd;
	c->ssthresh = c->undo_ssthresh;
	c->st->stats.spurious_undos++;
}

/* Eifel detection (RFC 3522): an ACK in recovery that echoes a timestamp older than our
 * fast retransmission was caused by the original segment, so the "loss" was only
 * reordering. Returns true when it undid. */
bool tcp_undo_spurious(struct tcp_conn *c, const struct tcp_parsed *p)
{
	bool spurious;

	if (!c->in_recovery || !c->undo_possible || !p->has_ts || !p->tsecr)
		return false;
	/* Only the first ACK that covers the retransmitted segment tells (RFC 3522). */
	c->undo_possible = false;
	spurious = SEQ_LT(p->tsecr, c->rexmit_tsval);
	tcp_log(SHIM_LOG_DEBUG, c, "eifel: tsecr %u rexmit %u ack %u lo %u -> %s", p->tsecr,
		c->rexmit_tsval, p->ack, c->undo_lo, spurious ? "spurious" : "real loss");
	if (spurious)
		undo_reduction(c, "timestamps");
	return spurious;
}

/* D-SACK undo (RFC 3708): each D-SACK for the episode's range says one retransmission
 * was a duplicate at the receiver; once every retransmission is accounted for, none
 * was needed. Catches reordering longer than an RTT, which Eifel cannot see. */
void tcp_dsack_undo(struct tcp_conn *c, const struct tcp_parsed *p)
{
	uint32_t l, r, segs;

	if (!p->nsack)
		return;
	l = p->sack[0][0];
	r = p->sack[0][1];
	/* RFC 2883: a D-SACK is the first block, below the ACK or inside the second. */
	if (!(SEQ_LEQ(r, p->ack) || (p->nsack > 1 && SEQ_GEQ(l, p->sack[1][0]) &&
				     SEQ_LEQ(r, p->sack[1][1]))))
		return;
	/* The duplicate a tail loss probe made says nothing about the recovery. */
	if (c->tlp_rexmit && l == c->tlp_rexmit_seq) {
		c->tlp_rexmit = false;
		return;
	}
	if (!c->undo_retrans || !SEQ_LT(c->undo_lo, c->undo_hi))
		return;
	if (SEQ_LT(l, c->undo_lo) || SEQ_GT(r, c->undo_hi))
		return;
	segs = (r - l + c->mss - 1) / c->mss;
	c->undo_retrans = c->undo_retrans > segs ? c->undo_retrans - segs : 0;
	if (!c->undo_retrans)
		undo_reduction(c, "D-SACK");
}

/* A new cumulative ACK advanced snd_una by acked bytes. */
void tcp_ack_newdata(struct tcp_conn *c, uint32_t acked, uint32_t prior_una, uint64_t rtt)
{
	(void)prior_una;
	if (c->after_rto && SEQ_GEQ(c->snd_una, c->recover))
		c->after_rto = false;
	if (c->in_recovery) {
		if (SEQ_GEQ(c->snd_una, c->recover)) {
			exit_recovery(c);
			return;
		}
		/* Partial ACK. */
		if (c->sack_ok) {
			tcp_sack_mark_lost(c);
		} else {
			struct tcp_seg *head = c->sndq.head;

			if (head)
				tcp_retransmit_seg(c, head);
			c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
			c->cwnd += c->mss;
			if (c->cwnd < c->mss)
				c->cwnd = c->mss;
		}
		return;
	}
	c->dupacks = 0;
	c->cc->on_ack(c, acked, (uint32_t)rtt);
}

/* RFC 5827 early retransmit: with fewer than four segments outstanding and nothing new
 * to send, three dupacks (or three SACKed segments) can never come; outstanding - 1 of
 * them are enough. */
static bool early_retransmit(struct tcp_conn *c)
{
	uint32_t outstanding = 0, sacked = 0;

	if (c->snd_next_seg)
		return false;
	for (struct tcp_seg *s = c->sndq.head; s && outstanding < 4; s = s->next) {
		outstanding++;
		sacked += s->sacked;
	}
	if (outstanding < 2 || outstanding >= 4)
		return false;
	if (c->dupacks < outstanding - 1 && (!c->sack_ok || sacked < outstanding - 1))
		return false;
	c->st->stats.early_retrans++;
	return true;
}

/* After a timeout everything outstanding is sent again (go-back-N), and RFC 6675
 * allows no new recovery until all of it is acknowledged, so a lost resend used to
 * cost one more timeout each: on a path losing 5 % most of the time went waiting. As
 * RACK does (RFC 8985), a resent segment is deemed lost once a segment sent after it
 * by more than the reordering allowance has been SACKed, and is sent again at once.
 * Only segments this pass has already resent are looked at; the rest follow anyway. */
static void resend_lost_after_rto(struct tcp_conn *c)
{
	uint64_t reo = c->srtt_us / 4 > 50 ? c->srtt_us / 4 : 50;
	int n = 0;

	if (!c->sack_ok || !c->rack_xmit_us)
		return;
	for (struct tcp_seg *s = c->sndq.head; s && s != c->snd_next_seg && n < 4; s = s->next) {
		if (s->sacked)
			continue;
		if (s->xmit_us + reo >= c->rack_xmit_us)
			break;	/* sent after the newest SACKed one: may still arrive */
		if (tcp_retransmit_seg(c, s)) {
			c->st->stats.lost_retrans++;
			n++;
		}
	}
	if (n)
		tcp_rearm_rtx(c);
}

/* Loss detection outside recovery: three dupacks, early retransmit, or (RFC 6675) enough
 * SACKed data above the first hole. Runs on duplicate ACKs and on any ACK carrying
 * SACK blocks, since a tail loss probe's answer usually also acknowledges new data. */
void tcp_detect_loss(struct tcp_conn *c)
{
	struct tcp_seg *head = c->sndq.head;

	if (c->after_rto && !c->in_recovery) {
		resend_lost_after_rto(c);
		return;
	}
	if (c->in_recovery || !head || head->sacked)
		return;
	if (c->dupacks >= c->reordering || early_retransmit(c)) {
		tcp_enter_recovery(c);
		return;
	}
	if (!c->sack_ok)
		return;
	tcp_sack_mark_lost(c);
	if (head->lost) {
		head->lost = 0;
		c->lost_bytes -= seg_seqlen(head);
		tcp_enter_recovery(c);
	}
}

void tcp_dupack(struct tcp_conn *c)
{
	c->dupacks++;
	c->st->stats.dup_acks++;
	if (c->in_recovery) {
		if (c->sack_ok)
			tcp_sack_mark_lost(c);
		else
			c->cwnd += c->mss;	/* each dupack: a segment left the network */
		return;
	}
	tcp_detect_loss(c);
}

/* The retransmission timer expired with data outstanding. */
void tcp_rto_recovery(struct tcp_conn *c)
{
	if (c->retries == 0 || c->in_recovery)
		c->ssthresh = c->cc->ssthresh(c);
	c->in_recovery = false;
	c->after_rto = true;
	c->tlp_out = false;
	c->undo_retrans = 0;	/* after a timeout the episode can no longer be undone */
	c->undo_possible = false;
	c->recover = c->snd_max;
	c->dupacks = 0;
	c->cwnd = c->mss;
	c->bytes_acked = 0;
	tcp_sack_clear(c);
	/* A second timeout in a row hints that the receiver dropped data it had SACKed
	 * (reneging, RFC 2018 section 8): forget SACK marks so everything is resent. */
	if (c->retries) {
		for (struct tcp_seg *s = c->sndq.head; s; s = s->next)
			s->sacked = 0;
		c->sacked_bytes = 0;
	}
	/* Go back: everything from snd_una is sent again as the window reopens. */
	c->snd_nxt = c->snd_una;
	c->snd_next_seg = c->sndq.head;
	c->cc->on_rto(c);
	c->st->stats.rto_timeouts++;
}
