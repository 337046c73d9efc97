/* test_iomux.c — select, poll and epoll over mixed sets: fake offloaded sockets
 * (iomux_fake.h: user-space queue, fake ring, kernel twin) beside pipes, eventfds and
 * plain sockets. Each semantic is checked the way the kernel behaves: the same
 * scenario on a kernel descriptor gives the same events. The calls are this
 * program's own poll(), select(), epoll_wait() ... (the library's wrappers). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/params.h"
#include "core/stats.h"
#include "intercept/intercept.h"
#include "iomux/iomux.h"
#include "iomux_fake.h"

static struct iofake_ring *ring;
static struct iofake_sock *sk;
static int pfd[2];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void setup(void)
{
	ck_assert(shim_ready());
	shim_params.select_poll = 1000;		/* 1 ms of spinning, then sleep */
	shim_params.select_poll_os_ratio = 10;
	shim_params.select_skip_os = 1;
	shim_params.select_poll_os_force = false;
	ring = iofake_ring_new();
	sk = iofake_sock_new(ring);
	ck_assert_int_eq(pipe(pfd), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(iofake_sock_release(sk), 1);	/* no reference left anywhere */
	iofake_ring_free(ring);
	close(pfd[0]);
	close(pfd[1]);
}

/* --- poll ----------------------------------------------------------------------- */
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

static void *deliver_later(void *arg)
{
	usleep(30000);
	iofake_deliver(arg);
	return NULL;
}

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

static volatile sig_atomic_t got_sig;
static void on_sig(int s)
{
	(void)s;
	got_sig = 1;
}

static void arm_alarm_ms(int ms)
{
	struct sigaction sa = { .sa_handler = on_sig, .sa_flags = SA_RESTART };
	struct itimerval it = { .it_value = { .tv_sec = 0, .tv_usec = ms * 1000 } };

	got_sig = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

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
	int fd = dup(pfd[0]);
	struct timeval tv = { 0, 0 };

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

/* --- epoll ------------------------------------------------------------------------- */
static int ep_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int ep_mod(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

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

static void *send_os_later(void *arg)
{
	usleep(30000);
	iofake_send_os(arg);
	return NULL;
}

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

static char stats_dir[] = "/tmp/shim-iomux-stats.XXXXXX";

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

static void remove_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char p[512];

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(path);
}

int main(void)
{
	struct stats_config cfg = { .dir = mkdtemp(stats_dir), .fd_num = 64 };

	/* Our own stats segment, so the iomux blocks are live (shim_stats reads these). */
	if (stats_init_with(&cfg) < 0) {
		fprintf(stderr, "cannot create a stats segment in %s\n", stats_dir);
		return EXIT_FAILURE;
	}
	Suite *s = suite_create("iomux");
	TCase *tc = tcase_create("iomux");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
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
	tcase_add_test(tc, test_epoll_one_socket_several_sets);
	tcase_add_test(tc, test_epoll_shared_across_fork);
	tcase_add_test(tc, test_epoll_rdhup_err_hup);
	tcase_add_test(tc, test_not_offloaded_is_kernel_fd);
	tcase_add_test(tc, test_iomux_stats);
	tcase_add_test(tc, test_waitq_exclusive);
	tcase_add_test(tc, test_kernel_only_passthrough);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	stats_fini();
	remove_dir(stats_dir);	/* with the segments of forked children */
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
