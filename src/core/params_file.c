/* params_file.c — reads SHIM_PARAMS_FILE, a libconfig file of top-level settings
 * such as `RX_POLL = -1;`, `SHIM_SELECT_POLL = 0;` or `TRACELEVEL = "debug";`.
 * Names are those of the environment, with or without the SHIM_ (or VMA_) prefix and
 * in any case; every value goes through the same parser as the environment's, so
 * the file and the environment accept exactly the same things. The file is read
 * into memory first: libconfig's scanner exits the process on a read error (a
 * directory, say), and its integers wrap silently at 32 bits, so integers are taken
 * from the text as written. */

/* Bigger than any sane list of ninety parameters. */
#define PARAMS_FILE_MAX (1 << 20)
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/params_internal.h"

static const char *strip_prefix(const char *name)
{
	if (!strncasecmp(name, "SHIM_", 5))
		return name + 5;
	if (!strncasecmp(name, "VMA_", 4))
		return name + 4;
	return name;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-' || c == '*';
}

/* The literal of integer setting name on line of text, into out. */
static bool int_literal(const char *text, int line, const char *name, char *out, size_t size)
{
	const char *p = text, *end;
	size_t nlen = strlen(name);

	for (int l = 1; l < line && p; l++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		return false;
	end = strchr(p, '\n');
	if (!end)
		end = p + strlen(p);
	for (const char *q = p; q + nlen <= end; q++) {
		if (strncmp(q, name, nlen) || (q > p && name_char(q[-1])))
			continue;
		const char *v = q + nlen, *e;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		if (v >= end || (*v != '=' && *v != ':'))
			continue;
		for (v++; v < end && (*v == ' ' || *v == '\t'); v++)
			;
		for (e = v; e < end && (name_char(*e) || *e == '+'); e++)
			;
		while (e > v && (e[-1] == 'L' || e[-1] == 'l'))	/* int64 suffix */
			e--;
		if (e == v || (size_t)(e - v) >= size)
			return false;
		memcpy(out, v, (size_t)(e - v));
		out[e - v] = '\0';
		return true;
	}
	return false;
}

/* One top-level setting. */
static void file_setting(const char *path, const char *text, config_setting_t *s)
{
	const char *full = config_setting_name(s);
	const char *name = strip_prefix(full ? full : "");
	int line = (int)config_setting_source_line(s);
	int idx = param_lookup(name, strlen(name));
	char num[64], label[320];
	const char *value = num;

	if (idx < 0) {
		params_warn("%s:%d: %s is not a libshim parameter; ignored", path, line, full ? full : "?");
		return;
	}
	if (idx == P_SPEC || idx == P_PARAMS_FILE) {
		params_warn("%s:%d: %s is read from the environment only; ignored", path, line, full);
		return;
	}
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		if (!int_literal(text, line, full, num, sizeof(num)))
			snprintf(num, sizeof(num), "%lld", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(num, sizeof(num), "%.17g", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		snprintf(num, sizeof(num), "%d", config_setting_get_bool(s));
		break;
	case CONFIG_TYPE_STRING:
		value = config_setting_get_string(s);
		break;
	default:
		params_warn("%s:%d: %s must be a number, a boolean or a string, not a group or list; ignored",
			    path, line, full);
		return;
	}
	snprintf(label, sizeof(label), "%s:%d: %s", path, line, full);
	param_set_text(idx, value ? value : "", PARAM_SRC_FILE, label);
}

/* The whole file as a string (malloc'd), or NULL after a warning. */
static char *file_slurp(const char *path)
{
	struct stat st;
	char *text = NULL;
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		params_warn("SHIM_PARAMS_FILE='%s' cannot be read (%s); using defaults and environment only",
			    path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > PARAMS_FILE_MAX) {
		params_warn("SHIM_PARAMS_FILE='%s' is not a regular file of at most %d bytes; using defaults and environment only",
			    path, PARAMS_FILE_MAX);
		goto out_close;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		params_warn("SHIM_PARAMS_FILE='%s': out of memory; using defaults and environment only", path);
		goto out_close;
	}
	n = fread(text, 1, (size_t)st.st_size, f);
	text[n] = '\0';
	if (ferror(f) || memchr(text, '\0', n)) {
		params_warn("SHIM_PARAMS_FILE='%s' cannot be read as text; using defaults and environment only",
			    path);
		free(text);
		text = NULL;
	}
out_close:
	fclose(f);
	return text;
}

int params_file_load(const char *path)
{
	config_t cfg;
	config_setting_t *root;
	char *text = file_slurp(path), *dir;
	int rc = 0;

	if (!text)
		return -EINVAL;
	config_init(&cfg);
	/* "@include" names are relative to the file, as they would be with
	 * config_read_file(). */
	dir = strdup(path);
	if (dir && strrchr(dir, '/')) {
		*strrchr(dir, '/') = '\0';
		config_set_include_dir(&cfg, *dir ? dir : "/");
	}
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		params_warn("%s:%d: %s; the whole params file is ignored", path, config_error_line(&cfg),
			    config_error_text(&cfg));
		rc = -EINVAL;
		goto out_destroy;
	}
	root = config_root_setting(&cfg);
	for (int i = 0, n = config_setting_length(root); i < n; i++)
		file_setting(path, text, config_setting_get_elem(root, (unsigned)i));
out_destroy:
	config_destroy(&cfg);
	free(dir);
	free(text);
	return rc;
}
