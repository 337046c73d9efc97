/* test_tcp_edge.c — edge cases around the main paths: lost window updates rescued by
 * persist probes, silly-window avoidance, listener corner cases (ACK/RST/SYN with data,
 * data and FIN before accept, SYN rate limit), abort, bidirectional bulk, configuration
 * variants (no congestion control, fixed window-scale shift), faults in the handshake. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
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

START_TEST(lost_window_update_is_rescued_by_persist_probe)
{
	struct tcp_config b;
	struct th *th;
	size_t got;

	th_config(&b);
	b.rcvbuf = 8192;
	th = setup(NULL, &b);
	ck_assert_int_eq(tcp_send(cl, big, 20000, 0), 20000);
	th_advance(th, 100000);
	ck_assert_uint_eq(cl->snd_wnd, 0);
	th_drop_rule(th, TH_B, 0, 0, 0, 0, 1);	/* the window update vanishes */
	got = th_drain(sv, big, sizeof(big));
	ck_assert_uint_eq(got, 8192);
	ck_assert_uint_eq(th->dropped, 1);
	th_advance(th, 2000000);
	/* A probe drew a fresh ACK with the open window: the next 8 KiB arrived. */
	ck_assert_int_gt(tcp_stack_stats(th->side[TH_A].st)->zero_window_probes, 0);
	ck_assert_uint_eq(tcp_rx_avail(sv), 8192);
	while (got < 20000) {
		got += th_drain(sv, big, sizeof(big));
		th_advance(th, 10000);
	}
	ck_assert_uint_eq(got, 20000);
	finish(th);
}
END_TEST

START_TEST(receiver_moves_its_window_edge_only_in_large_steps)
{
	struct tcp_config b;
	struct th *th;
	uint32_t edge = 0, step;
	size_t got = 0, start;

	th_config(&b);
	b.rcvbuf = 16384;
	th = setup(NULL, &b);
	start = th->nlog;
	ck_assert_int_eq(tcp_send(cl, big, 200000, 0), 200000);
	while (got < 200000 && th->now < 100000000) {
		ssize_t r = tcp_recv(sv, big, 100, 0);	/* a slow reader */

		if (r > 0)
			got += (size_t)r;
		th_advance(th, 200);
	}
	ck_assert_uint_eq(got, 200000);
	step = cl->mss < b.rcvbuf / 2 ? cl->mss : b.rcvbuf / 2;
	for (size_t i = start; i < th->nlog; i++) {
		const struct th_seg *s = &th->log[i];
		uint32_t e;

		if (s->from != TH_B || !(s->flags & TCP_ACK))
			continue;
		e = s->ack + ((uint32_t)s->wnd << sv->rcv_wscale);
		if (edge && SEQ_GT(e, edge))
			ck_assert_uint_ge(e - edge, step);
		if (!edge || SEQ_GT(e, edge))
			edge = e;
	}
	finish(th);
}
END_TEST

START_TEST(ack_to_a_listener_gets_rst_and_rst_is_ignored)
{
	struct th *th = th_new(NULL, NULL);

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	th_inject(th, TH_A, 5000, 80, TCP_ACK, 1, 777, 1000, NULL, 0, NULL);
	ck_assert_uint_eq(th_last(th, TH_B)->flags, TCP_RST);
	ck_assert_uint_eq(th_last(th, TH_B)->seq, 777);
	th_inject(th, TH_A, 5000, 80, TCP_RST, 1, 0, 0, NULL, 0, NULL);
	ck_assert_uint_eq(th->side[TH_B].sent, 1);
	ck_assert_int_eq(tcp_state(ls), TCP_ST_LISTEN);
	finish(th);
}
END_TEST

START_TEST(data_on_a_syn_is_not_acknowledged)
{
	struct th *th = th_new(NULL, NULL);
	const struct th_seg *sa;

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	th_inject(th, TH_A, 5000, 80, TCP_SYN, 1000, 0, 1000, "early", 5, NULL);
	sa = th_last(th, TH_B);
	ck_assert_uint_eq(sa->flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(sa->ack, 1001);	/* the peer must send "early" again */
	th_inject(th, TH_A, 5000, 80, TCP_RST, 1001, 0, 0, NULL, 0, NULL);
	finish(th);
}
END_TEST

START_TEST(data_and_fin_before_accept_are_kept_for_the_acceptor)
{
	struct th *th = th_new(NULL, NULL);
	char b[16];

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_send(cl, "before", 6, 0), 6);
	ck_assert_int_eq(tcp_shutdown(cl, SHUT_WR), 0);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSE_WAIT);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), 6);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), 0);
	finish(th);
}
END_TEST

START_TEST(syn_rate_limit_defers_excess_connections)
{
	struct tcp_config b;
	struct th *th;
	struct tcp_conn *c[5], *a;
	int n = 0;

	th_config(&b);
	b.max_syn_rate = 3;
	th = th_new(NULL, &b);
	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 16, &ls), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(th_connect(th, TH_A, 80, &c[i]), 0);
	th_advance(th, 10000);
	while (tcp_accept(ls, &a) == 0) {
		n++;
		tcp_close(a);
	}
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_B].st)->syn_rate_drops, 2);
	th_advance(th, 1100000);
	while (tcp_accept(ls, &a) == 0) {
		n++;
		tcp_close(a);
	}
	ck_assert_int_eq(n, 5);
	for (int i = 0; i < 5; i++)
		tcp_close(c[i]);
	finish(th);
}
END_TEST

START_TEST(abort_resets_the_peer_and_keeps_the_handle)
{
	struct th *th = setup(NULL, NULL);
	char b[4];

	tcp_abort(cl);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_recv(cl, b, sizeof(b), 0), 0);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(sv), TCP_ST_CLOSED);
	ck_assert_int_eq(tcp_so_error(sv), ECONNRESET);
	finish(th);
}
END_TEST

START_TEST(listener_refuses_data_calls)
{
	struct th *th = th_new(NULL, NULL);
	char b[4];

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(tcp_recv(ls, b, sizeof(b), 0), -ENOTCONN);
	ck_assert_int_eq(tcp_send(ls, b, sizeof(b), 0), -ENOTCONN);
	ck_assert_int_eq(tcp_connect(ls, th_addr(TH_A), htons(9)), -EINVAL);
	ck_assert_int_eq(tcp_listen(ls, 8), 0);	/* listen() again adjusts the backlog */
	ck_assert_int_eq(ls->backlog, 8);
	finish(th);
}
END_TEST

START_TEST(both_directions_at_once_stay_intact)
{
	struct th *th = setup(NULL, NULL);
	static uint8_t in[65536], out[65536];
	size_t sent[2] = { 0 }, got[2] = { 0 };
	struct tcp_conn *src[2] = { cl, sv }, *dst[2] = { sv, cl };
	const size_t total = 2 << 20;

	th->loss = 0.01;
	th_seed(th, 99);
	while ((got[0] < total || got[1] < total) && th->now < 200000000) {
		for (int d = 0; d < 2; d++) {
			ssize_t r;

			for (size_t i = 0; i < sizeof(out); i++)
				out[i] = (uint8_t)((sent[d] + i) % (251 - d * 10));
			if (sent[d] < total) {
				r = tcp_send(src[d], out, total - sent[d] < sizeof(out) ?
					     total - sent[d] : sizeof(out), 0);
				if (r > 0)
					sent[d] += (size_t)r;
			}
			while ((r = tcp_recv(dst[d], in, sizeof(in), 0)) > 0) {
				for (ssize_t i = 0; i < r; i++)
					ck_assert_uint_eq(in[i], (got[d] + (size_t)i) % (251 - d * 10));
				got[d] += (size_t)r;
			}
		}
		th_advance(th, 1000);
	}
	ck_assert_uint_eq(got[0], total);
	ck_assert_uint_eq(got[1], total);
	finish(th);
}
END_TEST

START_TEST(lost_data_with_fin_is_retransmitted_together)
{
	struct th *th = setup(NULL, NULL);
	char b[16];
	const struct th_seg *r;

	th_drop_rule(th, TH_A, TCP_FIN, TCP_FIN, 1, 0, 1);
	ck_assert_int_eq(tcp_send(cl, "bye", 3, TCP_SEND_MORE), 3);
	ck_assert_int_eq(tcp_shutdown(cl, SHUT_WR), 0);
	th_advance(th, 1000000);
	r = th_find(th, TH_A, TCP_FIN, TCP_FIN, 1);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->len, 3);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), 3);
	ck_assert_int_eq(tcp_recv(sv, b, sizeof(b), 0), 0);
	finish(th);
}
END_TEST

START_TEST(no_congestion_control_sends_the_whole_window)
{
	struct tcp_config a;
	struct th *th;

	th_config(&a);
	a.cc_algo = TCP_CC_NONE;
	th = setup(&a, NULL);
	ck_assert_int_eq(tcp_send(cl, big, 200000, 0), 200000);
	/* No ACK has come back yet: the peer's SYN window (64 KiB, never scaled) is the
	 * only limit, not an initial congestion window of 10 segments. */
	ck_assert_uint_eq(th_count_data(th, TH_A), 65535 / cl->mss);
	th_advance(th, 1000000);
	ck_assert_uint_eq(th_drain(sv, big, sizeof(big)), 200000);
	finish(th);
}
END_TEST

START_TEST(fixed_window_scale_shift_is_advertised)
{
	struct tcp_config a;
	struct th *th;

	th_config(&a);
	a.wscale_fixed = true;
	a.wscale = 3;
	th = setup(&a, NULL);
	ck_assert_uint_eq(th_find(th, TH_A, TCP_SYN, TCP_SYN, 0)->ws, 3);
	ck_assert_uint_eq(sv->snd_wscale, 3);
	ck_assert_int_eq(th_transfer(th, sv, cl, 300000, 10000000), 300000);
	finish(th);
}
END_TEST

START_TEST(handshake_survives_corruption_and_duplication)
{
	struct th *th = th_new(NULL, NULL);

	cl = sv = ls = NULL;
	th_seed(th, 4);
	th->corrupt = 0.3;
	th->dup = 0.3;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	th_advance(th, 20000000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	{
		struct tcp_conn *s2;

		/* duplicated SYNs made no second child */
		ck_assert_int_eq(tcp_accept(ls, &s2), -EAGAIN);
	}
	th->corrupt = th->dup = 0;
	ck_assert_int_eq(th_transfer(th, cl, sv, 10000, 1000000), 10000);
	finish(th);
}
END_TEST

START_TEST(shutdown_read_on_syn_sent_keeps_connecting)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *s2;

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	ck_assert_int_eq(tcp_shutdown(cl, SHUT_RD), 0);
	th_advance(th, 2000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	ck_assert_int_eq(tcp_accept(ls, &s2), 0);
	tcp_close(s2);
	finish(th);
}
END_TEST


/* Twenty thousand random segments (random flags, numbers near and far from the
 * connection's, random option bytes) aimed at a live connection and at the listener:
 * nothing crashes, every buffer is accounted for, and a new connection still works. */
START_TEST(random_segments_never_break_the_stack)
{
	struct th *th = setup(NULL, NULL);
	uint8_t seg[200];
	struct tcp_conn *c2, *s2;

	for (int i = 0; i < 20000; i++) {
		uint64_t r = th_random(th);
		struct tcp_conn *t = (r & 1) ? sv : cl;
		int from = t == sv ? TH_A : TH_B;
		size_t olen = (size_t)(th_random(th) % 11) * 4, dlen = th_random(th) % 64;
		uint32_t seq = (r & 2) ? t->rcv_nxt + (uint32_t)(th_random(th) % 3000) - 1000 :
			       (uint32_t)th_random(th);
		uint32_t ack = (r & 4) ? t->snd_una + (uint32_t)(th_random(th) % 3000) - 1000 :
			       (uint32_t)th_random(th);
		uint16_t sport = (r & 8) ? ntohs(t->rport) : (uint16_t)th_random(th);
		uint16_t dport = (r & 16) ? 80 : ntohs(t->lport);

		for (size_t b = 0; b < sizeof(seg); b++)
			seg[b] = (uint8_t)th_random(th);
		seg[0] = (uint8_t)(sport >> 8);
		seg[1] = (uint8_t)sport;
		seg[2] = (uint8_t)(dport >> 8);
		seg[3] = (uint8_t)dport;
		seq = htonl(seq);
		ack = htonl(ack);
		memcpy(seg + 4, &seq, 4);
		memcpy(seg + 8, &ack, 4);
		seg[12] = (uint8_t)(((TCP_HDR_LEN + olen) / 4) << 4);
		if (th_random(th) % 8)
			seg[13] &= (uint8_t)~(TCP_SYN | TCP_RST);	/* keep the pair alive longer */
		th_fix_csum(from, seg, TCP_HDR_LEN + olen + dlen);
		tcp_input(th->side[!from].st, th_addr(from), th_addr(!from), seg,
			  TCP_HDR_LEN + olen + dlen);
		if (i % 64 == 0)
			th_advance(th, 1000);
	}
	th_advance(th, 10000000);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &c2), 0);
	th_advance(th, 10000);
	while (tcp_accept(ls, &s2) == 0) {
		if (tcp_state(s2) == TCP_ST_ESTABLISHED && !tcp_rx_avail(s2))
			break;
		tcp_close(s2);
		s2 = NULL;
	}
	ck_assert_ptr_nonnull(s2);
	ck_assert_int_eq(th_transfer(th, c2, s2, 100000, 10000000), 100000);
	tcp_close(c2);
	tcp_close(s2);
	finish(th);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_edge");
	TCase *tc = tcase_create("edge");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lost_window_update_is_rescued_by_persist_probe);
	tcase_add_test(tc, receiver_moves_its_window_edge_only_in_large_steps);
	tcase_add_test(tc, ack_to_a_listener_gets_rst_and_rst_is_ignored);
	tcase_add_test(tc, data_on_a_syn_is_not_acknowledged);
	tcase_add_test(tc, data_and_fin_before_accept_are_kept_for_the_acceptor);
	tcase_add_test(tc, syn_rate_limit_defers_excess_connections);
	tcase_add_test(tc, abort_resets_the_peer_and_keeps_the_handle);
	tcase_add_test(tc, listener_refuses_data_calls);
	tcase_add_test(tc, both_directions_at_once_stay_intact);
	tcase_add_test(tc, lost_data_with_fin_is_retransmitted_together);
	tcase_add_test(tc, no_congestion_control_sends_the_whole_window);
	tcase_add_test(tc, fixed_window_scale_shift_is_advertised);
	tcase_add_test(tc, handshake_survives_corruption_and_duplication);
	tcase_add_test(tc, shutdown_read_on_syn_sent_keeps_connecting);
	tcase_add_test(tc, random_segments_never_break_the_stack);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
