/* tcp_sack.c — selective acknowledgement (RFC 2018) and the RFC 6675 scoreboard.
 * Receiver side: SACK blocks describing the out-of-order queue, most recent first.
 * Sender side: marking SACKed segments, deciding which are lost (IsLost with
 * DupThresh = 3), the pipe estimate that paces recovery, lost retransmissions and
 * reneging detection. */
#include "net/tcp_priv.h"

size_t tcp_sack_blocks(const struct tcp_conn *c, uint32_t blocks[][2], size_t max)
{
	uint32_t runs[16][2];
	size_t nruns = 0, n = 0, first = 0;

	for (struct tcp_seg *s = c->oooq.head; s; s = s->next) {
		uint32_t end = s->seq + s->len + ((s->flags & TCP_FIN) ? 1 : 0);

		if (nruns && runs[nruns - 1][1] == s->seq) {
			runs[nruns - 1][1] = end;
			continue;
		}
		if (nruns == 16)
			break;
		runs[nruns][0] = s->seq;
		runs[nruns][1] = end;
		nruns++;
	}
	/* The block holding the latest arrival goes first (RFC 2018 section 4). */
	for (size_t i = 0; i < nruns; i++)
		if (SEQ_LEQ(runs[i][0], c->last_ooo_seq) && SEQ_LT(c->last_ooo_seq, runs[i][1]))
			first = i;
	if (nruns && max) {
		blocks[n][0] = runs[first][0];
		blocks[n][1] = runs[first][1];
		n++;
	}
	for (size_t i = 0; i < nruns && n < max; i++) {
		if (i == first)
			continue;
		blocks[n][0] = runs[i][0];
		blocks[n][1] = runs[i][1];
		n++;
	}
	return n;
}

/* Marks what the blocks cover; returns the bytes SACKed for the first time. */
uint32_t tcp_sack_update(struct tcp_conn *c, const struct tcp_parsed *p)
{
	uint32_t newly = 0;

	for (unsigned b = 0; b < p->nsack; b++) {
		uint32_t l = p->sack[b][0], r = p->sack[b][1];

		/* Ignore D-SACKs and blocks outside what we sent. */
		if (!SEQ_LT(l, r) || SEQ_LEQ(r, c->snd_una) || SEQ_GT(r, c->snd_max))
			continue;
		for (struct tcp_seg *s = c->sndq.head; s; s = s->next) {
			if (SEQ_GEQ(s->seq, r))
				break;
			if (s->sacked || SEQ_LT(s->seq, l) || SEQ_GT(seg_end(s), r))
				continue;
			s->sacked = 1;
			c->sacked_bytes += seg_seqlen(s);
			newly += seg_seqlen(s);
			if (s->xmit_us > c->rack_xmit_us)
				c->rack_xmit_us = s->xmit_us;
			if (s->lost)
				c->lost_bytes -= seg_seqlen(s);
		}
	}
	return newly;
}

/* A retransmission is itself lost when a segment sent later (by more than a quarter
 * RTT, the reordering allowance) has been SACKed: send it again now instead of waiting
 * for the RTO (the time-ordered idea of RACK, RFC 8985, applied to retransmissions). */
static void mark_lost_retransmissions(struct tcp_conn *c)
{
	uint64_t reo = c->srtt_us / 4 > 50 ? c->srtt_us / 4 : 50;

	if (!c->in_recovery || !c->rack_xmit_us)
		return;
	for (struct tcp_seg *s = c->sndq.head; s && s != c->snd_next_seg; s = s->next) {
		if (!s->retx || s->sacked || s->xmit_us + reo >= c->rack_xmit_us)
			continue;
		s->retx = 0;
		c->retx_bytes -= seg_seqlen(s);
		if (!s->lost) {
			s->lost = 1;
			c->lost_bytes += seg_seqlen(s);
		}
		c->st->stats.lost_retrans++;
	}
}

/* IsLost(): a hole is lost once DupThresh segments, or more than (DupThresh - 1) * MSS
 * bytes, above it were SACKed. */
void tcp_sack_mark_lost(struct tcp_conn *c)
{
	uint32_t segs_above = 0, bytes_above = c->sacked_bytes;

	mark_lost_retransmissions(c);
	for (struct tcp_seg *s = c->sndq.head; s; s = s->next)
		if (s->sacked)
			segs_above++;
	for (struct tcp_seg *s = c->sndq.head; s && s != c->snd_next_seg; s = s->next) {
		if (s->sacked) {
			segs_above--;
			bytes_above -= seg_seqlen(s);
			continue;
		}
		if (!segs_above)
			break;
		if (!s->lost && (segs_above >= c->reordering ||
				 bytes_above > (c->reordering - 1u) * c->mss)) {
			s->lost = 1;
			c->lost_bytes += seg_seqlen(s);
		}
	}
}

uint32_t tcp_flight(const struct tcp_conn *c)
{
	return c->snd_nxt - c->snd_una;
}

/* RFC 6675 pipe: octets presumed in the network. */
uint32_t tcp_pipe(const struct tcp_conn *c)
{
	uint32_t out = tcp_flight(c);
	uint32_t gone = c->sacked_bytes + c->lost_bytes;

	return (out > gone ? out - gone : 0) + c->retx_bytes;
}

/* Forget loss marks (recovery ended or an RTO restarts transmission). */
void tcp_sack_clear(struct tcp_conn *c)
{
	for (struct tcp_seg *s = c->sndq.head; s; s = s->next) {
		s->lost = 0;
		s->retx = 0;
	}
	c->lost_bytes = 0;
	c->retx_bytes = 0;
}

/* The cumulative ACK stopped at a segment the receiver had SACKed: it dropped that data
 * (reneging, RFC 2018 section 8). Forget every SACK mark so it is all sent again. */
bool tcp_sack_reneged(struct tcp_conn *c)
{
	if (!c->sndq.head || !c->sndq.head->sacked)
		return false;
	for (struct tcp_seg *s = c->sndq.head; s; s = s->next)
		s->sacked = 0;
	c->sacked_bytes = 0;
	return true;
}
