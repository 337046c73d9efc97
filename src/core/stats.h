/* stats.h — the writer side of the stats segment (DESIGN §6). Data-path modules open
 * a block per socket, ring, completion queue, buffer pool or iomux instance and bump
 * its counters with the STAT_* macros; shim_stats reads them from /dev/shm/shim.<pid>
 * through the schema. stats.def names every stat; on-disk format in stats_layout.h.
 *
 * Writer rule. A block of kind socket, ring, cq or bpool has ONE writer at a time:
 * whoever holds the object's lock (or the single thread that owns it). That writer
 * uses STAT_ADD/INC/SET/MAX: a relaxed 64-bit load and a relaxed 64-bit store, no
 * locked instruction, and a reader never sees a torn value. Blocks that any thread
 * may update at once (iomux, global) use the *_MT forms, which are atomic
 * read-modify-writes. Mixing the forms on one field loses updates, never memory. */
#ifndef SHIM_STATS_H
#define SHIM_STATS_H

#include <stdbool.h>
#include <stdint.h>

/* One u64 per stat; an array stat `x` of count N is `x_v[N]` (and `x` is x_v[0]). */
#define STAT_FIELD_(name, count, unit, mode, doc) \
	union { uint64_t name; uint64_t name##_v[count]; };

struct shim_sock_stats {
#define STAT_SOCK STAT_FIELD_
#include "core/stats.def"
};
struct shim_ring_stats {
#define STAT_RING STAT_FIELD_
#include "core/stats.def"
};
struct shim_cq_stats {
#define STAT_CQ STAT_FIELD_
#include "core/stats.def"
};
struct shim_bpool_stats {
#define STAT_BPOOL STAT_FIELD_
#include "core/stats.def"
};
struct shim_iomux_stats {
#define STAT_IOMUX STAT_FIELD_
#include "core/stats.def"
};
struct shim_global_stats {
#define STAT_GLOBAL STAT_FIELD_
#include "core/stats.def"
};

/* Kinds, in the order of the segment's kind table. */
enum shim_stats_kind_id {
	STATS_KIND_SOCKET,
	STATS_KIND_RING,
	STATS_KIND_CQ,
	STATS_KIND_BPOOL,
	STATS_KIND_IOMUX,
	STATS_KIND_GLOBAL,
	STATS_KIND_CUSTOM,
	STATS_KIND_COUNT
};

/* --- hot path: single writer (see the rule above) --------------------------- */
#define STAT_GET(blk, f) __atomic_load_n(&(blk)->f, __ATOMIC_RELAXED)
#define STAT_SET(blk, f, v) __atomic_store_n(&(blk)->f, (uint64_t)(v), __ATOMIC_RELAXED)
#define STAT_ADD(blk, f, v) STAT_SET(blk, f, STAT_GET(blk, f) + (uint64_t)(v))
#define STAT_INC(blk, f) STAT_ADD(blk, f, 1)
#define STAT_MAX(blk, f, v)                                                     \
	do {                                                                    \
		uint64_t stat_v_ = (uint64_t)(v);                               \
		if (stat_v_ > STAT_GET(blk, f))                                 \
			STAT_SET(blk, f, stat_v_);                              \
	} while (0)

/* --- any number of writers (iomux, global) ------------------------------------ */
#define STAT_ADD_MT(blk, f, v) ((void)__atomic_fetch_add(&(blk)->f, (uint64_t)(v), __ATOMIC_RELAXED))
#define STAT_INC_MT(blk, f) STAT_ADD_MT(blk, f, 1)
#define STAT_MAX_MT(blk, f, v) stats_max_mt(&(blk)->f, (uint64_t)(v))

static inline void stats_max_mt(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (v > cur && !__atomic_compare_exchange_n(p, &cur, v, true, __ATOMIC_RELAXED,
						       __ATOMIC_RELAXED))
		;
}

/* --- life cycle ------------------------------------------------------------------ */
struct stats_config {
	const char *dir;	/* SHIM_STATS_SHMEM_DIR; NULL or "" = no segment */
	unsigned fd_num;	/* SHIM_STATS_FD_NUM socket slots, 0..1024 */
	const char *file;	/* SHIM_STATS_FILE: closing sockets append here; may be NULL */
};

/* Create this process's segment from shim_params (library init). Failure is logged
 * and leaves every open function handing out process-local scratch blocks. */
int stats_init(void);
/* Same with an explicit configuration (tests, tools). */
int stats_init_with(const struct stats_config *cfg);
/* Child side of fork(): move every block to a segment of the child's own, at the
 * same addresses, so blocks held by inherited sockets stay valid. */
void stats_atfork_child(void);
/* Remove the segment file (exit). Mappings stay, so late writers never fault. */
void stats_fini(void);
/* Path of the segment file, or NULL when there is none. */
const char *stats_segment_path(void);

/* --- blocks ------------------------------------------------------------------- */
/* Never NULL: when the SHIM_STATS_FD_NUM slots are taken, the block shared by all
 * later sockets ("other sockets" in shim_stats; one log line names the parameter);
 * without a segment, a process-local scratch block.
 * Counts global.sockets_created; sets fd, inode, protocol, blocking (from
 * SOCK_NONBLOCK), mc_loop 1 and ring "none"; the socket layer sets the rest. */
struct shim_sock_stats *stats_sock_open(int fd, int domain, int type, int protocol);
/* Final counters to SHIM_STATS_FILE (when set) and the debug log (VMA example 5);
 * the slot is then free for the next socket. NULL, shared and scratch blocks are
 * left alone. */
void stats_sock_close(struct shim_sock_stats *s);
/* Socket moved to another fd number (dup2 onto a closed slot, accept): */
void stats_sock_set_fd(struct shim_sock_stats *s, int fd);

/* label: "veth0:0 xdp"; the ring's slot index is what sockets store in socket.ring. */
struct shim_ring_stats *stats_ring_open(const char *label, int ifindex, int queue);
void stats_ring_close(struct shim_ring_stats *r);
int stats_ring_index(const struct shim_ring_stats *r);	/* -1 for scratch */

struct shim_cq_stats *stats_cq_open(const char *label, int ring_index);
void stats_cq_close(struct shim_cq_stats *c);

struct shim_bpool_stats *stats_bpool_open(const char *label);
void stats_bpool_close(struct shim_bpool_stats *b);

/* label "select", "poll" or "epoll"; id: the epoll fd, or -1 for the process-wide
 * select/poll blocks. Multi-writer: update with the *_MT macros. */
struct shim_iomux_stats *stats_iomux_open(const char *label, int id);
void stats_iomux_close(struct shim_iomux_stats *m);

/* Process-wide block (multi-writer, *_MT macros). Never NULL. */
struct shim_global_stats *stats_global(void);

/* --- names, indices, custom stats (extra API) --------------------------------- */
/* Schema index of a stat by its full name ("socket.rx_offload_packets",
 * "myapp.orders"); stable for the life of the process. -ENOENT when unknown. */
int stats_index(const char *name);
/* Register a custom stat; mode SHIM_STAT_COUNTER or SHIM_STAT_MAXIMUM. Returns its
 * index, -EINVAL (bad name or mode), -EEXIST, -ENOSPC, or -ENODEV (no segment). */
int stats_custom_register(const char *name, int mode);
/* Custom stats are updated by any thread (atomic RMW). -EINVAL for a non-custom
 * index or the wrong mode. */
int stats_custom_add(int index, uint64_t value);
int stats_custom_max(int index, uint64_t value);
/* Current value of any stat, summed (counter) or max'ed (maximum) over open slots;
 * a value stat gives the first open slot's value. 0 or -errno. */
int stats_read(int index, uint64_t *value);
/* Log the socket's counters in the form of VMA's example 5 at the given level.
 * -ENOENT when the fd has no stats slot. */
int stats_dump_fd(int fd, int level);

/* --- control area -------------------------------------------------------------- */
/* Apply shim_stats -l / -D / -z requests found in the control area; run every
 * 100 ms by the internal thread (registered by stats_init). */
void stats_poll_control(void *arg);

#endif
