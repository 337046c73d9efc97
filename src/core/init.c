/* init.c — staged start-up (init.h). The library constructor resolves the real libc
 * functions, then runs log, parameters, rules, the stats segment and the fd table in
 * that order, and only then marks the library ready; until that moment every
 * interposed call goes straight to libc. Rings and netlink wait for the first socket
 * that is offloaded. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/log.h"
#include "core/params.h"
#include "core/rules.h"
#include "core/stats.h"
#include "intercept/intercept.h"

int shim_stage = SHIM_STAGE_NONE;

const char *shim_program_name(void)
{
	return program_invocation_short_name ? program_invocation_short_name : "";
}

/* /proc/self/cmdline with spaces between the arguments, read once on first use. */
const char *shim_cmdline(void)
{
	static char *cached;
	char *line = __atomic_load_n(&cached, __ATOMIC_ACQUIRE), *expect = NULL;
	size_t cap = 4096, len = 0;
	int fd, saved = errno;

	if (line)
		return line;
	line = malloc(cap);
	if (!line)
		return shim_program_name();
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && len < cap - 1) {
		ssize_t n = SYS(read)(fd, line + len, cap - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (fd >= 0)
		SYS(close)(fd);
	while (len && line[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\0')
			line[i] = ' ';
	line[len] = '\0';
	if (!len)
		strcpy(line, shim_program_name());
	if (!__atomic_compare_exchange_n(&cached, &expect, line, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		free(line);
		line = expect;
	}
	errno = saved;
	return line;
}

__attribute__((constructor(101))) static void shim_init(void)
{
	int expect = SHIM_STAGE_NONE, saved = errno, err;

	if (!__atomic_compare_exchange_n(&shim_stage, &expect, SHIM_STAGE_STARTING, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	/* Stage 0: the real functions, before anything of ours can call one. */
	sys_resolve_all();
	/* Stages 1 and 2: parameters, which also configure the log (level, details,
	 * file, colours); then the banner in VMA's form. Bad values only warn. */
	params_init();
	params_log_banner();
	/* Stage 3: offload rules (SHIM_CONFIG_FILE). Errors are logged; without rules
	 * every socket is a candidate for offload, as in VMA. */
	rules_init();
	/* Stage 3b: this process's stats segment (SHIM_STATS_SHMEM_DIR), so shim_stats
	 * sees the process from its first moment; failure leaves scratch blocks. */
	stats_init();
	/* Stage 4: the fd table. Without it the library stays a pure pass-through. */
	err = fdt_init();
	if (err) {
		log_err("cannot allocate the fd table (%d): libshim passes every call to libc", err);
		goto out;
	}
	err = proc_init();
	if (err)
		log_warn("cannot register fork handlers (%d): children of fork() may misbehave", err);
	err = signal_init();
	if (err)
		log_warn("cannot take over SIGINT (%d)", err);
	__atomic_store_n(&shim_stage, SHIM_STAGE_READY, __ATOMIC_RELEASE);
out:
	errno = saved;
}

/* At exit, calls made by later destructors and exit handlers go to libc directly:
 * the objects they would reach may already be gone. */
__attribute__((destructor)) static void shim_fini(void)
{
	__atomic_store_n(&shim_stage, SHIM_STAGE_EXITING, __ATOMIC_RELEASE);
	fdt_exit();
}

