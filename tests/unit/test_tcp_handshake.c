/* test_tcp_handshake.c — connection establishment: the three-way handshake with every
 * combination of options on each side, loss of each handshake segment, refused and
 * timed-out connects, simultaneous open, ISN properties and the accept path. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <arpa/inet.h>

#include "tcp_harness.h"
#include "net/proto/tcp.h"

static struct tcp_conn *cl, *sv, *ls;

static void reset_handles(void)
{
	cl = sv = ls = NULL;
}

START_TEST(handshake_completes_with_three_segments)
{
	struct th *th = th_new(NULL, NULL);

	reset_handles();
	ck_assert_int_eq(th_establish(th, 80, &cl, &sv, &ls), 0);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_ESTABLISHED);
	ck_assert_uint_eq(th_count(th, TH_A, TCP_SYN | TCP_ACK, TCP_SYN), 1);
	ck_assert_uint_eq(th_count(th, TH_B, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK), 1);
	ck_assert_uint_eq(th->nlog, 3);
	ck_assert(th->side[TH_A].events & TCP_EV_CONNECTED);
	ck_assert(th->side[TH_B].events & TCP_EV_ACCEPT);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_A].st)->active_opens, 1);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_B].st)->passive_opens, 1);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

/* Every combination of window scaling, timestamps and SACK on each side (6 bits). */
START_TEST(handshake_negotiates_option_combination)
{
	struct tcp_config a, b;
	int i = _i;
	bool aws = i & 1, ats = i & 2, asack = i & 4, bws = i & 8, bts = i & 16, bsack = i & 32;
	struct tcp_info ia, ib;
	const struct th_seg *syn, *synack;
	struct th *th;

	th_config(&a);
	th_config(&b);
	a.window_scaling = aws; a.timestamps = ats; a.sack = asack;
	b.window_scaling = bws; b.timestamps = bts; b.sack = bsack;
	a.rcvbuf = b.rcvbuf = 1 << 20;
	th = th_new(&a, &b);
	reset_handles();
	ck_assert_int_eq(th_establish(th, 80, &cl, &sv, &ls), 0);
	syn = th_find(th, TH_A, TCP_SYN | TCP_ACK, TCP_SYN, 0);
	synack = th_find(th, TH_B, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK, 0);
	ck_assert(syn->has_mss && synack->has_mss);
	ck_assert_int_eq(syn->has_ws, aws);
	ck_assert_int_eq(syn->has_ts, ats);
	ck_assert_int_eq(syn->sack_ok, asack);
	/* The SYN-ACK only carries what the SYN offered and B supports. */
	ck_assert_int_eq(synack->has_ws, aws && bws);
	ck_assert_int_eq(synack->has_ts, ats && bts);
	ck_assert_int_eq(synack->sack_ok, asack && bsack);
	tcp_get_info(cl, &ia);
	tcp_get_info(sv, &ib);
	ck_assert_int_eq(!!(ia.tcpi_options & 4), aws && bws);
	ck_assert_int_eq(!!(ia.tcpi_options & 1), ats && bts);
	ck_assert_int_eq(!!(ia.tcpi_options & 2), asack && bsack);
	ck_assert_int_eq(ia.tcpi_options, ib.tcpi_options);
	if (aws && bws) {
		ck_assert_int_eq(ia.tcpi_snd_wscale, ib.tcpi_rcv_wscale);
		ck_assert_int_eq(ia.tcpi_rcv_wscale, ib.tcpi_snd_wscale);
		ck_assert_int_gt(ia.tcpi_rcv_wscale, 0);
	} else {
		ck_assert_int_eq(ia.tcpi_snd_wscale + ia.tcpi_rcv_wscale, 0);
	}
	/* MSS: 1460 minus 12 bytes of timestamp option when negotiated. */
	ck_assert_int_eq(ia.tcpi_snd_mss, (ats && bts) ? 1448 : 1460);
	ck_assert_int_eq(th_transfer(th, cl, sv, 300000, 10000000), 300000);
	ck_assert_int_eq(th_transfer(th, sv, cl, 100000, 10000000), 100000);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(mss_is_the_smaller_of_both_offers)
{
	struct tcp_config a, b;
	struct tcp_info ia, ib;
	struct th *th;

	th_config(&a);
	th_config(&b);
	a.mss = 1000;
	b.mtu = 9000;
	a.timestamps = false;
	th = th_new(&a, &b);
	reset_handles();
	ck_assert_int_eq(th_establish(th, 80, &cl, &sv, &ls), 0);
	ck_assert_uint_eq(th_find(th, TH_A, TCP_SYN, TCP_SYN, 0)->mss, 1000);
	ck_assert_uint_eq(th_find(th, TH_B, TCP_SYN, TCP_SYN, 0)->mss, 8960);
	tcp_get_info(cl, &ia);
	tcp_get_info(sv, &ib);
	ck_assert_int_eq(ia.tcpi_snd_mss, 1000);
	ck_assert_int_eq(ib.tcpi_snd_mss, 1000);
	ck_assert_int_eq(th_transfer(th, sv, cl, 50000, 10000000), 50000);
	for (size_t i = 0; i < th->nlog; i++)
		ck_assert_uint_le(th->log[i].len, 1000);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(tcp_maxseg_clamps_advertised_mss)
{
	struct th *th = th_new(NULL, NULL);

	reset_handles();
	ck_assert_int_eq(tcp_conn_create(th->side[TH_A].st, &cl), 0);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_MAXSEG, 536), 0);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_MAXSEG, 10), -EINVAL);
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(tcp_bind(cl, th_addr(TH_A), 0), 0);
	ck_assert_int_eq(tcp_connect(cl, th_addr(TH_B), htons(80)), 0);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_uint_eq(th_find(th, TH_A, TCP_SYN, TCP_SYN, 0)->mss, 536);
	ck_assert_int_eq(th_transfer(th, sv, cl, 20000, 10000000), 20000);
	for (size_t i = 0; i < th->nlog; i++)
		ck_assert_uint_le(th->log[i].len, 536 - 12);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(lost_syn_is_retransmitted_after_initial_rto)
{
	struct th *th = th_new(NULL, NULL);
	const struct th_seg *s0, *s1;

	reset_handles();
	th_drop_nth(th, TH_A, 0);
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 1500000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	s0 = th_find(th, TH_A, TCP_SYN, TCP_SYN, 0);
	s1 = th_find(th, TH_A, TCP_SYN, TCP_SYN, 1);
	ck_assert(s0->dropped && s1 && !s1->dropped);
	ck_assert_uint_eq(s1->t_us - s0->t_us, 1000000);	/* RFC 6298: 1 s */
	ck_assert_uint_eq(s0->seq, s1->seq);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_int_eq(th_transfer(th, cl, sv, 10000, 10000000), 10000);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(lost_synack_is_retransmitted_by_server)
{
	struct th *th = th_new(NULL, NULL);

	reset_handles();
	th_drop_rule(th, TH_B, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK, -1, 0, 1);
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 1100000);
	/* The client's SYN retransmission and the server's own timer both trigger a
	 * SYN-ACK; one of them completes the handshake. */
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	ck_assert_uint_ge(th_count(th, TH_B, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK), 2);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_ESTABLISHED);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(lost_final_ack_is_recovered_by_data)
{
	struct th *th = th_new(NULL, NULL);
	char buf[16];

	reset_handles();
	/* The third segment of the handshake (A's first pure ACK) is lost. */
	th_drop_rule(th, TH_A, TCP_SYN | TCP_ACK, TCP_ACK, 0, 0, 1);
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 10000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	ck_assert_int_eq(tcp_accept(ls, &sv), -EAGAIN);
	/* The client's first data carries the ACK and completes the server side. */
	ck_assert_int_eq(tcp_send(cl, "hello", 5, 0), 5);
	th_advance(th, 10000);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_int_eq(tcp_recv(sv, buf, sizeof(buf), 0), 5);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(lost_final_ack_server_retransmits_synack)
{
	struct th *th = th_new(NULL, NULL);

	reset_handles();
	th_drop_rule(th, TH_A, TCP_SYN | TCP_ACK, TCP_ACK, 0, 0, 1);
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 1200000);
	/* The SYN-ACK retransmission is answered by a fresh ACK. */
	ck_assert_uint_eq(th_count(th, TH_B, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK), 2);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(connect_to_closed_port_is_refused)
{
	struct th *th = th_new(NULL, NULL);
	const struct th_seg *rst;

	reset_handles();
	ck_assert_int_eq(th_connect(th, TH_A, 81, &cl), 0);
	th_advance(th, 10000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	rst = th_find(th, TH_B, TCP_RST, TCP_RST, 0);
	ck_assert_ptr_nonnull(rst);
	ck_assert(rst->flags & TCP_ACK);
	ck_assert_uint_eq(rst->ack, th_find(th, TH_A, TCP_SYN, TCP_SYN, 0)->seq + 1);
	ck_assert(tcp_poll(cl) & POLLERR);
	ck_assert_int_eq(tcp_so_error(cl), ECONNREFUSED);
	ck_assert_int_eq(tcp_so_error(cl), 0);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(connect_times_out_after_syn_retries)
{
	struct tcp_config a;
	struct th *th;

	th_config(&a);
	a.syn_retries = 3;
	th = th_new(&a, NULL);
	reset_handles();
	th->blackhole[TH_A] = true;
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 14000000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_SYN_SENT);
	th_advance(th, 1100000);
	/* 1 + 2 + 4 + 8 s: four SYNs, then ETIMEDOUT. */
	ck_assert_uint_eq(th_count(th, TH_A, TCP_SYN, TCP_SYN), 4);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_so_error(cl), ETIMEDOUT);
	ck_assert_uint_eq(th_find(th, TH_A, TCP_SYN, TCP_SYN, 3)->t_us -
			  th_find(th, TH_A, TCP_SYN, TCP_SYN, 2)->t_us, 4000000);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(simultaneous_open_establishes_both_sides)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *a, *b;

	ck_assert_int_eq(tcp_conn_create(th->side[TH_A].st, &a), 0);
	ck_assert_int_eq(tcp_conn_create(th->side[TH_B].st, &b), 0);
	ck_assert_int_eq(tcp_bind(a, th_addr(TH_A), htons(5000)), 0);
	ck_assert_int_eq(tcp_bind(b, th_addr(TH_B), htons(6000)), 0);
	ck_assert_int_eq(tcp_connect(a, th_addr(TH_B), htons(6000)), 0);
	ck_assert_int_eq(tcp_connect(b, th_addr(TH_A), htons(5000)), 0);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_state(a), TCP_ST_ESTABLISHED);
	ck_assert_int_eq(tcp_state(b), TCP_ST_ESTABLISHED);
	/* Each side sent SYN then SYN-ACK; no RST. */
	ck_assert_uint_eq(th_count(th, -1, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK), 2);
	ck_assert_uint_eq(th_count(th, -1, TCP_RST, TCP_RST), 0);
	ck_assert(th->side[TH_A].events & TCP_EV_CONNECTED);
	ck_assert_int_eq(th_transfer(th, a, b, 40000, 10000000), 40000);
	ck_assert_int_eq(th_transfer(th, b, a, 40000, 10000000), 40000);
	tcp_close(a);
	tcp_close(b);
	ck_assert_int_eq(th_finish(th), 0);
}
END_TEST

START_TEST(isn_differs_per_tuple_and_over_time)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *c[3];
	uint32_t isn[3], d;
	uint16_t lport;

	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(th_connect(th, TH_A, 80 + i, &c[i]), 0);
	th_advance(th, 100);
	isn[0] = th_find(th, TH_A, TCP_SYN, TCP_SYN, 0)->seq;
	isn[1] = th_find(th, TH_A, TCP_SYN, TCP_SYN, 1)->seq;
	ck_assert_uint_ne(isn[0], isn[1]);
	tcp_conn_addrs(c[0], NULL, &lport, NULL, NULL);
	for (int i = 0; i < 2; i++)
		tcp_close(c[i]);
	/* Same tuple 500 ms later: the clock part moves the ISN by elapsed / 4 us. */
	th_advance(th, 499900);
	ck_assert_int_eq(tcp_conn_create(th->side[TH_A].st, &c[2]), 0);
	ck_assert_int_eq(tcp_bind(c[2], th_addr(TH_A), lport), 0);
	ck_assert_int_eq(tcp_connect(c[2], th_addr(TH_B), htons(80)), 0);
	isn[2] = th_last(th, TH_A)->seq;
	ck_assert_uint_eq(th_last(th, TH_A)->flags, TCP_SYN);
	d = isn[2] - isn[0];
	ck_assert_uint_eq(d, 125000);
	tcp_close(c[2]);
	ck_assert_int_eq(th_finish(th), 0);
}
END_TEST

START_TEST(accept_returns_eagain_until_handshake_done)
{
	struct th *th = th_new(NULL, NULL);

	reset_handles();
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(tcp_accept(ls, &sv), -EAGAIN);
	ck_assert_uint_eq(tcp_poll(ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 600);	/* SYN arrived, SYN-ACK in flight */
	ck_assert_int_eq(tcp_accept(ls, &sv), -EAGAIN);
	th_advance(th, 1000);
	ck_assert_uint_ne(tcp_poll(ls), 0);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_int_eq(tcp_accept(ls, &sv), -EAGAIN);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(data_queued_before_established_is_refused_then_sent)
{
	struct th *th = th_new(NULL, NULL);
	char buf[8];

	reset_handles();
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	ck_assert_int_eq(tcp_send(cl, "x", 1, 0), -EAGAIN);
	ck_assert_int_eq(tcp_recv(cl, buf, 1, 0), -EAGAIN);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_send(cl, "x", 1, 0), 1);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_int_eq(tcp_recv(sv, buf, sizeof(buf), 0), 1);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

START_TEST(connect_on_connected_socket_fails)
{
	struct th *th = th_new(NULL, NULL);

	reset_handles();
	ck_assert_int_eq(th_establish(th, 80, &cl, &sv, &ls), 0);
	ck_assert_int_eq(tcp_connect(cl, th_addr(TH_B), htons(80)), -EISCONN);
	ck_assert_int_eq(tcp_listen(cl, 5), -EINVAL);
	ck_assert_int_eq(th_teardown(th, cl, sv, ls), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_handshake");
	TCase *tc = tcase_create("handshake");

	tcase_add_test(tc, handshake_completes_with_three_segments);
	tcase_add_loop_test(tc, handshake_negotiates_option_combination, 0, 64);
	tcase_add_test(tc, mss_is_the_smaller_of_both_offers);
	tcase_add_test(tc, tcp_maxseg_clamps_advertised_mss);
	tcase_add_test(tc, lost_syn_is_retransmitted_after_initial_rto);
	tcase_add_test(tc, lost_synack_is_retransmitted_by_server);
	tcase_add_test(tc, lost_final_ack_is_recovered_by_data);
	tcase_add_test(tc, lost_final_ack_server_retransmits_synack);
	tcase_add_test(tc, connect_to_closed_port_is_refused);
	tcase_add_test(tc, connect_times_out_after_syn_retries);
	tcase_add_test(tc, simultaneous_open_establishes_both_sides);
	tcase_add_test(tc, isn_differs_per_tuple_and_over_time);
	tcase_add_test(tc, accept_returns_eagain_until_handshake_done);
	tcase_add_test(tc, data_queued_before_established_is_refused_then_sent);
	tcase_add_test(tc, connect_on_connected_socket_fails);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
