/* test_tcp_cc.c — congestion control: initial window, slow start and congestion
 * avoidance (RFC 5681), window reduction on loss for NewReno and CUBIC, and the CUBIC
 * growth curve (RFC 9438: concave to W_max at time K, convex beyond, fast convergence)
 * driven directly through the algorithm's hooks with a synthetic ACK clock. */
#include <check.h>
#include <errno.h>
#include <arpa/inet.h>

#include "tcp_harness.h"
#include "net/tcp_priv.h"

static struct tcp_conn *cl, *sv, *ls;

static void finish(struct th *th)
{
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}

/* --- algorithm-level tests on a bare connection --- */

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static void discard(void *ctx, const struct tcp_out_pkt *pkt)
{
	(void)ctx;
	(void)pkt;
}

static struct tcp_conn *bare_conn(struct tcp_stack **stp, int algo)
{
	static const struct tcp_stack_ops ops = { .output = discard, .now_us = fake_clock };
	struct tcp_config cfg;
	struct tcp_conn *c;

	th_config(&cfg);
	cfg.cc_algo = algo;
	fake_now = 1000000;
	*stp = tcp_stack_create(&cfg, &ops, NULL, NULL);
	ck_assert_ptr_nonnull(*stp);
	ck_assert_int_eq(tcp_conn_create(*stp, &c), 0);
	c->mss = 1000;
	c->srtt_us = 100000;
	c->st->now = fake_now;
	c->cc->init(c);
	return c;
}

/* One RTT of ACKs, one per segment, spread evenly; returns the new cwnd in segments. */
static double ack_one_rtt(struct tcp_conn *c, uint32_t rtt_us)
{
	uint32_t n = c->cwnd / c->mss;

	for (uint32_t i = 0; i < n; i++) {
		fake_now += rtt_us / n;
		c->st->now = fake_now;
		c->cc->on_ack(c, c->mss, rtt_us);
	}
	return (double)c->cwnd / c->mss;
}

static void bare_free(struct tcp_stack *st, struct tcp_conn *c)
{
	long conns, bufs;

	tcp_close(c);
	tcp_stack_live(st, &conns, &bufs);
	ck_assert_int_eq(conns + bufs, 0);
	tcp_stack_destroy(st);
}

START_TEST(reno_slow_start_doubles_per_round_trip)
{
	struct tcp_stack *st;
	struct tcp_conn *c = bare_conn(&st, TCP_CC_NEWRENO);

	c->cwnd = 10 * c->mss;
	c->ssthresh = UINT32_MAX;
	ck_assert_double_eq_tol(ack_one_rtt(c, 100000), 20, 0.01);
	ck_assert_double_eq_tol(ack_one_rtt(c, 100000), 40, 0.01);
	bare_free(st, c);
}
END_TEST

START_TEST(reno_congestion_avoidance_adds_one_segment_per_round_trip)
{
	struct tcp_stack *st;
	struct tcp_conn *c = bare_conn(&st, TCP_CC_NEWRENO);

	c->cwnd = 20 * c->mss;
	c->ssthresh = c->cwnd;
	ck_assert_double_eq_tol(ack_one_rtt(c, 100000), 21, 0.01);
	ck_assert_double_eq_tol(ack_one_rtt(c, 100000), 22, 0.01);
	bare_free(st, c);
}
END_TEST

START_TEST(reno_loss_halves_the_flight)
{
	struct tcp_stack *st;
	struct tcp_conn *c = bare_conn(&st, TCP_CC_NEWRENO);

	c->snd_una = 1000;
	c->snd_nxt = 1000 + 40000;
	ck_assert_uint_eq(c->cc->ssthresh(c), 20000);
	c->snd_nxt = 1000 + 1000;
	ck_assert_uint_eq(c->cc->ssthresh(c), 2000);	/* never below 2 segments */
	bare_free(st, c);
}
END_TEST

START_TEST(cubic_loss_keeps_seventy_percent)
{
	struct tcp_stack *st;
	struct tcp_conn *c = bare_conn(&st, TCP_CC_CUBIC);

	c->cwnd = 100 * c->mss;
	ck_assert_uint_eq(c->cc->ssthresh(c), 70 * c->mss);
	ck_assert_double_eq_tol(c->ccs.cubic.w_max, 100, 0.001);
	bare_free(st, c);
}
END_TEST

START_TEST(cubic_regrows_concave_to_wmax_at_k_then_convex)
{
	struct tcp_stack *st;
	struct tcp_conn *c = bare_conn(&st, TCP_CC_CUBIC);
	double w[200], k;
	int i_k;

	c->cwnd = 1000 * c->mss;
	c->ssthresh = c->cc->ssthresh(c);
	c->cwnd = c->ssthresh;
	k = 9.0856;	/* cbrt(1000 * 0.3 / 0.4) */
	for (int i = 0; i < 200; i++)
		w[i] = ack_one_rtt(c, 100000);
	ck_assert_double_eq_tol(c->ccs.cubic.k, k, 0.01);
	i_k = (int)(k * 10) - 1;	/* RTT index at time K */
	ck_assert_double_eq_tol(w[i_k], 1000, 20);
	/* concave: growth slows approaching W_max */
	ck_assert_double_gt(w[10] - w[0], w[i_k - 10] - w[i_k - 20]);
	/* plateau near W_max, then convex: growth speeds up beyond it */
	ck_assert_double_lt(w[i_k + 5] - w[i_k - 5], 10);
	ck_assert_double_gt(w[i_k + 40] - w[i_k + 30], w[i_k + 20] - w[i_k + 10]);
	ck_assert_double_gt(w[199], 1100);
	bare_free(st, c);
}
END_TEST

START_TEST(cubic_fast_convergence_lowers_wmax)
{
	struct tcp_stack *st;
	struct tcp_conn *c = bare_conn(&st, TCP_CC_CUBIC);

	c->cwnd = 100 * c->mss;
	c->cc->ssthresh(c);
	c->cwnd = 80 * c->mss;	/* second loss below the previous maximum */
	c->cc->ssthresh(c);
	ck_assert_double_eq_tol(c->ccs.cubic.w_max, 80 * 1.7 / 2, 0.001);
	bare_free(st, c);
}
END_TEST

START_TEST(cubic_small_window_follows_reno_friendly_rate)
{
	struct tcp_stack *st;
	struct tcp_conn *c = bare_conn(&st, TCP_CC_CUBIC);
	double w0, w1;

	/* Short RTT and small window: the cubic curve is flat, the Reno estimate rules. */
	c->cwnd = 10 * c->mss;
	c->ssthresh = c->cc->ssthresh(c);
	c->cwnd = c->ssthresh;
	w0 = ack_one_rtt(c, 1000);
	for (int i = 0; i < 99; i++)
		ack_one_rtt(c, 1000);
	w1 = (double)c->cwnd / c->mss;
	/* alpha = 3 * 0.3 / 1.7 ~ 0.53 segments per RTT */
	ck_assert_double_gt(w1 - w0, 40);
	ck_assert_double_lt(w1 - w0, 70);
	bare_free(st, c);
}
END_TEST

/* --- end-to-end behaviour --- */

START_TEST(initial_window_is_ten_segments)
{
	static uint8_t buf[60000];
	struct th *th;
	size_t n = 0;

	th = th_new(NULL, NULL);
	th->delay_us = 10000;
	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_int_eq(tcp_send(cl, buf, sizeof(buf), 0) > 0, 1);
	th_advance(th, 15000);	/* less than one RTT */
	n = th_count_data(th, TH_A);
	ck_assert_uint_eq(n, 10);
	th_advance(th, 1000000);
	th_drain(sv, buf, sizeof(buf));
	finish(th);
}
END_TEST

START_TEST(lost_syn_leaves_a_one_segment_initial_window)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_info ti;

	cl = sv = ls = NULL;
	th_drop_nth(th, TH_A, 0);
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 1100000);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	tcp_get_info(cl, &ti);
	ck_assert_uint_eq(ti.tcpi_snd_cwnd, 1);
	finish(th);
}
END_TEST

static struct tcp_conn *watch;
static uint32_t cwnd_at_loss;

/* Drops the first data segment sent once the sender's window reached 40 segments. */
static bool drop_at_40(const struct th_seg *s, void *arg)
{
	(void)arg;
	if (cwnd_at_loss || s->from != TH_A || !s->len || watch->cwnd < 40u * watch->mss)
		return false;
	cwnd_at_loss = watch->cwnd;
	return true;
}

static void loss_reduction(int algo, double factor)
{
	struct tcp_config a;
	struct th *th;
	uint32_t flight;

	th_config(&a);
	a.cc_algo = algo;
	a.sndbuf = 4 << 20;
	th = th_new(&a, NULL);
	th->delay_us = 5000;
	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	watch = cl;
	cwnd_at_loss = 0;
	th->drop_pred = drop_at_40;
	ck_assert_int_eq(th_transfer(th, cl, sv, 2 << 20, 60000000), 2 << 20);
	ck_assert_uint_gt(cwnd_at_loss, 0);
	flight = cl->prior_cwnd;	/* window when recovery started */
	ck_assert_uint_ge(flight, cwnd_at_loss);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_A].st)->fast_retrans, 1);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_A].st)->rto_timeouts, 0);
	/* ssthresh after the loss is factor x the window at the loss (within 3 segments) */
	ck_assert_uint_le(cl->ssthresh, (uint32_t)(flight * factor) + 3 * cl->mss);
	ck_assert_uint_ge(cl->ssthresh + 3 * cl->mss, (uint32_t)(flight * factor));
	finish(th);
}

START_TEST(newreno_recovery_halves_the_window)
{
	loss_reduction(TCP_CC_NEWRENO, 0.5);
}
END_TEST

START_TEST(cubic_recovery_keeps_seventy_percent_of_the_window)
{
	loss_reduction(TCP_CC_CUBIC, 0.7);
}
END_TEST

START_TEST(slow_start_grows_the_window_each_round_trip)
{
	struct th *th;
	struct tcp_info t0, t1;
	static uint8_t buf[1 << 20];

	th = th_new(NULL, NULL);
	th->delay_us = 10000;
	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	tcp_get_info(cl, &t0);
	ck_assert_int_eq(tcp_send(cl, buf, sizeof(buf) / 4, 0), sizeof(buf) / 4);
	th_advance(th, 61000);	/* three round trips */
	tcp_get_info(cl, &t1);
	ck_assert_uint_eq(t0.tcpi_snd_cwnd, 10);
	ck_assert_uint_ge(t1.tcpi_snd_cwnd, 60);
	th_advance(th, 1000000);
	th_drain(sv, buf, sizeof(buf));
	finish(th);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_cc");
	TCase *tc = tcase_create("cc");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reno_slow_start_doubles_per_round_trip);
	tcase_add_test(tc, reno_congestion_avoidance_adds_one_segment_per_round_trip);
	tcase_add_test(tc, reno_loss_halves_the_flight);
	tcase_add_test(tc, cubic_loss_keeps_seventy_percent);
	tcase_add_test(tc, cubic_regrows_concave_to_wmax_at_k_then_convex);
	tcase_add_test(tc, cubic_fast_convergence_lowers_wmax);
	tcase_add_test(tc, cubic_small_window_follows_reno_friendly_rate);
	tcase_add_test(tc, initial_window_is_ten_segments);
	tcase_add_test(tc, lost_syn_leaves_a_one_segment_initial_window);
	tcase_add_test(tc, newreno_recovery_halves_the_window);
	tcase_add_test(tc, cubic_recovery_keeps_seventy_percent_of_the_window);
	tcase_add_test(tc, slow_start_grows_the_window_each_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
