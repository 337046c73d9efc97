/* neigh.c — next-hop MAC addresses from the mirrored neighbour table. ARP stays with
 * the kernel: when an entry is missing or failed we ask the kernel to resolve it
 * (RTM_NEWNEIGH with NTF_USE, as if the kernel itself had a packet for it; without
 * CAP_NET_ADMIN a tiny datagram from a throwaway kernel socket to the discard port
 * does the same) and the answer arrives as a netlink event. */
#include "net/route.h"
#include "net/netlink_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define NUD_USABLE (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP)
#define RESOLVE_RETRY_NS 200000000ull	/* re-kick a pending resolution at most every 200 ms */

/* The probes below use raw system calls: they must not reach the interposed socket
 * calls (a probe socket must never become an offloaded socket itself). */
#define raw_socket(d, t, p) ((int)syscall(SYS_socket, (d), (t), (p)))
#define raw_close(fd) syscall(SYS_close, (fd))

/* Ask the kernel to start resolving nexthop on ifindex. Uses a raw rtnetlink
 * request so no libnl cache state is touched outside the event thread. */
static int kick_netlink(int ifindex, uint32_t nexthop)
{
	struct {
		struct nlmsghdr nh;
		struct ndmsg nd;
		struct rtattr rta;
		uint32_t dst;
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char ack[256];
	int fd, ret;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_NEWNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	req.nh.nlmsg_seq = 1;
	req.nd.ndm_family = AF_INET;
	req.nd.ndm_ifindex = ifindex;
	req.nd.ndm_state = NUD_NONE;
	req.nd.ndm_flags = NTF_USE;
	req.rta.rta_type = NDA_DST;
	req.rta.rta_len = RTA_LENGTH(4);
	req.dst = nexthop;

	fd = raw_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_sendto, fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	ret = -EIO;
	ssize_t n = syscall(SYS_recvfrom, fd, ack, sizeof(ack), 0, NULL, NULL);
	if (n >= (ssize_t)(sizeof(struct nlmsghdr) + sizeof(struct nlmsgerr))) {
		struct nlmsghdr *h = (struct nlmsghdr *)ack;
		if (h->nlmsg_type == NLMSG_ERROR)
			ret = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	}
out:
	raw_close(fd);
	return ret;
}

/* Without the capability: one empty datagram to the discard port of the next hop
 * from a throwaway kernel socket makes the kernel resolve it. */
static int kick_datagram(int ifindex, uint32_t nexthop)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = nexthop };
	char name[IF_NAMESIZE];
	int fd, ret = 0;

	fd = raw_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (if_indextoname((unsigned)ifindex, name))
		syscall(SYS_setsockopt, fd, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)strlen(name) + 1);
	if (syscall(SYS_sendto, fd, "", 0, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		ret = -errno;
	raw_close(fd);
	return ret;
}

struct pending {
	int ifindex;
	uint32_t addr;
	uint64_t kicked_ns;
};

#define PENDING_SLOTS 64
static struct pending pending[PENDING_SLOTS];
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Kick at most once per RESOLVE_RETRY_NS per neighbour, however many senders wait. */
static void kick(int ifindex, uint32_t nexthop)
{
	uint64_t now = mono_ns();
	struct pending *slot = NULL, *oldest = &pending[0];

	pthread_mutex_lock(&pending_lock);
	for (int i = 0; i < PENDING_SLOTS; i++) {
		if (pending[i].ifindex == ifindex && pending[i].addr == nexthop) {
			slot = &pending[i];
			break;
		}
		if (pending[i].kicked_ns < oldest->kicked_ns)
			oldest = &pending[i];
	}
	if (slot && now - slot->kicked_ns < RESOLVE_RETRY_NS) {
		pthread_mutex_unlock(&pending_lock);
		return;
	}
	if (!slot)
		slot = oldest;
	*slot = (struct pending){ ifindex, nexthop, now };
	pthread_mutex_unlock(&pending_lock);

	__atomic_add_fetch(&cp_stats.neigh_resolves, 1, __ATOMIC_RELAXED);
	int err = kick_netlink(ifindex, nexthop);
	if (err) {
		log_once(SHIM_LOG_DEBUG, "neighbour resolution via rtnetlink unavailable (%s), using a probe datagram",
			 strerror(-err));
		err = kick_datagram(ifindex, nexthop);
		if (err)
			log_dbg("neighbour resolution of %s failed: %s",
				inet_ntoa((struct in_addr){ nexthop }), strerror(-err));
	}
}

int cp_neigh_lookup(int ifindex, uint32_t nexthop, uint8_t mac[ETHER_ALEN])
{
	struct nl_addr *dst;
	struct rtnl_neigh *n;
	int state = 0, ret;
	bool stale = false;

	if (!cp.running)
		return -EHOSTUNREACH;
	dst = nl_addr_build(AF_INET, &nexthop, 4);
	if (!dst)
		return -ENOMEM;
	pthread_mutex_lock(&cp.lock);
	n = rtnl_neigh_get(cp.neighs, ifindex, dst);
	if (n) {
		struct nl_addr *ll = rtnl_neigh_get_lladdr(n);
		state = rtnl_neigh_get_state(n);
		if ((state & NUD_USABLE) && ll && nl_addr_get_len(ll) == ETHER_ALEN) {
			memcpy(mac, nl_addr_get_binary_addr(ll), ETHER_ALEN);
			ret = 0;
			stale = state & NUD_STALE;
		} else {
			ret = (state & NUD_FAILED) ? -EHOSTUNREACH : -EAGAIN;
		}
		rtnl_neigh_put(n);
	} else {
		ret = -EAGAIN;
	}
	pthread_mutex_unlock(&cp.lock);
	nl_addr_put(dst);
	if (ret == 0) {
		/* Usable but stale: our datagrams never pass the kernel's neighbour code,
		 * so ask it to confirm the entry as its own traffic would (unicast probe;
		 * the answer or the failure comes back as an event). */
		if (stale)
			kick(ifindex, nexthop);
		return 0;
	}
	if (ret == -EHOSTUNREACH)
		__atomic_add_fetch(&cp_stats.neigh_failed, 1, __ATOMIC_RELAXED);
	/* Missing, incomplete or failed: the kernel retries a failed entry when it has
	 * traffic for it, so we ask it to, like a kernel send would. */
	if (!(state & NUD_INCOMPLETE))
		kick(ifindex, nexthop);
	return ret;
}
