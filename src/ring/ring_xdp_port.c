/* ring_xdp_port.c — what the AF_XDP backend keeps per interface: the facts it needs
 * (queues, MTU/MAC through ioctl, privileges), our XDP program attached through an
 * unpinned BPF link (native first, generic as fallback, per SHIM_XDP_MODE), and the
 * program's maps: the XSKMAP and the flow tables written on attach/detach, and the
 * hooks program array whose STEER_HOOK_NEXT slot lets a chained program go on.
 * One process owns an interface: a second one finds the link in place (EBUSY) and
 * its sockets stay with the kernel, logged once. Sharing the program through pinned
 * maps would not help, since a queue binds one UMEM and the UMEM cannot be shared
 * across processes without handing fds over; the first process is never touched. */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/log.h"
#include "intercept/sys.h"
#include "ring/ring_xdp.h"
#include "ring/steer.h"
#include "ring/steer.skel.h"

/* Per interface: our program, its maps and the link that attaches it. */
struct xdp_port {
	int ifindex;
	int refcnt;
	struct ring_steer_bpf *skel;
	int link_fd;		/* unpinned BPF link: closing it detaches the program */
	const char *mode;	/* "native" or "generic" */
	struct xdp_port *next;
};

static pthread_mutex_t port_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xdp_port *ports;

/* --- interface facts ------------------------------------------------------ */
/* Interface ioctls on a throwaway AF_INET socket. The kernel's functions (sys_*),
 * not our wrappers: this socket is ours, not the application's. */
static int if_ioctl_data(int ifindex, unsigned long req, struct ifreq *ifr, void *data)
{
	int s, rc = 0;

	memset(ifr, 0, sizeof(*ifr));
	if (!if_indextoname(ifindex, ifr->ifr_name))
		return -ENODEV;
	if (req == 0)
		return 0;
	ifr->ifr_data = data;
	s = sys_socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (sys_ioctl(s, req, ifr) < 0)
		rc = -errno;
	sys_close(s);
	return rc;
}

int xdp_if_ioctl(int ifindex, unsigned long req, struct ifreq *ifr)
{
	return if_ioctl_data(ifindex, req, ifr, NULL);
}

int xdp_if_rx_queues(int ifindex)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	int n;

	if (if_ioctl_data(ifindex, SIOCETHTOOL, &ifr, &ch) < 0)
		return 1;
	n = (int)(ch.rx_count > ch.combined_count ? ch.rx_count : ch.combined_count);
	if (n < 1)
		n = 1;
	return n > STEER_MAX_QUEUES ? STEER_MAX_QUEUES : n;
}

/* AF_XDP needs CAP_NET_RAW for the socket, CAP_NET_ADMIN to attach XDP and
 * CAP_BPF (or CAP_SYS_ADMIN) to load the program. */
static bool have_caps(void)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return geteuid() == 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	const unsigned long long net_admin = 1ull << 12, net_raw = 1ull << 13,
				 sys_admin = 1ull << 21, bpf = 1ull << 39;
	return (eff & net_admin) && (eff & net_raw) && (eff & (bpf | sys_admin));
}

int xdp_probe(int ifindex, const struct ring_config *cfg, const char **why)
{
	struct ifreq ifr;
	int rc;

	rc = xdp_if_ioctl(ifindex, SIOCGIFFLAGS, &ifr);
	if (rc < 0) {
		*why = "interface not found";
		return rc;
	}
	if (ifr.ifr_flags & IFF_LOOPBACK) {
		*why = "loopback has no XDP receive path";
		return -EOPNOTSUPP;
	}
	if (!have_caps()) {
		*why = "AF_XDP needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF";
		return -EPERM;
	}
	return 0;
}

int xdp_max_rings(int ifindex, const struct ring_config *cfg)
{
	/* A queue binds one UMEM; several rings on one queue would share fill and
	 * completion rings. One ring covers every queue of the interface. */
	return 1;
}

/* --- program and link, one per interface -------------------------------- */
/* Interfaces found owned by another program: the registry retries now and then (the
 * owner may exit), and the reason is logged once per interface. port_lock held. */
static bool busy_logged(int ifindex)
{
	static int seen[16];
	static unsigned next;

	for (unsigned i = 0; i < 16; i++)
		if (seen[i] == ifindex)
			return true;
	seen[next++ % 16] = ifindex;
	return false;
}

static int attach_prog(struct xdp_port *p, const struct ring_config *cfg, const char *ifname)
{
	int prog_fd = bpf_program__fd(p->skel->progs.shim_steer);
	static const struct { int mode; __u32 flags; const char *name; } modes[] = {
		{ RING_XDP_NATIVE, XDP_FLAGS_DRV_MODE, "native" },
		{ RING_XDP_GENERIC, XDP_FLAGS_SKB_MODE, "generic" },
	};
	int rc = -EINVAL;

	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = modes[i].flags);
		int fd;

		if (cfg->xdp_mode != RING_XDP_AUTO && cfg->xdp_mode != modes[i].mode)
			continue;
		fd = bpf_link_create(prog_fd, p->ifindex, BPF_XDP, &opts);
		if (fd >= 0) {
			p->link_fd = fd;
			p->mode = modes[i].name;
			return 0;
		}
		rc = -errno;
		if (rc == -EBUSY || rc == -EEXIST) {
			__u32 id = 0;

			if (busy_logged(p->ifindex))
				return -EBUSY;
			bpf_xdp_query_id(p->ifindex, 0, &id);
			log_warn("xdp: %s already has an XDP program (id %u, another libshim "
				 "process or tool owns it): its sockets stay with the kernel",
				 ifname, id);
			return -EBUSY;
		}
		log_dbg("xdp: %s: %s attach failed: %s", ifname, modes[i].name, strerror(-rc));
	}
	return rc;
}

/* The steering's chaining point (steer.bpf.c): a program chained ahead of it goes on
 * through slot STEER_HOOK_NEXT. Without it the steering works all the same; only a
 * chained program could not hand frames back, so it is worth a warning, not a failure. */
static void install_next(struct xdp_port *p, const char *ifname)
{
	__u32 key = STEER_HOOK_NEXT;
	int fd = bpf_program__fd(p->skel->progs.shim_steer_next);

	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.hooks), &key, &fd, BPF_ANY) < 0)
		log_warn("xdp: %s: cannot install the steering's chaining point: %s", ifname,
			 strerror(errno));
}

static void port_put_locked(struct xdp_port *p)
{
	struct xdp_port **pp;

	if (--p->refcnt > 0)
		return;
	for (pp = &ports; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	sys_close(p->link_fd);
	ring_steer_bpf__destroy(p->skel);
	free(p);
}

int xdp_port_get(int ifindex, const struct ring_config *cfg, const char *ifname,
		    struct xdp_port **out)
{
	struct xdp_port *p;
	int rc;

	pthread_mutex_lock(&port_lock);
	for (p = ports; p; p = p->next)
		if (p->ifindex == ifindex) {
			p->refcnt++;
			*out = p;
			pthread_mutex_unlock(&port_lock);
			return 0;
		}
	p = calloc(1, sizeof(*p));
	if (!p) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	p->ifindex = ifindex;
	p->refcnt = 1;
	p->skel = ring_steer_bpf__open_and_load();
	if (!p->skel) {
		rc = -errno ? -errno : -EINVAL;
		log_warn("xdp: %s: cannot load the steering program: %s", ifname,
			 strerror(-rc));
		goto out_free;
	}
	install_next(p, ifname);
	rc = attach_prog(p, cfg, ifname);
	if (rc < 0) {
		if (rc != -EBUSY)
			log_warn("xdp: %s: cannot attach XDP (%s mode): %s", ifname,
				 cfg->xdp_mode == RING_XDP_NATIVE ? "native" :
				 cfg->xdp_mode == RING_XDP_GENERIC ? "generic" : "any",
				 strerror(-rc));
		goto out_skel;
	}
	p->next = ports;
	ports = p;
	*out = p;
	log_info("xdp: %s: steering program attached in %s mode", ifname, p->mode);
	pthread_mutex_unlock(&port_lock);
	return 0;

out_skel:
	ring_steer_bpf__destroy(p->skel);
out_free:
	free(p);
out_unlock:
	pthread_mutex_unlock(&port_lock);
	return rc;
}

void xdp_port_put(struct xdp_port *p, bool forked)
{
	if (forked)	/* fork() child: the lock may have been held by a lost thread */
		pthread_mutex_init(&port_lock, NULL);
	pthread_mutex_lock(&port_lock);
	port_put_locked(p);
	pthread_mutex_unlock(&port_lock);
}

const char *xdp_port_mode(const struct xdp_port *p)
{
	return p->mode;
}

int xdp_port_set_xsk(struct xdp_port *p, uint32_t key, int fd)
{
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.xsks), &key, &fd, BPF_ANY) < 0)
		return -errno;
	return 0;
}

void xdp_port_clear_xsk(struct xdp_port *p, uint32_t key)
{
	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.xsks), &key);
}

union flow_key {
	struct steer_key5 k5;
	struct steer_key3 k3;
	__u32 group;
};

/* The key of f in our maps, and the name of the map it goes in (NULL: no such). */
static const char *flow_key(const struct ring_flow *f, union flow_key *key)
{
	memset(key, 0, sizeof(*key));
	if (f->proto != IPPROTO_UDP && f->proto != IPPROTO_TCP)
		return NULL;
	switch (f->kind) {
	case RING_FLOW_5TUPLE:
		key->k5.saddr = f->src_ip;
		key->k5.daddr = f->dst_ip;
		key->k5.sport = f->src_port;
		key->k5.dport = f->dst_port;
		key->k5.proto = f->proto;
		return "flow5";
	case RING_FLOW_3TUPLE:
		key->k3.daddr = f->dst_ip;
		key->k3.dport = f->dst_port;
		key->k3.proto = f->proto;
		return "flow3";
	case RING_FLOW_MCAST:
		key->group = f->dst_ip;
		return "mcast";
	default:
		return NULL;
	}
}

int xdp_port_flow(struct xdp_port *p, uint32_t slot, const struct ring_flow *f, bool add)
{
	struct steer_val v = { .slot = slot };
	union flow_key key;
	const char *name = flow_key(f, &key);
	struct bpf_map *m;
	int rc;

	if (!name)
		return f->kind == RING_FLOW_5TUPLE || f->kind == RING_FLOW_3TUPLE ||
		       f->kind == RING_FLOW_MCAST ? -EPROTONOSUPPORT : -EINVAL;
	m = bpf_object__find_map_by_name(p->skel->obj, name);
	if (!m)
		return -ENOENT;
	rc = add ? bpf_map_update_elem(bpf_map__fd(m), &key, &v, BPF_ANY) :
		   bpf_map_delete_elem(bpf_map__fd(m), &key);
	if (rc < 0)
		rc = -errno;
	return !add && rc == -ENOENT ? 0 : rc;
}

/* Found through the kernel, not through our handles: in a fork() child those go
 * with the inherited rings, while the program and its maps live on in the parent.
 * Only a program named like ours is touched. The map fd is taken at fork time, when
 * the child still has the parent's privileges (nginx workers drop them later); a
 * map fd works without them. */
int xdp_port_inherited_map(int ifindex, const struct ring_flow *f)
{
	union flow_key key;
	const char *name = flow_key(f, &key);
	struct bpf_prog_info info;
	__u32 prog_id = 0, map_ids[16], len = sizeof(info);
	int prog_fd, rc = -ENOENT;

	if (!name)
		return -EINVAL;
	if (bpf_xdp_query_id(ifindex, 0, &prog_id) < 0 || !prog_id)
		return -ENOENT;
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(map_ids) / sizeof(map_ids[0]);
	info.map_ids = (__u64)(uintptr_t)map_ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0) {
		rc = -errno;
		goto out;
	}
	if (strcmp(info.name, "shim_steer") != 0)
		goto out;
	for (__u32 i = 0; i < info.nr_map_ids && i < sizeof(map_ids) / sizeof(map_ids[0]); i++) {
		struct bpf_map_info mi;
		__u32 mlen = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(map_ids[i]);

		if (mfd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen) == 0 && strcmp(mi.name, name) == 0) {
			rc = mfd;
			break;
		}
		sys_close(mfd);
	}
out:
	sys_close(prog_fd);
	return rc;
}

int xdp_port_release_inherited(int map_fd, const struct ring_flow *f)
{
	union flow_key key;

	if (!flow_key(f, &key))
		return -EINVAL;
	if (bpf_map_delete_elem(map_fd, &key) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
