/* udp_sock.c — the UDP socket object: offload decisions by role (udp_receiver at
 * bind, udp_sender per destination at first send, udp_connect at connect), the
 * kernel socket kept in step (every bind, connect, shutdown and option goes to it
 * first, so its answers and errno are the kernel's), and the send path: a cached
 * header template per destination, built from route and neighbour, sent through the
 * interface's ring; everything not offloadable goes through the kernel socket. */
#include "sock/udp_sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "core/log.h"
#include "core/params.h"
#include "core/rules.h"
#include "intercept/intercept.h"
#include "net/mcast.h"
#include "net/route.h"
#include "net/udp.h"

#define NEIGH_WAIT_MS 50	/* a blocking first send waits this long for ARP */
/* A template in use is checked against the tables this often even without a change
 * event: a stale neighbour entry is then handed back to the kernel to confirm (our
 * traffic bypasses the kernel, which would otherwise never probe it again). */
#define DST_RECHECK_NS (5ull * 1000000000u)

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const struct fd_ops udp_ops;

static struct sockaddr_in sin_of(uint32_t a, uint16_t p)
{
	return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = p, .sin_addr.s_addr = a };
}

/* Re-read the kernel socket's local address (bind, autobind, connect, disconnect). */
static void refresh_local(struct udp_sock *s)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (sys_getsockname(s->base.fd, (struct sockaddr *)&sa, &len) == 0 && sa.sin_family == AF_INET) {
		s->laddr = sa.sin_addr.s_addr;
		s->lport = sa.sin_port;
		s->bound = sa.sin_port != 0;
	}
	STAT_SET(s->st, bound_addr, s->laddr);
	STAT_SET(s->st, bound_port, ntohs(s->lport));
}

static void update_q_limit(struct udp_sock *s)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (sys_getsockopt(s->base.fd, SOL_SOCKET, SO_RCVBUF, &v, &len) < 0)
		v = 0;
	uint64_t lim = (uint64_t)(v > 0 ? v : 0);
	if (lim < (uint64_t)shim_params.rx_bytes_min)
		lim = (uint64_t)shim_params.rx_bytes_min;
	__atomic_store_n(&s->q_limit, lim, __ATOMIC_RELAXED);
	STAT_SET(s->st, rx_bytes_limit, lim);
}

static const struct fd_ops udp_ops_rx_kernel;

/* A bound socket whose receive side stayed with the kernel (loopback, rules, no
 * backend) receives through plain libc calls: its object drops the receive op, so
 * recv/recvfrom/read cost one table lookup, as for any socket we do not offload. It
 * gets the op back when rings attach (connect). Unbound sockets keep it: another
 * thread's first send may give them rings while a receiver waits. */
static const struct fd_ops udp_ops_inherited;

static void rx_ops_sync(struct udp_sock *s)
{
	/* A socket bound to a group address, or that joined a group, waits in our
	 * receive call, where a join can wake it. */
	bool kernel_rx = s->os_only || (s->bound && !udp_mc_waits(s) && !__atomic_load_n(&s->nrx, __ATOMIC_ACQUIRE) &&
					!__atomic_load_n(&s->q_head, __ATOMIC_ACQUIRE));
	const struct fd_ops *want = kernel_rx ? &udp_ops_rx_kernel : &udp_ops;

	if (__atomic_load_n(&s->inherited, __ATOMIC_ACQUIRE))
		want = &udp_ops_inherited;

	if (__atomic_load_n(&s->base.ops, __ATOMIC_ACQUIRE) != want)
		fdt_set_ops(&s->base, want);
}

/* After every offload decision: the stats and the receive path follow it. */
static void publish_state(struct udp_sock *s)
{
	bool any = s->rx_offloaded || __atomic_load_n(&s->nrx, __ATOMIC_RELAXED);
	for (int i = 0; i < UDP_DST_CACHE && !any; i++)
		any = s->dst[i].state == UDP_DST_OFFLOAD;
	STAT_SET(s->st, offloaded, any);
	STAT_SET(s->st, ring, s->nrx ? (uint64_t)s->rx_rings[0]->index : ~0ull);
	rx_ops_sync(s);
}

void udp_sock_rx_changed(struct udp_sock *s)
{
	shim_fd_rings_changed(&s->base);
	publish_state(s);
	udp_sock_kick(s);
}

static void count_decision(bool offload)
{
	if (offload)
		STAT_INC_MT(stats_global(), sockets_offloaded);
	else
		STAT_INC_MT(stats_global(), sockets_os);
}

/* ---- receive side: udp_receiver and udp_connect ---- */

static void rx_detach(struct udp_sock *s)
{
	int had = __atomic_exchange_n(&s->nrx, 0, __ATOMIC_ACQ_REL);

	udp_group_leave(s);
	udp_conn_detach(s);
	mc_sock_unregister(s);
	s->rx_offloaded = false;
	if (had)
		shim_fd_rings_changed(&s->base);
}

/* A new connected ring: the previous one (if any) is no longer polled by anyone. */
static void hold_conn_ring(struct udp_sock *s, struct ring *r)
{
	struct ring *old = s->conn_ring_held;

	s->conn_ring_held = r;
	if (old)
		ring_put(old);
}

/* Bound to a group address: it hears only that group, on the rings its joins (or
 * those of the process, IP_MULTICAST_ALL) steer it to. */
static void rx_offload_group_bound(struct udp_sock *s)
{
	struct sockaddr_in local = sin_of(s->laddr, s->lport);
	bool off = rules_offload(SHIM_ROLE_UDP_RECEIVER, &local, NULL);

	count_decision(off);
	if (!off)
		return;
	udp_frag_init();
	s->rx_offloaded = true;
	update_q_limit(s);
	mc_sock_register(s);
	udp_sock_kick(s);
	log_dbg("udp fd %d: receiving group %s:%u offloaded", s->base.fd,
		inet_ntoa((struct in_addr){ s->laddr }), ntohs(s->lport));
}

/* Join the (address, port) group on every interface the bound address covers. */
static void rx_offload_bound_addr(struct udp_sock *s)
{
	int ifs[UDP_MAX_RX_RINGS], n = 0;
	struct ring *rings[UDP_MAX_RX_RINGS];
	int nr = 0;

	if (s->os_only || !s->bound)
		return;
	uint32_t host = ntohl(s->laddr);
	if ((host >> 24) == 127)
		return;		/* loopback stays with the kernel */
	if (cp_init())		/* only now: the control plane runs a thread of its own */
		return;
	if ((host >> 28) == 0xe) {
		rx_offload_group_bound(s);
		return;
	}
	if (s->laddr) {
		int idx = cp_addr_ifindex(s->laddr);
		bool lo = true;
		if (idx <= 0 || cp_link(idx, NULL, NULL, NULL, &lo) < 0 || lo)
			return;
		ifs[n++] = idx;
	} else {
		n = cp_offload_ifaces(ifs, UDP_MAX_RX_RINGS);
	}
	if (s->bound_if) {
		int k = 0;
		for (int i = 0; i < n; i++)
			if (ifs[i] == s->bound_if)
				ifs[k++] = ifs[i];
		n = k;
	}
	if (!n)
		return;
	struct sockaddr_in local = sin_of(s->laddr, s->lport);
	bool off = rules_offload(SHIM_ROLE_UDP_RECEIVER, &local, NULL);
	count_decision(off);
	if (!off)
		return;
	for (int i = 0; i < n; i++) {
		struct ring *r;
		if (ring_get(ifs[i], RING_RX, s->base.fd, &r) == 0)
			rings[nr++] = r;
	}
	if (!nr) {
		STAT_INC_MT(stats_global(), no_backend);
		return;
	}
	udp_frag_init();
	int err = udp_group_join(s, s->laddr, s->lport, s->reuseport, rings, nr);
	if (err) {
		log_dbg("udp fd %d: receive offload failed: %s", s->base.fd, strerror(-err));
		return;
	}
	s->rx_offloaded = true;
	update_q_limit(s);
	shim_fd_rings_changed(&s->base);
	udp_sock_kick(s);
	log_dbg("udp fd %d: receiving %s:%u offloaded on %d ring(s)", s->base.fd,
		inet_ntoa((struct in_addr){ s->laddr }), ntohs(s->lport), nr);
}

/* After bind (and disconnect): the unicast decision, then, for a socket bound to
 * INADDR_ANY, the groups: each one it joins is decided by the rules on its own
 * (udp_receiver GROUP:PORT, as VMA does), whatever the port's unicast decision. */
static void rx_offload_bound(struct udp_sock *s)
{
	rx_offload_bound_addr(s);
	if (!s->os_only && s->bound && !s->laddr && !s->connected && !cp_init())
		mc_sock_register(s);
}

static void rx_offload_connected(struct udp_sock *s)
{
	struct cp_path p;
	struct ring *r;

	if (s->os_only || cp_init())
		return;
	if (cp_route(s->raddr, s->bound_if, &p) || p.type != CP_DEST_UNICAST)
		return;
	struct sockaddr_in local = sin_of(s->laddr, s->lport), remote = sin_of(s->raddr, s->rport);
	bool off = rules_offload(SHIM_ROLE_UDP_CONNECT, &local, &remote);
	count_decision(off);
	if (!off)
		return;
	if (ring_get(p.ifindex, RING_RX, s->base.fd, &r)) {
		STAT_INC_MT(stats_global(), no_backend);
		return;
	}
	udp_frag_init();
	if (udp_conn_attach(s, r, s->laddr, s->lport, s->raddr, s->rport)) {
		ring_put(r);
		return;
	}
	hold_conn_ring(s, r);
	s->rx_rings[0] = r;
	__atomic_store_n(&s->nrx, 1, __ATOMIC_RELEASE);
	s->rx_offloaded = true;
	update_q_limit(s);
	shim_fd_rings_changed(&s->base);
	udp_sock_kick(s);
}

/* ---- destinations (send side) ---- */

/* Destinations borrow their ring from the socket's TX ring set, which holds one
 * reference per interface until destroy: a sender that copied a ring pointer keeps
 * using it safely while another thread evicts or rebuilds the destination. */
static void dst_release(struct udp_dst *d)
{
	memset(d, 0, sizeof(*d));
}

/* dst_lock held. The socket's TX ring for ifindex, opened on first use. */
static int tx_ring_for(struct udp_sock *s, int ifindex, struct ring **out)
{
	for (int i = 0; i < s->ntx; i++)
		if (s->tx_rings[i]->ifindex == ifindex) {
			*out = s->tx_rings[i];
			return 0;
		}
	if (s->ntx == UDP_MAX_TX_RINGS)
		return -ENOSPC;
	int err = ring_get(ifindex, RING_TX, s->base.fd, out);
	if (err)
		return err;
	s->tx_rings[s->ntx++] = *out;
	return 0;
}

static void tx_rings_put(struct udp_sock *s)
{
	for (int i = 0; i < s->ntx; i++)
		ring_put(s->tx_rings[i]);
	s->ntx = 0;
}

static struct udp_dst *dst_slot(struct udp_sock *s, uint32_t daddr, uint16_t dport)
{
	uint32_t h = (daddr ^ (daddr >> 16) ^ dport) * 0x9e3779b1u;
	return &s->dst[h >> 29];	/* UDP_DST_CACHE == 8 */
}

/* Decide and build the path to a destination. Called with dst_lock held. */
static void dst_resolve(struct udp_sock *s, struct udp_dst *d, uint32_t daddr, uint16_t dport, bool fresh)
{
	struct cp_path p;
	struct ring *r = NULL;
	uint32_t gen = cp_generation();

	if (fresh) {
		dst_release(d);
		d->daddr = daddr;
		d->dport = dport;
		struct sockaddr_in local = sin_of(s->laddr, s->lport), remote = sin_of(daddr, dport);
		if (s->os_only || cp_init())
			d->rules_offload = false;
		else if (s->connected && daddr == s->raddr && dport == s->rport)
			d->rules_offload = rules_offload(SHIM_ROLE_UDP_CONNECT, &local, &remote);
		else
			d->rules_offload = rules_offload(SHIM_ROLE_UDP_SENDER, &local, &remote);
		count_decision(d->rules_offload);
	}
	d->cp_gen = gen;
	d->opt_gen = s->opt_gen;
	d->checked_ns = coarse_ns();
	d->state = UDP_DST_KERNEL;
	if (!d->rules_offload)
		return;
	bool mcast = (ntohl(daddr) >> 28) == 0xe;
	if (mcast) {
		/* TTL 0 only loops back (the kernel's job); loopback devices are not ours. */
		bool lo = true;
		if (!s->mc_ttl || udp_mc_path(s, daddr, dport, &p.ifindex, &p.src) ||
		    cp_link(p.ifindex, &p.mtu, NULL, NULL, &lo) < 0 || lo)
			return;
	} else {
		if (cp_route(daddr, s->bound_if, &p) || p.type != CP_DEST_UNICAST)
			return;		/* same host, broadcast, unreachable: the kernel */
		if (s->laddr && s->laddr != p.src) {
			/* Bound to one address: it must be on the output interface. */
			if (cp_addr_ifindex(s->laddr) != p.ifindex)
				return;
			p.src = s->laddr;
		}
	}
	if (tx_ring_for(s, p.ifindex, &r)) {
		STAT_INC_MT(stats_global(), no_backend);
		return;
	}
	d->ring = r;
	d->ifindex = p.ifindex;
	d->mtu = p.mtu && p.mtu < r->mtu ? p.mtu : (r->mtu ? r->mtu : p.mtu);
	if (d->mtu < 68)
		return;

	struct net_tmpl_args a = { .saddr = p.src, .daddr = daddr, .sport = s->lport, .dport = dport,
				   .tos = s->tos, .ttl = mcast ? s->mc_ttl : s->ttl };
	memcpy(a.smac, ring_mac(r), ETHER_ALEN);
	d->mcast = mcast;
	if (mcast) {
		/* RFC 1112 6.4: 01:00:5e and the group's low 23 bits; no neighbour. */
		uint32_t g = ntohl(daddr);
		const uint8_t mac[ETHER_ALEN] = { 0x01, 0x00, 0x5e, (uint8_t)(g >> 16 & 0x7f),
						  (uint8_t)(g >> 8), (uint8_t)g };
		memcpy(a.dmac, mac, ETHER_ALEN);
		if (fresh)
			mc_wait_after_join(daddr);
		if (fresh && s->mc_loop)
			log_dbg("udp fd %d: sending to group %s through a ring: loopback copies reach this process's sockets only, not receivers in other processes on this host",
				s->base.fd, inet_ntoa((struct in_addr){ daddr }));
		net_tmpl_init(&d->tmpl, &a);
		d->state = UDP_DST_OFFLOAD;
		__atomic_store_n(&s->tx_offloaded, true, __ATOMIC_RELAXED);
		return;
	}
	int err = cp_neigh_lookup(p.ifindex, p.nexthop, a.dmac);
	if (err == -EAGAIN && !s->base.nonblock && fresh) {
		/* First datagram to a new neighbour: wait a little for the kernel's ARP. */
		uint64_t until = net_now_ns() + NEIGH_WAIT_MS * 1000000ull;
		while (err == -EAGAIN && net_now_ns() < until) {
			uint32_t g = cp_generation();
			cp_wait_change(g, 5);
			err = cp_neigh_lookup(p.ifindex, p.nexthop, a.dmac);
		}
	}
	if (err) {
		/* Unresolved: this datagram goes through the kernel (which queues it
		 * behind its own ARP); the next send looks again. */
		d->state = UDP_DST_PENDING;
		d->cp_gen = gen - 1;
		return;
	}
	net_tmpl_init(&d->tmpl, &a);
	d->state = UDP_DST_OFFLOAD;
	__atomic_store_n(&s->tx_offloaded, true, __ATOMIC_RELAXED);
}

/* Bind the kernel socket to an ephemeral port before the first offloaded send, as
 * the kernel's autobind would, so replies find the port. */
static int ensure_bound(struct udp_sock *s)
{
	struct sockaddr_in any = { .sin_family = AF_INET };

	if (s->bound)
		return 0;
	if (sys_bind(s->base.fd, (struct sockaddr *)&any, sizeof(any)) < 0 && errno != EINVAL)
		return -errno;
	refresh_local(s);
	if (!s->bound)
		return -EADDRNOTAVAIL;
	if (!s->rx_offloaded && !s->connected)
		rx_offload_bound(s);
	publish_state(s);
	return 0;
}

/* ---- ops ---- */

static int udp_bind(struct shim_fd *f, const struct sockaddr *addr, socklen_t len)
{
	struct udp_sock *s = udp_sk(f);

	if (sys_bind(f->fd, addr, len) < 0)
		return -errno;
	pthread_mutex_lock(&s->lock);
	refresh_local(s);
	if (!s->rx_offloaded && !s->connected)
		rx_offload_bound(s);
	publish_state(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int udp_connect(struct shim_fd *f, const struct sockaddr *addr, socklen_t len)
{
	struct udp_sock *s = udp_sk(f);

	if (sys_connect(f->fd, addr, len) < 0)
		return -errno;
	pthread_mutex_lock(&s->lock);
	/* Whatever the new peer, the receive flows change: leave the old ones. */
	rx_detach(s);
	if (addr->sa_family == AF_UNSPEC) {
		s->connected = false;
		s->raddr = 0;
		s->rport = 0;
		refresh_local(s);
		if (s->bound)
			rx_offload_bound(s);
	} else {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
		s->connected = true;
		s->raddr = sin->sin_addr.s_addr;
		s->rport = sin->sin_port;
		refresh_local(s);
		rx_offload_connected(s);
	}
	/* Templates carry the local address and port, which connect and disconnect may
	 * change, and the peer is decided again under udp_connect: start afresh. */
	pthread_mutex_lock(&s->dst_lock);
	for (int i = 0; i < UDP_DST_CACHE; i++)
		dst_release(&s->dst[i]);
	pthread_mutex_unlock(&s->dst_lock);
	STAT_SET(s->st, connected_addr, s->raddr);
	STAT_SET(s->st, connected_port, ntohs(s->rport));
	publish_state(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int udp_shutdown(struct shim_fd *f, int how)
{
	struct udp_sock *s = udp_sk(f);

	int err = sys_shutdown(f->fd, how) < 0 ? -errno : 0;

	/* The kernel marks an unconnected UDP socket shut even as it says ENOTCONN. */
	if (err && err != -ENOTCONN)
		return err;
	if (how == SHUT_RD || how == SHUT_RDWR)
		__atomic_store_n(&s->shut_rd, true, __ATOMIC_RELEASE);
	if (how == SHUT_WR || how == SHUT_RDWR)
		__atomic_store_n(&s->shut_wr, true, __ATOMIC_RELEASE);
	return err;
}

static int64_t tv_ns(const void *val, socklen_t len)
{
	struct timeval tv;

	if (len < sizeof(tv))
		return 0;
	memcpy(&tv, val, sizeof(tv));
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static int udp_setsockopt(struct shim_fd *f, int level, int name, const void *val, socklen_t len)
{
	struct udp_sock *s = udp_sk(f);
	int v = 0;

	if (sys_setsockopt(f->fd, level, name, val, len) < 0)
		return -errno;
	if (val && len >= sizeof(int))
		memcpy(&v, val, sizeof(int));
	else if (val && len >= 1)
		v = *(const uint8_t *)val;
	pthread_mutex_lock(&s->lock);
	if (level == SOL_SOCKET) {
		switch (name) {
		/* The kernel's flags: TIMESTAMPNS sets both, TIMESTAMP clears the ns one. */
		case SO_TIMESTAMP: s->ts_us = v; s->ts_ns = false; break;
		case SO_TIMESTAMPNS: s->ts_ns = v; s->ts_us = v; break;
		case SO_REUSEPORT: s->reuseport = v; break;
		case SO_RCVBUF: case SO_RCVBUFFORCE: update_q_limit(s); break;
		case SO_RCVTIMEO: s->rcvtimeo_ns = tv_ns(val, len); break;
		case SO_SNDTIMEO: s->sndtimeo_ns = tv_ns(val, len); break;
		case SO_BINDTODEVICE: {
			char name_buf[IF_NAMESIZE + 1] = { 0 };
			memcpy(name_buf, val, len < IF_NAMESIZE ? len : IF_NAMESIZE);
			s->bound_if = name_buf[0] ? (int)if_nametoindex(name_buf) : 0;
			s->opt_gen++;
			break;
		}
		}
	} else if (level == IPPROTO_IP) {
		int cur = 0;
		socklen_t cl = sizeof(cur);
		switch (name) {
		case IP_TOS:
			/* Read back: the kernel masks what it accepts. */
			if (sys_getsockopt(f->fd, IPPROTO_IP, IP_TOS, &cur, &cl) == 0)
				s->tos = (uint8_t)cur;
			s->opt_gen++;
			break;
		case IP_TTL:
			if (sys_getsockopt(f->fd, IPPROTO_IP, IP_TTL, &cur, &cl) == 0)
				s->ttl = (uint8_t)cur;
			s->opt_gen++;
			break;
		case IP_PKTINFO: s->pktinfo = v; break;
		case IP_RECVTOS: s->recvtos = v; break;
		case IP_RECVTTL: s->recvttl = v; break;
		default:
			if (udp_mc_setsockopt(s, name, val, len))
				publish_state(s);
			break;
		}
	} else if (level == IPPROTO_UDP && name == 1 /* UDP_CORK */) {
		/* Corked datagrams are assembled by the kernel: send through it. */
		s->corked = v;
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int udp_ioctl(struct shim_fd *f, unsigned long req, void *arg)
{
	struct udp_sock *s = udp_sk(f);

	if (req == FIONREAD && arg) {
		/* Size of the next datagram, ours first (the kernel's answer otherwise). */
		pthread_spin_lock(&s->qlock);
		int n = s->q_head ? (int)udp_meta_len(s->q_head) : -1;
		pthread_spin_unlock(&s->qlock);
		if (n >= 0) {
			*(int *)arg = n;
			return 0;
		}
	}
	if (sys_ioctl(f->fd, req, arg) < 0)
		return -errno;
	if (req == FIONBIO && arg)
		f->nonblock = *(int *)arg != 0;
	return 0;
}

static int udp_close(struct shim_fd *f)
{
	struct udp_sock *s = udp_sk(f);

	pthread_mutex_lock(&s->lock);
	rx_detach(s);
	pthread_mutex_unlock(&s->lock);
	udp_sock_flush_queue(s);
	ring_kick_deferred(true);	/* what it sent goes out now, not at the next tick */
	shim_fd_wake(f, SHIM_WAKE_CLOSE);
	return 0;
}

static int udp_rx_rings(struct shim_fd *f, struct ring **out, int max)
{
	struct udp_sock *s = udp_sk(f);
	int n = __atomic_load_n(&s->nrx, __ATOMIC_ACQUIRE);

	for (int i = 0; i < n && i < max; i++)
		out[i] = s->rx_rings[i];
	return n;
}

static void udp_destroy(struct shim_fd *f)
{
	struct udp_sock *s = udp_sk(f);

	ring_inherited_free(&s->inherited);
	rx_detach(s);
	udp_sock_flush_queue(s);
	udp_group_release(s);
	mc_sock_release(s);
	hold_conn_ring(s, NULL);
	for (int i = 0; i < UDP_DST_CACHE; i++)
		dst_release(&s->dst[i]);
	tx_rings_put(s);
	stats_sock_close(s->st);
	pthread_spin_destroy(&s->qlock);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->dst_lock);
	if (s->wake_efd >= 0)
		sys_close(s->wake_efd);
	free(s);
}

/* ---- send ---- */

static ssize_t os_send(struct udp_sock *s, const struct msghdr *msg, int flags)
{
	ssize_t r = sys_sendmsg(s->base.fd, msg, flags);

	if (r < 0) {
		r = -errno;
		if (r == -EAGAIN)
			STAT_INC(s->st, tx_os_eagain);
		else
			STAT_INC(s->st, tx_os_errors);
		return r;
	}
	STAT_INC(s->st, tx_os_packets);
	STAT_ADD(s->st, tx_os_bytes, r);
	return r;
}

/* Through the kernel socket, after any frames a batch still holds (order kept). */
static ssize_t os_send_after(struct udp_sock *s, const struct msghdr *msg, int flags, struct ring **batch)
{
	if (batch && *batch) {
		udp_tx_flush(*batch);
		*batch = NULL;
	}
	return os_send(s, msg, flags);
}

/* One datagram. batch: NULL to send now, or where a sendmmsg keeps the ring whose
 * frames are queued and not yet pushed (pushed here when the ring changes). */
static ssize_t send_one(struct shim_fd *f, const struct msghdr *msg, int flags, struct ring **batch)
{
	struct udp_sock *s = udp_sk(f);
	uint32_t daddr;
	uint16_t dport;

	if (__builtin_expect(s->os_only || s->corked || s->shut_wr || msg->msg_controllen ||
			     (flags & (MSG_OOB | MSG_MORE | MSG_CONFIRM)), 0))
		return os_send_after(s, msg, flags, batch);
	if (msg->msg_name && msg->msg_namelen) {
		const struct sockaddr_in *sin = msg->msg_name;
		if (msg->msg_namelen < sizeof(*sin) || sin->sin_family != AF_INET)
			return os_send_after(s, msg, flags, batch);	/* the kernel's errno, AF_UNSPEC rules */
		daddr = sin->sin_addr.s_addr;
		dport = sin->sin_port;
	} else if (s->connected) {
		daddr = s->raddr;
		dport = s->rport;
	} else {
		return os_send_after(s, msg, flags, batch);	/* EDESTADDRREQ from the kernel */
	}
	if (!dport || msg->msg_iovlen > UIO_MAXIOV)
		return os_send_after(s, msg, flags, batch);
	size_t len = iov_total(msg->msg_iov, (int)msg->msg_iovlen);
	if (len > UDP_MAX_PAYLOAD)
		return -EMSGSIZE;

	pthread_mutex_lock(&s->dst_lock);
	if (__builtin_expect(!s->bound, 0)) {
		pthread_mutex_lock(&s->lock);
		int err = ensure_bound(s);
		pthread_mutex_unlock(&s->lock);
		if (err) {
			pthread_mutex_unlock(&s->dst_lock);
			return os_send_after(s, msg, flags, batch);
		}
	}
	struct udp_dst *d = dst_slot(s, daddr, dport);
	if (__builtin_expect(d->state == UDP_DST_EMPTY || d->daddr != daddr || d->dport != dport, 0)) {
		dst_resolve(s, d, daddr, dport, true);
		pthread_mutex_lock(&s->lock);
		publish_state(s);
		pthread_mutex_unlock(&s->lock);
	} else if (__builtin_expect(d->cp_gen != cp_generation() || d->opt_gen != s->opt_gen ||
				    coarse_ns() - d->checked_ns > DST_RECHECK_NS, 0)) {
		dst_resolve(s, d, daddr, dport, false);
	}
	if (d->state != UDP_DST_OFFLOAD) {
		pthread_mutex_unlock(&s->dst_lock);
		return os_send_after(s, msg, flags, batch);
	}
	struct ring *r = d->ring;
	unsigned mtu = d->mtu;
	struct net_tmpl t = d->tmpl;
	bool loop = d->mcast && s->mc_loop;
	int ifindex = d->ifindex;
	pthread_mutex_unlock(&s->dst_lock);

	bool nonblock = f->nonblock || (flags & MSG_DONTWAIT);
	uint64_t deadline = 0;
	uint64_t snap = shim_signal_snapshot();
	for (;;) {
		if (batch && *batch && *batch != r) {
			udp_tx_flush(*batch);
			*batch = NULL;
		}
		int err = udp_tx_ring(r, &t, mtu, msg->msg_iov, (int)msg->msg_iovlen, (unsigned)len, !batch);
		if (!err && batch)
			*batch = r;
		if (err == 0)
			break;
		if (err == -EMSGSIZE)
			return os_send_after(s, msg, flags, batch);	/* too many fragments for one burst */
		/* No TX buffer free: the ring's completions free them as frames leave. */
		if (nonblock) {
			if (shim_params.tx_nonblocked_eagains) {
				STAT_INC(s->st, tx_offload_eagain);
				return -EAGAIN;
			}
			STAT_INC(s->st, tx_offload_errors);	/* dropped, like a full qdisc */
			return (ssize_t)len;
		}
		if (!deadline)
			deadline = net_now_ns() + (s->sndtimeo_ns ? (uint64_t)s->sndtimeo_ns : UINT64_MAX / 2);
		if (net_now_ns() >= deadline) {
			STAT_INC(s->st, tx_offload_eagain);
			return -EAGAIN;
		}
		if (shim_signal_interrupted(snap) || (s->sndtimeo_ns && shim_signal_arrived(snap)))
			return -EINTR;
		sched_yield();
	}
	STAT_INC(s->st, tx_offload_packets);
	STAT_ADD(s->st, tx_offload_bytes, len);
	udp_sock_note_caller(s, false);
	if (loop) {
		uint32_t src;
		memcpy(&src, t.hdr + 14 + 12, sizeof(src));	/* IPv4 source of the template */
		mc_loopback(src, s->lport, daddr, dport, ifindex, s->tos, s->mc_ttl, msg->msg_iov,
			    (int)msg->msg_iovlen, len);
	}
	return (ssize_t)len;
}

static ssize_t udp_sendmsg(struct shim_fd *f, const struct msghdr *msg, int flags)
{
	return send_one(f, msg, flags, NULL);
}

/* The kernel's sendmmsg rules (count of datagrams sent; an error only when the first
 * fails), with the frames of consecutive offloaded datagrams pushed to the ring in
 * one kick. */
static int udp_sendmmsg(struct shim_fd *f, struct mmsghdr *v, unsigned n, int flags)
{
	struct ring *batch = NULL;
	unsigned i;

	if (n > UIO_MAXIOV)
		n = UIO_MAXIOV;
	for (i = 0; i < n; i++) {
		ssize_t r = send_one(f, &v[i].msg_hdr, flags, &batch);
		if (r < 0) {
			if (batch)
				udp_tx_flush(batch);
			return i ? (int)i : (int)r;
		}
		v[i].msg_len = (unsigned)r;
	}
	if (batch)
		udp_tx_flush(batch);
	return (int)i;
}

/* A fork() child receives on an inherited socket (a prefork UDP server): the
 * parent's ring would keep taking its datagrams, so its flows go back to the kernel,
 * where the parent and its children share the socket as without the library. A
 * child that never receives on it leaves the parent's offload alone. */
static void release_inherited(struct udp_sock *s)
{
	int err, n;

	if (!__atomic_load_n(&s->inherited, __ATOMIC_ACQUIRE))
		return;
	n = ring_inherited_release(&s->inherited, &err);
	if (err)
		log_warn("udp: fd %d: cannot hand port %u back to the kernel: %s; its datagrams may stay with the parent process",
			 s->base.fd, ntohs(s->lport), strerror(-err));
	if (n)
		log_info("udp: fd %d: socket inherited over fork() is received on by this process (pid %d): its datagrams now come through the kernel, for it and its parent",
			 s->base.fd, (int)getpid());
	rx_ops_sync(s);
}

static ssize_t inherited_recvmsg(struct shim_fd *f, struct msghdr *msg, int flags)
{
	release_inherited(udp_sk(f));
	return shim_fd_sys_recvmsg(f, msg, flags);
}

static void inherited_watch(struct shim_fd *f)
{
	release_inherited(udp_sk(f));
}

static void udp_atfork_child(struct shim_fd *f)
{
	struct udp_sock *s = udp_sk(f);

	/* Rings are not inherited: the child's copy of this socket is the kernel's. Ring
	 * memory belongs to the parent, so the references are simply forgotten; what
	 * steers its datagrams to the parent is kept by handle (release_inherited). */
	if (!s->os_only && (s->rx_offloaded || s->mc)) {
		udp_sock_inherit_flows(s, &s->inherited);
		if (s->inherited)
			shim_fd_needs_watch();
	}
	s->os_only = true;
	s->nrx = 0;
	s->rx_offloaded = false;
	s->group = NULL;
	s->held_group = NULL;
	/* Memberships stay the kernel's (the socket is shared); ours belong to the parent. */
	s->mc = NULL;
	s->mc_rx = false;
	s->mc_next = NULL;
	s->mc_held = NULL;
	s->mc_nheld = s->mc_capheld = 0;
	s->conn_ring = NULL;
	s->conn_ring_held = NULL;
	s->q_head = s->q_tail = NULL;
	s->q_pkts = 0;
	s->q_bytes = 0;
	s->sleepers = 0;
	s->ntx = 0;
	memset(s->dst, 0, sizeof(s->dst));
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->dst_lock, NULL);
	pthread_spin_init(&s->qlock, PTHREAD_PROCESS_PRIVATE);
	rx_ops_sync(s);
}

#define UDP_OPS_COMMON				\
	.name = "udp",				\
	.close = udp_close,			\
	.destroy = udp_destroy,			\
	.bind = udp_bind,			\
	.connect = udp_connect,			\
	.shutdown = udp_shutdown,		\
	.setsockopt = udp_setsockopt,		\
	.ioctl = udp_ioctl,			\
	.sendmsg = udp_sendmsg,			\
	.sendmmsg = udp_sendmmsg,		\
	.poll_ready = udp_sock_poll_ready,	\
	.rx_rings = udp_rx_rings,		\
	.atfork_child = udp_atfork_child

static const struct fd_ops udp_ops = {
	UDP_OPS_COMMON,
	.recvmsg = udp_sock_recvmsg,
};

static const struct fd_ops udp_ops_rx_kernel = {
	UDP_OPS_COMMON,
};

static const struct fd_ops udp_ops_inherited = {
	UDP_OPS_COMMON,
	.recvmsg = inherited_recvmsg,
	.watch = inherited_watch,
};

struct shim_fd *udp_sock_new(int fd, int type, int protocol)
{
	struct udp_sock *s = calloc(1, sizeof(*s));
	int v = 0;
	socklen_t len = sizeof(v);

	if (!s)
		return NULL;
	s->base.ops = &udp_ops;
	s->base.fd = fd;
	s->base.domain = AF_INET;
	s->base.type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	s->base.protocol = protocol;
	s->base.refcnt = 1;
	s->base.nonblock = !!(type & SOCK_NONBLOCK);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->dst_lock, NULL);
	pthread_spin_init(&s->qlock, PTHREAD_PROCESS_PRIVATE);
	s->wake_efd = -1;
	s->ttl = 64;
	if (sys_getsockopt(fd, IPPROTO_IP, IP_TTL, &v, &len) == 0)
		s->ttl = (uint8_t)v;
	s->st = stats_sock_open(fd, AF_INET, s->base.type, IPPROTO_UDP);
	STAT_SET(s->st, ring, ~0ull);
	STAT_SET(s->st, blocking, !s->base.nonblock);
	update_q_limit(s);
	udp_mc_init(s);
	return &s->base;
}
