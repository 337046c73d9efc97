/* netlink_priv.h — state shared by the control-plane files (netlink.c, route.c,
 * neigh.c): the libnl caches and the lock that guards them. Not for other modules:
 * they use route.h. */
#ifndef SHIM_NET_NETLINK_PRIV_H
#define SHIM_NET_NETLINK_PRIV_H

#include <fcntl.h>
#include <net/if.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <pthread.h>
#include <stdbool.h>

struct cp_state {
	pthread_mutex_t lock;		/* guards the caches (recursive) */
	pthread_cond_t cond;		/* broadcast on every change */
	struct nl_sock *sk_events, *sk_sync;
	struct nl_cache_mngr *mngr;
	struct nl_cache *links, *addrs, *routes, *neighs;
	pthread_t thread;
	int stop_pipe[2];
	bool running;
	uint32_t gen;
};

extern struct cp_state cp;

#endif
