/* shim_stats.h — pieces of the shim_stats tool: finding the process (find.c), the
 * views (view_text.c VMA-style, view_json.c, view_prom.c) and what they share. Every
 * view works on snapshots from core/stats_reader.h and goes by stat names from the
 * schema; stats it has no special line for are printed generically. */
#ifndef SHIM_STATS_TOOL_H
#define SHIM_STATS_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/stats_reader.h"

#define TOOL_NAME "shim_stats"

struct fd_range {
	long lo, hi;
};

struct view_opts {
	int view;		/* 1..5 */
	bool deltas;		/* -d 2 */
	struct fd_range *fds;	/* -s; NULL = every socket */
	unsigned nfds;
};

/* What a view needs for one report. prev is NULL for totals. */
struct view_ctx {
	const struct view_opts *o;
	const struct stats_snap *cur, *prev;
	double secs;		/* between prev and cur */
	FILE *out;
};

/* --- shared helpers (view_common.c) --- */
/* Value of stat index `stat` (element elem) in slot sl of kind k: counters become
 * per-second rates in deltas mode, everything else is the current value. */
double view_val(const struct view_ctx *c, unsigned k, const struct snap_slot *sl, int stat,
		unsigned elem);
double view_val_name(const struct view_ctx *c, unsigned k, const struct snap_slot *sl,
		     const char *name);
/* Raw current value by name (attributes: fd, addresses, state). */
uint64_t view_raw(const struct view_ctx *c, const struct snap_slot *sl, const char *name);
bool view_fd_selected(const struct view_opts *o, long fd);
int parse_fd_list(const char *s, struct view_opts *o);
const char *tcp_state_name(uint64_t st);
const char *proto_name(uint64_t proto);
/* "a.b.c.d" from a stat holding an IPv4 address in network order. */
void fmt_ipv4(char *buf, size_t sz, uint64_t v);
void fmt_addr_port(char *buf, size_t sz, uint64_t addr, uint64_t port);
/* Print a stat's value as the reader sees it (unit-aware), for generic lines. */
void fmt_value(char *buf, size_t sz, const struct view_ctx *c, unsigned k,
	       const struct snap_slot *sl, int stat, unsigned elem);
const char *mode_name(unsigned mode);

/* --- views --- */
void view_text(const struct view_ctx *c);
void view_json(const struct view_ctx *c);
void view_prometheus(const struct view_ctx *c);

/* --- process discovery (find.c) --- */
struct proc_entry {
	int pid;
	char path[512];
	char program[65];
	char cmdline[160];
};

/* Segments in dir of live processes matching pid (0 = any) and name (NULL = any).
 * Segments of dead processes are removed unless keep_stale. Returns the count
 * (entries filled up to max) or -errno. */
int find_processes(const char *dir, int pid, const char *name, bool keep_stale,
		   struct proc_entry *out, int max);
/* Is the segment's writer still the live process it names? */
bool segment_alive(const struct stats_reader *r);

#endif
