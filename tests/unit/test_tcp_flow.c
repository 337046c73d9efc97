/* test_tcp_flow.c — flow control and segment timing: zero window and persist probes,
 * window updates, window scaling edges, Nagle / TCP_NODELAY / TCP_CORK / MSG_MORE,
 * delayed and quick ACKs, buffer limits with readiness, MSG_PEEK and queue sizes. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <arpa/inet.h>

#include "tcp_harness.h"
#include "net/tcp_priv.h"

static struct tcp_conn *cl, *sv, *ls;
static uint8_t big[1 << 20];

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

static const struct th_seg *nth_data(const struct th *th, int from, size_t n)
{
	for (size_t i = 0; i < th->nlog; i++)
		if (th->log[i].from == from && th->log[i].len && n-- == 0)
			return &th->log[i];
	return NULL;
}

START_TEST(zero_window_stops_sender_and_probes_until_it_opens)
{
	struct tcp_config b;
	struct th *th;
	size_t got = 0;
	ssize_t r;
	const struct th_seg *p[4];
	size_t np = 0;

	th_config(&b);
	b.rcvbuf = 16384;
	th = setup(NULL, &b);
	ck_assert_int_eq(tcp_send(cl, big, 100000, 0), 100000);
	th_advance(th, 10000000);
	ck_assert_uint_eq(tcp_rx_avail(sv), 16384);
	ck_assert_uint_eq(cl->snd_wnd, 0);
	ck_assert_uint_gt(tcp_tx_queued(cl), 0);
	ck_assert_int_gt(tcp_stack_stats(th->side[TH_A].st)->zero_window_probes, 3);
	/* Probes carry snd_una - 1 and no data, with backoff between them. */
	for (size_t i = 0; i < th->nlog && np < 4; i++)
		if (th->log[i].from == TH_A && !th->log[i].len && th->log[i].seq == cl->snd_una - 1)
			p[np++] = &th->log[i];
	ck_assert_uint_eq(np, 4);
	ck_assert_uint_eq(p[2]->t_us - p[1]->t_us, 2 * (p[1]->t_us - p[0]->t_us));
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	while (got < 100000) {
		r = tcp_recv(sv, big, sizeof(big), 0);
		if (r > 0)
			got += (size_t)r;
		th_advance(th, 5000);
	}
	ck_assert_uint_eq(got, 100000);
	ck_assert_uint_eq(tcp_tx_queued(cl), 0);
	finish(th);
}
END_TEST

START_TEST(reading_sends_a_window_update)
{
	struct tcp_config b;
	struct th *th;
	size_t before;

	th_config(&b);
	b.rcvbuf = 16384;
	th = setup(NULL, &b);
	ck_assert_int_eq(tcp_send(cl, big, 16384, 0), 16384);
	th_advance(th, 100000);
	ck_assert_uint_eq(th_last(th, TH_B)->wnd, 0);
	before = th->side[TH_B].sent;
	ck_assert_int_eq(tcp_recv(sv, big, 16384, 0), 16384);
	ck_assert_uint_eq(th->side[TH_B].sent, before + 1);
	ck_assert_uint_gt((uint32_t)th_last(th, TH_B)->wnd << sv->rcv_wscale, 16000);
	finish(th);
}
END_TEST

START_TEST(large_window_needs_scaling_and_fills_the_pipe)
{
	struct tcp_config a, b;
	struct th *th;
	uint32_t max_flight = 0;
	size_t got = 0;

	th_config(&a);
	th_config(&b);
	a.sndbuf = b.rcvbuf = 4 << 20;
	th = th_new(&a, &b);
	th->delay_us = 20000;
	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 100000);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_uint_eq(sv->rcv_wscale, 7);
	ck_assert_uint_eq(cl->snd_wscale, 7);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(tcp_send(cl, big, sizeof(big), 0), sizeof(big));
	while (got < 4u << 20 && th->now < 30000000) {
		ssize_t r;

		th_advance(th, 1000);
		if (cl->snd_max - cl->snd_una > max_flight)
			max_flight = cl->snd_max - cl->snd_una;
		while ((r = tcp_recv(sv, big, sizeof(big), 0)) > 0)
			got += (size_t)r;
	}
	ck_assert_uint_eq(got, 4u << 20);
	ck_assert_uint_gt(max_flight, 1u << 20);
	finish(th);
}
END_TEST

START_TEST(without_scaling_the_window_stays_below_64k)
{
	struct tcp_config a, b;
	struct th *th;

	th_config(&a);
	th_config(&b);
	b.window_scaling = false;
	a.sndbuf = b.rcvbuf = 1 << 20;
	th = setup(&a, &b);
	ck_assert_uint_eq(cl->snd_wscale, 0);
	ck_assert_uint_eq(sv->rcv_wscale, 0);
	ck_assert_int_eq(tcp_send(cl, big, sizeof(big), 0), sizeof(big));
	th_advance(th, 200);
	for (int i = 0; i < 50; i++) {
		th_advance(th, 500);
		ck_assert_uint_le(cl->snd_max - cl->snd_una, 65535);
	}
	ck_assert_int_eq(th_transfer(th, cl, sv, 0, 1), 0);
	th_advance(th, 1000000);
	th_drain(sv, big, sizeof(big));
	th_advance(th, 1000000);
	th_drain(sv, big, sizeof(big));
	finish(th);
}
END_TEST

START_TEST(window_scale_is_capped_at_14)
{
	struct tcp_config a;
	struct th *th;

	th_config(&a);
	a.rcvbuf = 1u << 31;
	th = setup(&a, NULL);
	ck_assert_uint_eq(th_find(th, TH_A, TCP_SYN, TCP_SYN, 0)->ws, 14);
	ck_assert_uint_eq(th_find(th, TH_A, TCP_SYN, TCP_SYN, 0)->wnd, 65535);
	ck_assert_uint_eq(sv->snd_wscale, 14);
	ck_assert_int_eq(th_transfer(th, sv, cl, 100000, 1000000), 100000);
	finish(th);
}
END_TEST

START_TEST(syn_window_is_never_scaled)
{
	struct tcp_config b;
	struct th *th;

	th_config(&b);
	b.rcvbuf = 20000;
	th = setup(NULL, &b);
	ck_assert_uint_eq(th_find(th, TH_B, TCP_SYN, TCP_SYN, 0)->wnd, 20000);
	ck_assert_uint_eq(cl->snd_wnd, 20000);
	finish(th);
}
END_TEST

START_TEST(nagle_holds_small_segment_while_data_is_unacked)
{
	struct th *th = setup(NULL, NULL);
	const struct th_seg *d0, *d1;

	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	ck_assert_uint_eq(th_count_data(th, TH_A), 1);
	th_advance(th, 100000);
	d0 = nth_data(th, TH_A, 0);
	d1 = nth_data(th, TH_A, 1);
	ck_assert_ptr_nonnull(d1);
	/* The second waits for the ACK of the first, which the peer delays 40 ms. */
	ck_assert_uint_ge(d1->t_us - d0->t_us, 40000);
	ck_assert_int_eq(tcp_recv(sv, big, sizeof(big), 0), 200);
	finish(th);
}
END_TEST

START_TEST(nodelay_sends_small_segments_at_once)
{
	struct th *th = setup(NULL, NULL);

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_NODELAY, 1), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	ck_assert_uint_eq(th_count_data(th, TH_A), 5);
	finish(th);
}
END_TEST

START_TEST(nodelay_flushes_what_nagle_held)
{
	struct th *th = setup(NULL, NULL);

	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	ck_assert_uint_eq(th_count_data(th, TH_A), 1);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_NODELAY, 1), 0);
	ck_assert_uint_eq(th_count_data(th, TH_A), 2);
	finish(th);
}
END_TEST

START_TEST(cork_sends_only_full_segments_until_uncorked)
{
	struct th *th = setup(NULL, NULL);

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_CORK, 1), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	ck_assert_uint_eq(th_count_data(th, TH_A), 0);
	ck_assert_int_eq(tcp_send(cl, big, 2000, 0), 2000);
	ck_assert_uint_eq(th_count_data(th, TH_A), 1);
	ck_assert_uint_eq(th_last(th, TH_A)->len, cl->mss);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_CORK, 0), 0);
	ck_assert_uint_eq(th_count_data(th, TH_A), 2);
	ck_assert_uint_eq(th_last(th, TH_A)->len, 2500 - cl->mss);
	finish(th);
}
END_TEST

START_TEST(cork_releases_a_partial_segment_after_200ms)
{
	struct th *th = setup(NULL, NULL);
	size_t before = th->side[TH_A].sent;

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_CORK, 1), 0);
	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	th_advance(th, 199000);
	ck_assert_uint_eq(th_count_data(th, TH_A), 0);
	th_advance(th, 2000);
	ck_assert_uint_eq(th_count_data(th, TH_A), 1);
	ck_assert_uint_eq(th->side[TH_A].sent, before + 1);
	finish(th);
}
END_TEST

START_TEST(a_corked_connection_sends_no_window_probes)
{
	struct tcp_config a;
	struct th *th;
	size_t before;

	th_config(&a);
	a.cork_us = 5000000;
	th = setup(&a, NULL);
	before = th->side[TH_A].sent;
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_CORK, 1), 0);
	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	th_advance(th, 4900000);
	ck_assert_uint_eq(th->side[TH_A].sent, before);
	th_advance(th, 200000);
	ck_assert_uint_eq(th->side[TH_A].sent, before + 1);
	finish(th);
}
END_TEST

START_TEST(msg_more_holds_until_a_send_without_it)
{
	struct th *th = setup(NULL, NULL);

	ck_assert_int_eq(tcp_send(cl, big, 100, TCP_SEND_MORE), 100);
	ck_assert_int_eq(tcp_send(cl, big, 100, TCP_SEND_MORE), 100);
	ck_assert_uint_eq(th_count_data(th, TH_A), 0);
	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	ck_assert_uint_eq(th_count_data(th, TH_A), 1);
	ck_assert_uint_eq(th_last(th, TH_A)->len, 300);
	finish(th);
}
END_TEST

START_TEST(single_segment_is_acked_after_40ms)
{
	struct th *th = setup(NULL, NULL);
	const struct th_seg *d, *a;

	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	th_advance(th, 100000);
	d = nth_data(th, TH_A, 0);
	a = th_last(th, TH_B);
	ck_assert_uint_eq(a->ack, d->seq + 100);
	ck_assert_uint_eq(a->t_us - (d->t_us + th->delay_us), 40000);
	finish(th);
}
END_TEST

START_TEST(every_second_full_segment_is_acked_at_once)
{
	struct th *th = setup(NULL, NULL);
	const struct th_seg *a;

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_NODELAY, 1), 0);
	ck_assert_int_eq(tcp_send(cl, big, 2 * cl->mss, 0), 2 * cl->mss);
	th_advance(th, 600);
	a = th_last(th, TH_B);
	ck_assert_uint_eq(a->ack, cl->snd_nxt);
	ck_assert_uint_eq(a->t_us, nth_data(th, TH_A, 1)->t_us + th->delay_us);
	finish(th);
}
END_TEST

START_TEST(quickack_acks_every_segment)
{
	struct th *th = setup(NULL, NULL);

	ck_assert_int_eq(tcp_setopt(sv, TCP_OPT_QUICKACK, 1), 0);
	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	th_advance(th, 600);
	ck_assert_uint_eq(th_last(th, TH_B)->ack, cl->snd_nxt);
	finish(th);
}
END_TEST

START_TEST(out_of_order_segment_is_acked_at_once)
{
	struct th *th = setup(NULL, NULL);
	const struct th_seg *a;

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_NODELAY, 1), 0);
	th_drop_rule(th, TH_A, 0, 0, 1, 0, 1);
	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	th_advance(th, 600);
	a = th_last(th, TH_B);
	ck_assert_uint_eq(a->ack, nth_data(th, TH_A, 0)->seq);
	ck_assert_uint_eq(a->nsack, 1);
	finish(th);
}
END_TEST

START_TEST(piggybacked_ack_replaces_the_delayed_one)
{
	struct th *th = setup(NULL, NULL);
	size_t before;

	ck_assert_int_eq(tcp_send(cl, big, 100, 0), 100);
	th_advance(th, 1000);
	before = th->side[TH_B].sent;
	ck_assert_int_eq(tcp_send(sv, big, 50, 0), 50);	/* carries the ACK */
	th_advance(th, 100000);
	ck_assert_uint_eq(th->side[TH_B].sent, before + 1);
	finish(th);
}
END_TEST

START_TEST(send_buffer_limit_gives_eagain_then_writable)
{
	struct tcp_config a;
	struct th *th;
	ssize_t r;

	th_config(&a);
	a.sndbuf = 8192;
	th = setup(&a, NULL);
	th->blackhole[TH_A] = true;
	r = tcp_send(cl, big, 20000, 0);
	ck_assert_int_eq(r, 8192);
	ck_assert_int_eq(tcp_send(cl, big, 1, 0), -EAGAIN);
	ck_assert(!(tcp_poll(cl) & POLLOUT));
	ck_assert_uint_eq(tcp_tx_queued(cl), 8192);
	th->side[TH_A].events = 0;
	th->blackhole[TH_A] = false;
	th_advance(th, 2000000);
	ck_assert(tcp_poll(cl) & POLLOUT);
	ck_assert(th->side[TH_A].events & TCP_EV_WRITABLE);
	ck_assert_uint_eq(tcp_tx_queued(cl), 0);
	finish(th);
}
END_TEST

START_TEST(receive_buffer_bounds_queued_data)
{
	struct tcp_config b;
	struct th *th;

	th_config(&b);
	b.rcvbuf = 10000;
	th = setup(NULL, &b);
	ck_assert_int_eq(tcp_send(cl, big, 50000, 0), 50000);
	th_advance(th, 2000000);
	ck_assert_uint_le(tcp_rx_avail(sv), 10000);
	ck_assert_uint_ge(tcp_rx_avail(sv), 10000 - cl->mss);
	ck_assert_int_eq(th_transfer(th, cl, sv, 0, 1), 0);
	finish(th);
}
END_TEST

START_TEST(peek_leaves_data_in_place)
{
	struct th *th = setup(NULL, NULL);
	char b[16];

	ck_assert_int_eq(tcp_send(cl, "peekaboo", 8, 0), 8);
	th_advance(th, 1000);
	ck_assert_uint_eq(tcp_rx_avail(sv), 8);
	ck_assert_int_eq(tcp_recv(sv, b, 4, TCP_RECV_PEEK), 4);
	ck_assert_int_eq(memcmp(b, "peek", 4), 0);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), TCP_RECV_PEEK), 8);
	ck_assert_uint_eq(tcp_rx_avail(sv), 8);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), 8);
	ck_assert_int_eq(memcmp(b, "peekaboo", 8), 0);
	ck_assert_uint_eq(tcp_rx_avail(sv), 0);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), -EAGAIN);
	finish(th);
}
END_TEST

START_TEST(readiness_follows_data_and_shutdown)
{
	struct th *th = setup(NULL, NULL);
	char b[8];

	ck_assert_uint_eq(tcp_poll(sv) & (POLLIN | POLLOUT), POLLOUT);
	ck_assert_int_eq(tcp_send(cl, "x", 1, 0), 1);
	th_advance(th, 1000);
	ck_assert(tcp_poll(sv) & POLLIN);
	ck_assert(th->side[TH_B].events & TCP_EV_READABLE);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), 1);
	ck_assert(!(tcp_poll(sv) & POLLIN));
	tcp_shutdown(cl, SHUT_WR);
	th_advance(th, 1000);
	ck_assert(tcp_poll(sv) & POLLIN);
	ck_assert(tcp_poll(sv) & POLLRDHUP);
	tcp_shutdown(sv, SHUT_WR);
	ck_assert(tcp_poll(sv) & POLLHUP);
	finish(th);
}
END_TEST

START_TEST(tcp_info_reports_connection_values)
{
	struct th *th = setup(NULL, NULL);
	struct tcp_info ti;

	ck_assert_int_eq(th_transfer(th, cl, sv, 100000, 1000000), 100000);
	th_advance(th, 100000);
	tcp_get_info(cl, &ti);
	ck_assert_uint_eq(ti.tcpi_state, 1);	/* TCP_ESTABLISHED */
	ck_assert_uint_eq(ti.tcpi_snd_mss, 1448);
	ck_assert_uint_ge(ti.tcpi_snd_cwnd, 10);
	ck_assert_uint_gt(ti.tcpi_rtt, 0);
	ck_assert_uint_eq(ti.tcpi_total_retrans, 0);
	ck_assert_uint_eq(ti.tcpi_options, 7);
	ck_assert_uint_eq(ti.tcpi_unacked, 0);
	tcp_get_info(ls, &ti);
	ck_assert_uint_eq(ti.tcpi_state, 10);	/* TCP_LISTEN */
	finish(th);
}
END_TEST

START_TEST(socket_options_round_trip)
{
	struct th *th = setup(NULL, NULL);
	int v;

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_KEEPIDLE, 30), 0);
	ck_assert_int_eq(tcp_getopt(cl, TCP_OPT_KEEPIDLE, &v), 0);
	ck_assert_int_eq(v, 30);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_KEEPCNT, 0), -EINVAL);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_KEEPINTVL, 0), -EINVAL);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_LINGER, -1), 0);
	ck_assert_int_eq(tcp_getopt(cl, TCP_OPT_LINGER, &v), 0);
	ck_assert_int_eq(v, -1);
	ck_assert_int_eq(tcp_getopt(cl, TCP_OPT_MAXSEG, &v), 0);
	ck_assert_int_eq(v, 1448);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_SNDBUF, 0), -EINVAL);
	ck_assert_int_eq(tcp_setopt(cl, (enum tcp_opt)99, 1), -ENOPROTOOPT);
	finish(th);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_flow");
	TCase *tc = tcase_create("flow");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, zero_window_stops_sender_and_probes_until_it_opens);
	tcase_add_test(tc, reading_sends_a_window_update);
	tcase_add_test(tc, large_window_needs_scaling_and_fills_the_pipe);
	tcase_add_test(tc, without_scaling_the_window_stays_below_64k);
	tcase_add_test(tc, window_scale_is_capped_at_14);
	tcase_add_test(tc, syn_window_is_never_scaled);
	tcase_add_test(tc, nagle_holds_small_segment_while_data_is_unacked);
	tcase_add_test(tc, nodelay_sends_small_segments_at_once);
	tcase_add_test(tc, nodelay_flushes_what_nagle_held);
	tcase_add_test(tc, cork_sends_only_full_segments_until_uncorked);
	tcase_add_test(tc, cork_releases_a_partial_segment_after_200ms);
	tcase_add_test(tc, a_corked_connection_sends_no_window_probes);
	tcase_add_test(tc, msg_more_holds_until_a_send_without_it);
	tcase_add_test(tc, single_segment_is_acked_after_40ms);
	tcase_add_test(tc, every_second_full_segment_is_acked_at_once);
	tcase_add_test(tc, quickack_acks_every_segment);
	tcase_add_test(tc, out_of_order_segment_is_acked_at_once);
	tcase_add_test(tc, piggybacked_ack_replaces_the_delayed_one);
	tcase_add_test(tc, send_buffer_limit_gives_eagain_then_writable);
	tcase_add_test(tc, receive_buffer_bounds_queued_data);
	tcase_add_test(tc, peek_leaves_data_in_place);
	tcase_add_test(tc, readiness_follows_data_and_shutdown);
	tcase_add_test(tc, tcp_info_reports_connection_values);
	tcase_add_test(tc, socket_options_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
