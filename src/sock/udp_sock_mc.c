/* udp_sock_mc.c — the multicast options of an offloaded UDP socket. Every option
 * goes to the kernel socket first (its IGMP, its state, its errno); what the kernel
 * then holds is read back from it (getsockopt MCAST_MSFILTER per group and
 * interface) and given to net/mcast.c, which steers the memberships of offloaded
 * sockets to rings. The send side: IP_MULTICAST_TTL, _IF, _LOOP and the output
 * interface and source of a datagram to a group, chosen as the kernel chooses them. */
#include "sock/udp_sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/params.h"
#include "intercept/intercept.h"
#include "net/mcast.h"
#include "net/route.h"

#define MC_QUERY_SRC 64		/* sources read back per query before asking again */
#define MC_MAX_IFS 16

void udp_mc_init(struct udp_sock *s)
{
	int v = shim_params.tx_mc_loopback ? 1 : 0;

	s->mc_ttl = 1;
	s->mc_all = true;
	s->mc_loop = true;
	/* The kernel's default is on: tell it when the parameter says otherwise, so
	 * getsockopt and the kernel path agree with us. */
	if (!v && sys_setsockopt(s->base.fd, IPPROTO_IP, IP_MULTICAST_LOOP, &v, sizeof(v)) == 0)
		s->mc_loop = false;
	STAT_SET(s->st, mc_loop, s->mc_loop);
}

static bool is_mcast(uint32_t a)
{
	return (ntohl(a) >> 28) == 0xe;
}

/* The kernel's filter for (group, ifindex): 1 and the filter in *gf (caller frees),
 * 0 when the socket is not a member there, -errno on another failure. */
static int query(struct udp_sock *s, uint32_t group, int ifindex, struct group_filter **out)
{
	unsigned cap = MC_QUERY_SRC;

	for (int tries = 0; tries < 4; tries++) {
		socklen_t len = (socklen_t)GROUP_FILTER_SIZE(cap);
		struct group_filter *gf = calloc(1, len);
		struct sockaddr_in *g = (struct sockaddr_in *)&gf->gf_group;

		if (!gf)
			return -ENOMEM;
		gf->gf_interface = (uint32_t)ifindex;
		g->sin_family = AF_INET;
		g->sin_addr.s_addr = group;
		gf->gf_numsrc = cap;
		if (sys_getsockopt(s->base.fd, IPPROTO_IP, MCAST_MSFILTER, gf, &len) < 0) {
			int err = errno;
			free(gf);
			return err == EADDRNOTAVAIL || err == ENODEV ? 0 : -err;
		}
		if (gf->gf_numsrc <= cap) {
			*out = gf;
			return 1;
		}
		cap = gf->gf_numsrc;
		free(gf);
	}
	return -EAGAIN;
}

/* Read back every membership of group the socket may hold: on the interface the
 * option named (hint, 0 if none), on interfaces already known, on every interface
 * we could offload. */
static void refresh_group(struct udp_sock *s, uint32_t group, int hint, bool joined)
{
	int ifs[MC_MAX_IFS * 2 + 1], n = 0, known[MC_MAX_IFS];
	bool steered_any = false, member_any = false;

	if (hint > 0)
		ifs[n++] = hint;
	int nk = mc_membership_ifaces(s, group, known, MC_MAX_IFS);
	for (int i = 0; i < nk; i++)
		ifs[n++] = known[i];
	if (!cp_init())
		n += cp_offload_ifaces(ifs + n, MC_MAX_IFS);
	for (int i = 0; i < n; i++) {
		bool dup = false;
		for (int j = 0; j < i && !dup; j++)
			dup = ifs[j] == ifs[i];
		if (dup)
			continue;
		struct group_filter *gf = NULL;
		int rc = query(s, group, ifs[i], &gf);
		if (rc < 0)
			continue;	/* leave what we know alone */
		if (rc == 0) {
			mc_membership_drop(s, group, ifs[i]);
			continue;
		}
		uint32_t src[MC_QUERY_SRC];
		uint32_t *list = gf->gf_numsrc <= MC_QUERY_SRC ? src : malloc(sizeof(*list) * gf->gf_numsrc);
		unsigned ns = 0;
		for (unsigned k = 0; list && k < gf->gf_numsrc; k++) {
			const struct sockaddr_in *sa = (const struct sockaddr_in *)&gf->gf_slist[k];
			if (sa->sin_family == AF_INET)
				list[ns++] = sa->sin_addr.s_addr;
		}
		member_any = true;
		if (list && mc_membership_set(s, group, ifs[i], (int)gf->gf_fmode, list, ns) == 0)
			steered_any = true;
		if (list != src)
			free(list);
		free(gf);
	}
	if (joined && s->mc_rx && !member_any)
		log_info("udp fd %d: multicast group %s joined on an interface libshim does not serve: its datagrams come through the kernel",
			 s->base.fd, inet_ntoa((struct in_addr){ group }));
	else if (joined && steered_any)
		log_dbg("udp fd %d: multicast group %s offloaded", s->base.fd, inet_ntoa((struct in_addr){ group }));
}

/* The group and the interface an accepted membership option names (ifindex 0 when
 * it names none, or names it by an address we do not know). */
static bool option_group(int name, const void *val, socklen_t len, uint32_t *group, int *ifindex)
{
	uint32_t addr = 0;

	*ifindex = 0;
	switch (name) {
	case IP_ADD_MEMBERSHIP:
	case IP_DROP_MEMBERSHIP:
		if (len < sizeof(struct ip_mreq))
			return false;
		if (len >= sizeof(struct ip_mreqn)) {
			const struct ip_mreqn *r = val;
			*group = r->imr_multiaddr.s_addr;
			*ifindex = r->imr_ifindex;
			addr = r->imr_address.s_addr;
		} else {
			const struct ip_mreq *r = val;
			*group = r->imr_multiaddr.s_addr;
			addr = r->imr_interface.s_addr;
		}
		break;
	case IP_ADD_SOURCE_MEMBERSHIP:
	case IP_DROP_SOURCE_MEMBERSHIP:
	case IP_BLOCK_SOURCE:
	case IP_UNBLOCK_SOURCE: {
		const struct ip_mreq_source *r = val;
		if (len < sizeof(*r))
			return false;
		*group = r->imr_multiaddr.s_addr;
		addr = r->imr_interface.s_addr;
		break;
	}
	case IP_MSFILTER: {
		const struct ip_msfilter *r = val;
		if (len < offsetof(struct ip_msfilter, imsf_slist))
			return false;
		*group = r->imsf_multiaddr.s_addr;
		addr = r->imsf_interface.s_addr;
		break;
	}
	case MCAST_JOIN_GROUP:
	case MCAST_LEAVE_GROUP: {
		const struct group_req *r = val;
		if (len < sizeof(*r) || r->gr_group.ss_family != AF_INET)
			return false;
		*group = ((const struct sockaddr_in *)&r->gr_group)->sin_addr.s_addr;
		*ifindex = (int)r->gr_interface;
		break;
	}
	case MCAST_JOIN_SOURCE_GROUP:
	case MCAST_LEAVE_SOURCE_GROUP:
	case MCAST_BLOCK_SOURCE:
	case MCAST_UNBLOCK_SOURCE: {
		const struct group_source_req *r = val;
		if (len < sizeof(*r) || r->gsr_group.ss_family != AF_INET)
			return false;
		*group = ((const struct sockaddr_in *)&r->gsr_group)->sin_addr.s_addr;
		*ifindex = (int)r->gsr_interface;
		break;
	}
	case MCAST_MSFILTER: {
		const struct group_filter *r = val;
		if (len < offsetof(struct group_filter, gf_slist) || r->gf_group.ss_family != AF_INET)
			return false;
		*group = ((const struct sockaddr_in *)&r->gf_group)->sin_addr.s_addr;
		*ifindex = (int)r->gf_interface;
		break;
	}
	default:
		return false;
	}
	if (!*ifindex && addr && !cp_init()) {
		int idx = cp_addr_ifindex(addr);
		*ifindex = idx > 0 ? idx : 0;
	}
	return is_mcast(*group);
}

static bool is_join(int name)
{
	return name == IP_ADD_MEMBERSHIP || name == IP_ADD_SOURCE_MEMBERSHIP || name == MCAST_JOIN_GROUP ||
	       name == MCAST_JOIN_SOURCE_GROUP || name == IP_MSFILTER || name == MCAST_MSFILTER;
}

/* IP_MULTICAST_IF as the kernel reads it: an address, an ip_mreq or an ip_mreqn. */
static void set_mc_if(struct udp_sock *s, const void *val, socklen_t len)
{
	struct ip_mreqn r;

	memset(&r, 0, sizeof(r));
	if (len >= sizeof(struct ip_mreqn))
		memcpy(&r, val, sizeof(r));
	else if (len >= sizeof(struct ip_mreq))
		memcpy(&r, val, sizeof(struct ip_mreq));
	else if (len >= sizeof(struct in_addr))
		memcpy(&r.imr_address, val, sizeof(struct in_addr));
	if (!r.imr_ifindex && r.imr_address.s_addr && !cp_init()) {
		int idx = cp_addr_ifindex(r.imr_address.s_addr);
		r.imr_ifindex = idx > 0 ? idx : 0;
	}
	s->mc_index = r.imr_ifindex;
	s->mc_addr = r.imr_address.s_addr;
}

static int read_int(struct udp_sock *s, int name, int dflt)
{
	int v = dflt;
	socklen_t len = sizeof(v);

	if (sys_getsockopt(s->base.fd, IPPROTO_IP, name, &v, &len) < 0)
		return dflt;
	return v;
}

bool udp_mc_setsockopt(struct udp_sock *s, int name, const void *val, socklen_t len)
{
	uint32_t group;
	int ifindex;

	switch (name) {
	case IP_MULTICAST_TTL:
		s->mc_ttl = (uint8_t)read_int(s, IP_MULTICAST_TTL, s->mc_ttl);
		s->opt_gen++;
		return true;
	case IP_MULTICAST_LOOP:
		s->mc_loop = read_int(s, IP_MULTICAST_LOOP, s->mc_loop) != 0;
		STAT_SET(s->st, mc_loop, s->mc_loop);
		return true;
	case IP_MULTICAST_IF:
		if (val)
			set_mc_if(s, val, len);
		s->opt_gen++;
		return true;
	case IP_MULTICAST_ALL:
		mc_sock_set_all(s, read_int(s, IP_MULTICAST_ALL, s->mc_all) != 0);
		return true;
	}
	if (!val || !option_group(name, val, len, &group, &ifindex))
		return false;
	refresh_group(s, group, ifindex, is_join(name));
	return true;
}

int udp_mc_path(struct udp_sock *s, uint32_t daddr, uint16_t dport, int *ifindex, uint32_t *saddr)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = dport ? dport : htons(9),
				  .sin_addr.s_addr = daddr };
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	int fd, err = 0;

	/* A scratch socket connected with our options: the kernel's own choice of the
	 * source (IP_MULTICAST_IF address, route, device). */
	fd = sys_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (s->mc_index || s->mc_addr) {
		struct ip_mreqn r = { .imr_address.s_addr = s->mc_addr, .imr_ifindex = s->mc_index };
		sys_setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &r, sizeof(r));
	}
	if (s->bound_if) {
		char name[IF_NAMESIZE + 1] = { 0 };
		if (if_indextoname((unsigned)s->bound_if, name))
			sys_setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)strlen(name));
	}
	if (sys_connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 ||
	    sys_getsockname(fd, (struct sockaddr *)&me, &len) < 0)
		err = -errno;
	sys_close(fd);
	if (err)
		return err;
	*saddr = me.sin_addr.s_addr;
	if (s->laddr && !is_mcast(s->laddr))
		*saddr = s->laddr;
	int idx = s->mc_index ? s->mc_index : s->bound_if ? s->bound_if : cp_addr_ifindex(me.sin_addr.s_addr);
	if (idx <= 0)
		return -ENETUNREACH;
	*ifindex = idx;
	return 0;
}
