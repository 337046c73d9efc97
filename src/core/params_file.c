/* params_file.c — reads SHIM_PARAMS_FILE, a libconfig file of top-level settings
 * such as `RX_POLL = -1;`, `SHIM_SELECT_POLL = 0;` or `TRACELEVEL = "debug";`.
 * Names are those of the environment, with or without the SHIM_ (or VMA_) prefix and
 * in any case; every value goes through the same parser as the environment's, so
 * the file and the environment accept exactly the same things. */
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/params_internal.h"

static const char *strip_prefix(const char *name)
{
	if (!strncasecmp(name, "SHIM_", 5))
		return name + 5;
	if (!strncasecmp(name, "VMA_", 4))
		return name + 4;
	return name;
}

/* One top-level setting. */
static void file_setting(const char *path, config_setting_t *s)
{
	const char *full = config_setting_name(s);
	const char *name = strip_prefix(full ? full : "");
	int line = (int)config_setting_source_line(s);
	int idx = param_lookup(name, strlen(name));
	char text[64], label[320];
	const char *value = text;

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
		snprintf(text, sizeof(text), "%d", config_setting_get_int(s));
		break;
	case CONFIG_TYPE_INT64:
		snprintf(text, sizeof(text), "%lld", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(text, sizeof(text), "%.17g", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		snprintf(text, sizeof(text), "%d", config_setting_get_bool(s));
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

int params_file_load(const char *path)
{
	config_t cfg;
	config_setting_t *root;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		params_warn("SHIM_PARAMS_FILE='%s' cannot be read (%s); using defaults and environment only",
			    path, strerror(errno));
		return rc;
	}
	config_init(&cfg);
	if (config_read(&cfg, f) != CONFIG_TRUE) {
		params_warn("%s:%d: %s; the whole params file is ignored", path, config_error_line(&cfg),
			    config_error_text(&cfg));
		rc = -EINVAL;
		goto out_destroy;
	}
	root = config_root_setting(&cfg);
	for (int i = 0, n = config_setting_length(root); i < n; i++)
		file_setting(path, config_setting_get_elem(root, (unsigned)i));
out_destroy:
	config_destroy(&cfg);
	fclose(f);
	return rc;
}
