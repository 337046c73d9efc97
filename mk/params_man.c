/* params_man.c — build-time generator of man/libshim.7: copies the template and
 * replaces @VERSION@, @PARAMETERS@ and @PROFILES@ with text expanded from
 * src/core/params.def and src/core/profiles.def, so the manual can never disagree
 * with the table the library parses.
 *   usage: params_man TEMPLATE VERSION > libshim.7 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_INT, K_BOOL, K_STR, K_ENUM };

static const struct row {
	const char *name;
	enum kind kind;
	long def, min, max;
	const char *def_str, *values, *doc;
} rows[] = {
#define PARAM_INT(NAME, field, def, min, max, desc, doc) { #NAME, K_INT, def, min, max, NULL, NULL, doc },
#define PARAM_BOOL(NAME, field, def, desc, doc) { #NAME, K_BOOL, def, 0, 1, NULL, NULL, doc },
#define PARAM_STR(NAME, field, def, desc, doc) { #NAME, K_STR, 0, 0, 0, def, NULL, doc },
#define PARAM_ENUM(NAME, field, def, values, desc, doc) { #NAME, K_ENUM, def, 0, 0, NULL, values, doc },
#include "core/params.def"
#undef PARAM_INT
#undef PARAM_BOOL
#undef PARAM_STR
#undef PARAM_ENUM
};

static const struct profile {
	const char *name, *doc;
} profiles[] = {
#define PROFILE(id, name, doc) { name, doc },
#define PROFILE_SET(id, NAME, value)
#define PROFILE_INHERIT(id, base)
#include "core/profiles.def"
#undef PROFILE
#undef PROFILE_SET
#undef PROFILE_INHERIT
};

static const struct setting {
	const char *profile, *name, *value, *base;
} settings[] = {
#define PROFILE(id, name, doc)
#define PROFILE_SET(id, NAME, value) { #id, #NAME, value, NULL },
#define PROFILE_INHERIT(id, base) { #id, NULL, NULL, #base },
#include "core/profiles.def"
#undef PROFILE
#undef PROFILE_SET
#undef PROFILE_INHERIT
};

/* Text for roff: backslashes and minus signs escaped, no control character at
 * the start of a line. */
static void roff(const char *s, size_t n)
{
	if (n && (s[0] == '.' || s[0] == '\''))
		fputs("\\&", stdout);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\e", stdout);
		else if (s[i] == '-')
			fputs("\\-", stdout);
		else
			putchar(s[i]);
	}
}

static void roffs(const char *s)
{
	roff(s, strlen(s));
}

/* Docs are written as phrases; in the manual they open a sentence. */
static void capitalized(const char *s)
{
	char doc[1024];

	snprintf(doc, sizeof(doc), "%s", s);
	if (doc[0] >= 'a' && doc[0] <= 'z')
		doc[0] = (char)(doc[0] - 'a' + 'A');
	roffs(doc);
}

static void num(long v)
{
	printf(v < 0 ? "\\-%ld" : "%ld", v < 0 ? -v : v);
}

/* ENUM lists: "a|b" (values are indexes) or "0:a|10:b". */
static void enum_values(const struct row *r)
{
	const char *p = r->values;
	long index = 0;
	int first = 1;

	fputs("One of ", stdout);
	while (*p) {
		const char *bar = strchr(p, '|');
		const char *colon;
		size_t n;
		long v = index++;
		if (!bar)
			bar = p + strlen(p);
		colon = memchr(p, ':', (size_t)(bar - p));
		if (colon) {
			v = strtol(p, NULL, 10);
			p = colon + 1;
		}
		n = (size_t)(bar - p);
		if (!first)
			fputs(", ", stdout);
		first = 0;
		fputs("\\fB", stdout);
		roff(p, n);
		fputs("\\fP", stdout);
		if (colon)
			printf(v == r->def ? " (%ld, default)" : " (%ld)", v);
		else if (v == r->def)
			fputs(" (default)", stdout);
		p = *bar ? bar + 1 : bar;
	}
}

static void parameters(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		fputs(".TP\n.B SHIM_", stdout);
		roffs(r->name);
		putchar('\n');
		switch (r->kind) {
		case K_INT:
			fputs("Integer, ", stdout);
			num(r->min);
			fputs(" to ", stdout);
			num(r->max);
			fputs("; default ", stdout);
			num(r->def);
			fputs(".\n", stdout);
			break;
		case K_BOOL:
			printf("Boolean; default %ld (%s).\n", r->def, r->def ? "on" : "off");
			break;
		case K_STR:
			fputs("String; default ", stdout);
			if (*r->def_str) {
				fputs("\\fI", stdout);
				roffs(r->def_str);
				fputs("\\fP.\n", stdout);
			} else {
				fputs("empty.\n", stdout);
			}
			break;
		case K_ENUM:
			enum_values(r);
			fputs(".\n", stdout);
			break;
		}
		fputs(".br\n", stdout);
		capitalized(r->doc);
		fputs(".\n", stdout);
	}
}

static void profile_settings(const char *id, int depth)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const struct setting *s = &settings[i];
		if (strcmp(s->profile, id))
			continue;
		if (s->base && depth < 4) {
			profile_settings(s->base, depth + 1);
			continue;
		}
		fputs(".br\n\\fBSHIM_", stdout);
		roffs(s->name);
		fputs("\\fP=", stdout);
		roffs(s->value);
		putchar('\n');
	}
}

static void profile_list(void)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		char id[64];
		size_t j;
		fputs(".TP\n.B ", stdout);
		roffs(profiles[i].name);
		putchar('\n');
		capitalized(profiles[i].doc);
		fputs(". It sets:\n", stdout);
		/* The id is the name with '-' spelled '_'. */
		for (j = 0; profiles[i].name[j] && j < sizeof(id) - 1; j++)
			id[j] = profiles[i].name[j] == '-' ? '_' : profiles[i].name[j];
		id[j] = '\0';
		profile_settings(id, 0);
	}
}

int main(int argc, char **argv)
{
	char line[4096];
	FILE *in;

	if (argc != 3) {
		fprintf(stderr, "usage: %s TEMPLATE VERSION\n", argv[0]);
		return 2;
	}
	in = fopen(argv[1], "r");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	while (fgets(line, sizeof(line), in)) {
		char *at;
		if (!strcmp(line, "@PARAMETERS@\n")) {
			parameters();
			continue;
		}
		if (!strcmp(line, "@PROFILES@\n")) {
			profile_list();
			continue;
		}
		while ((at = strstr(line, "@VERSION@"))) {
			*at = '\0';
			printf("%s%s", line, argv[2]);
			memmove(line, at + 9, strlen(at + 9) + 1);
		}
		fputs(line, stdout);
	}
	fclose(in);
	return ferror(stdout) ? 1 : 0;
}
