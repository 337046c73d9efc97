/* test_iomux_epoll.c — the epoll family over mixed sets: level and edge triggering,
 * one-shot and re-arming, kernel-twin merging, maxevents fairness, ctl errors, spin
 * then sleep, EINTR and signal masks, close while registered, nesting (instance in
 * poll/select/another instance), one socket in several instances, fork. Same
 * fixture as test_iomux.c. */
#include "iomux_fixture.h"

START_TEST(test_epoll_level_triggered)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev[4];

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN, 7), 0);
	ck_assert_int_eq(ep_add(ep, pfd[0], EPOLLIN, 8), 0);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 0);
	iofake_deliver(sk);
	for (int i = 0; i < 3; i++) {		/* level: reported until consumed */
		ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 1);
		ck_assert_uint_eq(ev[0].data.u64, 7);
		ck_assert_uint_eq(ev[0].events, EPOLLIN);
	}
	iofake_consume(sk);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 0);
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	iofake_deliver(sk);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 100), 2);
	ck_assert_uint_eq(ev[0].data.u64 + ev[1].data.u64, 15);
	close(ep);
}
END_TEST

START_TEST(test_epoll_edge_triggered)
{
	int ep = epoll_create1(0);
	struct epoll_event ev[4];

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN | EPOLLET, 7), 0);
	ck_assert_int_eq(ep_add(ep, pfd[0], EPOLLIN | EPOLLET, 8), 0);
	iofake_deliver(sk);
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 2);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 0);	/* no new edge, data still there */
	iofake_deliver(sk);				/* new arrival: new edge */
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 2);
	/* EPOLL_CTL_MOD re-arms: reported again while ready, like the kernel. */
	ck_assert_int_eq(ep_mod(ep, sk->base.fd, EPOLLIN | EPOLLET, 9), 0);
	ck_assert_int_eq(ep_mod(ep, pfd[0], EPOLLIN | EPOLLET, 10), 0);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 2);
	ck_assert_uint_eq(ev[0].data.u64 + ev[1].data.u64, 19);
	close(ep);
}
END_TEST

START_TEST(test_epoll_oneshot)
{
	int ep = epoll_create1(0);
	struct epoll_event ev[4];

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN | EPOLLONESHOT, 7), 0);
	ck_assert_int_eq(ep_add(ep, pfd[0], EPOLLIN | EPOLLONESHOT, 8), 0);
	iofake_deliver(sk);
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 2);
	iofake_deliver(sk);
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 0);	/* disabled until MOD */
	/* An OS-path datagram while disabled: still nothing. */
	iofake_send_os(sk);
	usleep(1000);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 0);
	ck_assert_int_eq(ep_mod(ep, sk->base.fd, EPOLLIN | EPOLLONESHOT, 7), 0);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 1);
	ck_assert_uint_eq(ev[0].data.u64, 7);
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 0);
	close(ep);
}
END_TEST

START_TEST(test_epoll_twin_merged)
{
	int ep = epoll_create1(0);
	struct epoll_event ev[4];

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN | EPOLLOUT, 7), 0);
	iofake_deliver(sk);
	iofake_send_os(sk);
	usleep(1000);
	/* Ready in user space and in the kernel, readable and writable: one event. */
	ck_assert_int_eq(epoll_wait(ep, ev, 4, 0), 1);
	ck_assert_uint_eq(ev[0].events, EPOLLIN | EPOLLOUT);
	ck_assert_uint_eq(ev[0].data.u64, 7);
	ck_assert(iofake_recv_os(sk));
	close(ep);
}
END_TEST

START_TEST(test_epoll_maxevents_round_robin)
{
	int ep = epoll_create1(0);
	struct iofake_ring *r2 = iofake_ring_new();
	struct iofake_sock *s2 = iofake_sock_new(r2);
	struct epoll_event ev[2];

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN, 1), 0);
	ck_assert_int_eq(ep_add(ep, s2->base.fd, EPOLLIN, 2), 0);
	iofake_deliver(sk);
	iofake_deliver(s2);
	ck_assert_int_eq(epoll_wait(ep, ev, 1, 0), 1);
	uint64_t first = ev[0].data.u64;
	ck_assert_int_eq(epoll_wait(ep, ev, 1, 0), 1);
	ck_assert_uint_ne(ev[0].data.u64, first);	/* the kernel's fairness: a ready
							 * item goes to the back */
	ck_assert_int_eq(epoll_wait(ep, ev, 0, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	close(ep);
	ck_assert_int_eq(iofake_sock_release(s2), 1);
	iofake_ring_free(r2);
}
END_TEST

START_TEST(test_epoll_ctl_errors)
{
	int ep = epoll_create1(0);
	struct epoll_event e = { .events = EPOLLIN };

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN, 1), 0);
	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN, 1), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_DEL, sk->base.fd, NULL), 0);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_DEL, sk->base.fd, NULL), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(ep_mod(ep, sk->base.fd, EPOLLIN, 1), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &e), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(epoll_ctl(ep, 99, sk->base.fd, &e), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(epoll_ctl(pfd[0], EPOLL_CTL_ADD, sk->base.fd, &e), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* Exclusive may not be modified. */
	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN | EPOLLEXCLUSIVE, 1), 0);
	ck_assert_int_eq(ep_mod(ep, sk->base.fd, EPOLLIN, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* After a DEL nothing is reported. */
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_DEL, sk->base.fd, NULL), 0);
	iofake_deliver(sk);
	struct epoll_event ev[2];
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 0), 0);
	close(ep);
}
END_TEST

START_TEST(test_epoll_spin_and_sleep)
{
	int ep = epoll_create1(0);
	struct epoll_event ev[2];
	pthread_t t;
	int64_t t0;

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN, 7), 0);
	shim_params.select_poll = -1;
	ring->deliver_after = 100;
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 5000), 1);	/* found by spinning */
	ck_assert_int_ge(ring->polls, 100);
	ck_assert_int_eq(ring->arms, 0);
	iofake_consume(sk);
	/* Sleeping: woken by a delivery from another thread. */
	shim_params.select_poll = 100;
	t0 = now_ms();
	pthread_create(&t, NULL, deliver_later, sk);
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 5000), 1);
	ck_assert_int_lt(now_ms() - t0, 2000);
	ck_assert_int_gt(ring->arms, 0);
	pthread_join(t, NULL);
	iofake_consume(sk);
	/* Timeout honoured. */
	t0 = now_ms();
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 40), 0);
	ck_assert_int_ge(now_ms() - t0, 40);
	/* The ring's wake fd wakes the sleeper (interrupt): the ring is polled. */
	uint64_t one = 1;
	ring->deliver_after = ring->polls + 1;
	ck_assert_int_eq(write(ring->r.wake_fd, &one, 8), 8);
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 2000), 1);
	close(ep);
}
END_TEST

START_TEST(test_epoll_eintr_spinning_forever)
{
	int ep = epoll_create1(0);
	struct epoll_event ev[2];

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN, 7), 0);
	shim_params.select_poll = -1;
	arm_alarm_ms(30);
	ck_assert_int_eq(epoll_wait(ep, ev, 2, -1), -1);
	ck_assert_int_eq(errno, EINTR);
	ck_assert(got_sig);
	close(ep);
}
END_TEST

START_TEST(test_epoll_pwait_sigmask)
{
	int ep = epoll_create1(0);
	struct epoll_event ev[2];
	sigset_t block, old, none;
	struct timespec ts = { 0, 60 * 1000000 };

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN, 7), 0);
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigemptyset(&none);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	shim_params.select_poll = 200;
	arm_alarm_ms(10);
	ck_assert_int_eq(epoll_pwait(ep, ev, 2, 400, &none), -1);
	ck_assert_int_eq(errno, EINTR);
	arm_alarm_ms(10);
	ck_assert_int_eq(epoll_pwait2(ep, ev, 2, &ts, &block), 0);
	ck_assert(!got_sig);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	ck_assert(got_sig);
	close(ep);
}
END_TEST

START_TEST(test_epoll_closed_while_registered)
{
	int ep = epoll_create1(0);
	struct epoll_event ev[2];
	int fd = sk->base.fd;
	struct iofake_ring *r2 = iofake_ring_new();

	ck_assert_int_eq(ep_add(ep, fd, EPOLLIN, 7), 0);
	iofake_deliver(sk);
	iofake_sock_close(sk);				/* last fd of the file: gone */
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 0), 0);
	/* The number comes back as another socket: a fresh registration. */
	struct iofake_sock *s2 = iofake_sock_new(r2);
	/* The library's own thread opens a file now and then (the stats directory) and
	 * may hold the number a moment: try again until it is free. */
	for (int tries = 0; s2->base.fd != fd && tries < 200; tries++) {
		iofake_sock_release(s2);
		usleep(5000);
		s2 = iofake_sock_new(r2);
	}
	ck_assert_int_eq(s2->base.fd, fd);
	ck_assert_int_eq(ep_add(ep, fd, EPOLLIN, 9), 0);
	iofake_deliver(s2);
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 0), 1);
	ck_assert_uint_eq(ev[0].data.u64, 9);
	close(ep);
	ck_assert_int_eq(iofake_sock_release(s2), 1);
	iofake_ring_free(r2);
}
END_TEST

START_TEST(test_epoll_nested_and_in_poll)
{
	int inner = epoll_create1(0), outer = epoll_create1(0);
	struct epoll_event ev[2];
	struct pollfd p = { .fd = inner, .events = POLLIN };
	fd_set r;
	struct timeval tv = { 0, 0 };

	ck_assert_int_eq(ep_add(inner, sk->base.fd, EPOLLIN, 7), 0);
	ck_assert_int_eq(ep_add(outer, inner, EPOLLIN, 42), 0);
	ck_assert_int_eq(poll(&p, 1, 0), 0);
	ck_assert_int_eq(epoll_wait(outer, ev, 2, 0), 0);
	iofake_deliver(sk);
	ck_assert_int_eq(poll(&p, 1, 0), 1);
	ck_assert_int_eq(p.revents, POLLIN);
	FD_ZERO(&r);
	FD_SET(inner, &r);
	ck_assert_int_eq(select(inner + 1, &r, NULL, NULL, &tv), 1);
	ck_assert_int_eq(epoll_wait(outer, ev, 2, 0), 1);
	ck_assert_uint_eq(ev[0].data.u64, 42);
	ck_assert_int_eq(epoll_wait(inner, ev, 2, 0), 1);
	ck_assert_uint_eq(ev[0].data.u64, 7);
	/* Outer sleeping, woken through the inner instance by another thread. */
	iofake_consume(sk);
	shim_params.select_poll = 0;
	pthread_t t;
	pthread_create(&t, NULL, deliver_later, sk);
	ck_assert_int_eq(epoll_wait(outer, ev, 2, 5000), 1);
	ck_assert_uint_eq(ev[0].data.u64, 42);
	pthread_join(t, NULL);
	/* A loop is refused by the kernel, as it should be. */
	ck_assert_int_eq(ep_add(inner, outer, EPOLLIN, 1), -1);
	ck_assert_int_eq(errno, ELOOP);
	close(outer);
	close(inner);
}
END_TEST

START_TEST(test_epoll_outer_learns_inner_rings)
{
	/* The inner instance gets its offloaded socket after it joined the outer one:
	 * the outer instance spins on the new ring all the same. */
	int inner = epoll_create1(0), outer = epoll_create1(0);
	struct epoll_event ev[2];

	ck_assert_int_eq(ep_add(outer, inner, EPOLLIN, 42), 0);
	ck_assert_int_eq(epoll_wait(outer, ev, 2, 0), 0);
	ck_assert_int_eq(ep_add(inner, sk->base.fd, EPOLLIN, 7), 0);
	shim_params.select_poll = -1;
	ring->deliver_after = 30;
	ck_assert_int_eq(epoll_wait(outer, ev, 2, 3000), 1);
	ck_assert_uint_eq(ev[0].data.u64, 42);
	ck_assert_int_ge(ring->polls, 30);
	ck_assert_int_eq(ring->arms, 0);		/* found by spinning, never slept */
	close(outer);
	close(inner);
}
END_TEST

START_TEST(test_epoll_one_socket_several_sets)
{
	int a = epoll_create1(0), b = epoll_create1(0);
	struct epoll_event ev[2];

	ck_assert_int_eq(ep_add(a, sk->base.fd, EPOLLIN, 1), 0);
	ck_assert_int_eq(ep_add(b, sk->base.fd, EPOLLIN | EPOLLET, 2), 0);
	iofake_deliver(sk);
	ck_assert_int_eq(epoll_wait(a, ev, 2, 0), 1);
	ck_assert_uint_eq(ev[0].data.u64, 1);
	ck_assert_int_eq(epoll_wait(b, ev, 2, 0), 1);
	ck_assert_uint_eq(ev[0].data.u64, 2);
	ck_assert_int_eq(epoll_wait(a, ev, 2, 0), 1);	/* level */
	ck_assert_int_eq(epoll_wait(b, ev, 2, 0), 0);	/* edge */
	close(a);
	ck_assert_int_eq(epoll_wait(b, ev, 2, 0), 0);
	iofake_deliver(sk);
	ck_assert_int_eq(epoll_wait(b, ev, 2, 0), 1);
	close(b);
}
END_TEST

START_TEST(test_epoll_shared_across_fork)
{
	int ep = epoll_create1(0);
	struct epoll_event ev[2];
	pid_t pid;
	int st;

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN, 7), 0);
	ck_assert_int_eq(ep_add(ep, pfd[0], EPOLLIN, 8), 0);
	pid = fork();
	if (pid == 0) {
		/* The child waits on the inherited instance: kernel fds and the sockets'
		 * kernel twins are reported with the parent's data. */
		int n = epoll_wait(ep, ev, 2, 3000);

		_exit(n == 1 && ev[0].data.u64 == 8 ? 0 : 1);
	}
	usleep(20000);
	ck_assert_int_eq(write(pfd[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	pid = fork();
	if (pid == 0) {
		char c;
		int n;

		if (read(pfd[0], &c, 1) != 1)
			_exit(2);
		n = epoll_wait(ep, ev, 2, 3000);
		_exit(n == 1 && ev[0].data.u64 == 7 ? 0 : 1);
	}
	usleep(20000);
	iofake_send_os(sk);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(ep);
}
END_TEST

START_TEST(test_epoll_rdhup_err_hup)
{
	int ep = epoll_create1(0);
	struct epoll_event ev[2];

	ck_assert_int_eq(ep_add(ep, sk->base.fd, EPOLLIN | EPOLLRDHUP, 7), 0);
	sk->err = true;				/* errors are reported unasked */
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 0), 0);	/* no wake-up yet: the kernel
							 * too needs a callback */
	shim_fd_wake(&sk->base, POLLERR);
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 0), 1);
	ck_assert_uint_eq(ev[0].events, EPOLLERR);
	sk->err = false;
	/* Same rule for a kernel pipe: the write end sees EPOLLERR when the reader goes. */
	int q[2];
	ck_assert_int_eq(pipe(q), 0);
	ck_assert_int_eq(ep_add(ep, q[1], EPOLLOUT, 9), 0);
	close(q[0]);
	ck_assert_int_eq(epoll_wait(ep, ev, 2, 0), 1);
	ck_assert_uint_eq(ev[0].events, EPOLLOUT | EPOLLERR);
	close(q[1]);
	close(ep);
}
END_TEST


static void add_tests(TCase *tc)
{
	tcase_add_test(tc, test_epoll_level_triggered);
	tcase_add_test(tc, test_epoll_edge_triggered);
	tcase_add_test(tc, test_epoll_oneshot);
	tcase_add_test(tc, test_epoll_twin_merged);
	tcase_add_test(tc, test_epoll_maxevents_round_robin);
	tcase_add_test(tc, test_epoll_ctl_errors);
	tcase_add_test(tc, test_epoll_spin_and_sleep);
	tcase_add_test(tc, test_epoll_eintr_spinning_forever);
	tcase_add_test(tc, test_epoll_pwait_sigmask);
	tcase_add_test(tc, test_epoll_closed_while_registered);
	tcase_add_test(tc, test_epoll_nested_and_in_poll);
	tcase_add_test(tc, test_epoll_outer_learns_inner_rings);
	tcase_add_test(tc, test_epoll_one_socket_several_sets);
	tcase_add_test(tc, test_epoll_shared_across_fork);
	tcase_add_test(tc, test_epoll_rdhup_err_hup);
}

int main(void)
{
	return iomux_run("iomux_epoll", add_tests);
}
