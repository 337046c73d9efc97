/* test_tcp_rst.c — resets and blind-injection defences: RST handling in every state,
 * RFC 5961 challenge ACKs for in-window RSTs, SYNs and impossible ACKs (with the rate
 * limit), RSTs for unknown connections, PAWS (RFC 7323) and the acceptability test. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "tcp_harness.h"
#include "net/tcp_priv.h"

static struct tcp_conn *cl, *sv, *ls;

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

/* Segment from c's peer to c. */
static int inject_to(struct th *th, struct tcp_conn *c, uint8_t flags, uint32_t seq,
		     uint32_t ack, const void *data, size_t len, const uint32_t *ts)
{
	int from = c->st == th->side[TH_A].st ? TH_B : TH_A;

	return th_inject(th, from, ntohs(c->rport), ntohs(c->lport), flags, seq, ack, 65535,
			 data, len, ts);
}

static size_t sent_by(struct th *th, struct tcp_conn *c)
{
	return th->side[c->st == th->side[TH_A].st ? TH_A : TH_B].sent;
}

START_TEST(rst_with_exact_sequence_resets_established)
{
	struct th *th = setup(NULL, NULL);
	char b[4];

	inject_to(th, cl, TCP_RST, cl->rcv_nxt, 0, NULL, 0, NULL);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_recv(cl, b, sizeof(b), 0), -ECONNRESET);
	ck_assert_int_eq(tcp_recv(cl, b, sizeof(b), 0), 0);
	ck_assert(th->side[TH_A].events & TCP_EV_ERROR);
	tcp_abort(sv);
	finish(th);
}
END_TEST

START_TEST(rst_in_window_gets_challenge_ack)
{
	struct th *th = setup(NULL, NULL);
	size_t before = sent_by(th, cl);
	const struct th_seg *s;

	inject_to(th, cl, TCP_RST, cl->rcv_nxt + 1000, 0, NULL, 0, NULL);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	ck_assert_uint_eq(sent_by(th, cl), before + 1);
	s = th_last(th, TH_A);
	ck_assert_uint_eq(s->flags, TCP_ACK);
	ck_assert_uint_eq(s->ack, cl->rcv_nxt);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_A].st)->challenge_acks, 1);
	/* The real peer answers the challenge ACK normally: nothing breaks. */
	th_advance(th, 10000);
	ck_assert_int_eq(th_transfer(th, cl, sv, 10000, 1000000), 10000);
	finish(th);
}
END_TEST

START_TEST(rst_outside_window_is_ignored_silently)
{
	struct th *th = setup(NULL, NULL);
	size_t before = sent_by(th, cl);

	inject_to(th, cl, TCP_RST, cl->rcv_nxt + 50000000, 0, NULL, 0, NULL);
	inject_to(th, cl, TCP_RST, cl->rcv_nxt - 1, 0, NULL, 0, NULL);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	ck_assert_uint_eq(sent_by(th, cl), before);
	finish(th);
}
END_TEST

START_TEST(syn_on_established_connection_gets_challenge_ack)
{
	struct th *th = setup(NULL, NULL);
	size_t before = sent_by(th, sv);

	inject_to(th, sv, TCP_SYN, sv->rcv_nxt + 10, 0, NULL, 0, NULL);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_ESTABLISHED);
	ck_assert_uint_eq(sent_by(th, sv), before + 1);
	ck_assert_uint_eq(th_last(th, TH_B)->flags, TCP_ACK);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_B].st)->challenge_acks, 1);
	finish(th);
}
END_TEST

START_TEST(ack_for_data_never_sent_gets_challenge_ack)
{
	struct th *th = setup(NULL, NULL);
	char b[8];

	inject_to(th, cl, TCP_ACK, cl->rcv_nxt, cl->snd_max + 5000, "evil", 4, NULL);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	ck_assert_int_eq(tcp_recv(cl, b, sizeof(b), 0), -EAGAIN);	/* data dropped too */
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_A].st)->challenge_acks, 1);
	finish(th);
}
END_TEST

START_TEST(ack_older_than_the_max_window_is_rejected)
{
	struct th *th = setup(NULL, NULL);
	char b[8];

	ck_assert_int_eq(th_transfer(th, cl, sv, 1000, 1000000), 1000);
	inject_to(th, cl, TCP_ACK, cl->rcv_nxt, cl->snd_una - 2 * cl->max_snd_wnd, "evil", 4,
		  NULL);
	ck_assert_int_eq(tcp_recv(cl, b, sizeof(b), 0), -EAGAIN);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_A].st)->challenge_acks, 1);
	finish(th);
}
END_TEST

START_TEST(challenge_acks_are_rate_limited)
{
	struct tcp_config a;
	struct th *th;
	const struct tcp_stack_stats *sa;

	th_config(&a);
	a.challenge_ack_limit = 5;
	th = setup(&a, NULL);
	sa = tcp_stack_stats(th->side[TH_A].st);
	for (int i = 0; i < 20; i++)
		inject_to(th, cl, TCP_RST, cl->rcv_nxt + 100 + (uint32_t)i, 0, NULL, 0, NULL);
	ck_assert_int_eq(sa->challenge_acks, 5);
	ck_assert_int_eq(sa->challenge_ack_limited, 15);
	th_advance(th, 1000000);
	inject_to(th, cl, TCP_RST, cl->rcv_nxt + 100, 0, NULL, 0, NULL);
	ck_assert_int_eq(sa->challenge_acks, 6);
	finish(th);
}
END_TEST

START_TEST(rst_in_syn_sent_needs_an_acceptable_ack)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *c;

	cl = sv = ls = NULL;
	th->blackhole[TH_A] = true;
	ck_assert_int_eq(th_connect(th, TH_A, 80, &c), 0);
	inject_to(th, c, TCP_RST, 0, 0, NULL, 0, NULL);			/* no ACK */
	ck_assert_int_eq(tcp_state(c), TCP_ST_SYN_SENT);
	inject_to(th, c, TCP_RST | TCP_ACK, 0, c->iss + 7, NULL, 0, NULL);	/* bad ACK */
	ck_assert_int_eq(tcp_state(c), TCP_ST_SYN_SENT);
	inject_to(th, c, TCP_RST | TCP_ACK, 0, c->iss + 1, NULL, 0, NULL);
	ck_assert_int_eq(tcp_state(c), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_so_error(c), ECONNREFUSED);
	tcp_close(c);
	finish(th);
}
END_TEST

START_TEST(synack_with_bad_ack_in_syn_sent_gets_rst)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *c;

	cl = sv = ls = NULL;
	th->blackhole[TH_A] = true;
	ck_assert_int_eq(th_connect(th, TH_A, 80, &c), 0);
	th->blackhole[TH_A] = false;
	inject_to(th, c, TCP_SYN | TCP_ACK, 1000, c->iss + 99, NULL, 0, NULL);
	ck_assert_int_eq(tcp_state(c), TCP_ST_SYN_SENT);
	ck_assert_uint_eq(th_last(th, TH_A)->flags, TCP_RST);
	ck_assert_uint_eq(th_last(th, TH_A)->seq, c->iss + 99);
	tcp_close(c);
	finish(th);
}
END_TEST

START_TEST(rst_in_syn_received_returns_listener_to_listen)
{
	struct th *th = th_new(NULL, NULL);
	long conns;
	uint32_t isn;

	cl = sv = ls = NULL;
	th_drop_rule(th, TH_B, TCP_SYN, TCP_SYN, -1, 0, -1);	/* SYN-ACKs never arrive */
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 1000);
	tcp_stack_live(th->side[TH_B].st, &conns, NULL);
	ck_assert_int_eq(conns, 2);
	isn = cl->iss;
	th_inject(th, TH_A, ntohs(cl->lport), 80, TCP_RST, isn + 1, 0, 0, NULL, 0, NULL);
	tcp_stack_live(th->side[TH_B].st, &conns, NULL);
	ck_assert_int_eq(conns, 1);
	ck_assert_int_eq(tcp_state(ls), TCP_ST_LISTEN);
	tcp_abort(cl);
	finish(th);
}
END_TEST

START_TEST(bad_ack_in_syn_received_gets_rst)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *child;

	cl = sv = ls = NULL;
	th_drop_rule(th, TH_B, TCP_SYN, TCP_SYN, -1, 0, -1);
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 1000);
	child = ls->synq_head;
	ck_assert_ptr_nonnull(child);
	th_inject(th, TH_A, ntohs(cl->lport), 80, TCP_ACK, cl->iss + 1, child->iss + 500, 1000,
		  NULL, 0, NULL);
	ck_assert_uint_eq(th_last(th, TH_B)->flags, TCP_RST);
	ck_assert_uint_eq(th_last(th, TH_B)->seq, child->iss + 500);
	ck_assert_int_eq(tcp_state(child), TCP_ST_SYN_RECEIVED);
	tcp_abort(cl);
	finish(th);
}
END_TEST

/* RST with the exact sequence number in each synchronized state. */
START_TEST(rst_in_every_synchronized_state)
{
	static const enum tcp_state want[] = {
		TCP_ST_FIN_WAIT_1, TCP_ST_FIN_WAIT_2, TCP_ST_CLOSE_WAIT, TCP_ST_CLOSING,
		TCP_ST_LAST_ACK, TCP_ST_TIME_WAIT,
	};
	static const int err[] = { ECONNRESET, ECONNRESET, EPIPE, 0, 0, 0 };
	struct th *th = setup(NULL, NULL);
	struct tcp_conn *victim = cl;

	switch (want[_i]) {
	case TCP_ST_FIN_WAIT_1:
		th->blackhole[TH_B] = true;
		tcp_shutdown(cl, SHUT_WR);
		th_advance(th, 1000);
		break;
	case TCP_ST_FIN_WAIT_2:
		tcp_shutdown(cl, SHUT_WR);
		th_advance(th, 2000);
		break;
	case TCP_ST_CLOSE_WAIT:
		tcp_shutdown(cl, SHUT_WR);
		th_advance(th, 2000);
		victim = sv;
		break;
	case TCP_ST_CLOSING:
		tcp_shutdown(cl, SHUT_WR);
		tcp_shutdown(sv, SHUT_WR);
		th_advance(th, 600);
		th->blackhole[TH_A] = th->blackhole[TH_B] = true;
		break;
	case TCP_ST_LAST_ACK:
		tcp_shutdown(cl, SHUT_WR);
		th_advance(th, 2000);
		th->blackhole[TH_A] = true;
		tcp_shutdown(sv, SHUT_WR);
		th_advance(th, 2000);
		victim = sv;
		break;
	case TCP_ST_TIME_WAIT:
		tcp_shutdown(cl, SHUT_WR);
		th_advance(th, 2000);
		tcp_shutdown(sv, SHUT_WR);
		th_advance(th, 2000);
		break;
	default:
		break;
	}
	ck_assert_int_eq(tcp_state(victim), want[_i]);
	inject_to(th, victim, TCP_RST, victim->rcv_nxt, 0, NULL, 0, NULL);
	ck_assert_int_eq(tcp_state(victim), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_so_error(victim), err[_i]);
	th->blackhole[TH_A] = th->blackhole[TH_B] = false;
	tcp_abort(victim == cl ? sv : cl);
	finish(th);
}
END_TEST

START_TEST(segment_for_unknown_connection_gets_rst)
{
	struct th *th = th_new(NULL, NULL);
	const struct th_seg *r;

	cl = sv = ls = NULL;
	th_inject(th, TH_A, 4000, 80, TCP_ACK, 100, 5555, 1000, "x", 1, NULL);
	r = th_last(th, TH_B);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->flags, TCP_RST);
	ck_assert_uint_eq(r->seq, 5555);
	th_inject(th, TH_A, 4000, 80, TCP_FIN, 100, 0, 1000, "xy", 2, NULL);
	r = th_last(th, TH_B);
	ck_assert_uint_eq(r->flags, TCP_RST | TCP_ACK);
	ck_assert_uint_eq(r->ack, 103);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_B].st)->out_rsts, 2);
	finish(th);
}
END_TEST

START_TEST(rst_for_unknown_connection_is_not_answered)
{
	struct th *th = th_new(NULL, NULL);

	cl = sv = ls = NULL;
	th_inject(th, TH_A, 4000, 80, TCP_RST, 100, 0, 0, NULL, 0, NULL);
	th_inject(th, TH_A, 4000, 80, TCP_RST | TCP_ACK, 100, 1, 0, NULL, 0, NULL);
	ck_assert_uint_eq(th->side[TH_B].sent, 0);
	finish(th);
}
END_TEST

START_TEST(malformed_and_corrupt_segments_are_rejected)
{
	struct th *th = setup(NULL, NULL);
	uint8_t junk[40] = { 0 };
	const struct tcp_stack_stats *sb = tcp_stack_stats(th->side[TH_B].st);

	ck_assert_int_eq(tcp_input(th->side[TH_B].st, th_addr(TH_A), th_addr(TH_B), junk, 10),
			 -EINVAL);
	junk[12] = 0xf0;	/* data offset 60 > length */
	ck_assert_int_eq(tcp_input(th->side[TH_B].st, th_addr(TH_A), th_addr(TH_B), junk, 40),
			 -EBADMSG);
	junk[12] = 0x50;	/* valid header, wrong checksum */
	ck_assert_int_eq(tcp_input(th->side[TH_B].st, th_addr(TH_A), th_addr(TH_B), junk, 40),
			 -EBADMSG);
	ck_assert_int_eq(sb->bad_csum, 1);
	ck_assert_int_eq(sb->in_errs, 3);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_ESTABLISHED);
	finish(th);
}
END_TEST

START_TEST(paws_drops_segment_with_old_timestamp)
{
	struct th *th = setup(NULL, NULL);
	uint32_t ts[2];
	char b[8];

	ck_assert_int_eq(th_transfer(th, cl, sv, 100, 1000000), 100);
	ts[0] = sv->ts_recent - 10;
	ts[1] = 0;
	inject_to(th, sv, TCP_ACK, sv->rcv_nxt, sv->snd_nxt, "old", 3, ts);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), -EAGAIN);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_B].st)->paws_drops, 1);
	ck_assert_uint_eq(th_last(th, TH_B)->flags, TCP_ACK);	/* answered with an ACK */
	/* A newer timestamp is accepted. */
	ts[0] = sv->ts_recent + 10;
	inject_to(th, sv, TCP_ACK, sv->rcv_nxt, sv->snd_nxt, "new", 3, ts);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), 3);
	ck_assert_uint_eq(sv->ts_recent, ts[0]);
	tcp_abort(cl);
	finish(th);
}
END_TEST

START_TEST(paws_forgets_timestamps_idle_for_24_days)
{
	struct th *th = setup(NULL, NULL);
	uint32_t ts[2];
	char b[8];

	th_advance(th, 25ull * 24 * 3600 * 1000000);
	ts[0] = sv->ts_recent - 10;
	ts[1] = 0;
	inject_to(th, sv, TCP_ACK, sv->rcv_nxt, sv->snd_nxt, "old", 3, ts);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), 3);
	tcp_abort(cl);
	finish(th);
}
END_TEST

START_TEST(rst_ignores_paws)
{
	struct th *th = setup(NULL, NULL);
	uint32_t ts[2];

	ts[0] = sv->ts_recent - 1000;
	ts[1] = 0;
	inject_to(th, sv, TCP_RST, sv->rcv_nxt, 0, NULL, 0, ts);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSED);
	tcp_abort(cl);
	finish(th);
}
END_TEST

START_TEST(out_of_window_data_is_answered_with_ack)
{
	struct th *th = setup(NULL, NULL);
	char b[8];
	size_t before = sent_by(th, sv);

	inject_to(th, sv, TCP_ACK, sv->rcv_nxt + 10000000, sv->snd_nxt, "far", 3, NULL);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), -EAGAIN);
	ck_assert_uint_eq(sent_by(th, sv), before + 1);
	ck_assert_uint_eq(th_last(th, TH_B)->ack, sv->rcv_nxt);
	finish(th);
}
END_TEST

START_TEST(segment_without_ack_flag_is_dropped)
{
	struct th *th = setup(NULL, NULL);
	char b[8];

	inject_to(th, sv, 0, sv->rcv_nxt, 0, "noack", 5, NULL);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), -EAGAIN);
	finish(th);
}
END_TEST


START_TEST(zero_window_still_takes_the_ack_of_a_data_segment)
{
	struct tcp_config a;
	struct th *th;
	static uint8_t buf[8192];

	th_config(&a);
	a.rcvbuf = 8192;
	th = setup(&a, NULL);
	ck_assert_int_eq(tcp_send(sv, buf, sizeof(buf), 0), 8192);
	th_advance(th, 100000);
	ck_assert_uint_eq(tcp_rx_avail(cl), 8192);
	th->blackhole[TH_B] = true;
	ck_assert_int_eq(tcp_send(cl, "hello", 5, 0), 5);
	th_advance(th, 1000);
	ck_assert_uint_ne(cl->snd_una, cl->snd_nxt);
	th->blackhole[TH_B] = false;
	inject_to(th, cl, TCP_ACK, cl->rcv_nxt, cl->snd_nxt, "xyz", 3, NULL);
	ck_assert_uint_eq(cl->snd_una, cl->snd_nxt);	/* the ACK counted */
	ck_assert_uint_eq(tcp_rx_avail(cl), 8192);	/* the data did not fit */
	ck_assert_uint_eq(th_last(th, TH_A)->ack, cl->rcv_nxt);
	ck_assert_uint_eq(th_last(th, TH_A)->wnd, 0);
	tcp_abort(sv);
	finish(th);
}
END_TEST


/* Forged data accepted by B puts B ahead of anything A sent: each end now finds the
 * other's ACKs out of window. Without damping they would answer each other forever. */
START_TEST(ack_loop_between_desynchronised_ends_is_damped)
{
	struct th *th = setup(NULL, NULL);
	size_t before;

	inject_to(th, sv, TCP_ACK, sv->rcv_nxt, sv->snd_nxt, "forged", 6, NULL);
	before = th->nlog;
	th_advance(th, 10000000);
	ck_assert_uint_lt(th->nlog - before, 100);
	ck_assert_int_gt(tcp_stack_stats(th->side[TH_A].st)->oow_acks_skipped +
			 tcp_stack_stats(th->side[TH_B].st)->oow_acks_skipped +
			 tcp_stack_stats(th->side[TH_A].st)->challenge_ack_limited, 0);
	tcp_abort(cl);
	tcp_abort(sv);
	finish(th);
}
END_TEST


START_TEST(duplicate_data_is_reported_with_a_dsack_block)
{
	struct th *th = setup(NULL, NULL);
	static uint8_t buf[1000];
	const struct th_seg *a;
	uint32_t old;

	ck_assert_int_eq(tcp_send(cl, buf, sizeof(buf), 0), 1000);
	th_advance(th, 100000);
	old = sv->rcv_nxt - 1000;
	inject_to(th, sv, TCP_ACK, old, sv->snd_nxt, buf, 300, NULL);
	a = th_last(th, TH_B);
	ck_assert_uint_eq(a->nsack, 1);
	ck_assert_uint_eq(a->sack[0][0], old);
	ck_assert_uint_eq(a->sack[0][1], old + 300);
	ck_assert_uint_eq(a->ack, sv->rcv_nxt);
	/* reported once */
	th_advance(th, 1000000);
	ck_assert_int_eq(tcp_send(sv, "x", 1, 0), 1);
	ck_assert_uint_eq(th_last(th, TH_B)->nsack, 0);
	finish(th);
}
END_TEST


static void server_to_time_wait(struct th *th)
{
	tcp_shutdown(sv, SHUT_WR);
	th_advance(th, 2000);
	tcp_shutdown(cl, SHUT_WR);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_TIME_WAIT);
}

START_TEST(time_wait_refuses_a_syn_with_an_old_timestamp)
{
	struct th *th = setup(NULL, NULL);
	uint32_t ts[2] = { sv->ts_recent - 5, 0 };

	server_to_time_wait(th);
	inject_to(th, sv, TCP_SYN, sv->rcv_nxt + 100000, 0, NULL, 0, ts);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_TIME_WAIT);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_B].st)->tw_reused, 0);
	ck_assert_uint_eq(th_last(th, TH_B)->flags, TCP_ACK);
	finish(th);
}
END_TEST

START_TEST(time_wait_without_timestamps_takes_a_syn_with_a_higher_sequence)
{
	struct tcp_config a;
	struct th *th;
	const struct th_seg *sa;
	uint32_t old_snd;

	th_config(&a);
	a.timestamps = false;
	th = setup(&a, NULL);
	server_to_time_wait(th);
	old_snd = sv->snd_nxt;
	inject_to(th, sv, TCP_SYN, sv->rcv_nxt - 10, 0, NULL, 0, NULL);	/* older: no */
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_B].st)->tw_reused, 0);
	inject_to(th, sv, TCP_SYN, sv->rcv_nxt + 10, 0, NULL, 0, NULL);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_B].st)->tw_reused, 1);
	sa = th_last(th, TH_B);
	ck_assert_uint_eq(sa->flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(sa->seq, old_snd + 65535 + 2);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSED);	/* the old incarnation is gone */
	tcp_abort(cl);
	finish(th);
}
END_TEST


/* Segment from c's peer carrying data, an ACK and one SACK block [l, r). */
static void inject_data_with_sack(struct th *th, struct tcp_conn *c, uint32_t seq,
				  uint32_t ack, uint32_t l, uint32_t r)
{
	uint8_t seg[20 + 24 + 100] = { 0 };
	int from = c->st == th->side[TH_A].st ? TH_B : TH_A;
	uint32_t v;

	memcpy(seg, &c->rport, 2);
	memcpy(seg + 2, &c->lport, 2);
	v = htonl(seq);
	memcpy(seg + 4, &v, 4);
	v = htonl(ack);
	memcpy(seg + 8, &v, 4);
	seg[12] = (44 / 4) << 4;
	seg[13] = TCP_ACK;
	seg[14] = 0xff;
	seg[15] = 0xff;
	seg[32] = TCPOPT_NOP;
	seg[33] = TCPOPT_NOP;
	seg[34] = TCPOPT_SACK;
	seg[35] = 10;
	v = htonl(l);
	memcpy(seg + 36, &v, 4);
	v = htonl(r);
	memcpy(seg + 40, &v, 4);
	memset(seg + 20, TCPOPT_NOP, 12);	/* no timestamp: NOPs in its place */
	th_fix_csum(from, seg, sizeof(seg));
	ck_assert_int_eq(tcp_input(c->st, th_addr(from), th_addr(!from), seg, sizeof(seg)), 0);
}

/* The peer keeps sending data whose ACK field stays at our snd_una while its SACK blocks
 * grow: no pure duplicate ACK ever comes, yet the SACK information alone must start
 * fast recovery (a kernel echo server does exactly this). */
START_TEST(sack_blocks_on_data_segments_start_recovery)
{
	struct th *th = setup(NULL, NULL);
	static uint8_t buf[10 * 1448];
	uint32_t una, mss = cl->mss, seq;
	const struct th_seg *rx;

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_NODELAY, 1), 0);
	th->blackhole[TH_A] = true;
	ck_assert_int_eq(tcp_send(cl, buf, 10 * mss, 0), 10 * mss);
	una = cl->snd_una;
	seq = cl->rcv_nxt;
	for (uint32_t k = 2; k <= 4; k++) {
		inject_data_with_sack(th, cl, seq, una, una + mss, una + k * mss);
		seq += 100;
	}
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_A].st)->sack_recoveries, 1);
	rx = th_last(th, TH_A);
	ck_assert_uint_eq(rx->seq, una);	/* the hole went out again at once */
	ck_assert_uint_eq(rx->len, mss);
	ck_assert_uint_eq(cl->rcv_nxt, seq);	/* and the data was taken */
	th->blackhole[TH_A] = false;
	tcp_abort(cl);
	tcp_abort(sv);
	finish(th);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_rst");
	TCase *tc = tcase_create("rst");

	tcase_add_test(tc, rst_with_exact_sequence_resets_established);
	tcase_add_test(tc, rst_in_window_gets_challenge_ack);
	tcase_add_test(tc, rst_outside_window_is_ignored_silently);
	tcase_add_test(tc, syn_on_established_connection_gets_challenge_ack);
	tcase_add_test(tc, ack_for_data_never_sent_gets_challenge_ack);
	tcase_add_test(tc, ack_older_than_the_max_window_is_rejected);
	tcase_add_test(tc, challenge_acks_are_rate_limited);
	tcase_add_test(tc, rst_in_syn_sent_needs_an_acceptable_ack);
	tcase_add_test(tc, synack_with_bad_ack_in_syn_sent_gets_rst);
	tcase_add_test(tc, rst_in_syn_received_returns_listener_to_listen);
	tcase_add_test(tc, bad_ack_in_syn_received_gets_rst);
	tcase_add_loop_test(tc, rst_in_every_synchronized_state, 0, 6);
	tcase_add_test(tc, segment_for_unknown_connection_gets_rst);
	tcase_add_test(tc, rst_for_unknown_connection_is_not_answered);
	tcase_add_test(tc, malformed_and_corrupt_segments_are_rejected);
	tcase_add_test(tc, paws_drops_segment_with_old_timestamp);
	tcase_add_test(tc, paws_forgets_timestamps_idle_for_24_days);
	tcase_add_test(tc, rst_ignores_paws);
	tcase_add_test(tc, out_of_window_data_is_answered_with_ack);
	tcase_add_test(tc, segment_without_ack_flag_is_dropped);
	tcase_add_test(tc, zero_window_still_takes_the_ack_of_a_data_segment);
	tcase_add_test(tc, ack_loop_between_desynchronised_ends_is_damped);
	tcase_add_test(tc, duplicate_data_is_reported_with_a_dsack_block);
	tcase_add_test(tc, time_wait_refuses_a_syn_with_an_old_timestamp);
	tcase_add_test(tc, time_wait_without_timestamps_takes_a_syn_with_a_higher_sequence);
	tcase_add_test(tc, sack_blocks_on_data_segments_start_recovery);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
