/* tcp_io.c — the application side of a connection: send (with MSG_MORE), recv (with
 * MSG_PEEK) and the window updates reading triggers, socket-option knobs, readiness
 * for poll/epoll, SO_ERROR and TCP_INFO. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "net/tcp_priv.h"

static bool can_send(const struct tcp_conn *c)
{
	return c->state == TCP_ST_ESTABLISHED || c->state == TCP_ST_CLOSE_WAIT;
}

static uint32_t send_space(const struct tcp_conn *c)
{
	if (c->sndq.count >= c->st->cfg.max_tx_segs)
		return 0;
	return c->sndbuf > c->sndq.bytes ? c->sndbuf - c->sndq.bytes : 0;
}

ssize_t tcp_send(struct tcp_conn *c, const void *buf, size_t len, int flags)
{
	struct tcp_stack *st = c->st;
	const uint8_t *p = buf;
	size_t done = 0;
	bool nomem = false;

	st->now = st->ops.now_us(st->ctx);
	if (c->so_error) {
		int e = c->so_error;

		c->so_error = 0;
		return -e;
	}
	if (c->fin_queued)
		return -EPIPE;
	if (!can_send(c)) {
		if (c->state == TCP_ST_SYN_SENT || c->state == TCP_ST_SYN_RECEIVED)
			return -EAGAIN;
		return c->state == TCP_ST_CLOSED && c->segs_in ? -EPIPE : -ENOTCONN;
	}
	while (done < len) {
		struct tcp_seg *t = c->sndq.tail;
		uint32_t space = send_space(c), n;

		if (!space)
			break;
		/* Fill the unsent tail segment up to one MSS first. */
		if (t && c->snd_next_seg && !(t->flags & (TCP_SYN | TCP_FIN)) &&
		    t->off + t->len < t->cap && t->len < c->mss) {
			n = t->cap - t->off - t->len;
			if (n > c->mss - t->len)
				n = c->mss - t->len;
		} else {
			t = tcp_seg_alloc(st, c->mss);
			if (!t) {
				nomem = true;
				break;
			}
			t->seq = c->snd_queued_end;
			tcp_segq_push(&c->sndq, t);
			if (!c->snd_next_seg)
				c->snd_next_seg = t;
			n = c->mss;
		}
		if (n > space)
			n = space;
		if (n > len - done)
			n = (uint32_t)(len - done);
		memcpy(t->data + t->off + t->len, p + done, n);
		t->len += n;
		c->sndq.bytes += n;
		c->snd_queued_end += n;
		done += n;
	}
	c->more_pending = flags & TCP_SEND_MORE;
	tcp_output(c);
	tcp_reap(st);
	if (!done)
		return !len ? 0 : nomem ? -ENOBUFS : -EAGAIN;
	return (ssize_t)done;
}

ssize_t tcp_recv(struct tcp_conn *c, void *buf, size_t len, int flags)
{
	struct tcp_stack *st = c->st;
	uint8_t *out = buf;
	size_t done = 0;
	bool peek = flags & TCP_RECV_PEEK;

	st->now = st->ops.now_us(st->ctx);
	if (c->state == TCP_ST_LISTEN)
		return -ENOTCONN;
	for (struct tcp_seg *s = c->rcvq.head; s && done < len;) {
		uint32_t n = s->len;

		if (n > len - done)
			n = (uint32_t)(len - done);
		memcpy(out + done, s->data + s->off, n);
		done += n;
		if (peek) {
			s = s->next;
			continue;
		}
		s->off += n;
		s->len -= n;
		c->rcvq.bytes -= n;
		if (!s->len) {
			tcp_segq_pop(&c->rcvq);
			tcp_seg_free(st, s);
			s = c->rcvq.head;
		}
	}
	if (done) {
		if (!peek)
			tcp_maybe_window_update(c);
		tcp_reap(st);
		return (ssize_t)done;
	}
	if (!len)
		return 0;
	if (c->so_error) {
		int e = c->so_error;

		c->so_error = 0;
		return -e;
	}
	if (c->fin_rcvd || c->rd_shut)
		return 0;
	if (c->state == TCP_ST_CLOSED)
		return c->segs_in ? 0 : -ENOTCONN;
	return -EAGAIN;
}

int tcp_setopt(struct tcp_conn *c, enum tcp_opt opt, int val)
{
	c->st->now = c->st->ops.now_us(c->st->ctx);
	switch (opt) {
	case TCP_OPT_NODELAY:
		c->nodelay = val != 0;
		if (c->nodelay)
			tcp_output(c);	/* Linux pushes pending data when Nagle is turned off */
		return 0;
	case TCP_OPT_CORK:
		c->cork = val != 0;
		if (!c->cork) {
			c->push_now = true;
			tcp_output(c);
			c->push_now = false;
			tcp_timer_clear(c, TT_CORK);
		}
		return 0;
	case TCP_OPT_QUICKACK:
		c->quickack = val != 0;
		if (val && c->ack_pending)
			tcp_send_ack(c);
		return 0;
	case TCP_OPT_KEEPALIVE:
		c->keepalive = val != 0;
		c->probes = 0;
		tcp_keepalive_reset(c);
		return 0;
	case TCP_OPT_KEEPIDLE:
	case TCP_OPT_KEEPINTVL:
		if (val < 1 || val > 32767)
			return -EINVAL;
		if (opt == TCP_OPT_KEEPIDLE) {
			c->keepidle_s = (uint32_t)val;
			tcp_keepalive_reset(c);
		} else {
			c->keepintvl_s = (uint32_t)val;
		}
		return 0;
	case TCP_OPT_KEEPCNT:
		if (val < 1 || val > 127)
			return -EINVAL;
		c->keepcnt = (uint32_t)val;
		return 0;
	case TCP_OPT_MAXSEG:
		if (val < 88 || val > 65495)
			return -EINVAL;
		if (c->state != TCP_ST_CLOSED && c->state != TCP_ST_LISTEN)
			return 0;	/* Linux: ignored once connected */
		c->mss_clamp = (uint16_t)(val < (int)c->st->cfg.mss ? val : (int)c->st->cfg.mss);
		c->mss = c->mss_clamp;
		return 0;
	case TCP_OPT_SNDBUF:
	case TCP_OPT_RCVBUF:
		if (val < 1)
			return -EINVAL;
		/* Linux doubles the value for bookkeeping overhead; we store bytes of data. */
		if (opt == TCP_OPT_SNDBUF)
			c->sndbuf = (uint32_t)val < 4608 ? 4608 : (uint32_t)val;
		else
			c->rcvbuf = (uint32_t)val < 2304 ? 2304 : (uint32_t)val;
		return 0;
	case TCP_OPT_LINGER:
		c->linger_s = val < 0 ? -1 : val;
		return 0;
	case TCP_OPT_USER_TIMEOUT:
		if (val < 0)
			return -EINVAL;
		c->user_timeout_ms = (uint32_t)val;
		return 0;
	}
	return -ENOPROTOOPT;
}

int tcp_getopt(const struct tcp_conn *c, enum tcp_opt opt, int *val)
{
	switch (opt) {
	case TCP_OPT_NODELAY: *val = c->nodelay; return 0;
	case TCP_OPT_CORK: *val = c->cork; return 0;
	case TCP_OPT_QUICKACK: *val = c->quickack != 0; return 0;
	case TCP_OPT_KEEPALIVE: *val = c->keepalive; return 0;
	case TCP_OPT_KEEPIDLE: *val = (int)c->keepidle_s; return 0;
	case TCP_OPT_KEEPINTVL: *val = (int)c->keepintvl_s; return 0;
	case TCP_OPT_KEEPCNT: *val = (int)c->keepcnt; return 0;
	case TCP_OPT_MAXSEG: *val = c->mss; return 0;
	case TCP_OPT_SNDBUF: *val = (int)c->sndbuf; return 0;
	case TCP_OPT_RCVBUF: *val = (int)c->rcvbuf; return 0;
	case TCP_OPT_LINGER: *val = c->linger_s; return 0;
	case TCP_OPT_USER_TIMEOUT: *val = (int)c->user_timeout_ms; return 0;
	}
	return -ENOPROTOOPT;
}

unsigned tcp_poll(const struct tcp_conn *c)
{
	unsigned m = 0;

	if (c->state == TCP_ST_LISTEN)
		return c->acceptq_head ? POLLIN : 0;
	if (c->rcvq.bytes || c->fin_rcvd || c->rd_shut)
		m |= POLLIN;
	if (c->fin_rcvd || c->rd_shut)
		m |= POLLRDHUP;
	if (can_send(c) && !c->fin_queued && send_space(c) >= c->sndq.bytes / 2 &&
	    send_space(c) > 0)
		m |= POLLOUT;
	if (c->so_error)
		m |= POLLERR;
	if (c->state == TCP_ST_CLOSED && (c->segs_in || c->so_error))
		m |= POLLHUP | POLLIN | POLLOUT;
	if ((c->fin_rcvd || c->rd_shut) && c->fin_queued)
		m |= POLLHUP;
	return m;
}

int tcp_so_error(struct tcp_conn *c)
{
	int e = c->so_error;

	c->so_error = 0;
	return e;
}

size_t tcp_rx_avail(const struct tcp_conn *c)
{
	return c->rcvq.bytes;
}

size_t tcp_tx_queued(const struct tcp_conn *c)
{
	return c->sndq.bytes;
}

/* Linux numbering of states in tcp_info. */
static uint8_t linux_state(enum tcp_state s)
{
	static const uint8_t map[] = {
		[TCP_ST_CLOSED] = 7, [TCP_ST_LISTEN] = 10, [TCP_ST_SYN_SENT] = 2,
		[TCP_ST_SYN_RECEIVED] = 3, [TCP_ST_ESTABLISHED] = 1, [TCP_ST_FIN_WAIT_1] = 4,
		[TCP_ST_FIN_WAIT_2] = 5, [TCP_ST_CLOSE_WAIT] = 8, [TCP_ST_CLOSING] = 11,
		[TCP_ST_LAST_ACK] = 9, [TCP_ST_TIME_WAIT] = 6,
	};
	return map[s];
}

static uint32_t segs(const struct tcp_conn *c, uint32_t bytes)
{
	return c->mss ? (bytes + c->mss - 1) / c->mss : 0;
}

void tcp_get_info(const struct tcp_conn *c, struct tcp_info *ti)
{
	uint64_t now = c->st->ops.now_us(c->st->ctx);

	memset(ti, 0, sizeof(*ti));
	ti->tcpi_state = linux_state(c->state);
	ti->tcpi_ca_state = c->in_recovery ? 3 /* Recovery */ : c->after_rto ? 4 /* Loss */ : 0;
	ti->tcpi_retransmits = c->retries;
	ti->tcpi_probes = c->probes;
	ti->tcpi_backoff = c->backoff;
	ti->tcpi_options = (c->ts_ok ? 1 : 0) | (c->sack_ok ? 2 : 0) | (c->ws_ok ? 4 : 0);
	ti->tcpi_snd_wscale = c->snd_wscale;
	ti->tcpi_rcv_wscale = c->rcv_wscale;
	ti->tcpi_rto = tcp_current_rto(c);
	ti->tcpi_ato = c->st->cfg.delack_us;
	ti->tcpi_snd_mss = c->mss;
	ti->tcpi_rcv_mss = c->mss;
	ti->tcpi_unacked = segs(c, c->snd_max - c->snd_una);
	ti->tcpi_sacked = segs(c, c->sacked_bytes);
	ti->tcpi_lost = segs(c, c->lost_bytes);
	ti->tcpi_retrans = segs(c, c->retx_bytes);
	ti->tcpi_last_data_sent = (uint32_t)((now - c->last_snd_us) / 1000);
	ti->tcpi_last_data_recv = (uint32_t)((now - c->last_rcv_us) / 1000);
	ti->tcpi_last_ack_recv = ti->tcpi_last_data_recv;
	ti->tcpi_pmtu = c->st->cfg.mtu;
	ti->tcpi_rcv_ssthresh = c->rcvbuf;
	ti->tcpi_rtt = c->srtt_us;
	ti->tcpi_rttvar = c->rttvar_us;
	ti->tcpi_snd_ssthresh = c->ssthresh == UINT32_MAX ? 0x7fffffff : segs(c, c->ssthresh);
	ti->tcpi_snd_cwnd = c->mss ? c->cwnd / c->mss : 0;
	ti->tcpi_advmss = c->mss_clamp;
	ti->tcpi_reordering = 3;
	ti->tcpi_rcv_space = c->rcvbuf;
	ti->tcpi_total_retrans = c->total_retrans;
}
