/* params_value.c — turns parameter text into values and values back into text: the
 * integer, boolean, list, CPU-set, level and profile syntaxes, the "accepted: ..."
 * part of every warning, and the banner's rendering of a value. The same code
 * serves the environment, the params file and the profiles. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/params_internal.h"

/* Trimmed view of s: *start and returned length. */
size_t param_trim(const char *s, const char **start)
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
	size_t n = param_trim(s, &t);
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

bool param_word_eq(const char *a, size_t alen, const char *b)
{
	return word_eqn(a, alen, b, strlen(b));
}

static int parse_bool(const char *s, long *out)
{
	static const char *const yes[] = { "1", "yes", "y", "on", "true", "enable", "enabled" };
	static const char *const no[] = { "0", "no", "n", "off", "false", "disable", "disabled" };
	const char *t;
	size_t n = param_trim(s, &t);

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (param_word_eq(t, n, yes[i])) {
			*out = 1;
			return 0;
		}
		if (param_word_eq(t, n, no[i])) {
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
	size_t n = param_trim(s, &t);
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
	size_t n = param_trim(s, &t);
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

/* What a parameter accepts, for warnings. */
void param_accepted(int idx, char *buf, size_t size)
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
		for (int i = 0; profile_name(i) && len < size; i++)
			len += (size_t)snprintf(buf + len, size - len, "%s %s", i ? "," : "", profile_name(i));
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
int param_parse(int idx, const char *text, long *num)
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
		if (!param_trim(text, &t))
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

/* --- formatting ---------------------------------------------------------------------- */
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
