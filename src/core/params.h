/* params.h — run-time parameters. params.def is the table; this header expands it
 * into struct shim_params. params_init() fills it once at start-up:
 * default < SHIM_SPEC profile < SHIM_PARAMS_FILE < environment (SHIM_*, else VMA_*). */
#ifndef SHIM_PARAMS_H
#define SHIM_PARAMS_H

#include <stdbool.h>

struct shim_params {
#define PARAM_INT(NAME, field, def, min, max, desc, doc) long field;
#define PARAM_STR(NAME, field, def, desc, doc) const char *field;
#define PARAM_ENUM(NAME, field, def, values, desc, doc) long field;
#include "core/params.def"
#undef PARAM_INT
#undef PARAM_STR
#undef PARAM_ENUM
};

extern struct shim_params shim_params;

/* Read profile, params file and environment; warn on bad values, never fail. */
int params_init(void);
/* Reset every parameter to its built-in default (tests). */
void params_defaults(void);
/* Log the VMA-style start-up banner. */
void params_log_banner(void);

#endif
