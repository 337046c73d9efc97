/* test_tcp_teardown.c — connection release: active and passive close, loss of each
 * teardown segment, simultaneous close, half-close, TIME_WAIT duration and reuse,
 * SO_LINGER 0 and unread-data aborts, orphaned FIN_WAIT_2 expiry, shutdown(RD). */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "tcp_harness.h"
#include "net/proto/tcp.h"

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

START_TEST(active_close_walks_fin_wait_to_time_wait)
{
	struct th *th = setup(NULL, NULL);
	char buf[4];

	ck_assert_int_eq(tcp_shutdown(cl, SHUT_WR), 0);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_FIN_WAIT_1);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_FIN_WAIT_2);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSE_WAIT);
	ck_assert_int_eq(tcp_recv(sv, buf, sizeof(buf), 0), 0);
	ck_assert(tcp_poll(sv) & POLLRDHUP);
	tcp_close(sv);
	sv = NULL;
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_TIME_WAIT);
	ck_assert_int_eq(tcp_recv(cl, buf, sizeof(buf), 0), 0);
	finish(th);
}
END_TEST

START_TEST(time_wait_lasts_two_msl)
{
	struct th *th = setup(NULL, NULL);
	uint64_t t0;

	tcp_close(sv);
	sv = NULL;
	th_advance(th, 1000);
	tcp_close(cl);	/* cl is in CLOSE_WAIT: LAST_ACK; server side enters TIME_WAIT */
	cl = NULL;
	th_advance(th, 600);
	t0 = th->now;
	{
		long conns;

		tcp_stack_live(th->side[TH_B].st, &conns, NULL);
		ck_assert_int_eq(conns, 2);	/* listener + TIME_WAIT */
		th_advance(th, 2000000 - 1000);
		tcp_stack_live(th->side[TH_B].st, &conns, NULL);
		ck_assert_int_eq(conns, 2);
		th_advance(th, 2000);
		tcp_stack_live(th->side[TH_B].st, &conns, NULL);
		ck_assert_int_eq(conns, 1);
	}
	(void)t0;
	finish(th);
}
END_TEST

START_TEST(lost_fin_is_retransmitted)
{
	struct th *th = setup(NULL, NULL);

	th_drop_rule(th, TH_A, TCP_FIN, TCP_FIN, -1, 0, 1);
	tcp_shutdown(cl, SHUT_WR);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_ESTABLISHED);
	th_advance(th, 1000000);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSE_WAIT);
	ck_assert_uint_eq(th_count(th, TH_A, TCP_FIN, TCP_FIN), 2);
	finish(th);
}
END_TEST

START_TEST(lost_ack_of_fin_is_repeated)
{
	struct th *th = setup(NULL, NULL);

	/* B's ACK of A's FIN is lost: A retransmits FIN, B ACKs again from CLOSE_WAIT. */
	th_drop_rule(th, TH_B, TCP_ACK | TCP_FIN | TCP_SYN, TCP_ACK, 0, 0, 1);
	tcp_shutdown(cl, SHUT_WR);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_FIN_WAIT_1);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSE_WAIT);
	th_advance(th, 1000000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_FIN_WAIT_2);
	finish(th);
}
END_TEST

START_TEST(lost_last_ack_restarts_time_wait)
{
	struct th *th = setup(NULL, NULL);
	const struct th_seg *f1, *f2;
	long conns;

	tcp_shutdown(cl, SHUT_WR);
	th_advance(th, 2000);
	/* A's ACK of B's FIN is lost: B retransmits its FIN from LAST_ACK. */
	th_drop_rule(th, TH_A, TCP_ACK | TCP_FIN, TCP_ACK, 0, 0, 1);
	tcp_close(sv);
	sv = NULL;
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_TIME_WAIT);
	th_advance(th, 1000000);
	f1 = th_find(th, TH_B, TCP_FIN, TCP_FIN, 0);
	f2 = th_find(th, TH_B, TCP_FIN, TCP_FIN, 1);
	ck_assert_ptr_nonnull(f2);
	ck_assert_uint_eq(f1->seq, f2->seq);
	th_advance(th, 1000);
	tcp_stack_live(th->side[TH_B].st, &conns, NULL);
	ck_assert_int_eq(conns, 1);	/* LAST_ACK got its ACK: only the listener left */
	/* TIME_WAIT was restarted by the retransmitted FIN (arrived at f2 + 500 us). */
	th_advance(th, f2->t_us + 500 + 2000000 - 1000 - th->now);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_TIME_WAIT);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	finish(th);
}
END_TEST

START_TEST(lost_passive_fin_is_retransmitted)
{
	struct th *th = setup(NULL, NULL);

	tcp_shutdown(cl, SHUT_WR);
	th_advance(th, 2000);
	th_drop_rule(th, TH_B, TCP_FIN, TCP_FIN, -1, 0, 1);
	tcp_shutdown(sv, SHUT_WR);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_LAST_ACK);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_FIN_WAIT_2);
	th_advance(th, 1000000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_TIME_WAIT);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSED);
	finish(th);
}
END_TEST

START_TEST(simultaneous_close_goes_through_closing)
{
	struct th *th = setup(NULL, NULL);

	tcp_shutdown(cl, SHUT_WR);
	tcp_shutdown(sv, SHUT_WR);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_FIN_WAIT_1);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_FIN_WAIT_1);
	th_advance(th, 600);	/* FINs crossed */
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSING);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSING);
	th_advance(th, 1000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_TIME_WAIT);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_TIME_WAIT);
	th_advance(th, 2100000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSED);
	finish(th);
}
END_TEST

START_TEST(half_close_keeps_the_other_direction)
{
	struct th *th = setup(NULL, NULL);

	ck_assert_int_eq(tcp_shutdown(cl, SHUT_WR), 0);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_send(cl, "x", 1, 0), -EPIPE);
	ck_assert_int_eq(th_transfer(th, sv, cl, 200000, 10000000), 200000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_FIN_WAIT_2);
	finish(th);
}
END_TEST

START_TEST(close_with_unread_data_sends_rst)
{
	struct th *th = setup(NULL, NULL);
	char buf[8];

	ck_assert_int_eq(tcp_send(cl, "unread", 6, 0), 6);
	th_advance(th, 2000);
	tcp_close(sv);
	sv = NULL;
	ck_assert_uint_eq(th_count(th, TH_B, TCP_RST, TCP_RST), 1);
	ck_assert_uint_eq(th_count(th, TH_B, TCP_FIN, TCP_FIN), 0);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_recv(cl, buf, sizeof(buf), 0), -ECONNRESET);
	finish(th);
}
END_TEST

START_TEST(linger_zero_close_sends_rst)
{
	struct th *th = setup(NULL, NULL);
	long conns;

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_LINGER, 0), 0);
	ck_assert_int_eq(th_transfer(th, cl, sv, 1000, 1000000), 1000);
	tcp_close(cl);
	cl = NULL;
	/* No TIME_WAIT, no FIN: the connection is gone at once. */
	tcp_stack_live(th->side[TH_A].st, &conns, NULL);
	ck_assert_int_eq(conns, 0);
	ck_assert_uint_eq(th_count(th, TH_A, TCP_FIN, TCP_FIN), 0);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_so_error(sv), ECONNRESET);
	ck_assert_int_eq(tcp_send(sv, "x", 1, 0), -EPIPE);
	finish(th);
}
END_TEST

START_TEST(linger_positive_closes_gracefully)
{
	struct th *th = setup(NULL, NULL);

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_LINGER, 5), 0);
	tcp_close(cl);
	cl = NULL;
	th_advance(th, 2000);
	ck_assert_uint_eq(th_count(th, TH_A, TCP_RST, TCP_RST), 0);
	ck_assert_uint_eq(th_count(th, TH_A, TCP_FIN, TCP_FIN), 1);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSE_WAIT);
	finish(th);
}
END_TEST

START_TEST(orphaned_fin_wait_2_times_out)
{
	struct th *th = setup(NULL, NULL);
	long conns;

	tcp_close(cl);
	cl = NULL;
	th_advance(th, 2000);
	tcp_stack_live(th->side[TH_A].st, &conns, NULL);
	ck_assert_int_eq(conns, 1);
	th_advance(th, 5000000);	/* fin_timeout of the test config */
	tcp_stack_live(th->side[TH_A].st, &conns, NULL);
	ck_assert_int_eq(conns, 0);
	/* The server's late FIN finds nobody and is answered with RST. */
	tcp_close(sv);
	sv = NULL;
	th_advance(th, 2000);
	ck_assert_uint_eq(th_count(th, TH_A, TCP_RST, TCP_RST), 1);
	finish(th);
}
END_TEST

START_TEST(data_to_closed_socket_is_answered_with_rst)
{
	struct th *th = setup(NULL, NULL);

	tcp_close(cl);
	cl = NULL;
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_send(sv, "late", 4, 0), 4);
	th_advance(th, 2000);
	ck_assert_uint_eq(th_count(th, TH_A, TCP_RST, TCP_RST), 1);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_so_error(sv), EPIPE);
	finish(th);
}
END_TEST

START_TEST(shutdown_rd_discards_incoming_data)
{
	struct th *th = setup(NULL, NULL);
	char buf[16];

	ck_assert_int_eq(tcp_shutdown(sv, SHUT_RD), 0);
	ck_assert_int_eq(tcp_send(cl, "ignored", 7, 0), 7);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_recv(sv, buf, sizeof(buf), 0), 0);
	ck_assert_uint_eq(tcp_tx_queued(cl), 0);	/* acknowledged all the same */
	ck_assert(tcp_poll(sv) & POLLIN);
	finish(th);
}
END_TEST

START_TEST(shutdown_invalid_how_and_unconnected)
{
	struct th *th = setup(NULL, NULL);
	struct tcp_conn *c;

	ck_assert_int_eq(tcp_shutdown(cl, 7), -EINVAL);
	ck_assert_int_eq(tcp_conn_create(th->side[TH_A].st, &c), 0);
	ck_assert_int_eq(tcp_shutdown(c, SHUT_WR), -ENOTCONN);
	ck_assert_int_eq(tcp_recv(c, NULL, 0, 0), 0);
	tcp_close(c);
	finish(th);
}
END_TEST

START_TEST(fin_after_data_is_delivered_in_order)
{
	struct th *th = setup(NULL, NULL);
	char buf[64];

	ck_assert_int_eq(tcp_send(cl, "last words", 10, TCP_SEND_MORE), 10);
	ck_assert_uint_eq(th_count_data(th, TH_A), 0);
	ck_assert_int_eq(tcp_shutdown(cl, SHUT_WR), 0);
	/* data held by MSG_MORE and the FIN ride one segment */
	ck_assert_uint_eq(th_last(th, TH_A)->len, 10);
	ck_assert(th_last(th, TH_A)->flags & TCP_FIN);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_recv(sv, buf, sizeof(buf), 0), 10);
	ck_assert_int_eq(tcp_recv(sv, buf, sizeof(buf), 0), 0);
	finish(th);
}
END_TEST

START_TEST(time_wait_reused_by_connect_after_one_second_with_timestamps)
{
	struct th *th = setup(NULL, NULL);
	uint16_t lport;
	uint32_t old_nxt;
	struct tcp_conn *c2, *s2;

	tcp_conn_addrs(cl, NULL, &lport, NULL, NULL);
	ck_assert_int_eq(th_transfer(th, cl, sv, 5000, 1000000), 5000);
	tcp_close(cl);
	cl = NULL;
	th_advance(th, 2000);
	tcp_close(sv);
	sv = NULL;
	th_advance(th, 2000);
	old_nxt = th_find(th, TH_A, TCP_FIN, TCP_FIN, 0)->seq + 1;
	ck_assert_int_eq(tcp_conn_create(th->side[TH_A].st, &c2), 0);
	ck_assert_int_eq(tcp_bind(c2, th_addr(TH_A), lport), 0);
	ck_assert_int_eq(tcp_connect(c2, th_addr(TH_B), htons(80)), -EADDRINUSE);
	th_advance(th, 1000000);
	ck_assert_int_eq(tcp_connect(c2, th_addr(TH_B), htons(80)), 0);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_A].st)->tw_reused, 1);
	ck_assert_uint_eq(th_last(th, TH_A)->seq - old_nxt, 65537);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(c2), TCP_ST_ESTABLISHED);
	ck_assert_int_eq(tcp_accept(ls, &s2), 0);
	ck_assert_int_eq(th_transfer(th, c2, s2, 5000, 1000000), 5000);
	tcp_close(c2);
	tcp_close(s2);
	finish(th);
}
END_TEST

START_TEST(time_wait_without_timestamps_blocks_connect)
{
	struct tcp_config a;
	struct th *th;
	uint16_t lport;
	struct tcp_conn *c2;

	th_config(&a);
	a.timestamps = false;
	th = setup(&a, NULL);
	tcp_conn_addrs(cl, NULL, &lport, NULL, NULL);
	tcp_close(cl);
	cl = NULL;
	th_advance(th, 2000);
	tcp_close(sv);
	sv = NULL;
	th_advance(th, 1500000);
	ck_assert_int_eq(tcp_conn_create(th->side[TH_A].st, &c2), 0);
	ck_assert_int_eq(tcp_bind(c2, th_addr(TH_A), lport), 0);
	ck_assert_int_eq(tcp_connect(c2, th_addr(TH_B), htons(80)), -EADDRINUSE);
	th_advance(th, 600000);	/* 2 MSL over */
	ck_assert_int_eq(tcp_connect(c2, th_addr(TH_B), htons(80)), 0);
	tcp_close(c2);
	finish(th);
}
END_TEST

START_TEST(time_wait_server_accepts_new_syn_with_newer_timestamp)
{
	struct th *th = setup(NULL, NULL);
	uint16_t lport;
	struct tcp_conn *c2, *s2;

	tcp_conn_addrs(cl, NULL, &lport, NULL, NULL);
	/* The server closes first: the TIME_WAIT is on B. */
	tcp_close(sv);
	sv = NULL;
	th_advance(th, 2000);
	tcp_close(cl);
	cl = NULL;
	th_advance(th, 2000);
	th_advance(th, 500000);
	ck_assert_int_eq(tcp_conn_create(th->side[TH_A].st, &c2), 0);
	ck_assert_int_eq(tcp_bind(c2, th_addr(TH_A), lport), 0);
	ck_assert_int_eq(tcp_connect(c2, th_addr(TH_B), htons(80)), 0);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(c2), TCP_ST_ESTABLISHED);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_B].st)->tw_reused, 1);
	ck_assert_int_eq(tcp_accept(ls, &s2), 0);
	ck_assert_int_eq(th_transfer(th, s2, c2, 3000, 1000000), 3000);
	tcp_close(c2);
	tcp_close(s2);
	finish(th);
}
END_TEST

START_TEST(closing_listener_resets_unaccepted_connections)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *c2;

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &c2), 0);
	th_advance(th, 2000);
	tcp_close(ls);
	ls = NULL;
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_state(c2), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_so_error(cl), ECONNRESET);
	tcp_close(c2);
	finish(th);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_teardown");
	TCase *tc = tcase_create("teardown");

	tcase_add_test(tc, active_close_walks_fin_wait_to_time_wait);
	tcase_add_test(tc, time_wait_lasts_two_msl);
	tcase_add_test(tc, lost_fin_is_retransmitted);
	tcase_add_test(tc, lost_ack_of_fin_is_repeated);
	tcase_add_test(tc, lost_last_ack_restarts_time_wait);
	tcase_add_test(tc, lost_passive_fin_is_retransmitted);
	tcase_add_test(tc, simultaneous_close_goes_through_closing);
	tcase_add_test(tc, half_close_keeps_the_other_direction);
	tcase_add_test(tc, close_with_unread_data_sends_rst);
	tcase_add_test(tc, linger_zero_close_sends_rst);
	tcase_add_test(tc, linger_positive_closes_gracefully);
	tcase_add_test(tc, orphaned_fin_wait_2_times_out);
	tcase_add_test(tc, data_to_closed_socket_is_answered_with_rst);
	tcase_add_test(tc, shutdown_rd_discards_incoming_data);
	tcase_add_test(tc, shutdown_invalid_how_and_unconnected);
	tcase_add_test(tc, fin_after_data_is_delivered_in_order);
	tcase_add_test(tc, time_wait_reused_by_connect_after_one_second_with_timestamps);
	tcase_add_test(tc, time_wait_without_timestamps_blocks_connect);
	tcase_add_test(tc, time_wait_server_accepts_new_syn_with_newer_timestamp);
	tcase_add_test(tc, closing_listener_resets_unaccepted_connections);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
