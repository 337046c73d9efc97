/* cc.h — pluggable congestion control for the TCP engine. The engine calls these
 * hooks on new ACKs, on entering loss recovery and on RTO; each algorithm keeps its
 * state in union cc_state inside the connection. NewReno (RFC 5681) and CUBIC (RFC 9438). */
#ifndef SHIM_NET_CC_H
#define SHIM_NET_CC_H

#include <stdint.h>

struct tcp_conn;

struct cc_cubic_state {
	double w_max;		/* segments, before the last reduction */
	double k;		/* seconds to reach w_max */
	double w_est;		/* Reno-friendly estimate, segments */
	uint64_t epoch_us;	/* start of the current congestion-avoidance epoch, 0 = none */
	double cwnd_epoch;	/* cwnd (segments) at epoch start */
	double acc;		/* fractional segments earned, added to cwnd when >= 1 */
};

union cc_state {
	struct cc_cubic_state cubic;
};

struct cc_ops {
	const char *name;
	void (*init)(struct tcp_conn *c);
	/* acked bytes newly acknowledged outside recovery; rtt_us 0 when unknown */
	void (*on_ack)(struct tcp_conn *c, uint32_t acked, uint32_t rtt_us);
	/* new ssthresh at the start of loss recovery or after RTO */
	uint32_t (*ssthresh)(struct tcp_conn *c);
	/* RTO fired: cwnd has been set to one segment */
	void (*on_rto)(struct tcp_conn *c);
};

extern const struct cc_ops cc_newreno;
extern const struct cc_ops cc_cubic;
extern const struct cc_ops cc_none;	/* no congestion control: the peer's window rules */

/* Reno slow start / congestion avoidance step, shared by both algorithms. */
void cc_reno_increase(struct tcp_conn *c, uint32_t acked);

#endif
