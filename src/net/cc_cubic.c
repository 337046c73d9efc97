/* cc_cubic.c — CUBIC congestion control (RFC 9438): after a loss the window follows
 * W(t) = C (t - K)^3 + W_max, concave up to the previous maximum then convex beyond
 * it, never below the Reno-friendly estimate; multiplicative decrease by beta = 0.7,
 * with fast convergence. Slow start is Reno's. */
#include "net/tcp_priv.h"

#define CUBIC_C		0.4
#define CUBIC_BETA	0.7

/* Cube root by Newton's method: keeps the library free of libm. */
static double cube_root(double x)
{
	double r = x > 1 ? x / 3 : 1;

	if (x <= 0)
		return 0;
	for (int i = 0; i < 60; i++) {
		double n = r - (r * r * r - x) / (3 * r * r);

		if (n == r)
			break;
		r = n;
	}
	return r;
}

static void cubic_init(struct tcp_conn *c)
{
	struct cc_cubic_state *s = &c->ccs.cubic;

	s->w_max = 0;
	s->k = 0;
	s->epoch_us = 0;
	s->w_est = 0;
	s->cwnd_epoch = 0;
	s->acc = 0;
}

static void cubic_on_ack(struct tcp_conn *c, uint32_t acked, uint32_t rtt_us)
{
	struct cc_cubic_state *s = &c->ccs.cubic;
	double mss = c->mss, cwnd = c->cwnd / mss, t, target, rtt;

	if (c->cwnd < c->ssthresh) {
		cc_reno_increase(c, acked);
		return;
	}
	if (!s->epoch_us) {
		s->epoch_us = c->st->now;
		s->cwnd_epoch = cwnd;
		s->w_est = cwnd;
		if (s->w_max <= cwnd) {
			s->w_max = cwnd;
			s->k = 0;
		} else {
			s->k = cube_root((s->w_max - cwnd) / CUBIC_C);
		}
	}
	rtt = (c->srtt_us ? c->srtt_us : rtt_us) / 1e6;
	t = (c->st->now - s->epoch_us) / 1e6;
	t = t + rtt - s->k;
	target = CUBIC_C * t * t * t + s->w_max;
	/* Reno-friendly region (RFC 9438 4.3): alpha = 3 (1 - beta) / (1 + beta). */
	s->w_est += 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA) * (acked / mss) / cwnd;
	if (s->w_est > target)
		target = s->w_est;
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	/* RFC 9438 4.1: cwnd grows by (target - cwnd) / cwnd per acknowledged segment; at
	 * the plateau by at most one segment per 100 windows (Linux's floor). */
	if (target > cwnd)
		s->acc += (target - cwnd) / cwnd * (acked / mss);
	else
		s->acc += (acked / mss) / (100.0 * cwnd);
	if (s->acc >= 1) {
		uint32_t segs = (uint32_t)s->acc;

		c->cwnd += segs * c->mss;
		s->acc -= segs;
	}
}

static uint32_t cubic_ssthresh(struct tcp_conn *c)
{
	struct cc_cubic_state *s = &c->ccs.cubic;
	double cwnd = (double)c->cwnd / c->mss;
	uint32_t th;

	/* Fast convergence: release bandwidth when the maximum keeps shrinking. */
	if (cwnd < s->w_max)
		s->w_max = cwnd * (1 + CUBIC_BETA) / 2;
	else
		s->w_max = cwnd;
	s->epoch_us = 0;
	th = (uint32_t)(c->cwnd * CUBIC_BETA);
	return th > 2u * c->mss ? th : 2u * c->mss;
}

static void cubic_on_rto(struct tcp_conn *c)
{
	c->ccs.cubic.epoch_us = 0;
	c->ccs.cubic.acc = 0;
	c->bytes_acked = 0;
}

const struct cc_ops cc_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.on_ack = cubic_on_ack,
	.ssthresh = cubic_ssthresh,
	.on_rto = cubic_on_rto,
};
