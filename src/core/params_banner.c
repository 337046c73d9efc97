/* params_banner.c — the start-up banner in VMA's form: version and build date,
 * command line, pid, then one line per parameter whose value differs from its
 * built-in default ("description  value  [SHIM_NAME]"); the log level always. It is
 * the first thing to read in a user's log when asking "what was this run tuned to". */
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/init.h"
#include "core/log.h"
#include "core/params_internal.h"

#ifndef SHIM_VERSION
#define SHIM_VERSION "unknown"
#endif

/* Provided by the interposer's start-up code; weak so that programs linking the
 * core archive without it (tools, unit tests) still get a banner. */
extern const char *shim_cmdline(void) __attribute__((weak));

#define BANNER_RULE "---------------------------------------------------------------------------"

/* At debug level, what a bug report needs about the machine (UTC: no time-zone
 * file is read from the constructor). */
static void banner_system(void)
{
	struct utsname u;
	struct tm tm;
	time_t now = time(NULL);
	char when[64];

	if (gmtime_r(&now, &tm) && strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
		log_dbg("Current Time: %s", when);
	if (uname(&u) == 0) {
		log_dbg("System: %s %s", u.sysname, u.release);
		log_dbg("Architecture: %s", u.machine);
		log_dbg("Node: %s", u.nodename);
	}
}

void params_log_banner(void)
{
	char value[PARAM_STR_MAX + 32];
	const char *cmd = shim_cmdline ? shim_cmdline() : NULL;

	log_info(BANNER_RULE);
	log_info("libshim %s built on %s %s", SHIM_VERSION, __DATE__, __TIME__);
	log_info("Cmd Line: %s", cmd && *cmd ? cmd : "(unknown)");
	log_info("Pid: %ld", (long)syscall(SYS_getpid));
	if (shim_log_level >= SHIM_LOG_DEBUG)
		banner_system();
	log_info(BANNER_RULE);
	for (int i = 0; i < P_COUNT; i++) {
		if (i != P_TRACELEVEL && param_is_default(i))
			continue;
		param_format(i, value, sizeof(value));
		log_info("%-32s %-26s [SHIM_%s]", param_table[i].desc, value, param_table[i].name);
	}
	log_info(BANNER_RULE);
}
