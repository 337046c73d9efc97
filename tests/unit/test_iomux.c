/* test_iomux.c — select, poll and their p-forms over mixed sets: a fake offloaded
 * socket (iomux_fake.h: user-space queue, fake ring, kernel twin) beside pipes,
 * eventfds and plain sockets, checked against what the kernel does with the same
 * scenario; also the wait queue, the iomux stats, many sockets at once and the
 * kernel-only path. The calls are this program's own poll(), select() ... (the
 * library's wrappers). epoll: test_iomux_epoll.c. */
#include "iomux_fixture.h"

START_TEST(test_poll_mixed_events)
{
	struct pollfd p[3] = {
		{ .fd = sk->base.fd, .events = POLLIN },
		{ .fd = pfd[0], .events = POLLIN },
		{ .fd = pfd[1], .events = POLLOUT },
	};

	sk->writable = false;
	ck_assert_int_eq(poll(p, 3, 0), 1);		/* only the pipe's write end */
	ck_assert_int_eq(p[2].revents, POLLOUT);
	iofake_deliver(sk);
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	ck_assert_int_eq(poll(p, 3, 0), 3);
	ck_assert_int_eq(p[0].revents, POLLIN);
	ck_assert_int_eq(p[1].revents, POLLIN);
	/* OS-path datagram on the kernel twin, nothing in user space: still POLLIN. */
	iofake_consume(sk);
	iofake_send_os(sk);
	usleep(1000);
	ck_assert_int_eq(poll(p, 1, 0), 1);
	ck_assert_int_eq(p[0].revents, POLLIN);
	ck_assert(iofake_recv_os(sk));
	ck_assert_int_eq(poll(p, 1, 0), 0);
	ck_assert_int_eq(p[0].revents, 0);
}
END_TEST

START_TEST(test_poll_nval_and_negative_fd)
{
	int fd = dup(pfd[0]);
	struct pollfd p[3] = {
		{ .fd = sk->base.fd, .events = POLLIN },
		{ .fd = fd, .events = POLLIN },
		{ .fd = -1, .events = POLLIN },
	};

	close(fd);
	iofake_deliver(sk);
	ck_assert_int_eq(poll(p, 3, 0), 2);
	ck_assert_int_eq(p[1].revents, POLLNVAL);
	ck_assert_int_eq(p[2].revents, 0);
	p[0].fd = -1;
	ck_assert_int_eq(poll(p, 3, 0), 1);		/* the kernel alone: same answer */
	ck_assert_int_eq(p[1].revents, POLLNVAL);
}
END_TEST

START_TEST(test_poll_spin_finds_ring_data)
{
	struct pollfd p = { .fd = sk->base.fd, .events = POLLIN };

	shim_params.select_poll = -1;			/* spin forever */
	ring->deliver_after = 50;
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(p.revents, POLLIN);
	ck_assert_int_ge(ring->polls, 50);
	ck_assert_int_eq(ring->arms, 0);		/* never slept */
}
END_TEST

START_TEST(test_poll_timeout_honoured)
{
	struct pollfd p = { .fd = sk->base.fd, .events = POLLIN };
	int64_t t0;

	t0 = now_ms();
	ck_assert_int_eq(poll(&p, 1, 60), 0);
	ck_assert_int_ge(now_ms() - t0, 60);
	ck_assert_int_lt(now_ms() - t0, 1000);
	ck_assert_int_gt(ring->arms, 0);		/* spun, then slept */
	shim_params.select_poll = 0;			/* never spin */
	ring->polls = 0;
	t0 = now_ms();
	ck_assert_int_eq(poll(&p, 1, 30), 0);
	ck_assert_int_ge(now_ms() - t0, 30);
	ck_assert_int_le(ring->polls, 2);
}
END_TEST

START_TEST(test_poll_sleeper_woken_by_other_thread)
{
	struct pollfd p = { .fd = sk->base.fd, .events = POLLIN };
	pthread_t t;
	int64_t t0 = now_ms();

	shim_params.select_poll = 0;
	pthread_create(&t, NULL, deliver_later, sk);
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(p.revents, POLLIN);
	ck_assert_int_lt(now_ms() - t0, 2000);
	pthread_join(t, NULL);
}
END_TEST

START_TEST(test_poll_eintr_while_spinning)
{
	struct pollfd p = { .fd = sk->base.fd, .events = POLLIN };

	shim_params.select_poll = -1;
	arm_alarm_ms(30);
	ck_assert_int_eq(poll(&p, 1, -1), -1);
	ck_assert_int_eq(errno, EINTR);		/* SA_RESTART or not: poll is never restarted */
	ck_assert(got_sig);
}
END_TEST

START_TEST(test_ppoll_sigmask)
{
	struct pollfd p = { .fd = sk->base.fd, .events = POLLIN };
	struct timespec ts = { 0, 300 * 1000000 };
	sigset_t block, old, none;

	/* SIGALRM blocked in the thread, unblocked by ppoll's mask: EINTR. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	sigemptyset(&none);
	shim_params.select_poll = -1;
	arm_alarm_ms(20);
	ck_assert_int_eq(ppoll(&p, 1, &ts, &none), -1);
	ck_assert_int_eq(errno, EINTR);
	ck_assert(got_sig);
	/* The other way: the call's mask blocks it; timeout, signal left pending. */
	arm_alarm_ms(10);
	ck_assert_int_eq(ppoll(&p, 1, &ts, &block), 0);
	ck_assert(!got_sig);
	pthread_sigmask(SIG_SETMASK, &old, NULL);	/* delivered now */
	ck_assert(got_sig);
}
END_TEST

/* --- select ----------------------------------------------------------------------- */
START_TEST(test_select_mixed)
{
	fd_set r, w;
	struct timeval tv = { 0, 50000 };
	int n = (sk->base.fd > pfd[1] ? sk->base.fd : pfd[1]) + 1;

	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(sk->base.fd, &r);
	FD_SET(pfd[0], &r);
	sk->writable = false;
	ck_assert_int_eq(select(n, &r, &w, NULL, &tv), 0);
	ck_assert(!FD_ISSET(sk->base.fd, &r));
	ck_assert_int_eq(tv.tv_sec, 0);
	ck_assert_int_eq(tv.tv_usec, 0);		/* Linux writes back the time left */
	FD_SET(sk->base.fd, &r);
	FD_SET(pfd[0], &r);
	FD_SET(sk->base.fd, &w);
	sk->writable = true;
	iofake_deliver(sk);
	tv.tv_sec = 1;
	ck_assert_int_eq(select(n, &r, &w, NULL, &tv), 2);	/* readable + writable */
	ck_assert(FD_ISSET(sk->base.fd, &r));
	ck_assert(FD_ISSET(sk->base.fd, &w));
	ck_assert(!FD_ISSET(pfd[0], &r));
	ck_assert_int_gt(tv.tv_sec * 1000000 + tv.tv_usec, 900000);
}
END_TEST

START_TEST(test_select_ebadf)
{
	fd_set r;
	/* A high number: the library's own descriptors (the waiter's eventfd, made on
	 * first use) take the lowest free one and must not refill the closed slot. */
	int fd = dup2(pfd[0], 1000);
	struct timeval tv = { 0, 0 };

	ck_assert_int_eq(fd, 1000);
	close(fd);
	FD_ZERO(&r);
	FD_SET(sk->base.fd, &r);
	FD_SET(fd, &r);
	ck_assert_int_eq(select((fd > sk->base.fd ? fd : sk->base.fd) + 1, &r, NULL, NULL, &tv), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(test_pselect_spins_and_finds)
{
	fd_set r;
	struct timespec ts = { 2, 0 };

	shim_params.select_poll = -1;
	ring->deliver_after = 20;
	FD_ZERO(&r);
	FD_SET(sk->base.fd, &r);
	ck_assert_int_eq(pselect(sk->base.fd + 1, &r, NULL, NULL, &ts, NULL), 1);
	ck_assert(FD_ISSET(sk->base.fd, &r));
	ck_assert_int_eq(ts.tv_sec, 2);		/* pselect leaves the timeout alone */
}
END_TEST


START_TEST(test_not_offloaded_is_kernel_fd)
{
	/* A socket object without rings (not offloaded) says no more than its kernel
	 * fd: what it holds in user space is not reported, calls are the kernel's, and
	 * the kernel twin wakes sleepers. */
	struct iofake_sock *s2 = iofake_sock_new(NULL);
	int ep = epoll_create1(0);
	struct epoll_event ev[2];
	struct pollfd p = { .fd = s2->base.fd, .events = POLLIN };
	pthread_t t;

	shim_params.select_poll = -1;		/* would spin forever if it had a ring */
	ck_assert_int_eq(ep_add(ep, s2->base.fd, EPOLLIN, 5), 0);
	iofake_deliver(s2);
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 0), 0);
	ck_assert_int_eq(poll(&p, 1, 0), 0);
	pthread_create(&t, NULL, send_os_later, s2);
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 5000), 1);
	ck_assert_uint_eq(ev[0].data.u64, 5);
	pthread_join(t, NULL);
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(p.revents, POLLIN);
	ck_assert(iofake_recv_os(s2));
	pthread_create(&t, NULL, send_os_later, s2);
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	pthread_join(t, NULL);
	close(ep);
	ck_assert_int_eq(iofake_sock_release(s2), 1);
}
END_TEST

static uint64_t stat_of(const char *name)
{
	uint64_t v = 0;
	int i = stats_index(name);

	if (i >= 0)
		stats_read(i, &v);
	return v;
}

START_TEST(test_iomux_stats)
{
	int ep = epoll_create1(0);
	struct epoll_event ev[2];
	struct pollfd p = { .fd = sk->base.fd, .events = POLLIN };
	uint64_t hit, tmo, off, os;

	ck_assert_int_ge(stats_index("iomux.poll_hit"), 0);
	hit = stat_of("iomux.poll_hit");
	tmo = stat_of("iomux.timeouts");
	off = stat_of("iomux.rx_ready_offloaded");
	os = stat_of("iomux.rx_ready_os");
	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN, 1), 0);
	ck_assert_int_eq(ep_add(ep, pfd[0], EPOLLIN, 2), 0);
	ring->deliver_after = 3;
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 1000), 1);
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 0), 2);
	iofake_consume(sk);
	ck_assert_int_eq(poll(&p, 1, 0), 0);
	ck_assert_uint_ge(stat_of("iomux.poll_hit"), hit + 1);
	ck_assert_uint_ge(stat_of("iomux.timeouts"), tmo + 1);
	ck_assert_uint_ge(stat_of("iomux.rx_ready_offloaded"), off + 2);
	ck_assert_uint_ge(stat_of("iomux.rx_ready_os"), os + 1);
	close(ep);
}
END_TEST

static int wake_calls;

static bool count_wake(struct shim_waiter *w, unsigned events)
{
	(void)w;
	(void)events;
	wake_calls++;
	return true;	/* "woke a sleeper" */
}

START_TEST(test_waitq_exclusive)
{
	/* Non-exclusive waiters all hear a wake-up; exclusive ones until one woke. */
	struct shim_waitq q = { 0 };
	struct shim_waiter a, b, c;

	wake_calls = 0;
	shim_waiter_init(&a, count_wake, true);
	shim_waiter_init(&b, count_wake, true);
	shim_waiter_init(&c, count_wake, false);
	shim_waitq_add(&q, &a);
	shim_waitq_add(&q, &b);
	shim_waitq_add(&q, &c);
	ck_assert_ptr_eq(q.head, &c);			/* non-exclusive first */
	shim_waitq_wake(&q, POLLIN);
	ck_assert_int_eq(wake_calls, 2);		/* c, then a, which woke someone */
	shim_waitq_wake(&q, SHIM_WAKE_CLOSE);
	ck_assert_int_eq(wake_calls, 5);		/* close: every waiter, unlinked */
	ck_assert_ptr_null(q.head);
	shim_waitq_del(&q, &a);			/* already gone: harmless */
}
END_TEST

START_TEST(test_many_sockets)
{
	/* 100 offloaded sockets on one ring (table growth, ready list, the heap paths
	 * of poll and select): every delivery is reported once, by every call. */
	enum { NS = 100 };
	struct iofake_sock *v[NS];
	struct pollfd p[NS];
	struct epoll_event ev[NS];
	int ep = epoll_create1(0), maxfd = 0;
	fd_set r;
	struct timeval tv = { 0, 0 };

	for (int i = 0; i < NS; i++) {
		v[i] = iofake_sock_new(NULL);
		v[i]->ring = &ring->r;
		shim_fd_rings_changed(&v[i]->base);
		p[i] = (struct pollfd){ .fd = v[i]->base.fd, .events = POLLIN };
		ck_assert_int_eq(ep_add(ep, v[i]->base.fd, EPOLLIN | (i % 2 ? EPOLLET : 0), (uint64_t)i), 0);
		if (v[i]->base.fd > maxfd)
			maxfd = v[i]->base.fd;
	}
	for (int i = 0; i < NS; i += 7)
		iofake_deliver(v[i]);
	int want = (NS + 6) / 7;
	ck_assert_int_eq(poll(p, NS, 0), want);
	FD_ZERO(&r);
	for (int i = 0; i < NS; i++)
		FD_SET(v[i]->base.fd, &r);
	ck_assert_int_eq(select(maxfd + 1, &r, NULL, NULL, &tv), want);
	for (int i = 0; i < NS; i++)
		ck_assert_int_eq(!!FD_ISSET(v[i]->base.fd, &r), i % 7 == 0);
	int n = epoll_wait(ep, ev, NS, 0);
	ck_assert_int_eq(n, want);
	uint64_t seen = 0;
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(ev[i].data.u64 % 7, 0);
		seen += ev[i].data.u64;
	}
	ck_assert_uint_eq(seen, 0 + 7 + 14 + 21 + 28 + 35 + 42 + 49 + 56 + 63 + 70 + 77 + 84 + 91 + 98);
	/* Edge-triggered ones (odd) are gone; level ones (even) stay. */
	int evens = 0;
	for (int i = 0; i < NS; i += 7)
		evens += i % 2 == 0;
	ck_assert_int_eq(epoll_wait(ep, ev, NS, 0), evens);
	close(ep);
	for (int i = 0; i < NS; i++)
		ck_assert_int_eq(iofake_sock_release(v[i]), 1);
}
END_TEST

START_TEST(test_kernel_only_passthrough)
{
	/* No offloaded fd: plain kernel calls, the ring is never touched. */
	int ep = epoll_create1(0), e = eventfd(1, 0);
	struct epoll_event ev[2];
	struct pollfd p = { .fd = e, .events = POLLIN };

	ck_assert_int_eq(ep_add(ep, e, EPOLLIN, 3), 0);
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 0), 1);
	ck_assert_int_eq(poll(&p, 1, 0), 1);
	ck_assert_int_eq(ring->polls, 0);
	close(e);
	close(ep);
}
END_TEST


static void add_tests(TCase *tc)
{
	tcase_add_test(tc, test_poll_mixed_events);
	tcase_add_test(tc, test_poll_nval_and_negative_fd);
	tcase_add_test(tc, test_poll_spin_finds_ring_data);
	tcase_add_test(tc, test_poll_timeout_honoured);
	tcase_add_test(tc, test_poll_sleeper_woken_by_other_thread);
	tcase_add_test(tc, test_poll_eintr_while_spinning);
	tcase_add_test(tc, test_ppoll_sigmask);
	tcase_add_test(tc, test_select_mixed);
	tcase_add_test(tc, test_select_ebadf);
	tcase_add_test(tc, test_pselect_spins_and_finds);
	tcase_add_test(tc, test_not_offloaded_is_kernel_fd);
	tcase_add_test(tc, test_iomux_stats);
	tcase_add_test(tc, test_waitq_exclusive);
	tcase_add_test(tc, test_many_sockets);
	tcase_add_test(tc, test_kernel_only_passthrough);
}

int main(void)
{
	return iomux_run("iomux", add_tests);
}
