/* netlink.c — the control-plane mirror: libnl caches of links, IPv4 addresses, routes
 * and neighbours, filled at start and kept current by one event thread reading the
 * rtnetlink groups through nl_cache_mngr. Lookups (route.c, neigh.c) run under
 * cp_lock; every change bumps the generation so cached header templates re-resolve,
 * and wakes senders waiting for a neighbour. */
#include "net/route.h"
#include "net/netlink_priv.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"

struct cp_state cp;
struct cp_stats cp_stats;
static pthread_once_t cp_once = PTHREAD_ONCE_INIT;
static int cp_init_err = -EAGAIN;

uint32_t cp_generation(void)
{
	return __atomic_load_n(&cp.gen, __ATOMIC_ACQUIRE);
}

static void cp_changed(struct nl_cache *c, struct nl_object *o, int action, void *arg)
{
	__atomic_add_fetch(&cp.gen, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&cp_stats.events, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&cp.cond);
}

static void *cp_thread(void *arg)
{
	int fd = nl_cache_mngr_get_fd(cp.mngr);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	/* Raw ppoll: this thread must not go through the interposed poll(), and it
	 * sleeps until the kernel reports a change or cp_fini() closes the pipe. */
	struct pollfd fds[2] = { pfd, { .fd = cp.stop_pipe[0], .events = POLLIN } };
	for (;;) {
		long n = syscall(SYS_ppoll, fds, 2, NULL, NULL, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("control plane: netlink poll failed: %s", strerror(errno));
			break;
		}
		if (fds[1].revents)
			break;
		if (fds[0].revents) {
			pthread_mutex_lock(&cp.lock);
			int err = nl_cache_mngr_data_ready(cp.mngr);
			if (err < 0 && err != -NLE_AGAIN) {
				/* Lost events (buffer overrun): refill everything. */
				log_warn("control plane: netlink events lost (%s), resyncing",
					 nl_geterror(err));
				nl_cache_refill(cp.sk_sync, cp.links);
				nl_cache_refill(cp.sk_sync, cp.addrs);
				nl_cache_refill(cp.sk_sync, cp.routes);
				nl_cache_refill(cp.sk_sync, cp.neighs);
				cp_changed(NULL, NULL, 0, NULL);
			}
			pthread_mutex_unlock(&cp.lock);
		}
	}
	return NULL;
}

static void cp_do_init(void)
{
	pthread_mutexattr_t ma;
	sigset_t all, old;
	int err;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&cp.lock, &ma);
	pthread_cond_init(&cp.cond, NULL);

	cp.sk_events = nl_socket_alloc();
	cp.sk_sync = nl_socket_alloc();
	if (!cp.sk_events || !cp.sk_sync) {
		err = -ENOMEM;
		goto out_socks;
	}
	err = nl_connect(cp.sk_sync, NETLINK_ROUTE);
	if (err < 0)
		goto out_nl;
	err = nl_cache_mngr_alloc(cp.sk_events, NETLINK_ROUTE, NL_AUTO_PROVIDE, &cp.mngr);
	if (err < 0)
		goto out_nl;
	if ((err = nl_cache_mngr_add(cp.mngr, "route/link", cp_changed, NULL, &cp.links)) < 0 ||
	    (err = nl_cache_mngr_add(cp.mngr, "route/addr", cp_changed, NULL, &cp.addrs)) < 0 ||
	    (err = nl_cache_mngr_add(cp.mngr, "route/route", cp_changed, NULL, &cp.routes)) < 0 ||
	    (err = nl_cache_mngr_add(cp.mngr, "route/neigh", cp_changed, NULL, &cp.neighs)) < 0)
		goto out_mngr;
	if (pipe2(cp.stop_pipe, O_CLOEXEC) < 0) {
		err = -errno;
		goto out_mngr_errno;
	}
	/* The event thread takes no application signal. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&cp.thread, NULL, cp_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		err = -err;
		goto out_pipe;
	}
	cp.running = true;
	cp_init_err = 0;
	log_dbg("control plane: %d links, %d addresses, %d routes, %d neighbours",
		nl_cache_nitems(cp.links), nl_cache_nitems(cp.addrs), nl_cache_nitems(cp.routes),
		nl_cache_nitems(cp.neighs));
	return;

out_pipe:
	close(cp.stop_pipe[0]);
	close(cp.stop_pipe[1]);
out_mngr_errno:
	nl_cache_mngr_free(cp.mngr);
	cp.mngr = NULL;
	log_warn("control plane: %s; nothing will be offloaded", strerror(-err));
	cp_init_err = err;
	goto out_socks;
out_mngr:
	nl_cache_mngr_free(cp.mngr);
	cp.mngr = NULL;
out_nl:
	log_warn("control plane: rtnetlink: %s; nothing will be offloaded", nl_geterror(err));
	cp_init_err = -EOPNOTSUPP;
out_socks:
	if (cp.sk_sync)
		nl_socket_free(cp.sk_sync);
	cp.sk_sync = NULL;
	cp.sk_events = NULL;	/* owned by the manager once allocated */
	if (cp_init_err == -EAGAIN)
		cp_init_err = err;
}

int cp_init(void)
{
	pthread_once(&cp_once, cp_do_init);
	return cp_init_err;
}

void cp_fini(void)
{
	if (!cp.running)
		return;
	if (write(cp.stop_pipe[1], "x", 1) < 0)
		return;
	pthread_join(cp.thread, NULL);
	cp.running = false;
	close(cp.stop_pipe[0]);
	close(cp.stop_pipe[1]);
	nl_cache_mngr_free(cp.mngr);
	nl_socket_free(cp.sk_sync);
	cp.mngr = NULL;
	cp.sk_sync = NULL;
	cp_init_err = -ESHUTDOWN;
}

void cp_wait_change(uint32_t gen, int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&cp.lock);
	while (cp_generation() == gen)
		if (pthread_cond_timedwait(&cp.cond, &cp.lock, &ts))
			break;
	pthread_mutex_unlock(&cp.lock);
}

int cp_link(int ifindex, unsigned *mtu, uint8_t mac[ETHER_ALEN], bool *up, bool *loopback)
{
	struct rtnl_link *l;
	int ret = 0;

	if (!cp.running)
		return -ENODEV;
	pthread_mutex_lock(&cp.lock);
	l = rtnl_link_get(cp.links, ifindex);
	if (!l) {
		ret = -ENODEV;
		goto out;
	}
	if (mtu)
		*mtu = rtnl_link_get_mtu(l);
	if (mac) {
		struct nl_addr *a = rtnl_link_get_addr(l);
		memset(mac, 0, ETHER_ALEN);
		if (a && nl_addr_get_len(a) == ETHER_ALEN)
			memcpy(mac, nl_addr_get_binary_addr(a), ETHER_ALEN);
	}
	unsigned flags = rtnl_link_get_flags(l);
	if (up)
		*up = (flags & IFF_UP) && (flags & IFF_RUNNING);
	if (loopback)
		*loopback = flags & IFF_LOOPBACK;
	rtnl_link_put(l);
out:
	pthread_mutex_unlock(&cp.lock);
	return ret;
}

bool cp_link_is_virtual(int ifindex)
{
	struct rtnl_link *l;
	bool v = false;

	if (!cp.running)
		return false;
	pthread_mutex_lock(&cp.lock);
	l = rtnl_link_get(cp.links, ifindex);
	if (l) {
		const char *type = rtnl_link_get_type(l);
		v = type && (!strcmp(type, "veth") || !strcmp(type, "netkit"));
		rtnl_link_put(l);
	}
	pthread_mutex_unlock(&cp.lock);
	return v;
}
