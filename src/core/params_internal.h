/* params_internal.h — the parameter table as data, shared by the layers (params.c),
 * value syntax (params_value.c), profiles (params_profile.c), the params-file reader
 * (params_file.c) and the start-up banner (params_banner.c). Nothing outside
 * src/core/params*.c includes it. */
#ifndef SHIM_PARAMS_INTERNAL_H
#define SHIM_PARAMS_INTERNAL_H

#include <stddef.h>

#include "core/params.h"

/* Longest string value accepted (bytes, without the NUL). */
#define PARAM_STR_MAX 4095

enum param_type { PT_INT, PT_BOOL, PT_STR, PT_ENUM };

/* One index per parameter, P_<NAME>, in table order. */
enum param_index {
#define PARAM_INT(NAME, field, def, min, max, desc, doc) P_##NAME,
#define PARAM_BOOL(NAME, field, def, desc, doc) P_##NAME,
#define PARAM_STR(NAME, field, def, desc, doc) P_##NAME,
#define PARAM_ENUM(NAME, field, def, values, desc, doc) P_##NAME,
#include "core/params.def"
#undef PARAM_INT
#undef PARAM_BOOL
#undef PARAM_STR
#undef PARAM_ENUM
	P_COUNT
};

struct param_desc {
	const char *name;	/* without prefix */
	enum param_type type;
	size_t offset;		/* in struct shim_params */
	long def;		/* INT, BOOL, ENUM */
	const char *def_str;	/* STR */
	long min, max;		/* INT */
	const char *values;	/* ENUM: "a|b" or "0:a|10:b" */
	const char *desc;	/* banner text */
	const char *doc;	/* one-line documentation */
};

extern const struct param_desc param_table[P_COUNT];

static inline void *param_ptr(int idx)
{
	return (char *)&shim_params + param_table[idx].offset;
}

static inline long param_num(int idx)
{
	if (param_table[idx].type == PT_BOOL)
		return *(bool *)param_ptr(idx);
	return *(long *)param_ptr(idx);
}

static inline const char *param_str(int idx)
{
	return *(const char **)param_ptr(idx);
}

/* Look a name up (exact, case-insensitive, without prefix); index or -1. */
int param_lookup(const char *name, size_t len);

/* Set parameter idx from text, as from source; label names the setting in a
 * warning ("SHIM_RX_POLL", "file.conf:3: RX_POLL"). A bad value leaves the current
 * value, queues one warning and returns -EINVAL. */
int param_set_text(int idx, const char *text, enum param_source src, const char *label);
/* Queue a warning for after the log is configured. */
void params_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read SHIM_PARAMS_FILE into the parameters (source PARAM_SRC_FILE). 0 or -errno;
 * every problem has been warned about. */
int params_file_load(const char *path);

/* params_value.c: parse text for idx into *num (STR values are only checked);
 * 0, -EINVAL or -ERANGE. */
int param_parse(int idx, const char *text, long *num);
/* What idx accepts, for warnings ("an integer from -1 to 100000000"). */
void param_accepted(int idx, char *buf, size_t size);
/* Length of s without surrounding blanks; *start gets its first non-blank. */
size_t param_trim(const char *s, const char **start);
/* Name comparison of the lists: case-blind, '-' equals '_'. */
bool param_word_eq(const char *a, size_t alen, const char *b);

/* params_profile.c: profile index of a name or -1; name of index i or NULL past
 * the last; apply a profile's values (source PARAM_SRC_PROFILE). */
int profile_lookup(const char *name);
const char *profile_name(int i);
void profile_apply(int prof);

/* Current value as text for the banner ("100000", "Enabled", "20 (thread)"). */
void param_format(int idx, char *buf, size_t size);
/* True when the current value equals the built-in default. */
bool param_is_default(int idx);

#endif
