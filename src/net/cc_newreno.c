/* cc_newreno.c — standard congestion control (RFC 5681): slow start with appropriate
 * byte counting (RFC 3465, L = 2 SMSS), one segment per window in congestion
 * avoidance, halving on loss. The recovery mechanics live in tcp_recovery.c. Also
 * "none" (VMA's TCP_CC_ALGO=2): the window is limited only by the receiver. */
#include "net/tcp_priv.h"

void cc_reno_increase(struct tcp_conn *c, uint32_t acked)
{
	if (c->cwnd < c->ssthresh) {
		uint32_t inc = acked < 2u * c->mss ? acked : 2u * c->mss;

		c->cwnd += inc;
		return;
	}
	c->bytes_acked += acked;
	if (c->bytes_acked >= c->cwnd) {
		c->bytes_acked -= c->cwnd;
		c->cwnd += c->mss;
	}
}

static void reno_init(struct tcp_conn *c)
{
	c->bytes_acked = 0;
}

static void reno_on_ack(struct tcp_conn *c, uint32_t acked, uint32_t rtt_us)
{
	(void)rtt_us;
	cc_reno_increase(c, acked);
}

static uint32_t reno_ssthresh(struct tcp_conn *c)
{
	uint32_t half = tcp_flight(c) / 2;

	return half > 2u * c->mss ? half : 2u * c->mss;
}

static void reno_on_rto(struct tcp_conn *c)
{
	c->bytes_acked = 0;
}

const struct cc_ops cc_newreno = {
	.name = "newreno",
	.init = reno_init,
	.on_ack = reno_on_ack,
	.ssthresh = reno_ssthresh,
	.on_rto = reno_on_rto,
};

#define CC_NONE_WINDOW (1u << 30)

static void none_init(struct tcp_conn *c)
{
	c->cwnd = CC_NONE_WINDOW;
}

static void none_on_ack(struct tcp_conn *c, uint32_t acked, uint32_t rtt_us)
{
	(void)acked;
	(void)rtt_us;
	c->cwnd = CC_NONE_WINDOW;
}

static uint32_t none_ssthresh(struct tcp_conn *c)
{
	return CC_NONE_WINDOW;
}

const struct cc_ops cc_none = {
	.name = "none",
	.init = none_init,
	.on_ack = none_on_ack,
	.ssthresh = none_ssthresh,
	.on_rto = none_init,
};
