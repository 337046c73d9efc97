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

/* --- profiles ---------------------------------------------------------------- */
enum profile_id {
#define PROFILE(id, name, doc) PROF_##id,
#define PROFILE_SET(id, NAME, value)
#define PROFILE_INHERIT(id, base)
#include "core/profiles.def"
#undef PROFILE
#undef PROFILE_SET
#undef PROFILE_INHERIT
	PROF_COUNT
};

static const char *const profile_names[PROF_COUNT] = {
#define PROFILE(id, name, doc) [PROF_##id] = name,
#define PROFILE_SET(id, NAME, value)
#define PROFILE_INHERIT(id, base)
#include "core/profiles.def"
#undef PROFILE
#undef PROFILE_SET
#undef PROFILE_INHERIT
};

static const struct profile_entry {
	enum profile_id profile;
	int param;		/* P_*, or -1 for an inherit entry */
	enum profile_id base;	/* inherit entries */
	const char *value;
} profile_entries[] = {
#define PROFILE(id, name, doc)
#define PROFILE_SET(id, NAME, value) { PROF_##id, P_##NAME, PROF_COUNT, value },
#define PROFILE_INHERIT(id, base) { PROF_##id, -1, PROF_##base, NULL },
#include "core/profiles.def"
#undef PROFILE
#undef PROFILE_SET
#undef PROFILE_INHERIT
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
static void *param_ptr(int idx)
{
	return (char *)&shim_params + param_table[idx].offset;
}

static void param_store_num(int idx, long v)
{
	if (param_table[idx].type == PT_BOOL)
		*(bool *)param_ptr(idx) = v != 0;
	else
		*(long *)param_ptr(idx) = v;
}

static long param_num(int idx)
{
	if (param_table[idx].type == PT_BOOL)
		return *(bool *)param_ptr(idx);
	return *(long *)param_ptr(idx);
}

static const char *param_str(int idx)
{
	return *(const char **)param_ptr(idx);
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

/* --- parsing ---------------------------------------------------------------------- */

/* Trimmed view of s: *start and returned length. */
static size_t trim(const char *s, const char **start)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	*start = s;
	return n;
}

/* Decimal, or hexadecimal with 0x; a leading zero is not octal (users write 010). */
static int parse_long(const char *s, long *out)
{
	char buf[32], *end;
	const char *t;
	size_t n = trim(s, &t);
	bool neg = false, hex = false;
	size_t i = 0;
	unsigned long long v;

	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, t, n);
	buf[n] = '\0';
	if (buf[0] == '-' || buf[0] == '+') {
		neg = buf[0] == '-';
		i = 1;
	}
	if (buf[i] == '0' && (buf[i + 1] == 'x' || buf[i + 1] == 'X')) {
		hex = true;
		i += 2;
	}
	/* strtoull would skip blanks and take a second sign: insist on a digit. */
	bool digit = buf[i] >= '0' && buf[i] <= '9';
	bool hexdigit = ((buf[i] | 0x20) >= 'a' && (buf[i] | 0x20) <= 'f');
	if (!(digit || (hex && hexdigit)))
		return -EINVAL;
	errno = 0;
	v = strtoull(buf + i, &end, hex ? 16 : 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > (unsigned long long)__LONG_MAX__ + neg)
		return -ERANGE;
	*out = neg ? (long)(0 - v) : (long)v;
	return 0;
}

/* Names compare without regard to case, and '-' equals '_' (ultra-latency). */
static char fold(char c)
{
	if (c == '-')
		return '_';
	if (c >= 'A' && c <= 'Z')
		return (char)(c + ('a' - 'A'));
	return c;
}

static bool word_eqn(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (fold(a[i]) != fold(b[i]))
			return false;
	return true;
}

static bool word_eq(const char *a, size_t alen, const char *b)
{
	return word_eqn(a, alen, b, strlen(b));
}

static int parse_bool(const char *s, long *out)
{
	static const char *const yes[] = { "1", "yes", "y", "on", "true", "enable", "enabled" };
	static const char *const no[] = { "0", "no", "n", "off", "false", "disable", "disabled" };
	const char *t;
	size_t n = trim(s, &t);

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (word_eq(t, n, yes[i])) {
			*out = 1;
			return 0;
		}
		if (word_eq(t, n, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* Walk an ENUM list one item at a time: value (the index unless numbered), name. */
struct enum_item {
	long value;
	const char *name;
	size_t len;
};

static const char *enum_next(const char *p, long index, struct enum_item *it)
{
	const char *bar, *colon;

	if (!p || !*p)
		return NULL;
	bar = strchr(p, '|');
	if (!bar)
		bar = p + strlen(p);
	colon = memchr(p, ':', (size_t)(bar - p));
	if (colon) {
		it->value = strtol(p, NULL, 10);
		it->name = colon + 1;
	} else {
		it->value = index;
		it->name = p;
	}
	it->len = (size_t)(bar - it->name);
	return *bar ? bar + 1 : bar;
}

static int parse_enum(const char *values, const char *s, long *out)
{
	struct enum_item it;
	const char *t, *p = values;
	size_t n = trim(s, &t);
	long num, i = 0;
	bool numeric = parse_long(t, &num) == 0;

	while ((p = enum_next(p, i++, &it))) {
		if (numeric ? num == it.value : word_eqn(t, n, it.name, it.len)) {
			*out = it.value;
			return 0;
		}
	}
	return -EINVAL;
}

/* The enum name of value v into buf; false when v is not in the list. */
static bool enum_name(const char *values, long v, char *buf, size_t size)
{
	struct enum_item it;
	const char *p = values;
	long i = 0;

	while ((p = enum_next(p, i++, &it)))
		if (it.value == v) {
			snprintf(buf, size, "%.*s", (int)it.len, it.name);
			return true;
		}
	return false;
}

/* "-1", "0x<hex mask>" or a CPU list "0,2,4-7", like taskset. */
static int parse_cpuset(const char *s)
{
	const char *t;
	size_t n = trim(s, &t);
	long a, b;
	char *end;

	if (n == 2 && !strncmp(t, "-1", 2))
		return 0;
	if (n > 2 && t[0] == '0' && (t[1] | 0x20) == 'x') {
		bool nonzero = false;
		for (size_t i = 2; i < n; i++) {
			char c = (char)(t[i] | 0x20);
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || t[i] == ','))
				return -EINVAL;
			nonzero |= c != '0' && t[i] != ',';
		}
		return nonzero ? 0 : -EINVAL;
	}
	if (!n)
		return -EINVAL;
	for (const char *p = t, *e = t + n; p < e;) {
		while (p < e && *p == ' ')
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return -EINVAL;
		a = strtol(p, &end, 10);
		b = a;
		p = end;
		if (p < e && *p == '-') {
			p++;
			if (p >= e || *p < '0' || *p > '9')
				return -EINVAL;
			b = strtol(p, &end, 10);
			p = end;
		}
		if (a > b || b >= 4096)
			return -EINVAL;
		while (p < e && *p == ' ')
			p++;
		if (p < e && *p++ != ',')
			return -EINVAL;
		if (p == e && p[-1] == ',')
			return -EINVAL;
	}
	return 0;
}

static int profile_lookup(const char *s)
{
	const char *t;
	size_t n = trim(s, &t);

	for (int i = 0; i < PROF_COUNT; i++)
		if (word_eq(t, n, profile_names[i]))
			return i;
	return -1;
}

/* What a parameter accepts, for warnings. */
static void param_accepted(int idx, char *buf, size_t size)
{
	const struct param_desc *d = &param_table[idx];
	size_t len = 0;

	switch (idx) {
	case P_TRACELEVEL:
		snprintf(buf, size, "0 to 6 or a level name (panic, error, warn, info, debug, func, func_all)");
		return;
	case P_INTERNAL_THREAD_AFFINITY:
		snprintf(buf, size, "-1, a hex CPU mask such as 0x3, or a CPU list such as 0,2,4-7");
		return;
	case P_SPEC:
		len = (size_t)snprintf(buf, size, "a profile name:");
		for (int i = 0; i < PROF_COUNT && len < size; i++)
			len += (size_t)snprintf(buf + len, size - len, "%s %s", i ? "," : "", profile_names[i]);
		return;
	case P_MTU:
		snprintf(buf, size, "0, or an integer from 68 to %ld", d->max);
		return;
	}
	switch (d->type) {
	case PT_INT:
		snprintf(buf, size, "an integer from %ld to %ld", d->min, d->max);
		break;
	case PT_BOOL:
		snprintf(buf, size, "0 or 1 (also no/yes, off/on, false/true)");
		break;
	case PT_STR:
		snprintf(buf, size, "a string of at most %d bytes", PARAM_STR_MAX);
		break;
	case PT_ENUM: {
		struct enum_item it;
		const char *p = d->values;
		bool numbered = strchr(d->values, ':') != NULL;
		long i = 0;
		len = (size_t)snprintf(buf, size, "one of");
		while ((p = enum_next(p, i, &it)) && len < size)
			len += (size_t)snprintf(buf + len, size - len, numbered ? "%s %.*s (%ld)" : "%s %.*s",
						i++ ? "," : "", (int)it.len, it.name, it.value);
		break;
	}
	}
}

/* Parse text for idx into *num; 0 or -EINVAL/-ERANGE. STR values are checked only. */
static int param_parse(int idx, const char *text, long *num)
{
	const struct param_desc *d = &param_table[idx];
	int rc;

	switch (idx) {
	case P_TRACELEVEL: {
		int l = log_level_parse(text);
		if (l < 0)
			return -EINVAL;
		*num = l;
		return 0;
	}
	case P_INTERNAL_THREAD_AFFINITY:
		return parse_cpuset(text);
	case P_SPEC: {
		const char *t;
		if (!trim(text, &t))
			return 0;	/* empty: no profile */
		return profile_lookup(text) < 0 ? -EINVAL : 0;
	}
	}
	switch (d->type) {
	case PT_INT:
		rc = parse_long(text, num);
		if (rc)
			return rc;
		if (*num < d->min || *num > d->max)
			return -ERANGE;
		if (idx == P_MTU && *num && *num < 68)
			return -ERANGE;
		return 0;
	case PT_BOOL:
		return parse_bool(text, num);
	case PT_ENUM:
		return parse_enum(d->values, text, num);
	case PT_STR:
		return strlen(text) <= PARAM_STR_MAX ? 0 : -ERANGE;
	}
	return -EINVAL;
}

/* Where the value kept after a bad one comes from, for the warning. */
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
			n = trim(text, &t);
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

/* --- formatting (banner) ------------------------------------------------------------ */
void param_format(int idx, char *buf, size_t size)
{
	const struct param_desc *d = &param_table[idx];
	char name[64];

	switch (d->type) {
	case PT_STR:
		snprintf(buf, size, "%s", param_str(idx));
		break;
	case PT_BOOL:
		snprintf(buf, size, "%s", param_num(idx) ? "Enabled" : "Disabled");
		break;
	case PT_ENUM:
		if (!enum_name(d->values, param_num(idx), name, sizeof(name)))
			snprintf(buf, size, "%ld", param_num(idx));
		else if (strchr(d->values, ':'))
			snprintf(buf, size, "%ld (%s)", param_num(idx), name);
		else
			snprintf(buf, size, "%s", name);
		break;
	case PT_INT:
		if (idx == P_TRACELEVEL)
			snprintf(buf, size, "%ld (%s)", param_num(idx), log_level_name((int)param_num(idx)));
		else
			snprintf(buf, size, "%ld", param_num(idx));
		break;
	}
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

static void profile_apply(enum profile_id prof, int depth)
{
	char label[96];

	if (depth > 4)
		return;
	for (size_t i = 0; i < sizeof(profile_entries) / sizeof(profile_entries[0]); i++) {
		const struct profile_entry *e = &profile_entries[i];
		if (e->profile != prof)
			continue;
		if (e->param < 0) {
			profile_apply(e->base, depth + 1);
			continue;
		}
		snprintf(label, sizeof(label), "profile %s: %s", profile_names[prof],
			 param_table[e->param].name);
		param_set_text(e->param, e->value, PARAM_SRC_PROFILE, label);
	}
}

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

int params_init_env(char *const envp[])
{
	const char *env_shim[P_COUNT] = { 0 }, *env_vma[P_COUNT] = { 0 };
	char label[96];

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
		if (idx < 0) {
			if (shim && !env_not_a_param(name, len))
				params_warn("SHIM_%.*s is not a libshim parameter; ignored (see libshim(7))",
					    (int)len, name);
			continue;
		}
		if (shim)
			env_shim[idx] = eq + 1;
		else
			env_vma[idx] = eq + 1;
	}

	/* Profile, from the environment only. */
	const char *spec = env_shim[P_SPEC] ? env_shim[P_SPEC] : env_vma[P_SPEC];
	if (spec) {
		snprintf(label, sizeof(label), "%s_SPEC", env_shim[P_SPEC] ? "SHIM" : "VMA");
		if (param_set_text(P_SPEC, spec, PARAM_SRC_ENV, label) == 0 && *shim_params.spec)
			profile_apply((enum profile_id)profile_lookup(shim_params.spec), 0);
	}

	/* Params file, from the environment only. */
	const char *pf = env_shim[P_PARAMS_FILE] ? env_shim[P_PARAMS_FILE] : env_vma[P_PARAMS_FILE];
	if (pf && *pf) {
		snprintf(label, sizeof(label), "%s_PARAMS_FILE", env_shim[P_PARAMS_FILE] ? "SHIM" : "VMA");
		if (param_set_text(P_PARAMS_FILE, pf, PARAM_SRC_ENV, label) == 0) {
			char path[PARAM_STR_MAX + 24];
			if (log_expand_pid(shim_params.params_file, path, sizeof(path)) == 0)
				params_file_load(path);
		}
	}

	/* Environment last: it wins. */
	for (int i = 0; i < P_COUNT; i++) {
		if (i == P_SPEC || i == P_PARAMS_FILE)
			continue;
		const char *v = env_shim[i] ? env_shim[i] : env_vma[i];
		if (!v)
			continue;
		snprintf(label, sizeof(label), "%s_%s", env_shim[i] ? "SHIM" : "VMA", param_table[i].name);
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
	return 0;
}

int params_init(void)
{
	extern char **environ;

	return params_init_env(environ);
}
