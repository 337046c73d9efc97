/* init.h — staged start-up. The constructor runs log, parameters, rules and the fd
 * table; calls that arrive before or during start-up pass straight to libc. Heavy
 * work (netlink, rings, stats segment users) waits for the first AF_INET socket. */
#ifndef SHIM_INIT_H
#define SHIM_INIT_H

#include <stdbool.h>

enum shim_stage { SHIM_STAGE_NONE, SHIM_STAGE_STARTING, SHIM_STAGE_READY, SHIM_STAGE_EXITING };
extern int shim_stage;

/* True once every interposed call may use the library's objects. */
static inline bool shim_ready(void)
{
	return __builtin_expect(__atomic_load_n(&shim_stage, __ATOMIC_ACQUIRE) == SHIM_STAGE_READY, 1);
}

/* Program short name (basename of argv[0]) and full command line, for rules,
 * banner and stats. */
const char *shim_program_name(void);
const char *shim_cmdline(void);

#endif
