/* tcp_buf.c — segment buffers (recycled per stack) and the three per-connection queues:
 * the send queue (unacknowledged then unsent data), the in-order receive queue the
 * application reads, and the bounded out-of-order queue holding data beyond a gap. */
#include <stdlib.h>
#include <string.h>

#include "net/tcp_priv.h"

/* Segments of the common size (up to one MSS-sized buffer) are recycled through a
 * per-stack free list: steady-state traffic then costs no malloc/free per segment. */
#define SEG_CACHE_MAX 1024

struct tcp_seg *tcp_seg_alloc(struct tcp_stack *st, uint32_t cap)
{
	struct tcp_seg *s;

	if (cap <= st->seg_class && st->seg_cache) {
		s = st->seg_cache;
		st->seg_cache = s->next;
		st->seg_cached--;
	} else {
		if (cap <= st->seg_class)
			cap = st->seg_class;
		s = malloc(sizeof(*s) + cap);
		if (!s)
			return NULL;
	}
	if (cap < st->seg_class)
		cap = st->seg_class;
	memset(s, 0, sizeof(*s));
	s->cap = cap;
	st->live_bufs++;
	return s;
}

void tcp_seg_free(struct tcp_stack *st, struct tcp_seg *s)
{
	st->live_bufs--;
	if (s->cap == st->seg_class && st->seg_cached < SEG_CACHE_MAX) {
		s->next = st->seg_cache;
		st->seg_cache = s;
		st->seg_cached++;
		return;
	}
	free(s);
}

void tcp_seg_cache_drain(struct tcp_stack *st)
{
	struct tcp_seg *s;

	while ((s = st->seg_cache)) {
		st->seg_cache = s->next;
		free(s);
	}
	st->seg_cached = 0;
}

void tcp_segq_push(struct tcp_segq *q, struct tcp_seg *s)
{
	s->next = NULL;
	if (q->tail)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
	q->bytes += s->len;
	q->count++;
}

struct tcp_seg *tcp_segq_pop(struct tcp_segq *q)
{
	struct tcp_seg *s = q->head;

	if (!s)
		return NULL;
	q->head = s->next;
	if (!q->head)
		q->tail = NULL;
	q->bytes -= s->len;
	q->count--;
	s->next = NULL;
	return s;
}

void tcp_segq_purge(struct tcp_stack *st, struct tcp_segq *q)
{
	struct tcp_seg *s;

	while ((s = tcp_segq_pop(q)))
		tcp_seg_free(st, s);
}

static bool rcvq_append(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
	struct tcp_seg *t = c->rcvq.tail;

	/* Small segments fill the tail buffer instead of costing one allocation each. */
	if (t && t->cap - t->off - t->len >= len) {
		memcpy(t->data + t->off + t->len, data, len);
		t->len += len;
		c->rcvq.bytes += len;
		return true;
	}
	t = tcp_seg_alloc(c->st, len < 2048 ? 2048 : len);
	if (!t)
		return false;
	memcpy(t->data, data, len);
	t->len = len;
	tcp_segq_push(&c->rcvq, t);
	return true;
}

/* In-order data (seq == rcv_nxt) and a possible FIN go to the receive queue. Out of
 * memory, nothing is taken: rcv_nxt stays and the peer retransmits. */
static void rcv_in_order(struct tcp_conn *c, const uint8_t *data, uint32_t len, bool fin)
{
	if (len) {
		if (!rcvq_append(c, data, len))
			return;
		c->rcv_nxt += len;
		c->bytes_received += len;
	}
	if (fin && !c->fin_rcvd) {
		c->fin_rcvd = true;
		c->rcv_nxt++;
	}
}

/* Moves out-of-order segments that the hole filling made contiguous. */
void tcp_ooo_drain(struct tcp_conn *c)
{
	struct tcp_seg *s;

	while ((s = c->oooq.head) && SEQ_LEQ(s->seq, c->rcv_nxt)) {
		tcp_segq_pop(&c->oooq);
		uint32_t skip = c->rcv_nxt - s->seq;

		if (skip < s->len)
			rcv_in_order(c, s->data + skip, s->len - skip, s->flags & TCP_FIN);
		else if (skip == s->len && (s->flags & TCP_FIN))
			rcv_in_order(c, NULL, 0, true);
		tcp_seg_free(c->st, s);
	}
}

static void ooo_insert(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t len,
		       bool fin)
{
	struct tcp_seg *prev = NULL, *cur = c->oooq.head, *s;
	uint32_t end = seq + len;
	uint32_t limit = c->st->cfg.ooo_max_bytes ? c->st->cfg.ooo_max_bytes : c->rcvbuf;

	/* Skip segments that end before us; trim our head against the predecessor. */
	while (cur && SEQ_LEQ(seg_end(cur), seq)) {
		prev = cur;
		cur = cur->next;
	}
	if (cur && SEQ_LEQ(cur->seq, seq)) {
		/* cur starts at or before us and ends after our start */
		uint32_t cend = cur->seq + cur->len;

		if (SEQ_GEQ(cend, end) && !(fin && !(cur->flags & TCP_FIN) && cend == end))
			return;	/* already held */
		if (SEQ_LT(seq, cend)) {
			data += cend - seq;
			len -= cend - seq;
			seq = cend;
		}
		prev = cur;
		cur = cur->next;
	}
	/* Drop successors we cover entirely; trim our tail against the next one. */
	while (cur && SEQ_LEQ(seg_end(cur), end) && !((cur->flags & TCP_FIN) && !fin)) {
		struct tcp_seg *n = cur->next;

		if (prev)
			prev->next = n;
		else
			c->oooq.head = n;
		if (c->oooq.tail == cur)
			c->oooq.tail = prev;
		c->oooq.bytes -= cur->len;
		c->oooq.count--;
		tcp_seg_free(c->st, cur);
		cur = n;
	}
	if (cur && SEQ_LT(cur->seq, end)) {
		len = cur->seq - seq;
		fin = false;
	}
	if (!len && !fin)
		return;
	if (c->oooq.bytes + len > limit) {
		c->st->stats.ooo_drops++;
		return;
	}
	s = tcp_seg_alloc(c->st, len);
	if (!s)
		return;
	memcpy(s->data, data, len);
	s->seq = seq;
	s->len = len;
	s->flags = fin ? TCP_FIN : 0;
	s->next = cur;
	if (prev)
		prev->next = s;
	else
		c->oooq.head = s;
	if (!cur)
		c->oooq.tail = s;
	c->oooq.bytes += len;
	c->oooq.count++;
	c->rcv_ooopack++;
	c->st->stats.ooo_queued++;
	c->last_ooo_seq = seq;
}

/* Data already trimmed to the receive window: seq >= rcv_nxt. */
void tcp_rcv_data(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t len,
		  bool fin)
{
	if (seq == c->rcv_nxt) {
		rcv_in_order(c, data, len, fin);
		if (c->oooq.head)
			tcp_ooo_drain(c);
	} else {
		ooo_insert(c, seq, data, len, fin);
	}
}

/* Frees what ack covers; *rtt_us gets a Karn-safe sample (0 if none). */
void tcp_sndq_acked(struct tcp_conn *c, uint32_t ack, uint64_t *rtt_us)
{
	struct tcp_seg *s;

	*rtt_us = 0;
	while ((s = c->sndq.head)) {
		if (SEQ_LEQ(seg_end(s), ack)) {
			if (s->xmits == 1) {
				*rtt_us = c->st->now - s->xmit_us;
				if (s->xmit_us > c->rack_xmit_us)
					c->rack_xmit_us = s->xmit_us;
			} else {
				*rtt_us = 0;
			}
			if (s->sacked)
				c->sacked_bytes -= seg_seqlen(s);
			if (s->lost && !s->sacked)
				c->lost_bytes -= seg_seqlen(s);
			if (s->retx)
				c->retx_bytes -= seg_seqlen(s);
			if (c->snd_next_seg == s)
				c->snd_next_seg = s->next;
			tcp_segq_pop(&c->sndq);
			tcp_seg_free(c->st, s);
			continue;
		}
		if (SEQ_GT(ack, s->seq) && s->len) {
			uint32_t n = ack - s->seq;

			if (s->flags & TCP_SYN)
				n--;	/* never split a SYN segment; it has no data here */
			s->off += n;
			s->len -= n;
			s->seq += n;
			c->sndq.bytes -= n;
			if (s->sacked)
				c->sacked_bytes -= n;
			if (s->lost && !s->sacked)
				c->lost_bytes -= n;
			if (s->retx)
				c->retx_bytes -= n;
		}
		break;
	}
}
