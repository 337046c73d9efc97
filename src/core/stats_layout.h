/* stats_layout.h — the on-disk (shared memory) format of the stats segment. The
 * library writes it, shim_stats and the extra API read it. It is self-describing:
 * a header, a kind table (where each kind's slots live), a schema table (every stat's
 * name, kind, unit, mode, offset in a slot), a control area, then the slots. A reader
 * needs only this header, never stats.def, so old tools read new libraries: a new
 * stat is a new schema entry, a new kind a new kind entry; fields are only appended.
 *
 * File:  [hdr][kinds x kind_count][schema x schema_cap][ctl][slots of kind 0][kind 1]...
 * Slot:  [slot hdr 64 B][values: nvalues x u64][bases: nvalues x u64], 64 B aligned.
 * A stat's value lives at slot + values_off + offset; its -z baseline at slot +
 * base_off + offset. Displayed counter = value - base when the slot's base_gen equals
 * its gen (see stats_segment.c for the protocol). All u64 are accessed with relaxed
 * 64-bit atomic loads/stores, so no reader ever sees a torn value. */
#ifndef SHIM_STATS_LAYOUT_H
#define SHIM_STATS_LAYOUT_H

#include <stdint.h>

#define SHIM_STATS_MAGIC "SHIMSTAT"	/* 8 bytes, no NUL */
#define SHIM_STATS_LAYOUT_VERSION 1
#define SHIM_STATS_FILE_PREFIX "shim."	/* file name: shim.<pid> */

#define SHIM_STATS_NAME_LEN 48
#define SHIM_STATS_UNIT_LEN 16
#define SHIM_STATS_DOC_LEN 124
#define SHIM_STATS_KIND_NAME_LEN 16
#define SHIM_STATS_LABEL_LEN 32
#define SHIM_STATS_CMDLINE_LEN 512
#define SHIM_STATS_CUSTOM_MAX 256	/* custom stats a process may register */

enum shim_stat_mode {
	SHIM_STAT_COUNTER = 0,	/* events, summed; -z zeroes; rates with -d 2 */
	SHIM_STAT_MAXIMUM = 1,	/* high-water mark; -z resets */
	SHIM_STAT_VALUE = 2,	/* current value or attribute; never zeroed */
};

struct shim_stats_hdr {
	char magic[8];			/* SHIM_STATS_MAGIC */
	uint32_t layout_version;	/* SHIM_STATS_LAYOUT_VERSION */
	uint32_t hdr_size;		/* sizeof(struct shim_stats_hdr) of the writer */
	uint64_t file_size;
	uint32_t ready;			/* set (release) once everything below is valid */
	int32_t pid;
	uint64_t proc_starttime;	/* /proc/<pid>/stat field 22: tells pid reuse apart */
	uint64_t start_time_ns;		/* CLOCK_REALTIME at creation */
	char lib_version[32];
	char program[64];		/* basename of argv[0] */
	char cmdline[SHIM_STATS_CMDLINE_LEN];	/* arguments joined by spaces */
	uint32_t kinds_off, kind_count, kind_entry_size, pad0;
	uint32_t schema_off, schema_entry_size, schema_cap;
	uint32_t schema_count;		/* grows (release) as custom stats register */
	uint32_t schema_core_count;	/* entries that come from stats.def */
	uint32_t ctl_off, ctl_size, pad1;
	uint64_t update_ns;		/* CLOCK_MONOTONIC, refreshed by the internal thread */
};

struct shim_stats_kind {
	char name[SHIM_STATS_KIND_NAME_LEN];	/* "socket", "ring", ... "custom" */
	uint64_t slots_off;		/* from the start of the file */
	uint32_t slot_size;		/* bytes, multiple of 64 */
	uint32_t slot_count;
	uint32_t values_off;		/* within a slot */
	uint32_t base_off;		/* within a slot; 0: this kind has no baselines */
	uint32_t nvalues;		/* u64 words in the values area */
	uint32_t slot_hwm;		/* slots [0, hwm) have ever been used */
};

struct shim_stats_schema {
	char name[SHIM_STATS_NAME_LEN];	/* "socket.rx_offload_packets", "myapp.orders" */
	char unit[SHIM_STATS_UNIT_LEN];
	char doc[SHIM_STATS_DOC_LEN];
	uint16_t kind;			/* index in the kind table */
	uint8_t mode;			/* enum shim_stat_mode */
	uint8_t pad;
	uint16_t count;			/* 1, or array length */
	uint16_t pad2;
	uint32_t offset;		/* bytes from the values area of a slot */
};

struct shim_stats_slot {
	uint32_t in_use;		/* 1 while open (release after the slot is set up) */
	uint32_t pad;
	uint64_t gen;			/* bumped on every open */
	uint64_t base_gen;		/* gen the baselines belong to (written by -z) */
	int64_t id;			/* fd for sockets, ring/cq/pool number, epfd ... */
	char label[SHIM_STATS_LABEL_LEN];	/* "select", "veth0:0 xdp", "tcp" ... */
};

/* Written by shim_stats (same user or root: the file is 0600), applied by the
 * library's internal thread, which answers in the *_ack fields. A request is a new
 * value written before its sequence number is bumped. */
struct shim_stats_ctl {
	uint32_t log_level_seq;
	int32_t log_level;
	uint32_t log_details_seq;
	int32_t log_details;
	uint32_t zero_seq;
	uint32_t pad;
	/* library side */
	uint32_t log_level_ack, log_details_ack, zero_ack;
	int32_t cur_log_level, cur_log_details;
	uint32_t pad2;
};

/* The sizes of layout version 1. Later libraries may only append fields to these
 * structs (and say so in hdr_size / *_entry_size); readers accept any size from these
 * up and treat fields past an entry's size as absent, so old tools read new segments
 * and new tools read old ones. */
#define SHIM_STATS_HDR_V1_SIZE 712
#define SHIM_STATS_KIND_V1_SIZE 48
#define SHIM_STATS_SCHEMA_V1_SIZE 200
#define SHIM_STATS_CTL_V1_SIZE 48

_Static_assert(sizeof(struct shim_stats_hdr) >= SHIM_STATS_HDR_V1_SIZE, "header only grows");
_Static_assert(sizeof(struct shim_stats_kind) >= SHIM_STATS_KIND_V1_SIZE, "kind entry only grows");
_Static_assert(sizeof(struct shim_stats_schema) >= SHIM_STATS_SCHEMA_V1_SIZE, "schema entry only grows");
_Static_assert(sizeof(struct shim_stats_ctl) >= SHIM_STATS_CTL_V1_SIZE, "control area only grows");
_Static_assert(sizeof(struct shim_stats_slot) == 64, "slot header is one cache line");
_Static_assert(sizeof(struct shim_stats_schema) % 8 == 0, "schema entries stay aligned");

#endif
