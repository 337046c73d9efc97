/* tcp_sock.h — the offloaded TCP socket object, shared by tcp_sock.c (life cycle,
 * connect, close), tcp_sock_opt.c (options), tcp_sock_listen.c (listen, accept) and
 * tcp_sock_io.c (send, receive, waiting, readiness). The kernel socket at base.fd always exists: it
 * reserves the port and is the socket whenever the connection is not offloaded. */
#ifndef SHIM_SOCK_TCP_SOCK_H
#define SHIM_SOCK_TCP_SOCK_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/stats.h"
#include "net/tcp.h"
#include "ring/ring.h"
#include "sock/sock.h"

#define TCP_SOCK_MAX_RINGS 8

enum tcp_sock_mode {
	TS_UNDECIDED,	/* no connect/listen yet: every call is the kernel's */
	TS_OFFLOAD,	/* served by the engine */
	TS_KERNEL,	/* decided: pass-through for good */
};

struct tcp_sock {
	struct shim_fd base;		/* first: the fd table sees this */
	pthread_mutex_t lock;		/* connect/listen/close/options (slow path) */
	int mode;			/* enum tcp_sock_mode */
	bool listener;
	struct tcp_conn *conn;		/* engine connection or listener, under the glue lock */

	/* steering: one 5-tuple flow for a connection, 3-tuple flows for a listener */
	int nrings;
	struct ring *rings[TCP_SOCK_MAX_RINGS];	/* the glue's rings (not referenced) */
	struct ring_flow flows[TCP_SOCK_MAX_RINGS];
	bool steered;
	/* fork() child of a listener's owner: the flows above (on these interfaces)
	 * still bring the listener's SYNs to the parent's ring until this process uses
	 * the socket, which then takes them away (tcp_sock_atfork_child) */
	struct ring_inherited *inherited;
	bool fork_warn;			/* a child's copy of a connection: not yet said */

	uint32_t laddr, raddr;		/* network order */
	uint16_t lport, rport;

	bool user_sndbuf, user_rcvbuf;	/* set explicitly: the engine takes them */
	int user_maxseg;
	struct tcp_sock *parent;	/* listener an accepted socket came from (options) */
	bool accepted;			/* came from accept() (else connect()) */

	int64_t rcvtimeo_ns, sndtimeo_ns;	/* 0 = none */
	int sleepers;			/* threads asleep on wake_efd (atomic) */
	int wake_efd;			/* eventfd poked by engine events; -1 until needed */

	/* after close(): the connection finishes in the background */
	bool orphan;
	bool finished;			/* engine reached CLOSED/TIME_WAIT (glue lock) */
	int hold_fd;			/* duplicate of the kernel socket: keeps the port */
	uint64_t orphan_deadline_us;
	struct tcp_sock *orphan_next;

	struct shim_sock_stats *st;
};

static inline struct tcp_sock *tcp_sk(struct shim_fd *f) { return (struct tcp_sock *)f; }

/* Called by the glue under its lock for every engine event of a connection whose
 * user pointer is a tcp_sock. Must not block. */
void tcp_sock_event(void *user, struct tcp_conn *c, unsigned events);
/* Release closed connections whose engine side is done (outside the glue lock). */
void tcp_sock_reap(void);

/* tcp_sock_opt.c */
int tcp_sock_setsockopt(struct shim_fd *f, int level, int name, const void *val, socklen_t len);
int tcp_sock_getsockopt(struct shim_fd *f, int level, int name, void *val, socklen_t *len);

/* tcp_sock.c */
extern const struct fd_ops tcp_sock_ops;
struct tcp_sock *tcp_sock_alloc(int fd, int type, int protocol);
/* Copy the kernel socket's options (set before the connection existed) into it. */
void tcp_sock_inherit_opts(struct tcp_sock *s, int from_fd);
void tcp_sock_fit_rcvbuf(struct tcp_sock *s);
void tcp_sock_to_kernel(struct tcp_sock *s);
/* Make a connection's kernel twin a listener, which select/poll/epoll see idle. */
void tcp_sock_quiet_twin(int kfd);
int tcp_sock_steer(struct tcp_sock *s, struct ring *const *rings, const struct ring_flow *flows, int n);
void tcp_sock_update_stats(struct tcp_sock *s);
/* Refresh the socket's TCP stats (state, RTT, cwnd, queues); glue lock held. */
void tcp_sock_stats_locked(struct tcp_sock *s);

/* tcp_sock_io.c */
ssize_t tcp_sock_recvmsg(struct shim_fd *f, struct msghdr *msg, int flags);
ssize_t tcp_sock_sendmsg(struct shim_fd *f, const struct msghdr *msg, int flags);
unsigned tcp_sock_poll_ready(struct shim_fd *f, unsigned events);
/* Wait until tcp_poll() of the connection shows any of events (POLLERR/POLLHUP
 * always count), spinning SHIM_RX_POLL times on the rings first, then sleeping on
 * the ring wake fds (and kfd when >= 0). timeout_ns < 0: no limit. 0 when ready,
 * -EAGAIN on timeout, -EINTR for a signal the kernel would return it for. */
#define TCP_SOCK_WAIT_DRAINED 0x10000	/* everything sent was acknowledged, or closed */
int tcp_sock_wait(struct tcp_sock *s, unsigned events, int64_t timeout_ns, int kfd);
/* Poll the socket's rings once (and due timers). */
void tcp_sock_progress(struct tcp_sock *s);

/* tcp_sock_listen.c */
int tcp_sock_listen(struct shim_fd *f, int backlog);
int tcp_sock_accept4(struct shim_fd *f, struct sockaddr *addr, socklen_t *len, int flags);

#endif
