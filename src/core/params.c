/* params.c — fills struct shim_params from params.def at start-up: built-in
 * defaults, then the SHIM_SPEC profile, then SHIM_PARAMS_FILE, then the environment
 * (SHIM_NAME, else VMA_NAME), read once from environ. Bad values are warned about
 * once each and never stop the application. Runs in the library constructor: it
 * touches no socket call and allocates nothing that outlives it. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/params_internal.h"

struct shim_params shim_params;

const struct param_desc param_table[P_COUNT] = {
#define PARAM_INT(NAME, field, def, min, max, desc, doc) \
	[P_##NAME] = { #NAME, PT_INT, offsetof(struct shim_params, field), def, NULL, min, max, NULL, desc, doc },
#define PARAM_BOOL(NAME, field, def, desc, doc) \
	[P_##NAME] = { #NAME, PT_BOOL, offsetof(struct shim_params, field), def, NULL, 0, 1, NULL, desc, doc },
#define PARAM_STR(NAME, field, def, desc, doc) \
	[P_##NAME] = { #NAME, PT_STR, offsetof(struct shim_params, field), 0, def, 0, 0, NULL, desc, doc },
#define PARAM_ENUM(NAME, field, def, values, desc, doc) \
	[P_##NAME] = { #NAME, PT_ENUM, offsetof(struct shim_params, field), def, NULL, 0, 0, values, desc, doc },
#include "core/params.def"
#undef PARAM_INT
#undef PARAM_BOOL
#undef PARAM_STR
#undef PARAM_ENUM
};

/* --- storage for string values --------------------------------------------------
 * Strings from the environment, the params file and %d expansion are copied into
 * one static arena, so nothing is allocated per parameter and params_defaults()
 * forgets them all at once. */
#define STR_ARENA_SIZE 65536
static char str_arena[STR_ARENA_SIZE];
static size_t str_used;
/* A _FILE parameter's value before %d expansion, to expand again after fork(). */
static const char *str_template[P_COUNT];
static unsigned char param_src[P_COUNT];

static const char *str_store(const char *s, size_t len)
{
	char *p;

	if (len > PARAM_STR_MAX || len + 1 > STR_ARENA_SIZE - str_used)
		return NULL;
	p = str_arena + str_used;
	memcpy(p, s, len);
	p[len] = '\0';
	str_used += len + 1;
	return p;
}

/* --- deferred warnings -------------------------------------------------------------
 * Warnings found while reading wait until LOG_FILE and TRACELEVEL are applied, so
 * they go where the user asked and honour the level. */
#define WARN_BUF_SIZE 8192
static char warn_buf[WARN_BUF_SIZE];
static size_t warn_used;
static unsigned warn_lost;

void params_warn(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (warn_used + 2 >= sizeof(warn_buf)) {
		warn_lost++;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(warn_buf + warn_used, sizeof(warn_buf) - warn_used - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(warn_buf) - warn_used - 1) {
		warn_lost++;
		return;
	}
	warn_used += (size_t)n + 1;	/* keep the terminating NUL as separator */
}

static void params_flush_warnings(void)
{
	for (size_t off = 0; off < warn_used; off += strlen(warn_buf + off) + 1)
		log_warn("%s", warn_buf + off);
	if (warn_lost)
		log_warn("%u more parameter warnings not shown", warn_lost);
	warn_used = 0;
	warn_lost = 0;
}

/* --- value access ------------------------------------------------------------------ */
static void param_store_num(int idx, long v)
{
	if (param_table[idx].type == PT_BOOL)
		*(bool *)param_ptr(idx) = v != 0;
	else
		*(long *)param_ptr(idx) = v;
}

static bool name_is_file(int idx)
{
	size_t n = strlen(param_table[idx].name);

	return n > 5 && !strcmp(param_table[idx].name + n - 5, "_FILE");
}

int param_lookup(const char *name, size_t len)
{
	for (int i = 0; i < P_COUNT; i++)
		if (strlen(param_table[i].name) == len && !strncasecmp(param_table[i].name, name, len))
			return i;
	return -1;
}

int params_source(const char *name)
{
	int idx = param_lookup(name, strlen(name));

	return idx < 0 ? -1 : param_src[idx];
}

void params_defaults(void)
{
	str_used = 0;
	warn_used = 0;
	warn_lost = 0;
	for (int i = 0; i < P_COUNT; i++) {
		if (param_table[i].type == PT_STR)
			*(const char **)param_ptr(i) = param_table[i].def_str;
		else
			param_store_num(i, param_table[i].def);
		str_template[i] = NULL;
		param_src[i] = PARAM_SRC_DEFAULT;
	}
}

static const char *const source_note[] = {
	[PARAM_SRC_DEFAULT] = " (the default)",
	[PARAM_SRC_PROFILE] = " (from the SHIM_SPEC profile)",
	[PARAM_SRC_FILE] = " (from the params file)",
	[PARAM_SRC_ENV] = " (from the environment)",
};

int param_set_text(int idx, const char *text, enum param_source src, const char *label)
{
	const struct param_desc *d = &param_table[idx];
	long num = 0;
	int rc = param_parse(idx, text, &num);

	if (!rc && d->type == PT_STR) {
		const char *t = text;
		size_t n = strlen(text);
		if (idx == P_SPEC)
			n = param_trim(text, &t);
		const char *copy = str_store(t, n);
		if (!copy) {
			rc = -ENOSPC;
		} else {
			*(const char **)param_ptr(idx) = copy;
			str_template[idx] = name_is_file(idx) ? copy : NULL;
		}
	} else if (!rc) {
		param_store_num(idx, num);
	}
	if (rc) {
		char accepted[256], current[128];
		param_accepted(idx, accepted, sizeof(accepted));
		param_format(idx, current, sizeof(current));
		params_warn("%s='%.200s' is not valid (%s; accepted: %s); using %s%s", label, text,
			    rc == -ERANGE ? "out of range" : rc == -ENOSPC ? "too long" : "not understood",
			    accepted, *current ? current : "''",
			    source_note[param_src[idx]]);
		return -EINVAL;
	}
	param_src[idx] = (unsigned char)src;
	return 0;
}

bool param_is_default(int idx)
{
	const struct param_desc *d = &param_table[idx];

	if (d->type == PT_STR) {
		const char *v = str_template[idx] ? str_template[idx] : param_str(idx);
		return !strcmp(v, d->def_str);
	}
	return param_num(idx) == d->def;
}

/* --- layers ------------------------------------------------------------------------- */

/* Replace %d by the pid in every _FILE parameter, from its template. */
static void params_expand_files(void)
{
	char path[PARAM_STR_MAX + 24];

	for (int i = 0; i < P_COUNT; i++) {
		const char *t = str_template[i];
		if (!t || !strstr(t, "%d"))
			continue;
		if (log_expand_pid(t, path, sizeof(path)) == 0) {
			const char *copy = str_store(path, strlen(path));
			if (copy)
				*(const char **)param_ptr(i) = copy;
		}
	}
}

static bool params_atfork_done;

static void params_atfork_child(void)
{
	params_expand_files();
}

/* Rules that tie parameters together, applied after every layer. */
static void params_fixup(void)
{
	if (param_src[P_LOG_DETAILS] == PARAM_SRC_DEFAULT && shim_params.tracelevel >= SHIM_LOG_DEBUG)
		shim_params.log_details = 2;
	if (shim_params.select_poll_os_force) {
		shim_params.select_poll_os_ratio = 1;
		shim_params.select_skip_os = 1;
	}
	if (shim_params.tcp_timer_resolution_msec < shim_params.timer_resolution_msec) {
		/* Only a value the user chose deserves a warning. */
		if (param_src[P_TCP_TIMER_RESOLUTION_MSEC] != PARAM_SRC_DEFAULT)
			params_warn("SHIM_TCP_TIMER_RESOLUTION_MSEC=%ld is below SHIM_TIMER_RESOLUTION_MSEC=%ld; using %ld",
				    shim_params.tcp_timer_resolution_msec, shim_params.timer_resolution_msec,
				    shim_params.timer_resolution_msec);
		shim_params.tcp_timer_resolution_msec = shim_params.timer_resolution_msec;
	}
	if (shim_params.mss && shim_params.mtu && shim_params.mss > shim_params.mtu - 40) {
		params_warn("SHIM_MSS=%ld does not fit SHIM_MTU=%ld; using %ld", shim_params.mss,
			    shim_params.mtu, shim_params.mtu - 40);
		shim_params.mss = shim_params.mtu - 40;
	}
}

static void params_apply_log(void)
{
	log_set_details((int)shim_params.log_details);
	log_set_colors(shim_params.log_colors);
	if (str_template[P_LOG_FILE] && *str_template[P_LOG_FILE]) {
		int rc = log_set_file(str_template[P_LOG_FILE]);
		if (rc) {
			log_set_file(NULL);
			params_warn("SHIM_LOG_FILE='%s' cannot be opened (%s); logging to stderr",
				    shim_params.log_file, strerror(-rc));
		}
	} else {
		log_set_file(NULL);	/* a second init without LOG_FILE goes back to stderr */
	}
	log_set_level((int)shim_params.tracelevel);
}

/* Environment variables with our prefix that are not parameters on purpose. */
static bool env_not_a_param(const char *name, size_t len)
{
	static const char *const names[] = { "LIB", "BUILD", "SRC", "TESTS" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !strncmp(names[i], name, len))
			return true;
	return false;
}

/* Names VMA used before, or spelt so in its manual, for the VMA_ form only. */
static const struct {
	const char *old;
	int idx;
} vma_renames[] = {
	{ "MAX_INLINE", P_TX_MAX_INLINE },
	{ "CQ_AIM_MAX_PERIOD_US", P_CQ_AIM_MAX_PERIOD_USEC },
	{ "INTERNAL_THREAD_CPUSSET", P_INTERNAL_THREAD_CPUSET },
	{ "RX_POLL_OS_RATIO", P_RX_UDP_POLL_OS_RATIO },
};

static int vma_rename(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(vma_renames) / sizeof(vma_renames[0]); i++)
		if (strlen(vma_renames[i].old) == len && !strncmp(vma_renames[i].old, name, len))
			return vma_renames[i].idx;
	return -1;
}

/* The environment's value for idx (SHIM_ first, else VMA_), or NULL; label gets
 * the variable's name as the user wrote it. */
static const char *env_var(const char *const *env_shim, const char *const *env_vma, int idx,
			   char *label, size_t size)
{
	const char *s = env_shim[idx] ? env_shim[idx] : env_vma[idx];
	const char *eq;

	if (!s)
		return NULL;
	eq = strchr(s, '=');
	snprintf(label, size, "%.*s", (int)(eq - s), s);
	return eq + 1;
}

int params_init_env(char *const envp[])
{
	const char *env_shim[P_COUNT] = { 0 }, *env_vma[P_COUNT] = { 0 };
	char label[96];
	int saved_errno = errno;	/* the application's errno is not ours to change */

	params_defaults();

	/* One pass over the environment, remembering only our variables. */
	for (char *const *e = envp; e && *e; e++) {
		const char *s = *e, *eq = strchr(s, '=');
		bool shim = !strncmp(s, "SHIM_", 5), vma = !strncmp(s, "VMA_", 4);
		if (!eq || (!shim && !vma))
			continue;
		const char *name = s + (shim ? 5 : 4);
		size_t len = (size_t)(eq - name);
		int idx = param_lookup(name, len);
		if (shim) {
			if (idx >= 0)
				env_shim[idx] = s;
			else if (!env_not_a_param(name, len))
				params_warn("SHIM_%.*s is not a libshim parameter; ignored (see libshim(7))",
					    (int)len, name);
		} else if (idx >= 0) {
			env_vma[idx] = s;
		} else if ((idx = vma_rename(name, len)) >= 0 && !env_vma[idx]) {
			env_vma[idx] = s;	/* the current VMA name wins over an old one */
		}
	}

	/* Profile, from the environment only. */
	const char *spec = env_var(env_shim, env_vma, P_SPEC, label, sizeof(label));
	if (spec && param_set_text(P_SPEC, spec, PARAM_SRC_ENV, label) == 0 && *shim_params.spec)
		profile_apply(profile_lookup(shim_params.spec));

	/* Params file, from the environment only. */
	const char *pf = env_var(env_shim, env_vma, P_PARAMS_FILE, label, sizeof(label));
	if (pf && *pf && param_set_text(P_PARAMS_FILE, pf, PARAM_SRC_ENV, label) == 0) {
		char path[PARAM_STR_MAX + 24];
		if (log_expand_pid(shim_params.params_file, path, sizeof(path)) == 0)
			params_file_load(path);
	}

	/* Environment last: it wins. */
	for (int i = 0; i < P_COUNT; i++) {
		if (i == P_SPEC || i == P_PARAMS_FILE)
			continue;
		const char *v = env_var(env_shim, env_vma, i, label, sizeof(label));
		if (v)
			param_set_text(i, v, PARAM_SRC_ENV, label);
	}

	params_fixup();
	params_expand_files();
	if (!params_atfork_done) {
		params_atfork_done = true;
		pthread_atfork(NULL, NULL, params_atfork_child);
	}
	params_apply_log();
	params_flush_warnings();
	errno = saved_errno;
	return 0;
}

int params_init(void)
{
	extern char **environ;

	return params_init_env(environ);
}
