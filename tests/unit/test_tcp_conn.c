/* test_tcp_conn.c — connection management: keepalive probing and timeout, listen
 * backlog with SYN and accept queues and overflow accounting, option inheritance by
 * accepted connections, ports and binding, many connections at once, and stacks with
 * different configurations living side by side. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "core/params.h"
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

static size_t probes_from(const struct th *th, int from, const struct tcp_conn *c)
{
	size_t n = 0;

	for (size_t i = 0; i < th->nlog; i++)
		if (th->log[i].from == from && !th->log[i].len &&
		    th->log[i].seq == c->snd_una - 1 && !(th->log[i].flags & (TCP_SYN | TCP_FIN)))
			n++;
	return n;
}

START_TEST(keepalive_probes_an_idle_connection_and_keeps_it)
{
	struct th *th = setup(NULL, NULL);

	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_KEEPIDLE, 10), 0);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_KEEPINTVL, 2), 0);
	ck_assert_int_eq(tcp_setopt(cl, TCP_OPT_KEEPALIVE, 1), 0);
	th_advance(th, 9900000);
	ck_assert_uint_eq(probes_from(th, TH_A, cl), 0);
	th_advance(th, 200000);
	ck_assert_uint_eq(probes_from(th, TH_A, cl), 1);
	/* Each probe is answered, so the connection lives and is probed every idle period. */
	th_advance(th, 60000000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	ck_assert_uint_ge(probes_from(th, TH_A, cl), 6);
	ck_assert_uint_le(probes_from(th, TH_A, cl), 8);
	finish(th);
}
END_TEST

START_TEST(keepalive_declares_a_dead_peer_after_count_probes)
{
	struct th *th = setup(NULL, NULL);
	char b[4];

	tcp_setopt(cl, TCP_OPT_KEEPIDLE, 10);
	tcp_setopt(cl, TCP_OPT_KEEPINTVL, 2);
	tcp_setopt(cl, TCP_OPT_KEEPCNT, 3);
	tcp_setopt(cl, TCP_OPT_KEEPALIVE, 1);
	th->blackhole[TH_B] = true;
	th_advance(th, 15900000);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	th_advance(th, 200000);
	/* idle 10 s + 3 probes 2 s apart, then RST and ETIMEDOUT */
	ck_assert_int_eq(tcp_state(cl), TCP_ST_CLOSED);
	ck_assert_uint_eq(probes_from(th, TH_A, cl), 3);
	ck_assert_uint_eq(th_last(th, TH_A)->flags & TCP_RST, TCP_RST);
	ck_assert_int_eq(tcp_recv(cl, b, sizeof(b), 0), -ETIMEDOUT);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_A].st)->keepalive_timeouts, 1);
	th->blackhole[TH_B] = false;
	finish(th);
}
END_TEST

START_TEST(keepalive_idle_restarts_on_traffic)
{
	struct th *th = setup(NULL, NULL);

	tcp_setopt(cl, TCP_OPT_KEEPIDLE, 10);
	tcp_setopt(cl, TCP_OPT_KEEPALIVE, 1);
	th_advance(th, 8000000);
	ck_assert_int_eq(th_transfer(th, sv, cl, 100, 1000000), 100);
	th_advance(th, 8000000);
	ck_assert_uint_eq(probes_from(th, TH_A, cl), 0);
	th_advance(th, 3000000);
	ck_assert_uint_eq(probes_from(th, TH_A, cl), 1);
	finish(th);
}
END_TEST

START_TEST(keepalive_off_sends_nothing)
{
	struct th *th = setup(NULL, NULL);
	size_t before = th->nlog;

	th_advance(th, 3ull * 3600 * 1000000);
	ck_assert_uint_eq(th->nlog, before);
	ck_assert_int_eq(tcp_state(cl), TCP_ST_ESTABLISHED);
	finish(th);
}
END_TEST

START_TEST(accept_queue_overflow_drops_handshakes_and_counts)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *c[5], *a[5];
	const struct tcp_stack_stats *sb = tcp_stack_stats(th->side[TH_B].st);
	int accepted = 0;

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 2, &ls), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(th_connect(th, TH_A, 80, &c[i]), 0);
	th_advance(th, 10000);
	ck_assert_int_eq(ls->acceptq_len, 2);
	ck_assert_int_ge(sb->listen_overflows, 3);
	while (tcp_accept(ls, &a[accepted]) == 0)
		accepted++;
	ck_assert_int_eq(accepted, 2);
	/* The dropped handshakes complete when the SYN-ACK is retransmitted. */
	th_advance(th, 1100000);
	while (accepted < 5 && tcp_accept(ls, &a[accepted]) == 0)
		accepted++;
	ck_assert_int_eq(accepted, 4);
	th_advance(th, 2000000);
	while (accepted < 5 && tcp_accept(ls, &a[accepted]) == 0)
		accepted++;
	ck_assert_int_eq(accepted, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(tcp_state(c[i]), TCP_ST_ESTABLISHED);
		tcp_close(c[i]);
		tcp_close(a[i]);
	}
	finish(th);
}
END_TEST

START_TEST(syn_with_full_accept_queue_is_dropped)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *c[2];
	const struct tcp_stack_stats *sb = tcp_stack_stats(th->side[TH_B].st);

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 1, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &c[0]), 0);
	th_advance(th, 10000);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &c[1]), 0);
	th_advance(th, 10000);
	ck_assert_int_eq(tcp_state(c[1]), TCP_ST_SYN_SENT);
	ck_assert_int_eq(sb->listen_drops, 1);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	th_advance(th, 1100000);	/* the SYN retransmission gets in now */
	ck_assert_int_eq(tcp_state(c[1]), TCP_ST_ESTABLISHED);
	tcp_close(c[0]);
	tcp_close(c[1]);
	finish(th);
}
END_TEST

START_TEST(syn_queue_limit_drops_excess_syns)
{
	struct tcp_config b;
	struct th *th;
	struct tcp_conn *c[12];

	th_config(&b);
	b.max_syn_backlog = 4;
	th = th_new(NULL, &b);
	cl = sv = ls = NULL;
	th->blackhole[TH_A] = false;
	th_drop_rule(th, TH_A, TCP_SYN | TCP_ACK, TCP_ACK, 0, 0, -1);	/* no final ACKs */
	ck_assert_int_eq(th_listen(th, TH_B, 80, 64, &ls), 0);
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(th_connect(th, TH_A, 80, &c[i]), 0);
	th_advance(th, 5000);
	ck_assert_int_eq(ls->synq_len, 4);
	ck_assert_int_eq(tcp_stack_stats(th->side[TH_B].st)->syn_queue_drops, 8);
	for (int i = 0; i < 12; i++)
		tcp_abort(c[i]);
	for (int i = 0; i < 12; i++)
		tcp_close(c[i]);
	finish(th);
}
END_TEST

START_TEST(unanswered_synack_gives_up_after_retries)
{
	struct tcp_config b;
	struct th *th;
	struct tcp_conn *c;
	long conns;

	th_config(&b);
	b.synack_retries = 2;
	th = th_new(NULL, &b);
	cl = sv = ls = NULL;
	th->blackhole[TH_A] = false;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &c), 0);
	th->blackhole[TH_A] = true;	/* the client vanishes after its SYN */
	th_advance(th, 8000000);
	ck_assert_uint_eq(th_count(th, TH_B, TCP_SYN, TCP_SYN), 3);
	tcp_stack_live(th->side[TH_B].st, &conns, NULL);
	ck_assert_int_eq(conns, 1);
	ck_assert_int_eq(ls->synq_len, 0);
	th->blackhole[TH_A] = false;
	tcp_abort(c);
	tcp_close(c);
	finish(th);
}
END_TEST

START_TEST(accepted_connection_inherits_listener_options)
{
	struct th *th = th_new(NULL, NULL);
	int v;

	cl = sv = ls = NULL;
	ck_assert_int_eq(tcp_conn_create(th->side[TH_B].st, &ls), 0);
	ck_assert_int_eq(tcp_setopt(ls, TCP_OPT_NODELAY, 1), 0);
	ck_assert_int_eq(tcp_setopt(ls, TCP_OPT_KEEPALIVE, 1), 0);
	ck_assert_int_eq(tcp_setopt(ls, TCP_OPT_KEEPIDLE, 77), 0);
	ck_assert_int_eq(tcp_setopt(ls, TCP_OPT_RCVBUF, 50000), 0);
	ck_assert_int_eq(tcp_bind(ls, th_addr(TH_B), htons(80)), 0);
	ck_assert_int_eq(tcp_listen(ls, 4), 0);
	ck_assert_int_eq(th_establish(th, 80, &cl, &sv, &ls), 0);
	ck_assert_int_eq(tcp_getopt(sv, TCP_OPT_NODELAY, &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(tcp_getopt(sv, TCP_OPT_KEEPIDLE, &v), 0);
	ck_assert_int_eq(v, 77);
	ck_assert_int_eq(tcp_getopt(sv, TCP_OPT_RCVBUF, &v), 0);
	ck_assert_int_eq(v, 50000);
	ck_assert_uint_eq(th_find(th, TH_B, TCP_SYN, TCP_SYN, 0)->wnd, 50000);
	finish(th);
}
END_TEST

START_TEST(binding_a_listening_address_twice_fails)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *l2, *l3;

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(tcp_conn_create(th->side[TH_B].st, &l2), 0);
	ck_assert_int_eq(tcp_bind(l2, th_addr(TH_B), htons(80)), -EADDRINUSE);
	ck_assert_int_eq(tcp_bind(l2, th_addr(TH_B), htons(81)), 0);
	ck_assert_int_eq(tcp_bind(l2, th_addr(TH_B), htons(82)), -EINVAL);
	ck_assert_int_eq(tcp_conn_create(th->side[TH_B].st, &l3), 0);
	ck_assert_int_eq(tcp_listen(l3, 4), -EDESTADDRREQ);
	tcp_close(l2);
	tcp_close(l3);
	finish(th);
}
END_TEST

START_TEST(wildcard_listener_accepts_any_local_address)
{
	struct th *th = th_new(NULL, NULL);

	cl = sv = ls = NULL;
	ck_assert_int_eq(tcp_conn_create(th->side[TH_B].st, &ls), 0);
	ck_assert_int_eq(tcp_bind(ls, 0, htons(80)), 0);
	ck_assert_int_eq(tcp_listen(ls, 4), 0);
	ck_assert_int_eq(th_establish(th, 80, &cl, &sv, &ls), 0);
	ck_assert_int_eq(th_transfer(th, cl, sv, 1000, 1000000), 1000);
	finish(th);
}
END_TEST

START_TEST(ephemeral_ports_are_unique)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *c[50];
	uint16_t port[50];

	cl = sv = ls = NULL;
	th->blackhole[TH_A] = true;
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(th_connect(th, TH_A, 80, &c[i]), 0);
		tcp_conn_addrs(c[i], NULL, &port[i], NULL, NULL);
		ck_assert_uint_ge(ntohs(port[i]), 32768);
		for (int j = 0; j < i; j++)
			ck_assert_uint_ne(port[i], port[j]);
	}
	for (int i = 0; i < 50; i++)
		tcp_close(c[i]);
	finish(th);
}
END_TEST

START_TEST(many_connections_transfer_independently)
{
	struct th *th = th_new(NULL, NULL);
	struct tcp_conn *c[64], *s[64];

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 128, &ls), 0);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(th_connect(th, TH_A, 80, &c[i]), 0);
	th_advance(th, 10000);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(tcp_accept(ls, &s[i]), 0);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(th_transfer(th, c[i], s[i], 5000 + (size_t)i * 100, 1000000),
				 5000 + i * 100);
	for (int i = 0; i < 64; i++) {
		tcp_close(c[i]);
		tcp_close(s[i]);
	}
	finish(th);
}
END_TEST

START_TEST(stacks_with_different_configs_interoperate)
{
	struct tcp_config a, b;
	struct th *th;
	struct tcp_info ia, ib;

	th_config(&a);
	th_config(&b);
	a.cc_algo = TCP_CC_CUBIC;
	a.mtu = 9000;
	a.sack = false;
	b.cc_algo = TCP_CC_NEWRENO;
	b.mss = 1200;
	b.window_scaling = false;
	th = setup(&a, &b);
	tcp_get_info(cl, &ia);
	tcp_get_info(sv, &ib);
	ck_assert_uint_eq(ia.tcpi_snd_mss, 1188);
	ck_assert_uint_eq(ia.tcpi_options & 6, 0);
	ck_assert_str_eq(cl->cc->name, "cubic");
	ck_assert_str_eq(sv->cc->name, "newreno");
	ck_assert_int_eq(th_transfer(th, cl, sv, 300000, 10000000), 300000);
	finish(th);
}
END_TEST

START_TEST(events_reach_the_owner)
{
	struct th *th = th_new(NULL, NULL);
	int tag = 42;

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, 4, &ls), 0);
	ck_assert_int_eq(th_connect(th, TH_A, 80, &cl), 0);
	tcp_conn_set_user(cl, &tag);
	ck_assert_ptr_eq(tcp_conn_user(cl), &tag);
	th_advance(th, 10000);
	ck_assert_ptr_eq(th->side[TH_A].last_ev_conn, cl);
	ck_assert(th->side[TH_A].events & TCP_EV_CONNECTED);
	ck_assert(th->side[TH_A].events & TCP_EV_WRITABLE);
	ck_assert_ptr_eq(th->side[TH_B].last_ev_conn, ls);
	ck_assert(th->side[TH_B].events & TCP_EV_ACCEPT);
	ck_assert_int_eq(tcp_accept(ls, &sv), 0);
	tcp_abort(sv);
	th_advance(th, 10000);
	ck_assert(th->side[TH_A].events & TCP_EV_ERROR);
	ck_assert(th->side[TH_A].events & TCP_EV_CLOSED);
	finish(th);
}
END_TEST

START_TEST(next_deadline_tracks_pending_timers)
{
	struct th *th = setup(NULL, NULL);

	ck_assert_uint_eq(tcp_next_deadline(th->side[TH_A].st), UINT64_MAX);
	ck_assert_int_eq(tcp_send(cl, "x", 1, 0), 1);
	ck_assert_uint_eq(tcp_next_deadline(th->side[TH_A].st), th->now + 200000);
	ck_assert_uint_eq(tcp_conn_deadline(cl), th->now + 200000);
	ck_assert_uint_eq(tcp_conn_deadline(ls), UINT64_MAX);
	th_advance(th, 1000);
	ck_assert_uint_eq(tcp_next_deadline(th->side[TH_B].st), th->now - 500 + 40000);
	th_advance(th, 100000);
	ck_assert_uint_eq(tcp_next_deadline(th->side[TH_A].st), UINT64_MAX);
	ck_assert_uint_eq(tcp_next_deadline(th->side[TH_B].st), UINT64_MAX);
	finish(th);
}
END_TEST


START_TEST(thousands_of_connections_grow_the_table_and_close_cleanly)
{
	enum { N = 3000 };
	static struct tcp_conn *c[N], *s[N];
	struct th *th = th_new(NULL, NULL);

	cl = sv = ls = NULL;
	ck_assert_int_eq(th_listen(th, TH_B, 80, N, &ls), 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(th_connect(th, TH_A, 80, &c[i]), 0);
	th_advance(th, 10000);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(tcp_accept(ls, &s[i]), 0);
		ck_assert_int_eq(tcp_state(c[i]), TCP_ST_ESTABLISHED);
	}
	ck_assert_uint_gt(th->side[TH_A].st->hash_mask, 1023);
	for (int i = 0; i < N; i += 97)
		ck_assert_int_eq(th_transfer(th, c[i], s[i], 3000, 1000000), 3000);
	for (int i = 0; i < N; i++) {
		tcp_close(c[i]);
		tcp_close(s[i]);
	}
	finish(th);
}
END_TEST


START_TEST(parameters_map_onto_the_engine_configuration)
{
	struct tcp_config cfg;

	params_defaults();
	tcp_config_from_params(&cfg, &shim_params);
	ck_assert_uint_eq(cfg.mtu, 1500);
	ck_assert_uint_eq(cfg.mss, 0);
	ck_assert(cfg.window_scaling);
	ck_assert(cfg.wscale_fixed);
	ck_assert_int_eq(cfg.wscale, 3);
	ck_assert_int_eq(cfg.cc_algo, TCP_CC_NEWRENO);
	shim_params.window_scaling = -1;
	shim_params.tcp_cc_algo = SHIM_TCP_CC_CUBIC;
	shim_params.mss = 1200;
	shim_params.tcp_nodelay = true;
	shim_params.tcp_max_syn_rate = 50;
	tcp_config_from_params(&cfg, &shim_params);
	ck_assert(!cfg.window_scaling);
	ck_assert_int_eq(cfg.cc_algo, TCP_CC_CUBIC);
	ck_assert_uint_eq(cfg.mss, 1200);
	ck_assert(cfg.nodelay);
	ck_assert_uint_eq(cfg.max_syn_rate, 50);
	shim_params.window_scaling = -2;
	tcp_config_from_params(&cfg, &shim_params);
	ck_assert_int_le(cfg.wscale, 14);
	params_defaults();
	{
		/* the configuration drives real connections */
		struct th *th;

		shim_params.window_scaling = 5;
		tcp_config_from_params(&cfg, &shim_params);
		cfg.msl_us = 1000000;	/* keep TIME_WAIT short in fake time */
		th = th_setup(&cfg, &cfg, &cl, &sv, &ls);
		ck_assert_ptr_nonnull(th);
		ck_assert_uint_eq(th_find(th, TH_A, TCP_SYN, TCP_SYN, 0)->ws, 5);
		params_defaults();
		finish(th);
	}
}
END_TEST


/* Callers may zero the struct and set only what they care about: everything else,
 * window scale included, takes a working default. */
START_TEST(zeroed_configuration_gets_working_defaults)
{
	struct tcp_config cfg;
	struct th *th;

	memset(&cfg, 0, sizeof(cfg));
	cfg.window_scaling = cfg.timestamps = cfg.sack = true;
	th = th_setup(&cfg, &cfg, &cl, &sv, &ls);
	ck_assert_ptr_nonnull(th);
	ck_assert_uint_eq(th_find(th, TH_A, TCP_SYN, TCP_SYN, 0)->ws, 3);	/* 256 KiB */
	ck_assert_uint_eq(th_find(th, TH_A, TCP_SYN, TCP_SYN, 0)->mss, 1460);
	ck_assert_int_eq(th_transfer(th, cl, sv, 1 << 20, 10000000), 1 << 20);
	finish(th);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tcp_conn");
	TCase *tc = tcase_create("conn");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, keepalive_probes_an_idle_connection_and_keeps_it);
	tcase_add_test(tc, keepalive_declares_a_dead_peer_after_count_probes);
	tcase_add_test(tc, keepalive_idle_restarts_on_traffic);
	tcase_add_test(tc, keepalive_off_sends_nothing);
	tcase_add_test(tc, accept_queue_overflow_drops_handshakes_and_counts);
	tcase_add_test(tc, syn_with_full_accept_queue_is_dropped);
	tcase_add_test(tc, syn_queue_limit_drops_excess_syns);
	tcase_add_test(tc, unanswered_synack_gives_up_after_retries);
	tcase_add_test(tc, accepted_connection_inherits_listener_options);
	tcase_add_test(tc, binding_a_listening_address_twice_fails);
	tcase_add_test(tc, wildcard_listener_accepts_any_local_address);
	tcase_add_test(tc, ephemeral_ports_are_unique);
	tcase_add_test(tc, many_connections_transfer_independently);
	tcase_add_test(tc, stacks_with_different_configs_interoperate);
	tcase_add_test(tc, events_reach_the_owner);
	tcase_add_test(tc, next_deadline_tracks_pending_timers);
	tcase_add_test(tc, thousands_of_connections_grow_the_table_and_close_cleanly);
	tcase_add_test(tc, parameters_map_onto_the_engine_configuration);
	tcase_add_test(tc, zeroed_configuration_gets_working_defaults);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
