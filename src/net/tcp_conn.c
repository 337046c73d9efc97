/* tcp_conn.c — connection lifecycle: creation, bind, active open, the shared state
 * transitions (established, TIME_WAIT, closed), shutdown and close with SO_LINGER
 * semantics, and TIME_WAIT reuse for a new active open (timestamps, RFC 6191 spirit). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "net/tcp_priv.h"

static const char *const state_names[] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
	"FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

enum tcp_state tcp_state(const struct tcp_conn *c)
{
	return c->state;
}

void tcp_set_state(struct tcp_conn *c, enum tcp_state s)
{
	tcp_log(SHIM_LOG_FUNC, c, "%s -> %s", tcp_state_name(c->state), tcp_state_name(s));
	if (c->state == TCP_ST_ESTABLISHED || c->state == TCP_ST_CLOSE_WAIT) {
		if (s == TCP_ST_CLOSED)
			c->st->stats.estab_resets++;
	}
	c->state = s;
}

void tcp_notify(struct tcp_conn *c, unsigned ev)
{
	/* A child nobody accepted yet has no owner to tell. */
	if (c->st->ops.event && ev && !(c->parent && !c->accepted))
		c->st->ops.event(c->st->ctx, c, ev);
}

int tcp_conn_create(struct tcp_stack *st, struct tcp_conn **out)
{
	struct tcp_conn *c = tcp_conn_alloc(st);

	if (!c)
		return -ENOMEM;
	c->app_ref = true;
	*out = c;
	return 0;
}

void tcp_conn_set_user(struct tcp_conn *c, void *user)
{
	c->user = user;
}

void *tcp_conn_user(const struct tcp_conn *c)
{
	return c->user;
}

void tcp_conn_addrs(const struct tcp_conn *c, uint32_t *laddr, uint16_t *lport,
		    uint32_t *raddr, uint16_t *rport)
{
	if (laddr)
		*laddr = c->laddr;
	if (lport)
		*lport = c->lport;
	if (raddr)
		*raddr = c->raddr;
	if (rport)
		*rport = c->rport;
}

/* Sequence numbers, timestamp offset and our window scale for a new connection. */
void tcp_conn_init_seq(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	uint8_t ws = 0;
	uint32_t tuple[3] = { c->laddr, c->raddr, (uint32_t)c->lport << 16 | c->rport };

	c->iss = tcp_isn(st, c->laddr, c->lport, c->raddr, c->rport, st->now);
	c->snd_una = c->snd_nxt = c->snd_max = c->snd_queued_end = c->iss;
	c->ts_offset = (uint32_t)(tcp_siphash(st->secret, tuple, sizeof(tuple)) >> 32);
	if (st->cfg.window_scaling && st->cfg.wscale_fixed)
		ws = (uint8_t)(st->cfg.wscale > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : st->cfg.wscale);
	else if (st->cfg.window_scaling)
		while (ws < TCP_MAX_WSCALE && (65535u << ws) < c->rcvbuf)
			ws++;
	c->rcv_wscale = ws;
	c->mss = c->mss_clamp;
	c->cwnd = c->mss;
	c->ssthresh = UINT32_MAX;
}

/* Puts the SYN in the send queue; it is acknowledged like data. */
static int queue_syn(struct tcp_conn *c)
{
	struct tcp_seg *s = tcp_seg_alloc(c->st, 0);

	if (!s)
		return -ENOMEM;
	s->seq = c->iss;
	s->flags = TCP_SYN;
	tcp_segq_push(&c->sndq, s);
	c->snd_next_seg = s;
	c->snd_queued_end = c->iss + 1;
	return 0;
}

int tcp_conn_start_syn(struct tcp_conn *c)
{
	int err = queue_syn(c);

	if (err)
		return err;
	tcp_send_syn(c);
	return 0;
}

void tcp_conn_established(struct tcp_conn *c)
{
	uint32_t iw = c->st->cfg.init_cwnd_segs * c->mss;

	tcp_set_state(c, TCP_ST_ESTABLISHED);
	/* RFC 5681 3.1: a lost SYN or SYN-ACK leaves us one segment. */
	c->cwnd = c->retries ? c->mss : iw;
	c->ssthresh = UINT32_MAX;
	c->cc->init(c);
	c->retries = 0;
	c->backoff = 0;
	c->last_rcv_us = c->st->now;
	tcp_keepalive_reset(c);
}

void tcp_enter_time_wait(struct tcp_conn *c)
{
	tcp_set_state(c, TCP_ST_TIME_WAIT);
	tcp_timer_clear_all(c);
	tcp_segq_purge(c->st, &c->sndq);
	tcp_segq_purge(c->st, &c->oooq);
	c->snd_next_seg = NULL;
	tcp_timer_set(c, TT_CLOSE, 2ull * c->st->cfg.msl_us);
	tcp_notify(c, TCP_EV_CLOSED | TCP_EV_READABLE);
}

void tcp_conn_done(struct tcp_conn *c, int err)
{
	if (c->state == TCP_ST_CLOSED && !err) {
		tcp_conn_release_if_dead(c);
		return;
	}
	if (err) {
		c->so_error = err;
		tcp_log(SHIM_LOG_DEBUG, c, "closed in %s: %s", tcp_state_name(c->state),
			strerror(err));
	}
	if (c->state == TCP_ST_LISTEN) {
		tcp_listen_close(c);
		tcp_listener_remove(c);
	}
	tcp_set_state(c, TCP_ST_CLOSED);
	tcp_timer_clear_all(c);
	tcp_segq_purge(c->st, &c->sndq);
	tcp_segq_purge(c->st, &c->oooq);
	c->snd_next_seg = NULL;
	c->sacked_bytes = c->lost_bytes = c->retx_bytes = 0;
	tcp_conn_unhash(c);
	if (c->parent && !c->accepted)
		tcp_listen_unlink_child(c);
	if (c->app_ref)
		tcp_notify(c, TCP_EV_CLOSED | TCP_EV_READABLE | TCP_EV_WRITABLE |
			   (err ? TCP_EV_ERROR : 0));
	tcp_conn_release_if_dead(c);
}

int tcp_bind(struct tcp_conn *c, uint32_t laddr, uint16_t lport)
{
	if (c->state != TCP_ST_CLOSED || c->bound)
		return -EINVAL;
	if (lport && tcp_listener_lookup(c->st, laddr, lport) &&
	    tcp_listener_lookup(c->st, laddr, lport)->laddr == laddr)
		return -EADDRINUSE;
	c->laddr = laddr;
	c->lport = lport;
	c->bound = true;
	return 0;
}

static uint16_t pick_port(struct tcp_stack *st, uint32_t laddr, uint32_t raddr, uint16_t rport)
{
	uint32_t span = (uint32_t)st->cfg.ephemeral_hi - st->cfg.ephemeral_lo + 1;

	for (uint32_t i = 0; i < span; i++) {
		uint16_t p = st->next_ephemeral;
		uint16_t np = __builtin_bswap16(p);

		st->next_ephemeral = p >= st->cfg.ephemeral_hi ? st->cfg.ephemeral_lo : p + 1;
		if (!tcp_conn_lookup(st, laddr, np, raddr, rport) &&
		    !tcp_listener_lookup(st, laddr, np))
			return np;
	}
	return 0;
}

/* A TIME_WAIT connection on the tuple we want: reusable when timestamps protect the
 * new incarnation (Linux tcp_tw_reuse: at least one second since its last segment). */
static int reuse_time_wait(struct tcp_conn *c, struct tcp_conn *tw)
{
	uint32_t next_iss;

	if (tw->state != TCP_ST_TIME_WAIT)
		return -EADDRINUSE;
	if (!tw->ts_ok || !c->st->cfg.timestamps || c->st->now - tw->ts_recent_us < 1000000)
		return -EADDRINUSE;
	next_iss = tw->snd_nxt + 65535 + 2;
	tcp_conn_done(tw, 0);
	c->st->stats.tw_reused++;
	tcp_conn_init_seq(c);
	c->iss = next_iss;
	c->snd_una = c->snd_nxt = c->snd_max = c->snd_queued_end = next_iss;
	return 0;
}

int tcp_connect(struct tcp_conn *c, uint32_t raddr, uint16_t rport)
{
	struct tcp_stack *st = c->st;
	struct tcp_conn *old;
	int err;

	st->now = st->ops.now_us(st->ctx);
	if (c->state == TCP_ST_SYN_SENT)
		return -EALREADY;
	if (c->state != TCP_ST_CLOSED || c->so_error)
		return c->state == TCP_ST_LISTEN ? -EINVAL : -EISCONN;
	if (!raddr || !rport)
		return -EINVAL;
	if (!c->laddr)
		return -EADDRNOTAVAIL;	/* the IP layer binds the source address first */
	if (!c->lport) {
		c->lport = pick_port(st, c->laddr, raddr, rport);
		if (!c->lport)
			return -EADDRNOTAVAIL;
	}
	c->raddr = raddr;
	c->rport = rport;
	tcp_conn_init_seq(c);
	old = tcp_conn_lookup(st, c->laddr, c->lport, raddr, rport);
	if (old && (err = reuse_time_wait(c, old))) {
		c->raddr = 0;
		c->rport = 0;
		return err;
	}
	err = queue_syn(c);
	if (err)
		return err;
	tcp_set_state(c, TCP_ST_SYN_SENT);
	tcp_conn_hash(c);
	st->stats.active_opens++;
	tcp_send_syn(c);
	tcp_reap(st);
	return 0;
}

/* FIN after everything queued: on the unsent tail segment, or a segment of its own. */
static void queue_fin(struct tcp_conn *c)
{
	struct tcp_seg *t = c->sndq.tail;

	if (c->fin_queued)
		return;
	c->fin_queued = true;
	if (t && c->snd_next_seg && !(t->flags & TCP_SYN)) {
		t->flags |= TCP_FIN;
	} else {
		t = tcp_seg_alloc(c->st, 0);
		if (!t) {
			c->fin_queued = false;
			return;
		}
		t->seq = c->snd_queued_end;
		t->flags = TCP_FIN;
		tcp_segq_push(&c->sndq, t);
		if (!c->snd_next_seg)
			c->snd_next_seg = t;
	}
	c->snd_queued_end++;
}

/* Our half of the connection ends: FIN_WAIT_1 or LAST_ACK. */
static void close_send_side(struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_ST_SYN_RECEIVED:
	case TCP_ST_ESTABLISHED:
		queue_fin(c);
		tcp_set_state(c, TCP_ST_FIN_WAIT_1);
		break;
	case TCP_ST_CLOSE_WAIT:
		queue_fin(c);
		tcp_set_state(c, TCP_ST_LAST_ACK);
		break;
	default:
		return;
	}
	c->push_now = true;
	tcp_output(c);
	c->push_now = false;
}

int tcp_shutdown(struct tcp_conn *c, int how)
{
	struct tcp_stack *st = c->st;

	st->now = st->ops.now_us(st->ctx);
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	if (c->state == TCP_ST_LISTEN || c->state == TCP_ST_CLOSED) {
		if (c->state == TCP_ST_LISTEN && how != SHUT_WR) {
			tcp_conn_done(c, 0);	/* Linux: shutdown(RD) stops a listener */
			return 0;
		}
		return -ENOTCONN;
	}
	if (c->state == TCP_ST_SYN_SENT) {
		if (how != SHUT_RD)
			tcp_conn_done(c, 0);	/* Linux: the attempt is abandoned */
		else
			c->rd_shut = true;
		return 0;
	}
	if (how != SHUT_WR) {
		c->rd_shut = true;
		tcp_segq_purge(st, &c->rcvq);
	}
	if (how != SHUT_RD)
		close_send_side(c);
	tcp_notify(c, TCP_EV_READABLE | TCP_EV_WRITABLE);
	tcp_reap(st);
	return 0;
}

static bool synchronized(const struct tcp_conn *c)
{
	return c->state >= TCP_ST_SYN_RECEIVED && c->state != TCP_ST_TIME_WAIT;
}

void tcp_abort(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	st->now = st->ops.now_us(st->ctx);
	if (synchronized(c))
		tcp_send_rst(c);
	tcp_conn_done(c, 0);
	tcp_reap(st);
}

void tcp_close(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;

	st->now = st->ops.now_us(st->ctx);
	c->app_ref = false;
	c->user = NULL;
	if (c->parent && !c->accepted) {
		/* never handed out: owned by the listener's queues */
		tcp_reap(st);
		return;
	}
	/* RFC 2525 2.17 / Linux: unread data or SO_LINGER 0 aborts with RST. */
	if (synchronized(c) && (c->linger_s == 0 || c->rcvq.bytes)) {
		tcp_send_rst(c);
		tcp_conn_done(c, 0);
	} else if (c->state == TCP_ST_LISTEN || c->state == TCP_ST_SYN_SENT) {
		tcp_conn_done(c, 0);
	} else if (c->state == TCP_ST_CLOSED) {
		tcp_conn_release_if_dead(c);
	} else {
		c->rd_shut = true;
		tcp_segq_purge(st, &c->rcvq);
		close_send_side(c);
		if (c->state == TCP_ST_FIN_WAIT_2 && c->timer[TT_CLOSE] == TCP_NO_DEADLINE)
			tcp_timer_set(c, TT_CLOSE, st->cfg.fin_timeout_us);
	}
	tcp_reap(st);
}
