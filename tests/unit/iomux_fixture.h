/* iomux_fixture.h — what the iomux Check programs share: one fake offloaded socket
 * with its ring and a pipe per test (setup/teardown, with a leak check), threads
 * that deliver or send later, a SIGALRM timer, epoll_ctl shorthands, and a main that
 * runs a suite with a stats segment of its own. Header-only: included by
 * test_iomux*.c alone. */
#ifndef IOMUX_FIXTURE_H
#define IOMUX_FIXTURE_H

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

static __attribute__((unused)) int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static __attribute__((unused)) void setup(void)
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

static __attribute__((unused)) void teardown(void)
{
	ck_assert_int_eq(iofake_sock_release(sk), 1);	/* no reference left anywhere */
	iofake_ring_free(ring);
	close(pfd[0]);
	close(pfd[1]);
}

static __attribute__((unused)) void *deliver_later(void *arg)
{
	usleep(30000);
	iofake_deliver(arg);
	return NULL;
}

static __attribute__((unused)) void *send_os_later(void *arg)
{
	usleep(30000);
	iofake_send_os(arg);
	return NULL;
}

static volatile sig_atomic_t got_sig;
static __attribute__((unused)) void on_sig(int s)
{
	(void)s;
	got_sig = 1;
}

static __attribute__((unused)) void arm_alarm_ms(int ms)
{
	struct sigaction sa = { .sa_handler = on_sig, .sa_flags = SA_RESTART };
	struct itimerval it = { .it_value = { .tv_sec = 0, .tv_usec = ms * 1000 } };

	got_sig = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

static __attribute__((unused)) int ep_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static __attribute__((unused)) int ep_mod(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static char stats_dir[] = "/tmp/shim-iomux-stats.XXXXXX";

static __attribute__((unused)) void remove_dir(const char *path)
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

/* Run one test case under a stats segment of our own (the iomux blocks are live,
 * as shim_stats reads them); the segment files, children's included, go at the end. */
static __attribute__((unused)) int iomux_run(const char *name, void (*add)(TCase *tc))
{
	struct stats_config cfg = { .dir = mkdtemp(stats_dir), .fd_num = 64 };

	if (stats_init_with(&cfg) < 0) {
		fprintf(stderr, "cannot create a stats segment in %s\n", stats_dir);
		return EXIT_FAILURE;
	}
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	add(tc);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	stats_fini();
	remove_dir(stats_dir);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
