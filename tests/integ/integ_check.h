/* integ_check.h — the check line of the C integration programs: "ok: NAME" or
 * "FAIL: NAME: why (errno ...)", one per line, flushed, failures counted in
 * `failures` (the program exits with it). */
#ifndef SHIM_INTEG_CHECK_H
#define SHIM_INTEG_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(name, cond, ...)                                               \
	do {                                                                 \
		if (cond) {                                                  \
			printf("ok: %s\n", name);                            \
		} else {                                                     \
			printf("FAIL: %s: ", name);                          \
			printf(__VA_ARGS__);                                 \
			printf(" (errno %s)\n", strerror(errno));            \
			failures++;                                          \
		}                                                            \
		fflush(stdout);                                              \
	} while (0)

#endif
