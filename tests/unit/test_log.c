/* test_log.c — the log sink: level names and parsing, line format for every
 * SHIM_LOG_DETAILS value, level filtering, file output with %d, line splitting and
 * truncation, errno preservation. Output is captured through SHIM_LOG_FILE. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"

static char log_path[256];

static void setup(void)
{
	snprintf(log_path, sizeof(log_path), "/tmp/shim-test-log.%d", (int)getpid());
	unlink(log_path);
	ck_assert_int_eq(log_set_file(log_path), 0);
	log_set_details(0);
	log_set_level(SHIM_LOG_INFO);
}

static void teardown(void)
{
	log_set_file(NULL);
	unlink(log_path);
}

/* Whole captured log as a string (static buffer). */
static const char *captured(void)
{
	static char buf[8192];
	FILE *f = fopen(log_path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_matches(const char *s, const char *re)
{
	regex_t r;
	ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	int rc = regexec(&r, s, 0, NULL, 0);
	regfree(&r);
	ck_assert_msg(rc == 0, "\"%s\" does not match /%s/", s, re);
}

START_TEST(test_level_parse)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{ "0", 0 }, { "3", 3 }, { "6", 6 }, { "7", -1 }, { "-1", -1 }, { "", -1 },
		{ NULL, -1 }, { "3x", -1 }, { "panic", 0 }, { "ERROR", 1 }, { "warn", 2 },
		{ "Warning", 2 }, { "info", 3 }, { " info ", 3 }, { "debug", 4 }, { "func", 5 },
		{ "fine", 5 }, { "func_all", 6 }, { "FUNC-ALL", 6 }, { "finer", 6 },
		{ "all", 6 }, { "verbose", -1 }, { "99999999999999999999", -1 }, { "inf", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(log_level_parse(cases[i].in) == cases[i].want, "parse(%s) = %d, want %d",
			      cases[i].in ? cases[i].in : "NULL", log_level_parse(cases[i].in),
			      cases[i].want);
}
END_TEST

START_TEST(test_level_names)
{
	ck_assert_str_eq(log_level_name(0), "PANIC");
	ck_assert_str_eq(log_level_name(3), "INFO");
	ck_assert_str_eq(log_level_name(6), "FUNC_ALL");
	ck_assert_str_eq(log_level_name(7), "UNKNOWN");
	ck_assert_str_eq(log_level_name(-1), "UNKNOWN");
	for (int l = 0; l <= 6; l++)
		ck_assert_int_eq(log_level_parse(log_level_name(l)), l);
}
END_TEST

START_TEST(test_format_plain)
{
	log_info("hello %d", 42);
	log_warn("careful\n");
	log_err("bad");
	ck_assert_str_eq(captured(), " SHIM INFO  : hello 42\n"
				     " SHIM WARN  : careful\n"
				     " SHIM ERROR : bad\n");
}
END_TEST

START_TEST(test_format_details)
{
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());

	log_set_details(1);
	log_info("one");
	log_set_details(2);
	log_info("two");
	log_set_details(3);
	log_info("three");
	log_set_details(9);	/* clamped to 3 */
	log_info("nine");

	const char *s = captured();
	ck_assert_int_eq(count_lines(s), 4);
	assert_matches(s, "^ Tid: +[0-9]+ SHIM INFO  : one\n");
	assert_matches(s, "\n Pid: +[0-9]+ Tid: +[0-9]+ SHIM INFO  : two\n");
	assert_matches(s, "\n Time: +[0-9]+\\.[0-9]{3} Pid: +[0-9]+ Tid: +[0-9]+ SHIM INFO  : three\n");
	assert_matches(s, "\n Time: +[0-9]+\\.[0-9]{3} Pid: +[0-9]+ Tid: +[0-9]+ SHIM INFO  : nine\n$");
	ck_assert_ptr_nonnull(strstr(s, pid));
}
END_TEST

START_TEST(test_level_filter)
{
	log_set_level(SHIM_LOG_WARN);
	log_info("hidden");
	log_dbg("hidden");
	log_warn("shown");
	log_panic("shown too");
	shim_log_emit(SHIM_LOG_INFO, "direct call below level is filtered as well");
	ck_assert_str_eq(captured(), " SHIM WARN  : shown\n SHIM PANIC : shown too\n");
	ck_assert_int_eq(shim_log_level, SHIM_LOG_WARN);
	log_set_level(42);
	ck_assert_int_eq(shim_log_level, SHIM_LOG_FUNC_ALL);
	log_set_level(-3);
	ck_assert_int_eq(shim_log_level, SHIM_LOG_PANIC);
}
END_TEST

START_TEST(test_debug_banner)
{
	log_set_level(SHIM_LOG_DEBUG);
	const char *s = captured();
	ck_assert_ptr_nonnull(strstr(s, " SHIM WARN  : ****"));
	ck_assert_ptr_nonnull(strstr(s, "SHIM_TRACELEVEL is debug"));
	int n = count_lines(s);
	/* Raising further, or setting the same level again, does not repeat it. */
	log_set_level(SHIM_LOG_FUNC);
	log_set_level(SHIM_LOG_FUNC);
	ck_assert_int_eq(count_lines(captured()), n);
	log_func("f");
	ck_assert_int_eq(count_lines(captured()), n + 1);
}
END_TEST

START_TEST(test_truncation)
{
	char big[4000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
	const char *s = captured();
	size_t n = strlen(s);
	ck_assert_int_eq(count_lines(s), 1);
	ck_assert(n < 2000);
	ck_assert(s[n - 1] == '\n');
	ck_assert(!strncmp(s + n - 4, "...", 3));
}
END_TEST

START_TEST(test_errno_preserved)
{
	errno = EAGAIN;
	log_info("x");
	ck_assert_int_eq(errno, EAGAIN);
	errno = ENOENT;
	ck_assert_int_lt(log_set_file("/nonexistent-dir/x/y.log"), 0);
	ck_assert_int_eq(errno, ENOENT);
	/* The failed open keeps the previous output. */
	log_info("still here");
	ck_assert_ptr_nonnull(strstr(captured(), "still here"));
}
END_TEST

START_TEST(test_file_pid_expansion)
{
	char tmpl[256], want[256];
	snprintf(tmpl, sizeof(tmpl), "/tmp/shim-test-log-%%d.%d.x", (int)getpid());
	snprintf(want, sizeof(want), "/tmp/shim-test-log-%d.%d.x", (int)getpid(), (int)getpid());
	unlink(want);
	ck_assert_int_eq(log_set_file(tmpl), 0);
	ck_assert_int_ne(log_get_fd(), 2);
	/* Out of the way of the program's own low fd numbers, when the limit allows. */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur > 900)
		ck_assert_int_ge(log_get_fd(), 900);
	int probe = open("/dev/null", O_RDONLY);
	ck_assert_int_lt(probe, 900);
	close(probe);
	log_info("to the pid file");
	ck_assert_int_eq(access(want, R_OK), 0);
	FILE *f = fopen(want, "r");
	char line[128] = "";
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_str_eq(line, " SHIM INFO  : to the pid file\n");
	ck_assert_int_eq(log_set_file(NULL), 0);
	ck_assert_int_eq(log_get_fd(), 2);
	unlink(want);

	char out[16];
	ck_assert_int_eq(log_expand_pid("plain", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "plain");
	ck_assert_int_eq(log_expand_pid("a-very-long-name-%d", out, sizeof(out)), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_append_not_truncate)
{
	log_info("first");
	ck_assert_int_eq(log_set_file(log_path), 0);
	log_info("second");
	ck_assert_str_eq(captured(), " SHIM INFO  : first\n SHIM INFO  : second\n");
}
END_TEST

START_TEST(test_no_colors_in_file)
{
	log_set_colors(1);
	log_err("plain in a file");
	ck_assert_ptr_null(strchr(captured(), '\033'));
}
END_TEST

/* Lines from concurrent threads arrive whole: one write each, never interleaved. */
#define THREADS 4
#define LINES_PER_THREAD 2000
static void *writer(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < LINES_PER_THREAD; i++)
		log_info("thread %ld line %04d %s", id, i, "abcdefghijklmnopqrstuvwxyz0123456789");
	return NULL;
}

START_TEST(test_threads_whole_lines)
{
	pthread_t t[THREADS];
	log_set_details(2);
	for (long i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	FILE *f = fopen(log_path, "r");
	char line[512];
	int n = 0, seen[THREADS] = { 0 };
	regex_t r;
	ck_assert_int_eq(regcomp(&r, "^ Pid: +[0-9]+ Tid: +[0-9]+ SHIM INFO  : thread ([0-9]) line ([0-9]{4}) "
				     "abcdefghijklmnopqrstuvwxyz0123456789\n$", REG_EXTENDED), 0);
	while (fgets(line, sizeof(line), f)) {
		regmatch_t m[3];
		ck_assert_msg(regexec(&r, line, 3, m, 0) == 0, "torn line: %s", line);
		int id = line[m[1].rm_so] - '0';
		/* Each thread's lines keep their order. */
		ck_assert_int_eq(atoi(line + m[2].rm_so), seen[id]);
		seen[id]++;
		n++;
	}
	regfree(&r);
	fclose(f);
	ck_assert_int_eq(n, THREADS * LINES_PER_THREAD);
}
END_TEST

/* A forked child with a %d log file writes to its own file, the parent to its. */
START_TEST(test_fork_reopens_pid_file)
{
	char tmpl[128], parent[128], child[128];
	snprintf(tmpl, sizeof(tmpl), "/tmp/shim-test-fork.%%d.%d", (int)getpid());
	snprintf(parent, sizeof(parent), "/tmp/shim-test-fork.%d.%d", (int)getpid(), (int)getpid());
	ck_assert_int_eq(log_set_file(tmpl), 0);
	pid_t pid = fork();
	if (pid == 0) {
		log_info("from the child");
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	log_info("from the parent");
	snprintf(child, sizeof(child), "/tmp/shim-test-fork.%d.%d", (int)pid, (int)getpid());
	char buf[256] = "";
	FILE *f = fopen(child, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, " SHIM INFO  : from the child\n");
	f = fopen(parent, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	ck_assert_ptr_null(fgets(buf + 100, 100, f));
	fclose(f);
	ck_assert_str_eq(buf, " SHIM INFO  : from the parent\n");
	unlink(child);
	/* A child that never logs leaves no file behind. */
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, &st, 0);
	snprintf(child, sizeof(child), "/tmp/shim-test-fork.%d.%d", (int)pid, (int)getpid());
	ck_assert_int_ne(access(child, F_OK), 0);
	log_set_file(NULL);
	unlink(parent);
}
END_TEST

/* A call below the level is one branch: far under 20 ns even on a busy machine. */
START_TEST(test_filtered_call_is_cheap)
{
	struct timespec a, b;
	volatile int arg = 7;
	const long n = 20000000;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		log_dbg("never shown %d", arg);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
	ck_assert_msg(ns < 20.0, "%.2f ns per filtered call", ns);
	ck_assert_str_eq(captured(), "");
}
END_TEST

/* On a terminal (a pty here) lines are coloured by level and reset at the end;
 * with SHIM_LOG_COLORS=0 they are not. */
START_TEST(test_colors_on_terminal)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	ck_assert_int_ge(m, 0);
	ck_assert_int_eq(grantpt(m), 0);
	ck_assert_int_eq(unlockpt(m), 0);
	ck_assert_int_eq(log_set_file(ptsname(m)), 0);
	log_set_colors(1);
	log_err("red");
	log_info("plain");
	log_set_colors(0);
	log_err("no colour");
	char buf[512];
	ssize_t n, got = 0;
	usleep(20000);
	fcntl(m, F_SETFL, O_NONBLOCK);
	while ((n = read(m, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "\033[1;31m SHIM ERROR : red\033[0m"));
	ck_assert_ptr_nonnull(strstr(buf, "\n SHIM INFO  : plain"));
	ck_assert_ptr_nonnull(strstr(buf, "\n SHIM ERROR : no colour"));
	log_set_file(NULL);
	close(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_level_parse);
	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_format_plain);
	tcase_add_test(tc, test_format_details);
	tcase_add_test(tc, test_level_filter);
	tcase_add_test(tc, test_debug_banner);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_errno_preserved);
	tcase_add_test(tc, test_file_pid_expansion);
	tcase_add_test(tc, test_append_not_truncate);
	tcase_add_test(tc, test_no_colors_in_file);
	tcase_add_test(tc, test_colors_on_terminal);
	tcase_add_test(tc, test_threads_whole_lines);
	tcase_add_test(tc, test_filtered_call_is_cheap);
	tcase_add_test(tc, test_fork_reopens_pid_file);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
