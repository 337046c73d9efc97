/* log.h — the library's log. Every module logs through these macros; a call below
 * the active level costs one predictable branch. Levels follow VMA's
 * SHIM_TRACELEVEL: 0 panic .. 6 func_all. Output goes to SHIM_LOG_FILE or stderr,
 * prefixed " SHIM <LEVEL> " with the details SHIM_LOG_DETAILS asks for. */
#ifndef SHIM_LOG_H
#define SHIM_LOG_H

#include <stddef.h>

enum shim_log_level {
	SHIM_LOG_PANIC = 0,
	SHIM_LOG_ERROR,
	SHIM_LOG_WARN,
	SHIM_LOG_INFO,
	SHIM_LOG_DEBUG,
	SHIM_LOG_FUNC,
	SHIM_LOG_FUNC_ALL,
};

/* Active level; written by log_set_level() (start-up, shim_stats -l). */
extern int shim_log_level;

void shim_log_emit(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_set_level(int level);
void log_set_details(int details);
/* Parse "3", "info", "INFO" ...; returns the level or -1. */
int log_level_parse(const char *s);
const char *log_level_name(int level);
/* SHIM_LOG_COLORS: colour lines by level, only when the output is a terminal. */
void log_set_colors(int on);
/* SHIM_LOG_FILE: append to this file ("%d" becomes the pid; NULL or "" = stderr).
 * Returns 0 or -errno; on failure the previous output stays. */
int log_set_file(const char *path);
/* The fd lines currently go to (so the fd table can keep the application off it). */
int log_get_fd(void);
/* Copy tmpl to out with its first "%d" replaced by the pid; 0 or -ENAMETOOLONG. */
int log_expand_pid(const char *tmpl, char *out, size_t size);

#define shim_log(lvl, ...)                                                      \
	do {                                                                    \
		if (__builtin_expect((lvl) <= shim_log_level, 0))              \
			shim_log_emit((lvl), __VA_ARGS__);                      \
	} while (0)

#define log_panic(...) shim_log(SHIM_LOG_PANIC, __VA_ARGS__)
#define log_err(...)   shim_log(SHIM_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  shim_log(SHIM_LOG_WARN, __VA_ARGS__)
#define log_info(...)  shim_log(SHIM_LOG_INFO, __VA_ARGS__)
#define log_dbg(...)   shim_log(SHIM_LOG_DEBUG, __VA_ARGS__)
#define log_func(...)  shim_log(SHIM_LOG_FUNC, __VA_ARGS__)

/* Log at most once per call site (e.g. "no backend for eth1"). */
#define log_once(lvl, ...)                                                      \
	do {                                                                    \
		static int once_;                                               \
		if (!__atomic_exchange_n(&once_, 1, __ATOMIC_RELAXED))          \
			shim_log((lvl), __VA_ARGS__);                           \
	} while (0)

#endif
