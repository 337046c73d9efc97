/* stats_reader.h — reads a stats segment through its schema alone (never stats.def),
 * so any reader prints any writer's stats. Used by shim_stats, the extra API's
 * dumps and the tests. A snapshot copies every open slot with 64-bit atomic loads
 * and subtracts -z baselines; views work on snapshots only. */
#ifndef SHIM_STATS_READER_H
#define SHIM_STATS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stats_layout.h"

struct stats_reader {
	int fd;
	void *base;
	size_t size;
	bool rw;
	char path[512];
};

struct snap_stat {
	char name[SHIM_STATS_NAME_LEN + 1];
	char unit[SHIM_STATS_UNIT_LEN + 1];
	char doc[SHIM_STATS_DOC_LEN + 1];
	unsigned kind, mode, count;
	uint32_t offset;
	const char *short_name;	/* name after "<kind>.", or the whole name */
};

struct snap_slot {
	unsigned index;		/* slot number within its kind */
	uint64_t gen;
	int64_t id;
	char label[SHIM_STATS_LABEL_LEN + 1];
	uint64_t *v;		/* the kind's nvalues words, baselines subtracted */
};

struct snap_kind {
	char name[SHIM_STATS_KIND_NAME_LEN + 1];
	unsigned nvalues, slot_count;
	unsigned nslots;	/* open slots copied */
	struct snap_slot *slots;
};

struct stats_snap {
	int pid;
	uint32_t layout_version;
	uint64_t proc_starttime, start_time_ns;
	uint64_t taken_ns;	/* CLOCK_MONOTONIC when taken */
	uint64_t taken_real_ns;	/* CLOCK_REALTIME when taken */
	char program[65], cmdline[SHIM_STATS_CMDLINE_LEN + 1], lib_version[33];
	int log_level, log_details;	/* as last applied by the process, -1 unknown */
	unsigned nstats;
	struct snap_stat *stats;
	unsigned nkinds;
	struct snap_kind *kinds;
};

/* Open and validate a segment file; rw for control requests. 0 or -errno
 * (-EPROTO: not a segment or an incompatible layout, -EAGAIN: not ready yet). */
int stats_reader_open(struct stats_reader *r, const char *path, bool rw);
/* Read a mapping already in this process (the library's own segment). */
int stats_reader_attach(struct stats_reader *r, void *base, size_t size);
void stats_reader_close(struct stats_reader *r);
/* Header fields without a snapshot. */
int stats_reader_pid(const struct stats_reader *r);
uint64_t stats_reader_starttime(const struct stats_reader *r);
const char *stats_reader_program(const struct stats_reader *r);

/* only_kind/only_id: copy just the slot of that kind with that id (-1: everything). */
int stats_snap_take(const struct stats_reader *r, struct stats_snap *s, int only_kind,
		    int64_t only_id);
void stats_snap_free(struct stats_snap *s);
int stats_snap_find(const struct stats_snap *s, const char *name);
int stats_snap_kind(const struct stats_snap *s, const char *kind_name);
/* Element elem of stat `stat` in a slot (0 when stat < 0 or out of range). */
uint64_t stats_snap_get(const struct stats_snap *s, const struct snap_slot *sl, int stat,
			unsigned elem);
/* Same, by name. */
uint64_t stats_snap_get_name(const struct stats_snap *s, const struct snap_slot *sl,
			     const char *name);
/* Slot of kind k whose previous-snapshot twin (same index and gen) is in prev, or NULL. */
const struct snap_slot *stats_snap_twin(const struct stats_snap *prev, unsigned k,
					const struct snap_slot *sl);

enum stats_request { STATS_REQ_LOG_LEVEL, STATS_REQ_LOG_DETAILS, STATS_REQ_ZERO };
/* Write a request into the control area (rw reader) and wait up to timeout_ms for
 * the process to apply it. 0, -ETIMEDOUT (not applied in time), -EPERM (read-only). */
int stats_reader_request(struct stats_reader *r, enum stats_request req, int value,
			 int timeout_ms);

#endif
