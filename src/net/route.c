/* route.c — route lookup over the mirrored tables: the local table first (own
 * addresses, broadcast), then the longest matching prefix of the main table, lowest
 * metric on a tie, as the kernel's default policy does. The result names the
 * interface, next hop, preferred source and path MTU a header template is built from. */
#include "net/route.h"
#include "net/netlink_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <string.h>

struct lookup {
	uint32_t dst;
	int oif;
	struct rtnl_route *best;
	int best_len;
	uint32_t best_prio;
	bool local_table;
};

static uint32_t prefix_mask(int len)
{
	return len <= 0 ? 0 : htonl(~0u << (32 - len));
}

static bool addr4(struct nl_addr *a, uint32_t *out)
{
	if (!a || nl_addr_get_family(a) != AF_INET || nl_addr_get_len(a) != 4)
		return false;
	memcpy(out, nl_addr_get_binary_addr(a), 4);
	return true;
}

static int route_oif(struct rtnl_route *r)
{
	struct rtnl_nexthop *nh = rtnl_route_get_nnexthops(r) > 0 ? rtnl_route_nexthop_n(r, 0) : NULL;
	return nh ? rtnl_route_nh_get_ifindex(nh) : 0;
}

static void match_route(struct nl_object *o, void *arg)
{
	struct rtnl_route *r = (struct rtnl_route *)o;
	struct lookup *lk = arg;
	struct nl_addr *dst;
	uint32_t net = 0, table;
	int len;

	if (rtnl_route_get_family(r) != AF_INET)
		return;
	table = rtnl_route_get_table(r);
	if (table != (lk->local_table ? RT_TABLE_LOCAL : RT_TABLE_MAIN))
		return;
	dst = rtnl_route_get_dst(r);
	len = dst ? (int)nl_addr_get_prefixlen(dst) : 0;
	if (dst && len > 0 && !addr4(dst, &net))
		return;
	if (len > 0 && ((lk->dst ^ net) & prefix_mask(len)))
		return;
	if (lk->oif && rtnl_route_get_type(r) == RTN_UNICAST && route_oif(r) != lk->oif)
		return;
	if (rtnl_route_get_tos(r))
		return;		/* TOS-specific routes do not apply to the default TOS */
	uint32_t prio = rtnl_route_get_priority(r);
	if (!lk->best || len > lk->best_len || (len == lk->best_len && prio < lk->best_prio)) {
		lk->best = r;
		lk->best_len = len;
		lk->best_prio = prio;
	}
}

/* Source address for a route without a preferred source: the primary address of the
 * interface in the next hop's subnet, else its first address. */
struct src_pick {
	int ifindex;
	uint32_t nexthop;
	uint32_t any, in_subnet;
};

static void pick_src(struct nl_object *o, void *arg)
{
	struct rtnl_addr *a = (struct rtnl_addr *)o;
	struct src_pick *sp = arg;
	uint32_t local;

	if (rtnl_addr_get_family(a) != AF_INET || rtnl_addr_get_ifindex(a) != sp->ifindex ||
	    !addr4(rtnl_addr_get_local(a), &local))
		return;
	if (rtnl_addr_get_flags(a) & IFA_F_SECONDARY)
		return;
	if (!sp->any)
		sp->any = local;
	if (!sp->in_subnet && !((local ^ sp->nexthop) & prefix_mask(rtnl_addr_get_prefixlen(a))))
		sp->in_subnet = local;
}

int cp_route(uint32_t dst, int oif, struct cp_path *out)
{
	struct lookup lk = { .dst = dst, .oif = oif };
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!cp.running)
		return -ENETUNREACH;
	__atomic_add_fetch(&cp_stats.route_lookups, 1, __ATOMIC_RELAXED);
	if ((ntohl(dst) >> 24) == 127) {
		out->type = CP_DEST_LOCAL;
		out->loopback_if = true;
		return 0;
	}
	if ((ntohl(dst) >> 28) == 0xe) {
		out->type = CP_DEST_MULTICAST;
		return 0;
	}
	if (dst == INADDR_BROADCAST) {
		out->type = CP_DEST_BROADCAST;
		return 0;
	}

	pthread_mutex_lock(&cp.lock);
	lk.local_table = true;
	nl_cache_foreach(cp.routes, match_route, &lk);
	if (lk.best) {
		switch (rtnl_route_get_type(lk.best)) {
		case RTN_LOCAL:
			out->type = CP_DEST_LOCAL;
			goto out;
		case RTN_BROADCAST:
			out->type = CP_DEST_BROADCAST;
			out->ifindex = route_oif(lk.best);
			goto out;
		default:
			break;
		}
	}
	lk.local_table = false;
	lk.best = NULL;
	nl_cache_foreach(cp.routes, match_route, &lk);
	if (!lk.best) {
		out->type = CP_DEST_UNREACHABLE;
		ret = -ENETUNREACH;
		goto out;
	}
	switch (rtnl_route_get_type(lk.best)) {
	case RTN_UNICAST:
		break;
	case RTN_LOCAL:
		out->type = CP_DEST_LOCAL;
		goto out;
	case RTN_BROADCAST:
		out->type = CP_DEST_BROADCAST;
		goto out;
	case RTN_PROHIBIT:
		out->type = CP_DEST_UNREACHABLE;
		ret = -EACCES;
		goto out;
	default:
		out->type = CP_DEST_UNREACHABLE;
		ret = -ENETUNREACH;
		goto out;
	}

	struct rtnl_nexthop *nh = rtnl_route_get_nnexthops(lk.best) > 0 ? rtnl_route_nexthop_n(lk.best, 0) : NULL;
	if (!nh) {
		out->type = CP_DEST_UNREACHABLE;
		ret = -ENETUNREACH;
		goto out;
	}
	out->type = CP_DEST_UNICAST;
	out->ifindex = rtnl_route_nh_get_ifindex(nh);
	if (!addr4(rtnl_route_nh_get_gateway(nh), &out->nexthop))
		out->nexthop = dst;
	if (!addr4(rtnl_route_get_pref_src(lk.best), &out->src)) {
		struct src_pick sp = { .ifindex = out->ifindex, .nexthop = out->nexthop };
		nl_cache_foreach(cp.addrs, pick_src, &sp);
		out->src = sp.in_subnet ? sp.in_subnet : sp.any;
	}
	uint32_t mtu = 0;
	if (rtnl_route_get_metric(lk.best, RTAX_MTU, &mtu) < 0)
		mtu = 0;
	unsigned link_mtu = 0;
	bool up = false, lo = false;
	if (cp_link(out->ifindex, &link_mtu, out->smac, &up, &lo) < 0 || !up) {
		out->type = CP_DEST_UNREACHABLE;
		ret = -ENETUNREACH;
		goto out;
	}
	out->loopback_if = lo;
	if (lo)
		out->type = CP_DEST_LOCAL;
	out->mtu = mtu && mtu < link_mtu ? mtu : link_mtu;
	if (!out->src) {
		out->type = CP_DEST_UNREACHABLE;
		ret = -EADDRNOTAVAIL;
	}
out:
	pthread_mutex_unlock(&cp.lock);
	return ret;
}

struct addr_find {
	uint32_t addr;
	int ifindex;
	int want_bcast_if;
	uint32_t bcast;
};

static void find_addr(struct nl_object *o, void *arg)
{
	struct rtnl_addr *a = (struct rtnl_addr *)o;
	struct addr_find *af = arg;
	uint32_t local;

	if (rtnl_addr_get_family(a) != AF_INET || !addr4(rtnl_addr_get_local(a), &local))
		return;
	if (af->want_bcast_if) {
		uint32_t m = prefix_mask(rtnl_addr_get_prefixlen(a));
		if (rtnl_addr_get_ifindex(a) == af->want_bcast_if && !((local ^ af->addr) & m))
			af->bcast = (local & m) | ~m;
		return;
	}
	if (local == af->addr && !af->ifindex)
		af->ifindex = rtnl_addr_get_ifindex(a);
}

int cp_addr_ifindex(uint32_t addr)
{
	struct addr_find af = { .addr = addr };

	if (addr == INADDR_ANY)
		return 0;
	if (!cp.running)
		return -EADDRNOTAVAIL;
	pthread_mutex_lock(&cp.lock);
	nl_cache_foreach(cp.addrs, find_addr, &af);
	pthread_mutex_unlock(&cp.lock);
	return af.ifindex ? af.ifindex : -EADDRNOTAVAIL;
}

bool cp_is_local(uint32_t addr)
{
	return (ntohl(addr) >> 24) == 127 || cp_addr_ifindex(addr) > 0;
}

uint32_t cp_subnet_broadcast(int ifindex, uint32_t addr)
{
	struct addr_find af = { .addr = addr, .want_bcast_if = ifindex };

	if (!cp.running)
		return 0;
	pthread_mutex_lock(&cp.lock);
	nl_cache_foreach(cp.addrs, find_addr, &af);
	pthread_mutex_unlock(&cp.lock);
	return af.bcast;
}

struct iface_list {
	int *ifindex;
	int max, n;
};

static void collect_iface(struct nl_object *o, void *arg)
{
	struct rtnl_addr *a = (struct rtnl_addr *)o;
	struct iface_list *il = arg;
	int idx = rtnl_addr_get_ifindex(a);
	bool up = false, lo = true;

	if (rtnl_addr_get_family(a) != AF_INET || il->n >= il->max)
		return;
	for (int i = 0; i < il->n; i++)
		if (il->ifindex[i] == idx)
			return;
	if (cp_link(idx, NULL, NULL, &up, &lo) < 0 || !up || lo)
		return;
	il->ifindex[il->n++] = idx;
}

int cp_offload_ifaces(int *ifindex, int max)
{
	struct iface_list il = { .ifindex = ifindex, .max = max };

	if (!cp.running)
		return 0;
	pthread_mutex_lock(&cp.lock);
	nl_cache_foreach(cp.addrs, collect_iface, &il);
	pthread_mutex_unlock(&cp.lock);
	return il.n;
}
