/* params_profile.c — the SHIM_SPEC profiles of profiles.def: named sets of values
 * applied between the built-in defaults and the params file. An entry may pull in
 * another profile first (ultra-latency builds on latency). */
#include <stdio.h>
#include <string.h>

#include "core/params_internal.h"

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

int profile_lookup(const char *s)
{
	const char *t;
	size_t n = param_trim(s, &t);

	for (int i = 0; i < PROF_COUNT; i++)
		if (param_word_eq(t, n, profile_names[i]))
			return i;
	return -1;
}

static void profile_apply_depth(enum profile_id prof, int depth)
{
	char label[96];

	if (depth > 4)
		return;
	for (size_t i = 0; i < sizeof(profile_entries) / sizeof(profile_entries[0]); i++) {
		const struct profile_entry *e = &profile_entries[i];
		if (e->profile != prof)
			continue;
		if (e->param < 0) {
			profile_apply_depth(e->base, depth + 1);
			continue;
		}
		snprintf(label, sizeof(label), "profile %s: %s", profile_names[prof],
			 param_table[e->param].name);
		param_set_text(e->param, e->value, PARAM_SRC_PROFILE, label);
	}
}

const char *profile_name(int i)
{
	return i >= 0 && i < PROF_COUNT ? profile_names[i] : NULL;
}

void profile_apply(int prof)
{
	if (prof >= 0 && prof < PROF_COUNT)
		profile_apply_depth((enum profile_id)prof, 0);
}
