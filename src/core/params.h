/* params.h — run-time parameters. params.def is the table; this header expands it
 * into struct shim_params. params_init() fills it once at start-up:
 * default < SHIM_SPEC profile < SHIM_PARAMS_FILE < environment (SHIM_*, else VMA_*). */
#ifndef SHIM_PARAMS_H
#define SHIM_PARAMS_H

#include <stdbool.h>

struct shim_params {
#define PARAM_INT(NAME, field, def, min, max, desc, doc) long field;
#define PARAM_BOOL(NAME, field, def, desc, doc) bool field;
#define PARAM_STR(NAME, field, def, desc, doc) const char *field;
#define PARAM_ENUM(NAME, field, def, values, desc, doc) long field;
#include "core/params.def"
#undef PARAM_INT
#undef PARAM_BOOL
#undef PARAM_STR
#undef PARAM_ENUM
};

extern struct shim_params shim_params;

/* Values of the ENUM parameters, as stored in shim_params. */
enum shim_backend { SHIM_BACKEND_AUTO, SHIM_BACKEND_XDP, SHIM_BACKEND_VERBS, SHIM_BACKEND_NONE };
enum shim_xdp_mode { SHIM_XDP_MODE_AUTO, SHIM_XDP_MODE_NATIVE, SHIM_XDP_MODE_GENERIC };
enum shim_xdp_zerocopy { SHIM_XDP_ZEROCOPY_OFF, SHIM_XDP_ZEROCOPY_ON, SHIM_XDP_ZEROCOPY_AUTO };
enum shim_ring_logic {
	SHIM_RING_PER_INTERFACE = 0,
	SHIM_RING_PER_SOCKET = 10,
	SHIM_RING_PER_THREAD = 20,
	SHIM_RING_PER_CORE = 30,
	SHIM_RING_PER_CORE_ATTACH = 31,
};
enum shim_thread_mode { SHIM_THREAD_SINGLE, SHIM_THREAD_MULTI_SPIN, SHIM_THREAD_MULTI_MUTEX, SHIM_THREAD_MULTI_MORE_THREADS };
enum shim_mem_alloc { SHIM_MEM_ANON, SHIM_MEM_CONTIG, SHIM_MEM_HUGEPAGES };
enum shim_tcp_cc { SHIM_TCP_CC_NEWRENO, SHIM_TCP_CC_CUBIC, SHIM_TCP_CC_NONE };
enum shim_tcp_timer_handling { SHIM_TCP_TIMERS_DEFERRED, SHIM_TCP_TIMERS_IMMEDIATE };

/* Read profile, params file and environment; warn on bad values, never fail.
 * Also applies the logging parameters to the log. Returns 0. */
int params_init(void);
/* The same from an explicit environment (NULL-terminated "NAME=value" strings);
 * params_init() is params_init_env(environ). */
int params_init_env(char *const envp[]);
/* Reset every parameter to its built-in default (tests). */
void params_defaults(void);
/* Log the VMA-style start-up banner. */
void params_log_banner(void);

/* Where a parameter's current value came from. */
enum param_source { PARAM_SRC_DEFAULT, PARAM_SRC_PROFILE, PARAM_SRC_FILE, PARAM_SRC_ENV };
/* Source of parameter NAME (without prefix); -1 for an unknown name. */
int params_source(const char *name);

#endif
