/* shim_extra.h — libshim's extra API, the only public header of libshim.
 *
 * An application that wants more than the socket API asks the library for a table
 * of functions at run time:
 *
 *     struct shim_api *api = shim_get_api();
 *     if (api) api->add_stat("myapp.orders", SHIM_STAT_MODE_COUNTER);
 *
 * Without libshim loaded shim_get_api() returns NULL and the program carries on
 * with plain sockets; it needs no link against libshim. Works from C and C++.
 * Every entry returns 0 (or an index) on success and a negative errno value on
 * failure; none of them writes errno. See shim_extra(3).
 */
#ifndef SHIM_EXTRA_H
#define SHIM_EXTRA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* getsockopt(-1, SOL_SOCKET, SO_SHIM_GET_API, &ptr, &len) answers the table. */
#define SO_SHIM_GET_API 2900

#define SHIM_API_MAGIC 0x5348494d41504931ULL	/* "SHIMAPI1" */
#define SHIM_API_VERSION 1

/* Capability bits (api->cap_mask). */
#define SHIM_CAP_STATS		(1ULL << 0)	/* stat_index, add_stat, stat_add, stat_max, stat_get */
#define SHIM_CAP_RULES		(1ULL << 1)	/* add_conf_rule */
#define SHIM_CAP_THREAD_OFFLOAD	(1ULL << 2)	/* thread_offload */
#define SHIM_CAP_ZCOPY_RECV	(1ULL << 8)	/* reserved: zero-copy receive */
#define SHIM_CAP_RECV_CALLBACK	(1ULL << 9)	/* reserved: receive callback */

/* add_stat() modes. */
#define SHIM_STAT_MODE_COUNTER 0	/* events: stat_add() adds, shim_stats sums and shows rates */
#define SHIM_STAT_MODE_MAXIMUM 1	/* high-water mark: stat_max() raises it */

struct shim_api {
	uint64_t magic;		/* SHIM_API_MAGIC */
	uint32_t size;		/* sizeof(struct shim_api) in the library: entries past
				 * what your header knows may exist; use SHIM_API_HAS() */
	uint32_t version;	/* SHIM_API_VERSION of the library */
	uint64_t cap_mask;	/* SHIM_CAP_* */

	/* Put one rule line (shim.conf grammar, e.g. "use os tcp_client *:6379")
	 * at the head of the rules; sockets that already took their decision keep it. */
	int (*add_conf_rule)(const char *line);
	/* New sockets created by thread tid are (offload=1) or are not (offload=0)
	 * candidates for offload; see SHIM_OFFLOADED_SOCKETS. Existing sockets keep
	 * theirs. Rules still apply to candidates. */
	int (*thread_offload)(int offload, pthread_t tid);
	/* Log fd's statistics (the lines of a socket's closing summary) at log level
	 * `level` (0 panic .. 6; 3 info). -ENOENT if libshim keeps no stats for fd. */
	int (*dump_fd_stats)(int fd, int level);
	/* Index of a stat by full name ("socket.rx_offload_packets", "myapp.orders"),
	 * stable for the life of the process, or -ENOENT. */
	int (*stat_index)(const char *name);
	/* Register a custom stat (name: letters, digits, '_', '-', '.', with a dot,
	 * e.g. "myapp.orders"; mode SHIM_STAT_MODE_*). Returns its index. */
	int (*add_stat)(const char *name, int mode);
	/* Add to a counter / raise a maximum; any thread, lock-free. */
	int (*stat_add)(int index, uint64_t value);
	int (*stat_max)(int index, uint64_t value);
	/* Read any stat by index: counters summed over sockets/rings, maxima max'ed. */
	int (*stat_get)(int index, uint64_t *value);

	/* Room for zero-copy receive and receive callbacks (SHIM_CAP_ZCOPY_RECV,
	 * SHIM_CAP_RECV_CALLBACK); NULL until a library offers them. */
	void *reserved[8];
};

/* True if the library's table is long enough to hold `field`. */
#define SHIM_API_HAS(api, field) \
	((api)->size >= offsetof(struct shim_api, field) + sizeof((api)->field) && (api)->field)

/* Call once at start-up (after main() began) and keep the pointer; nothing to free.
 * NULL when libshim is not loaded or too old for this header. */
static inline struct shim_api *shim_get_api(void)
{
	struct shim_api *api = NULL;
	socklen_t len = sizeof(api);

	if (getsockopt(-1, SOL_SOCKET, SO_SHIM_GET_API, &api, &len) != 0 ||
	    len != sizeof(api) || api == NULL)
		return NULL;
	if (api->magic != SHIM_API_MAGIC ||
	    api->size < offsetof(struct shim_api, stat_get) + sizeof(api->stat_get))
		return NULL;
	return api;
}

#ifdef __cplusplus
}
#endif

#endif
