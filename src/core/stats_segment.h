/* stats_segment.h — the segment machinery behind stats.h: this process's mapping,
 * slot allocation by kind, schema lookup, -z baselines. Used by stats.c (library
 * glue) and the unit tests; data-path code uses stats.h only. */
#ifndef SHIM_STATS_SEGMENT_H
#define SHIM_STATS_SEGMENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats_layout.h"

struct stats_segment {
	void *base;			/* NULL: no segment */
	size_t size;
	struct shim_stats_hdr *hdr;
	struct shim_stats_kind *kinds;
	struct shim_stats_schema *schema;
	struct shim_stats_ctl *ctl;
	uint32_t custom_count;
	bool pending_publish;		/* fork child without a file yet */
	uint64_t publish_after_ns;	/* CLOCK_MONOTONIC */
	char dir[PATH_MAX / 2];
	char path[PATH_MAX];		/* "" once removed */
};

extern struct stats_segment stats_seg;

/* Create, map and publish dir/shim.<pid> (0600) with fd_num socket slots. 0 or -errno. */
int stats_segment_create(const char *dir, unsigned fd_num);
/* fork child: the segment becomes private memory at the same addresses (blocks
 * stay valid, the parent's counters are never touched again); the child's own file
 * is published STATS_PUBLISH_DELAY_MS later by stats_segment_publish(). */
#define STATS_PUBLISH_DELAY_MS 100
int stats_segment_fork_child(void);
/* Create the fork child's file once the delay passed (or at once with now): 0 (also
 * when nothing is pending), -EAGAIN (not yet) or -errno. */
int stats_segment_publish(bool now);
/* Unlink the file if this process owns it; the mapping stays. */
void stats_segment_remove(void);
/* Unmap and forget (tests). */
void stats_segment_reset(void);

/* Claim the lowest free slot of a kind: slot index or -ENOSPC / -ENODEV. The last
 * socket slot is kept for stats_slot_overflow(). */
int stats_slot_open(unsigned kind, int64_t id, const char *label);
void stats_slot_close(unsigned kind, unsigned i);
/* The socket slot shared by every socket beyond SHIM_STATS_FD_NUM (id -1, "other
 * sockets"), opened on first use: its index, or -ENODEV. Shared by many writers, so
 * its counts are approximate; they keep the process totals close to the truth. */
int stats_slot_overflow(void);
void *stats_slot_values(unsigned kind, unsigned i);
struct shim_stats_slot *stats_slot_hdr(unsigned kind, unsigned i);
/* Copy slot i's values into out (a writer struct of `size` bytes) as readers see
 * them: counters minus their -z baselines. */
void stats_slot_snapshot(unsigned kind, unsigned i, void *out, size_t size);
/* Slot whose values area is `values`, or -ENOENT (scratch block). */
int stats_slot_find(unsigned kind, const void *values);
/* Open slot with this id (socket fd), or -ENOENT. */
int stats_slot_by_id(unsigned kind, int64_t id);

/* stats_schema.c: the core entries from stats.def, and the fork child's lock reset. */
unsigned stats_schema_core_count(void);
void stats_schema_fill_core(struct shim_stats_schema *tab);
void stats_schema_atfork_child(void);

/* Apply a -z request: baselines for counters, maxima back to 0. */
void stats_segment_zero(void);
/* Refresh hdr->update_ns (liveness for readers). */
void stats_segment_touch(void);

/* /proc/<pid>/stat start time in clock ticks, 0 if the process is gone. */
uint64_t stats_proc_starttime(int pid);
/* Is pid a running process (not a zombie) that started at starttime (0: any)? */
bool stats_proc_alive(int pid, uint64_t starttime);
/* ... and does it still map the segment open as seg_fd (-1: do not check)? */
bool stats_segment_alive(int pid, uint64_t starttime, int seg_fd);
/* Remove the segments (and half-made ones) in dir left by this user's dead
 * processes. Returns how many were removed. */
int stats_clean_stale(const char *dir);

#endif
