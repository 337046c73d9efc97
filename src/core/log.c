/* log.c — the library's log sink. Every module reaches it through the log_* macros
 * of log.h. A line is formatted into a stack buffer and leaves in a single raw
 * write system call: no allocation, no stdio lock and no trip through our own
 * interposed write(), so it is safe from any thread, from a signal handler and from
 * inside the interposer itself. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

/* Longest line we emit; longer messages are cut and end in "...". */
#define LOG_LINE_MAX 1536
#define LOG_DEBUG_BANNER_LEVEL SHIM_LOG_DEBUG

int shim_log_level = SHIM_LOG_INFO;

static int log_out_fd = STDERR_FILENO;	/* where lines go */
static bool log_own_fd;			/* log_out_fd was opened by us */
static int log_details;			/* SHIM_LOG_DETAILS, 0..3 */
static int log_colors_wanted = 1;	/* SHIM_LOG_COLORS */
static bool log_colors_on;		/* wanted and the output is a terminal */
static struct timespec log_t0;		/* origin of the details=3 time stamp */
static char log_path_tmpl[512];		/* SHIM_LOG_FILE as given, for reopen after fork */
static bool log_atfork_done;
static int log_reopen_pending;		/* forked child: open its own %d file first */

static void log_reopen_now(void);

static const char *const level_names[] = {
	[SHIM_LOG_PANIC] = "PANIC",
	[SHIM_LOG_ERROR] = "ERROR",
	[SHIM_LOG_WARN] = "WARN",
	[SHIM_LOG_INFO] = "INFO",
	[SHIM_LOG_DEBUG] = "DEBUG",
	[SHIM_LOG_FUNC] = "FUNC",
	[SHIM_LOG_FUNC_ALL] = "FUNC_ALL",
};

/* Whole-line colours, VMA style: problems stand out, chatter fades. */
static const char *const level_colors[] = {
	[SHIM_LOG_PANIC] = "\033[1;31m",
	[SHIM_LOG_ERROR] = "\033[1;31m",
	[SHIM_LOG_WARN] = "\033[1;33m",
	[SHIM_LOG_INFO] = "",
	[SHIM_LOG_DEBUG] = "\033[2m",
	[SHIM_LOG_FUNC] = "\033[2m",
	[SHIM_LOG_FUNC_ALL] = "\033[2m",
};
#define COLOR_RESET "\033[0m"

/* Accepted spellings, VMA's included, mapped to our seven levels. */
static const struct {
	const char *name;
	int level;
} level_aliases[] = {
	{ "panic", SHIM_LOG_PANIC },	 { "none", SHIM_LOG_PANIC },
	{ "error", SHIM_LOG_ERROR },	 { "err", SHIM_LOG_ERROR },
	{ "warn", SHIM_LOG_WARN },	 { "warning", SHIM_LOG_WARN },
	{ "info", SHIM_LOG_INFO },	 { "information", SHIM_LOG_INFO },
	{ "details", SHIM_LOG_INFO },	 { "debug", SHIM_LOG_DEBUG },
	{ "dbg", SHIM_LOG_DEBUG },	 { "func", SHIM_LOG_FUNC },
	{ "fine", SHIM_LOG_FUNC },	 { "func_all", SHIM_LOG_FUNC_ALL },
	{ "func-all", SHIM_LOG_FUNC_ALL }, { "funcall", SHIM_LOG_FUNC_ALL },
	{ "func+", SHIM_LOG_FUNC_ALL },	 { "finer", SHIM_LOG_FUNC_ALL },
	{ "all", SHIM_LOG_FUNC_ALL },
};

int log_level_parse(const char *s)
{
	if (!s)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		n--;
	if (!n)
		return -1;
	if (s[0] >= '0' && s[0] <= '9') {
		long v = 0;
		for (size_t i = 0; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			v = v * 10 + (s[i] - '0');
			if (v > SHIM_LOG_FUNC_ALL)
				return -1;
		}
		return (int)v;
	}
	for (size_t i = 0; i < sizeof(level_aliases) / sizeof(level_aliases[0]); i++)
		if (strlen(level_aliases[i].name) == n && !strncasecmp(level_aliases[i].name, s, n))
			return level_aliases[i].level;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < SHIM_LOG_PANIC || level > SHIM_LOG_FUNC_ALL)
		return "UNKNOWN";
	return level_names[level];
}

/* Terminal test without isatty(): that goes through ioctl(), which the library
 * interposes, and this runs before the interposer is ready. */
static bool fd_is_terminal(int fd)
{
	struct termios t;

	return syscall(SYS_ioctl, fd, TCGETS, &t) == 0;
}

static void log_refresh_colors(void)
{
	log_colors_on = log_colors_wanted && fd_is_terminal(log_out_fd);
}

/* Write all of buf with raw system calls; gives up on anything but EINTR and short
 * writes, because a log line is never worth blocking or failing the application. */
static void raw_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		long n = syscall(SYS_write, fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Bounded append: keeps *len inside the buffer whatever snprintf would have wanted. */
static void buf_printf(char *buf, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void buf_printf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*len += (size_t)n < size - *len ? (size_t)n : size - *len - 1;
}

static void log_format_details(char *buf, size_t size, size_t *len)
{
	if (log_details >= 3) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long us = (now.tv_sec - log_t0.tv_sec) * 1000000LL +
			       (now.tv_nsec - log_t0.tv_nsec) / 1000;
		if (us < 0)
			us = 0;
		buf_printf(buf, size, len, " Time: %6lld.%03lld", us / 1000, us % 1000);
	}
	if (log_details >= 2)
		buf_printf(buf, size, len, " Pid: %5ld", (long)syscall(SYS_getpid));
	if (log_details >= 1)
		buf_printf(buf, size, len, " Tid: %5ld", (long)syscall(SYS_gettid));
}

void shim_log_emit(int level, const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	size_t len = 0, body;
	/* Room kept back for the colour reset and the newline. */
	const size_t tail = sizeof(COLOR_RESET) + 1;
	const size_t limit = sizeof(buf) - tail;
	int saved_errno = errno;
	va_list ap;
	int n;

	if (level > shim_log_level)
		return;
	if (level < SHIM_LOG_PANIC)
		level = SHIM_LOG_PANIC;
	if (level > SHIM_LOG_FUNC_ALL)
		level = SHIM_LOG_FUNC_ALL;

	bool color = log_colors_on && level_colors[level][0];
	if (color)
		buf_printf(buf, limit, &len, "%s", level_colors[level]);
	log_format_details(buf, limit, &len);
	buf_printf(buf, limit, &len, " SHIM %-5s : ", level_names[level]);

	body = len;
	va_start(ap, fmt);
	n = vsnprintf(buf + len, limit - len, fmt, ap);
	va_end(ap);
	if (n > 0) {
		if ((size_t)n >= limit - len) {
			len = limit - 1;
			memcpy(buf + len - 3, "...", 3);
		} else {
			len += (size_t)n;
		}
	}
	/* Messages may or may not end in a newline; every line gets exactly one. */
	while (len > body && buf[len - 1] == '\n')
		len--;
	if (color) {
		memcpy(buf + len, COLOR_RESET, sizeof(COLOR_RESET) - 1);
		len += sizeof(COLOR_RESET) - 1;
	}
	buf[len++] = '\n';

	if (__builtin_expect(__atomic_load_n(&log_reopen_pending, __ATOMIC_RELAXED), 0))
		log_reopen_now();
	raw_write_all(__atomic_load_n(&log_out_fd, __ATOMIC_RELAXED), buf, len);
	errno = saved_errno;
}

static void log_debug_banner(void)
{
	static const char *const lines[] = {
		"*************************************************************",
		"* SHIM_TRACELEVEL is debug or higher: every call is logged, *",
		"* which slows the application and skews latency. Use it to  *",
		"* investigate, then return to SHIM_TRACELEVEL=info (3).     *",
		"*************************************************************",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		shim_log_emit(SHIM_LOG_WARN, "%s", lines[i]);
}

void log_set_level(int level)
{
	int old;

	if (level < SHIM_LOG_PANIC)
		level = SHIM_LOG_PANIC;
	if (level > SHIM_LOG_FUNC_ALL)
		level = SHIM_LOG_FUNC_ALL;
	old = __atomic_exchange_n(&shim_log_level, level, __ATOMIC_RELAXED);
	if (old < LOG_DEBUG_BANNER_LEVEL && level >= LOG_DEBUG_BANNER_LEVEL)
		log_debug_banner();
}

void log_set_details(int details)
{
	if (details < 0)
		details = 0;
	if (details > 3)
		details = 3;
	if (log_t0.tv_sec == 0 && log_t0.tv_nsec == 0)
		clock_gettime(CLOCK_MONOTONIC, &log_t0);
	log_details = details;
}

void log_set_colors(int on)
{
	log_colors_wanted = on != 0;
	log_refresh_colors();
}

/* Expand the first "%d" of tmpl into the pid; other characters are copied as is.
 * Returns 0 or -ENAMETOOLONG. */
int log_expand_pid(const char *tmpl, char *out, size_t size)
{
	const char *p = strstr(tmpl, "%d");
	int n;

	if (!p)
		n = snprintf(out, size, "%s", tmpl);
	else
		n = snprintf(out, size, "%.*s%ld%s", (int)(p - tmpl), tmpl,
			     (long)syscall(SYS_getpid), p + 2);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Move the log's fd above the numbers programs use, so "exec 3>file", a program
 * expecting its first open to return 3, or a loop closing fds 3..N-1 does not meet
 * it. Kept well below the fd limit (the kernel sizes its table to the highest fd).
 * Where the limit is too low the fd stays as it is. */
#define LOG_FD_BASE 900

static int log_fd_out_of_the_way(int fd)
{
	long high;

	if (fd >= LOG_FD_BASE)
		return fd;
	high = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, LOG_FD_BASE);
	if (high < 0)
		return fd;
	syscall(SYS_close, fd);
	return (int)high;
}

static int log_open_path(const char *tmpl)
{
	char path[sizeof(log_path_tmpl) + 24];
	int rc = log_expand_pid(tmpl, path, sizeof(path));
	long fd;

	if (rc)
		return rc;
	/* O_APPEND without truncation: processes sharing one file (no %d, or a
	 * re-exec of the same program) add whole lines instead of erasing each other. */
	fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	return log_fd_out_of_the_way((int)fd);
}

static void log_switch_fd(int fd, bool own)
{
	int cur = __atomic_load_n(&log_out_fd, __ATOMIC_RELAXED);

	/* File to file: move the new file onto the old fd number, so a thread that
	 * is writing right now reaches one file or the other, never a closed or
	 * reused descriptor. */
	if (own && log_own_fd && cur != fd && syscall(SYS_dup3, fd, cur, O_CLOEXEC) >= 0) {
		syscall(SYS_close, fd);
		log_refresh_colors();
		return;
	}
	int old = __atomic_exchange_n(&log_out_fd, fd, __ATOMIC_RELEASE);
	if (log_own_fd && old != fd)
		syscall(SYS_close, old);
	log_own_fd = own;
	log_refresh_colors();
}

/* A child of fork() must not keep writing into its parent's per-pid file. The
 * child's own file is opened at its first line, so children that never log (a
 * shell's subshells) leave no empty files behind. */
static void log_atfork_child(void)
{
	if (log_own_fd && strstr(log_path_tmpl, "%d"))
		__atomic_store_n(&log_reopen_pending, 1, __ATOMIC_RELAXED);
}

static void log_reopen_now(void)
{
	int fd;

	if (!__atomic_exchange_n(&log_reopen_pending, 0, __ATOMIC_ACQUIRE))
		return;
	fd = log_open_path(log_path_tmpl);
	if (fd >= 0)
		log_switch_fd(fd, true);
}

int log_set_file(const char *path)
{
	int saved_errno = errno;
	int fd;

	if (!path || !*path) {
		log_path_tmpl[0] = '\0';
		__atomic_store_n(&log_reopen_pending, 0, __ATOMIC_RELAXED);
		log_switch_fd(STDERR_FILENO, false);
		return 0;
	}
	if (strlen(path) >= sizeof(log_path_tmpl)) {
		errno = saved_errno;
		return -ENAMETOOLONG;
	}
	fd = log_open_path(path);
	if (fd < 0) {
		errno = saved_errno;
		return fd;
	}
	snprintf(log_path_tmpl, sizeof(log_path_tmpl), "%s", path);
	__atomic_store_n(&log_reopen_pending, 0, __ATOMIC_RELAXED);
	log_switch_fd(fd, true);
	if (!log_atfork_done) {
		log_atfork_done = true;
		pthread_atfork(NULL, NULL, log_atfork_child);
	}
	errno = saved_errno;
	return 0;
}

int log_get_fd(void)
{
	return __atomic_load_n(&log_out_fd, __ATOMIC_RELAXED);
}
