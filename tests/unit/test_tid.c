/* test_tid.c — the cached thread id (core/tid.h) is the kernel's: in the main thread,
 * in another thread, and in a fork child, whose copy of the cache must not keep the
 * parent's value (per-socket stats name the last sending and receiving thread). */
#include <check.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/tid.h"

static pid_t kernel_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

START_TEST(main_thread_id_is_the_kernels)
{
	ck_assert_int_eq(shim_tid(), kernel_tid());
	ck_assert_int_eq(shim_tid(), kernel_tid());	/* cached now */
}
END_TEST

static void *other(void *arg)
{
	pid_t *out = arg;

	out[0] = shim_tid();
	out[1] = kernel_tid();
	return NULL;
}

START_TEST(each_thread_has_its_own)
{
	pthread_t t;
	pid_t got[2];

	ck_assert_int_eq(shim_tid(), kernel_tid());
	ck_assert_int_eq(pthread_create(&t, NULL, other, got), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(got[0], got[1]);
	ck_assert_int_ne(got[0], shim_tid());
}
END_TEST

START_TEST(fork_child_gets_its_own)
{
	pid_t parent = shim_tid(), child;
	int status;

	ck_assert_int_eq(parent, kernel_tid());
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(shim_tid() == kernel_tid() && shim_tid() != parent ? 0 : 1);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(shim_tid(), parent);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tid");
	TCase *tc = tcase_create("tid");

	tcase_add_test(tc, main_thread_id_is_the_kernels);
	tcase_add_test(tc, each_thread_has_its_own);
	tcase_add_test(tc, fork_child_gets_its_own);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
