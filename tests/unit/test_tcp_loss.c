/* test_tcp_loss.c — reliability under loss: fast retransmit and NewReno recovery,
 * SACK scoreboard recovery, RTO value, backoff and Karn's rule, retry limits, the
 * out-of-order queue and its limit, and bulk transfers through a lossy, reordering,
 * duplicating, corrupting wire checked byte for byte. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "tcp_harness.h"
#include "net/tcp_priv.h"

static struct tcp_conn *cl, *sv, *ls;
static uint8_t big_buf[1 << 16];

static struct th *setup(const struct tcp_config *a, const struct tcp_config *b)
{
	struct th *th = th_setup(a, b, &cl, &sv, &ls);

	ck_assert_ptr_nonnull(th);
	return th;
}

static void finish(struct th *th)
{
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}

static void no_sack(struct tcp_config *a, struct tcp_config *b)
{
	th_config(a);
	th_config(b);
	a->sack = b->sack = false;
}

static const struct th_seg *first_retransmission(const struct th *th, int from,
						 uint32_t seq, size_t *index)
{
	size_t seen = 0;

	for (size_t i = 0; i < th->nlog; i++) {
		const struct th_seg *s = &th->log[i];

		if (s->from == from && s->seq == seq && s->len && seen++ == 1) {
			if (index)
				*index = i;
			return s;
		}
	}
	return NULL;
}

START_TEST(fast_retransmit_after_three_dupacks_without_sack)
{
	struct tcp_config a, b;
	struct th *th;
	const struct th_seg *lost, *rx;
	const struct tcp_stack_stats *sa;

	no_sack(&a, &b);
	th = setup(&a, &b);
	th_drop_rule(th, TH_A, 0, 0, 1, 4, 1);
	ck_assert_int_eq(th_transfer(th, cl, sv, 100000, 10000000), 100000);
	lost = th_find(th, TH_A, 0, 0, 0);
	for (size_t i = 0; i < th->nlog; i++)
		if (th->log[i].dropped)
			lost = &th->log[i];
	ck_assert(lost->dropped);
	rx = first_retransmission(th, TH_A, lost->seq, NULL);
	ck_assert_ptr_nonnull(rx);
	ck_assert_uint_lt(rx->t_us - lost->t_us, 20000);	/* far sooner than any RTO */
	sa = tcp_stack_stats(th->side[TH_A].st);
	ck_assert_int_eq(sa->reno_recoveries, 1);
	ck_assert_int_eq(sa->sack_recoveries, 0);
	ck_assert_int_eq(sa->rto_timeouts, 0);
	ck_assert_int_ge(sa->dup_acks, 3);
	finish(th);
}
END_TEST

START_TEST(newreno_partial_acks_repair_several_losses)
{
	struct tcp_config a, b;
	struct th *th;
	const struct tcp_stack_stats *sa;

	no_sack(&a, &b);
	th = setup(&a, &b);
	th_drop_nth(th, TH_A, 6);
	th_drop_nth(th, TH_A, 8);
	th_drop_nth(th, TH_A, 10);
	ck_assert_int_eq(th_transfer(th, cl, sv, 200000, 10000000), 200000);
	sa = tcp_stack_stats(th->side[TH_A].st);
	ck_assert_int_eq(sa->reno_recoveries, 1);
	ck_assert_int_eq(sa->rto_timeouts, 0);
	ck_assert_int_eq(sa->retrans_segs, 3);
	finish(th);
}
END_TEST

START_TEST(sack_recovery_repairs_several_losses_in_one_round_trip)
{
	struct th *th = setup(NULL, NULL);
	const struct tcp_stack_stats *sa;
	uint64_t t_first = 0, t_last = 0;

	th_drop_nth(th, TH_A, 6);
	th_drop_nth(th, TH_A, 8);
	th_drop_nth(th, TH_A, 10);
	ck_assert_int_eq(th_transfer(th, cl, sv, 200000, 10000000), 200000);
	sa = tcp_stack_stats(th->side[TH_A].st);
	ck_assert_int_eq(sa->sack_recoveries, 1);
	ck_assert_int_eq(sa->rto_timeouts, 0);
	ck_assert_int_eq(sa->retrans_segs, 3);
	/* All three holes are resent within about one RTT (1 ms here), not one per RTT. */
	for (size_t i = 0; i < th->nlog; i++) {
		const struct th_seg *s = &th->log[i];

		if (s->from != TH_A || !s->len || s->dropped)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (th->log[j].from == TH_A && th->log[j].dropped && th->log[j].seq == s->seq) {
				if (!t_first)
					t_first = s->t_us;
				t_last = s->t_us;
			}
		}
	}
	ck_assert_uint_le(t_last - t_first, 1000);
	finish(th);
}
END_TEST

START_TEST(sack_blocks_describe_out_of_order_data)
{
	struct th *th = setup(NULL, NULL);
	const struct th_seg *lost = NULL, *dup = NULL;

	th_drop_nth(th, TH_A, 3);
	ck_assert_int_eq(th_transfer(th, cl, sv, 20000, 10000000), 20000);
	for (size_t i = 0; i < th->nlog; i++)
		if (th->log[i].dropped)
			lost = &th->log[i];
	ck_assert_ptr_nonnull(lost);
	for (size_t i = 0; i < th->nlog && !dup; i++)
		if (th->log[i].from == TH_B && th->log[i].nsack)
			dup = &th->log[i];
	ck_assert_ptr_nonnull(dup);
	ck_assert_uint_eq(dup->ack, lost->seq);
	ck_assert_uint_eq(dup->sack[0][0], lost->seq + lost->len);
	ck_assert_uint_gt(dup->sack[0][1], dup->sack[0][0]);
	finish(th);
}
END_TEST

START_TEST(rto_doubles_on_each_timeout)
{
	struct th *th = setup(NULL, NULL);
	uint64_t t[5];

	th->blackhole[TH_A] = true;
	ck_assert_int_eq(tcp_send(cl, "x", 1, 0), 1);
	th_advance(th, 7000000);
	for (int i = 0; i < 5; i++) {
		const struct th_seg *s = th_find(th, TH_A, TCP_SYN, 0, 1 + (size_t)i);

		ck_assert_ptr_nonnull(s);
		t[i] = s->t_us;
	}
	/* min RTO 200 ms then 400, 800, 1600 */
	ck_assert_uint_eq(t[1] - t[0], 200000);
	ck_assert_uint_eq(t[2] - t[1], 400000);
	ck_assert_uint_eq(t[3] - t[2], 800000);
	ck_assert_uint_eq(t[4] - t[3], 1600000);
	ck_assert_int_ge(tcp_stack_stats(th->side[TH_A].st)->rto_timeouts, 4);
	th->blackhole[TH_A] = false;
	th_advance(th, 10000000);
	ck_assert_uint_eq(tcp_tx_queued(cl), 0);
	finish(th);
}
END_TEST

START_TEST(rto_honours_configured_minimum)
{
	struct tcp_config a;
	struct th *th;
	const struct th_seg *s0, *s1;

	th_config(&a);
	a.rto_min_us = 50000;
	th = setup(&a, NULL);
	th_drop_rule(th, TH_A, 0, 0, 1, 0, 1);
	ck_assert_int_eq(tcp_send(cl, "x", 1, 0), 1);
	th_advance(th, 100000);
	s0 = th_find(th, TH_A, TCP_SYN, 0, 1);
	s1 = th_find(th, TH_A, TCP_SYN, 0, 2);
	ck_assert(s0->dropped && s0->len == 1);
	ck_assert_uint_eq(s1->seq, s0->seq);
	ck_assert_uint_eq(s1->t_us - s0->t_us, 50000);
	finish(th);
}
END_TEST

START_TEST(karn_ignores_samples_from_retransmitted_segments)
{
	struct tcp_config a, b;
	struct th *th;
	struct tcp_info ti;

	no_sack(&a, &b);
	a.timestamps = b.timestamps = false;
	th = setup(&a, &b);
	ck_assert_int_eq(tcp_setopt(sv, TCP_OPT_QUICKACK, 1), 0);
	ck_assert_int_eq(th_transfer(th, cl, sv, 3000, 1000000), 3000);
	th_drop_rule(th, TH_A, 0, 0, 1, 0, 1);
	ck_assert_int_eq(th_transfer(th, cl, sv, 100, 2000000), 100);
	tcp_get_info(cl, &ti);
	/* The 200+ ms RTO round trip must not pollute srtt (1 ms path). */
	ck_assert_uint_lt(ti.tcpi_rtt, 5000);
	ck_assert_uint_eq(ti.tcpi_total_retrans, 1);
	finish(th);
}
END_TEST

START_TEST(rtt_is_measured_from_timestamps)
{
	struct th *th;
	struct tcp_info ti;

	th = th_new(NULL, NULL);
	th->delay_us = 10000;	/* 20 ms RTT */
	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_int_eq(th_transfer(th, cl, sv, 100000, 10000000), 100000);
	tcp_get_info(cl, &ti);
	ck_assert_uint_ge(ti.tcpi_rtt, 19000);
	ck_assert_uint_le(ti.tcpi_rtt, 22000);
	ck_assert_uint_ge(ti.tcpi_rto, 200000);
	finish(th);
}
END_TEST

START_TEST(connection_times_out_after_retries)
{
	struct tcp_config a;
	struct th *th;
	char buf[4];

	th_config(&a);
	a.retries2 = 4;
	th = setup(&a, NULL);
	th->blackhole[TH_A] = true;
	ck_assert_int_eq(tcp_send(cl, "x", 1, 0), 1);
	th_advance(th, 60000000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_recv(cl, buf, sizeof(buf), 0), -ETIMEDOUT);
	ck_assert_uint_eq(th_count_data(th, TH_A), 5);
	th->blackhole[TH_A] = false;
	tcp_abort(sv);
	finish(th);
}
END_TEST

START_TEST(rto_restarts_with_one_segment_window)
{
	struct th *th = setup(NULL, NULL);
	struct tcp_info ti;

	th->blackhole[TH_B] = true;	/* ACKs vanish */
	long first = th_transfer(th, cl, sv, 50000, 210000);

	ck_assert_int_gt(first, 0);
	tcp_get_info(cl, &ti);
	ck_assert_uint_eq(ti.tcpi_snd_cwnd, 1);
	ck_assert_uint_eq(ti.tcpi_ca_state, 4);
	th->blackhole[TH_B] = false;
	th_advance(th, 2000000);
	ck_assert_uint_eq(tcp_tx_queued(cl), 0);
	{
		static char buf[65536];

		ck_assert_uint_eq(th_drain(sv, buf, sizeof(buf)), 50000 - (size_t)first);
	}
	tcp_get_info(cl, &ti);
	ck_assert_uint_gt(ti.tcpi_snd_cwnd, 1);
	finish(th);
}
END_TEST

START_TEST(out_of_order_queue_respects_its_limit)
{
	struct tcp_config b;
	struct th *th;

	th_config(&b);
	b.ooo_max_bytes = 4000;
	th = setup(NULL, &b);
	th_drop_nth(th, TH_A, 3);
	ck_assert_int_eq(th_transfer(th, cl, sv, 100000, 10000000), 100000);
	ck_assert_int_gt(tcp_stack_stats(th->side[TH_B].st)->ooo_drops, 0);
	finish(th);
}
END_TEST

START_TEST(corrupted_segments_are_dropped_and_repaired)
{
	struct th *th = setup(NULL, NULL);

	th->corrupt = 0.05;
	ck_assert_int_eq(th_transfer(th, cl, sv, 500000, 60000000), 500000);
	ck_assert_int_gt(tcp_stack_stats(th->side[TH_B].st)->bad_csum +
			 tcp_stack_stats(th->side[TH_A].st)->bad_csum, 0);
	finish(th);
}
END_TEST

START_TEST(duplicated_segments_are_delivered_once)
{
	struct th *th = setup(NULL, NULL);

	th->dup = 0.5;
	ck_assert_int_eq(th_transfer(th, cl, sv, 300000, 10000000), 300000);
	ck_assert_int_gt(th->duplicated, 10);
	finish(th);
}
END_TEST

/* Random loss, reordering, duplication and corruption at several seeds: every byte
 * arrives exactly once and in order. */
START_TEST(bulk_transfer_survives_a_hostile_wire)
{
	struct th *th;
	struct tcp_config a, b;
	bool sack = _i & 1;

	th_config(&a);
	th_config(&b);
	a.sack = b.sack = sack;
	th = setup(&a, &b);
	th_seed(th, 1000 + (uint64_t)_i);
	th->loss = 0.02;
	th->reorder = 0.05;
	th->dup = 0.01;
	th->corrupt = 0.01;
	th->delay_us = 2000;
	ck_assert_int_eq(th_transfer(th, cl, sv, 1 << 20, 120000000), 1 << 20);
	ck_assert_int_eq(th_transfer(th, sv, cl, 200000, 120000000), 200000);
	ck_assert_int_gt(th->dropped, 0);
	finish(th);
}
END_TEST

START_TEST(bulk_transfer_with_five_percent_loss)
{
	struct th *th = setup(NULL, NULL);

	th_seed(th, 77);
	th->loss = 0.05;
	ck_assert_int_eq(th_transfer(th, cl, sv, 1 << 20, 300000000), 1 << 20);
	finish(th);
}
END_TEST


START_TEST(limited_transmit_avoids_rto_with_a_small_window)
{
	struct tcp_config a, b;
	struct th *th;
	const struct tcp_stack_stats *sa;

	no_sack(&a, &b);
	a.init_cwnd_segs = 3;
	th = setup(&a, &b);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_NODELAY, 1), 0);
	th_drop_rule(th, TH_A, 0, 0, 1, 0, 1);	/* the very first data segment */
	ck_assert_int_eq(th_transfer(th, cl, sv, 30000, 10000000), 30000);
	sa = tcp_stack_stats(th->side[TH_A].st);
	ck_assert_int_eq(sa->fast_retrans, 1);
	ck_assert_int_eq(sa->rto_timeouts, 0);
	finish(th);
}
END_TEST

/* The whole life of a connection (handshake, data both ways, close from both ends)
 * through a wire losing 10% of everything: both ends reach CLOSED cleanly. */
START_TEST(full_lifecycle_survives_ten_percent_loss)
{
	struct th *th = th_new(NULL, NULL);
	char b[8];

	cl = sv = ls = NULL;
	th_seed(th, 500 + (uint64_t)_i);
	th->loss = 0.10;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 30000000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_int_eq(th_transfer(th, cl, sv, 100000, 60000000), 100000);
	ck_assert_int_eq(th_transfer(th, sv, cl, 100000, 60000000), 100000);
	ck_assert_int_eq(tcp_shutdown(cl, SHUT_WR), 0);
	th_advance(th, 30000000);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), 0);
	tcp_close(sv);
	sv = NULL;
	th_advance(th, 60000000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	finish(th);
}
END_TEST


/* The receiver throws away out-of-order data it had already SACKed: the sender notices
 * when the cumulative ACK stops at a SACKed segment and sends it all again. */
struct seq_drop {
	uint32_t seq;
	int count;
};

static bool drop_seq(const struct th_seg *s, void *arg)
{
	struct seq_drop *d = arg;

	if (s->from != TH_A || s->seq != d->seq || !s->len || !d->count)
		return false;
	d->count--;
	return true;
}

START_TEST(sack_reneging_receiver_still_gets_everything)
{
	struct th *th = setup(NULL, NULL);
	struct seq_drop d = { cl->snd_nxt + 3 * 1448, 2 };	/* first send and fast rexmit */

	th->drop_pred = drop_seq;
	th->drop_arg = &d;
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_NODELAY, 1), 0);
	ck_assert_int_eq(tcp_send(cl, big_buf, 12 * 1448, 0), 12 * 1448);
	th_advance(th, 5000);
	ck_assert_ptr_nonnull(sv->oooq.head);
	tcp_segq_purge(th->side[TH_B].st, &sv->oooq);	/* renege */
	th_advance(th, 3000000);
	ck_assert_uint_eq(tcp_tx_queued(cl), 0);
	ck_assert_uint_eq(th_drain(sv, big_buf, sizeof(big_buf)), 12 * 1448);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_A].st)->sack_reneging, 1);
	finish(th);
}
END_TEST


START_TEST(user_timeout_bounds_how_long_data_may_stay_unacked)
{
	struct th *th = setup(NULL, NULL);
	char b[4];

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_USER_TIMEOUT, 3000), 0);
	th->blackhole[TH_A] = true;
	ck_assert_int_eq(tcp_send(cl, "x", 1, 0), 1);
	th_advance(th, 2999000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	th_advance(th, 2000);	/* 3 s after the data first left */
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_recv(cl, b, sizeof(b), 0), -ETIMEDOUT);
	th->blackhole[TH_A] = false;
	tcp_abort(sv);
	finish(th);
}
END_TEST


/* The last two segments of a burst are lost: nothing follows to produce dupacks. The
 * tail loss probe (about two RTTs later) draws a SACK and recovery repairs the rest,
 * long before the 200 ms minimum RTO. */
START_TEST(tail_loss_probe_repairs_a_lost_tail_without_rto)
{
	struct th *th = setup(NULL, NULL);
	const struct tcp_stack_stats *sa = tcp_stack_stats(th->side[TH_A].st);
	static uint8_t buf[5 * 1448];
	uint64_t t0;

	ck_assert_int_eq(th_transfer(th, cl, sv, 20000, 1000000), 20000);	/* RTT known */
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_NODELAY, 1), 0);
	th_drop_rule(th, TH_A, 0, 0, 1, 3, 2);
	t0 = th->now;
	ck_assert_int_eq(tcp_send(cl, buf, sizeof(buf), 0), sizeof(buf));
	th_advance(th, 50000);
	ck_assert_uint_eq(tcp_tx_queued(cl), 0);
	ck_assert_uint_eq(th_drain(sv, buf, sizeof(buf)), sizeof(buf));
	ck_assert_int_eq(sa->rto_timeouts, 0);
	ck_assert_int_ge(sa->tail_loss_probes, 1);
	ck_assert_uint_lt(th_last(th, TH_A)->t_us - t0, 50000);
	finish(th);
}
END_TEST

/* Three segments in flight, the first lost: only two dupacks can come back, which is
 * enough under early retransmit. */
START_TEST(early_retransmit_needs_fewer_dupacks_for_a_small_flight)
{
	struct tcp_config a, b;
	struct th *th;
	const struct tcp_stack_stats *sa;
	static uint8_t buf[3 * 1460];

	no_sack(&a, &b);
	th = setup(&a, &b);
	sa = tcp_stack_stats(th->side[TH_A].st);
	/* settle the peer's window first: a window change would not count as a dupack */
	ck_assert_int_eq(th_transfer(th, cl, sv, 20000, 1000000), 20000);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_NODELAY, 1), 0);
	th_drop_rule(th, TH_A, 0, 0, 1, 0, 1);
	ck_assert_int_eq(tcp_send(cl, buf, 3 * cl->mss, 0), 3 * cl->mss);
	th_advance(th, 20000);
	ck_assert_uint_eq(tcp_tx_queued(cl), 0);
	ck_assert_int_eq(sa->early_retrans, 1);
	ck_assert_int_eq(sa->rto_timeouts, 0);
	ck_assert_uint_eq(th_drain(sv, buf, sizeof(buf)), 3 * cl->mss);
	finish(th);
}
END_TEST


/* Finds a secret that puts the ISN of this tuple (at the harness's start time) just
 * below 2^32, so the data that follows crosses the sequence-space wrap. */
static void secret_near_wrap(uint8_t secret[16], uint32_t laddr, uint16_t lport,
			     uint32_t raddr, uint16_t rport)
{
	static struct tcp_stack fake;

	for (uint32_t k = 0;; k++) {
		uint32_t isn;

		memset(fake.secret, 0, sizeof(fake.secret));
		memcpy(fake.secret, &k, sizeof(k));
		isn = tcp_isn(&fake, laddr, lport, raddr, rport, 1000000);
		if (isn >= 0xFFFFFFFFu - 400000 && isn <= 0xFFFFFFFFu - 200000) {
			memcpy(secret, fake.secret, 16);
			return;
		}
	}
}

START_TEST(sequence_numbers_wrap_around_under_loss)
{
	uint8_t sa[16], sb[16];
	struct tcp_config a, b;
	struct th *th;

	th_config(&a);
	th_config(&b);
	a.sack = b.sack = _i;
	secret_near_wrap(sa, th_addr(TH_A), htons(32768), th_addr(TH_B), htons(80));
	secret_near_wrap(sb, th_addr(TH_B), htons(80), th_addr(TH_A), htons(32768));
	th = th_new_keyed(&a, &b, sa, sb);
	cl = sv = ls = NULL;
	ck_assert_int_eq(th_establish(th, 80, &cl, &sv, &ls), 0);
	ck_assert_uint_ge(cl->iss, 0xFFFFFFFFu - 400000);
	ck_assert_uint_ge(sv->iss, 0xFFFFFFFFu - 400000);
	th_seed(th, 3);
	th->loss = 0.03;
	th->reorder = 0.03;
	ck_assert_int_eq(th_transfer(th, cl, sv, 1 << 20, 120000000), 1 << 20);
	ck_assert_int_eq(th_transfer(th, sv, cl, 1 << 20, 120000000), 1 << 20);
	ck_assert_uint_lt(cl->snd_una, cl->iss);	/* wrapped */
	ck_assert_uint_lt(sv->snd_una, sv->iss);
	finish(th);
}
END_TEST


/* Segments overtaken on the wire (no loss at all) trigger fast retransmits; timestamps or
 * D-SACKs prove them needless and the window reduction is undone. */
START_TEST(spurious_fast_retransmits_from_reordering_are_undone)
{
	struct th *th = setup(NULL, NULL);
	const struct tcp_stack_stats *sa = tcp_stack_stats(th->side[TH_A].st);

	th_seed(th, 11);
	th->reorder = 0.02;
	th->reorder_us = 5000;
	ck_assert_int_eq(th_transfer(th, cl, sv, 4 << 20, 60000000), 4 << 20);
	ck_assert_uint_eq(th->dropped, 0);
	ck_assert_int_gt(sa->fast_retrans, 0);
	ck_assert_int_gt(sa->spurious_undos, 0);
	finish(th);
}
END_TEST


/* Both ends stream at once, so every ACK rides on data and no pure duplicate ACK ever
 * comes back. The SACK blocks on those data segments must still drive fast recovery
 * (a stream to and from an echo server, as with a kernel peer). */
START_TEST(sack_on_data_segments_triggers_recovery_without_dupacks)
{
	struct th *th = setup(NULL, NULL);
	const struct tcp_stack_stats *sa = tcp_stack_stats(th->side[TH_A].st);
	static uint8_t buf[1 << 16];
	size_t got_a = 0, got_b = 0, sent_a = 0, sent_b = 0;
	const size_t total = 4 << 20;

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_NODELAY, 1), 0);
	ck_assert_int_eq(tcp_setopt(sv, TCP_OPT_NODELAY, 1), 0);
	th_drop_rule(th, TH_A, 0, 0, 1, 200, 1);	/* one data segment, mid-stream */
	while ((got_a < total || got_b < total) && th->now < 100000000) {
		ssize_t r;

		if (sent_a < total && (r = tcp_send(cl, buf, sizeof(buf), 0)) > 0)
			sent_a += (size_t)r;
		if (sent_b < total && (r = tcp_send(sv, buf, sizeof(buf), 0)) > 0)
			sent_b += (size_t)r;
		while ((r = tcp_recv(sv, buf, sizeof(buf), 0)) > 0)
			got_b += (size_t)r;
		while ((r = tcp_recv(cl, buf, sizeof(buf), 0)) > 0)
			got_a += (size_t)r;
		th_advance(th, 100);
	}
	ck_assert_uint_ge(got_b, total);
	ck_assert_uint_ge(got_a, total);
	ck_assert_uint_eq(th->dropped, 1);
	ck_assert_int_eq(sa->sack_recoveries, 1);
	ck_assert_int_eq(sa->rto_timeouts, 0);
	finish(th);
}
END_TEST


/* The fast retransmission is lost too. Segments sent after it are SACKed, which shows
 * the retransmission is gone: it is sent a third time within the same recovery instead
 * of waiting for the retransmission timeout. */
START_TEST(lost_retransmission_is_repaired_without_rto)
{
	struct th *th = setup(NULL, NULL);
	const struct tcp_stack_stats *sa = tcp_stack_stats(th->side[TH_A].st);
	struct seq_drop d;

	ck_assert_int_eq(th_transfer(th, cl, sv, 200000, 1000000), 200000);	/* warm cwnd */
	th_advance(th, 100000);
	d.seq = cl->snd_nxt + 300 * cl->mss;	/* mid-stream: new data keeps flowing */
	d.count = 2;
	th->drop_pred = drop_seq;
	th->drop_arg = &d;
	ck_assert_int_eq(th_transfer(th, cl, sv, 4 << 20, 10000000), 4 << 20);
	ck_assert_int_eq(d.count, 0);
	ck_assert_int_ge(sa->lost_retrans, 1);
	ck_assert_int_eq(sa->rto_timeouts, 0);
	finish(th);
}
END_TEST

/* A timeout, then one of the segments resent after it is lost as well. Segments resent
 * after it are SACKed, which shows it is gone: it is sent again at once instead of
 * waiting for one more timeout (RFC 6675 alone allows no new recovery until all that
 * was outstanding at the timeout is acknowledged). */
struct resend_drop {
	struct th *th;
	const struct tcp_stack_stats *sa;
	uint64_t until_us;	/* everything A sends before this vanishes */
	int skip;		/* then A's data segments let through before the drop */
	int dropped;
	uint64_t rtos, lost;	/* A's counters when the blackout ended */
	bool over;
};

static bool drop_one_resend(const struct th_seg *seg, void *arg)
{
	struct resend_drop *d = arg;

	if (seg->from != TH_A)
		return false;
	if (d->th->now < d->until_us)
		return true;
	if (!d->over) {
		d->over = true;
		d->rtos = d->sa->rto_timeouts;
		d->lost = d->sa->lost_retrans;
	}
	if (!seg->len || d->dropped || d->skip-- > 0)
		return false;
	d->dropped = 1;
	return true;
}

START_TEST(lost_resend_after_rto_is_repaired_without_another_rto)
{
	struct th *th = setup(NULL, NULL);
	const struct tcp_stack_stats *sa = tcp_stack_stats(th->side[TH_A].st);
	struct resend_drop d = { .th = th, .sa = sa, .skip = 2 };

	ck_assert_int_eq(th_transfer(th, cl, sv, 200000, 1000000), 200000);	/* warm cwnd */
	d.until_us = th->now + 400000;	/* a 400 ms blackout: timeouts */
	th->drop_pred = drop_one_resend;
	th->drop_arg = &d;
	ck_assert_int_eq(th_transfer(th, cl, sv, 2 << 20, 60000000), 2 << 20);
	ck_assert(d.over);
	ck_assert_int_ge(d.rtos, 1);		/* the blackout did cause a timeout */
	ck_assert_int_eq(d.dropped, 1);
	ck_assert_uint_ge(sa->lost_retrans, d.lost + 1);
	/* the timer pending when the blackout ended may still fire once; no more */
	ck_assert_uint_le(sa->rto_timeouts, d.rtos + 1);
	th->drop_pred = NULL;
	finish(th);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_loss");
	TCase *tc = tcase_create("loss");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fast_retransmit_after_three_dupacks_without_sack);
	tcase_add_test(tc, newreno_partial_acks_repair_several_losses);
	tcase_add_test(tc, sack_recovery_repairs_several_losses_in_one_round_trip);
	tcase_add_test(tc, sack_blocks_describe_out_of_order_data);
	tcase_add_test(tc, rto_doubles_on_each_timeout);
	tcase_add_test(tc, rto_honours_configured_minimum);
	tcase_add_test(tc, karn_ignores_samples_from_retransmitted_segments);
	tcase_add_test(tc, rtt_is_measured_from_timestamps);
	tcase_add_test(tc, connection_times_out_after_retries);
	tcase_add_test(tc, rto_restarts_with_one_segment_window);
	tcase_add_test(tc, out_of_order_queue_respects_its_limit);
	tcase_add_test(tc, corrupted_segments_are_dropped_and_repaired);
	tcase_add_test(tc, duplicated_segments_are_delivered_once);
	tcase_add_loop_test(tc, bulk_transfer_survives_a_hostile_wire, 0, 6);
	tcase_add_test(tc, bulk_transfer_with_five_percent_loss);
	tcase_add_test(tc, limited_transmit_avoids_rto_with_a_small_window);
	tcase_add_test(tc, sack_reneging_receiver_still_gets_everything);
	tcase_add_test(tc, user_timeout_bounds_how_long_data_may_stay_unacked);
	tcase_add_test(tc, tail_loss_probe_repairs_a_lost_tail_without_rto);
	tcase_add_test(tc, early_retransmit_needs_fewer_dupacks_for_a_small_flight);
	tcase_add_loop_test(tc, sequence_numbers_wrap_around_under_loss, 0, 2);
	tcase_add_test(tc, spurious_fast_retransmits_from_reordering_are_undone);
	tcase_add_test(tc, sack_on_data_segments_triggers_recovery_without_dupacks);
	tcase_add_test(tc, lost_retransmission_is_repaired_without_rto);
	tcase_add_test(tc, lost_resend_after_rto_is_repaired_without_another_rto);
	tcase_add_loop_test(tc, full_lifecycle_survives_ten_percent_loss, 0, 8);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
