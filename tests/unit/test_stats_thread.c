/* test_stats_thread.c — the library's internal thread: periodic tasks, removal (also
 * from inside a task), kick, limits, signals blocked, affinity, restart in a fork
 * child, and a bounded stop that lets the process exit even with a stuck task. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stats_test_util.h"
#include "core/internal_thread.h"
#include "core/params.h"

static int runs;

static void count(void *arg)
{
	__atomic_add_fetch(arg ? (int *)arg : &runs, 1, __ATOMIC_RELAXED);
}

static int get_runs(void)
{
	return __atomic_load_n(&runs, __ATOMIC_RELAXED);
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void setup(void)
{
	params_defaults();
	runs = 0;
}

START_TEST(periodic_and_remove)
{
	int id = internal_thread_add(count, NULL, 10);

	ck_assert_int_ge(id, 0);
	msleep(200);
	int n = get_runs();
	ck_assert_int_ge(n, 3);		/* 2 busy cores: allow a lot of lateness */
	ck_assert_int_le(n, 25);
	ck_assert_int_eq(internal_thread_remove(id), 0);
	n = get_runs();
	msleep(60);
	ck_assert_int_eq(get_runs(), n);
	ck_assert_int_eq(internal_thread_remove(id), -ENOENT);
}
END_TEST

static int self_id = -1;

static void remove_self(void *arg)
{
	count(NULL);
	ck_assert(internal_thread_self());
	internal_thread_remove(self_id);
}

START_TEST(remove_from_task)
{
	self_id = internal_thread_add(remove_self, NULL, 5);
	ck_assert_int_ge(self_id, 0);
	msleep(100);
	ck_assert_int_eq(get_runs(), 1);
	ck_assert(!internal_thread_self());
}
END_TEST

START_TEST(kick)
{
	ck_assert_int_ge(internal_thread_add(count, NULL, 100000), 0);
	msleep(20);
	ck_assert_int_eq(get_runs(), 0);
	internal_thread_kick();
	for (int i = 0; i < 100 && get_runs() == 0; i++)
		msleep(5);
	ck_assert_int_eq(get_runs(), 1);
}
END_TEST

START_TEST(limits)
{
	int ids[INTERNAL_THREAD_MAX_TASKS], n = 0, id;

	ck_assert_int_eq(internal_thread_add(NULL, NULL, 10), -EINVAL);
	ck_assert_int_eq(internal_thread_add(count, NULL, 0), -EINVAL);
	ck_assert_int_eq(internal_thread_remove(-1), -ENOENT);
	ck_assert_int_eq(internal_thread_remove(INTERNAL_THREAD_MAX_TASKS), -ENOENT);
	/* the library may hold a task or two of its own already */
	while ((id = internal_thread_add(count, NULL, 100000)) >= 0)
		ids[n++] = id;
	ck_assert_int_eq(id, -ENOSPC);
	ck_assert_int_ge(n, INTERNAL_THREAD_MAX_TASKS - 4);
	ck_assert_int_eq(internal_thread_remove(ids[3]), 0);
	ck_assert_int_eq(internal_thread_add(count, NULL, 10), ids[3]);
}
END_TEST

START_TEST(deferred_until_started)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int bad = 0;
		/* whatever start-up registered is deferred too: nothing runs yet */
		bad |= internal_thread_running();
		bad |= internal_thread_add_deferred(count, NULL, 5) < 0;
		msleep(40);
		bad |= get_runs() != 0 || internal_thread_running();
		bad |= internal_thread_start() != 0;
		bad |= !internal_thread_running();
		for (int i = 0; i < 100 && get_runs() == 0; i++)
			msleep(5);
		bad |= get_runs() == 0;
		_exit(bad);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static int sig_blocked = -1, cpu_ok = -1;
static char name[32];

static void inspect(void *arg)
{
	sigset_t set;
	cpu_set_t cpus;

	pthread_sigmask(SIG_BLOCK, NULL, &set);
	__atomic_store_n(&sig_blocked, sigismember(&set, SIGINT) && sigismember(&set, SIGTERM),
			 __ATOMIC_RELAXED);
	pthread_getname_np(pthread_self(), name, sizeof(name));
	sched_getaffinity(0, sizeof(cpus), &cpus);
	__atomic_store_n(&cpu_ok, CPU_COUNT(&cpus) == 1 && CPU_ISSET(0, &cpus), __ATOMIC_RELEASE);
}

START_TEST(signals_name_affinity)
{
	int status;

	/* placement happens when the thread starts: set it, then fork, so the child's
	 * thread starts (or restarts) with it, whatever ran in this process before */
	shim_params.internal_thread_affinity = _i ? "0x1" : "0";
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (internal_thread_add(inspect, NULL, 5) < 0)
			_exit(2);
		for (int i = 0; i < 200 && __atomic_load_n(&cpu_ok, __ATOMIC_ACQUIRE) < 0; i++)
			msleep(5);
		_exit(sig_blocked == 1 && strcmp(name, "shim-internal") == 0 && cpu_ok == 1 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(bad_affinity_left_unpinned)
{
	shim_params.internal_thread_affinity = "zero";
	ck_assert_int_ge(internal_thread_add(count, NULL, 5), 0);
	msleep(50);
	ck_assert_int_gt(get_runs(), 0);
}
END_TEST

START_TEST(fork_child_restarts)
{
	int status;

	ck_assert_int_ge(internal_thread_add(count, NULL, 5), 0);
	msleep(30);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int before = get_runs();
		msleep(150);
		_exit(get_runs() > before + 2 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static void stuck(void *arg)
{
	msleep(3000);
}

START_TEST(bounded_stop)
{
	ck_assert_int_ge(internal_thread_add(stuck, NULL, 1), 0);
	msleep(30);
	double t0 = now_ms();
	internal_thread_stop();
	ck_assert_double_lt(now_ms() - t0, 1000);
	ck_assert_int_eq(internal_thread_add(count, NULL, 10), -EAGAIN);
}
END_TEST

START_TEST(exit_with_thread_running)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		internal_thread_add(count, NULL, 1);
		msleep(20);
		exit(7);	/* atexit stops the thread; nothing keeps us alive */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 7);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("internal_thread");
	TCase *tc = tcase_create("thread");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, periodic_and_remove);
	tcase_add_test(tc, remove_from_task);
	tcase_add_test(tc, kick);
	tcase_add_test(tc, deferred_until_started);
	tcase_add_test(tc, limits);
	tcase_add_loop_test(tc, signals_name_affinity, 0, 2);
	tcase_add_test(tc, bad_affinity_left_unpinned);
	tcase_add_test(tc, fork_child_restarts);
	tcase_add_test(tc, bounded_stop);
	tcase_add_test(tc, exit_with_thread_running);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return stats_test_run(suite());
}
