/* tcp.h — libshim's TCP protocol engine (RFC 9293 and friends), independent of
 * sockets and rings. A struct tcp_stack owns connections and listeners; the IP layer
 * feeds it segments with tcp_input(), the owner drives timers with tcp_tick(), and the
 * engine hands fully built segments back through ops->output and reports state changes
 * through ops->event. Addresses and ports are in network byte order throughout.
 * A stack is single-threaded: its owner serialises every call, and the output and
 * event callbacks, which run inside those calls, must not call back into the stack
 * (queue the work instead). */
#ifndef SHIM_NET_TCP_H
#define SHIM_NET_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/tcp.h>

struct tcp_stack;
struct tcp_conn;

enum tcp_state {
	TCP_ST_CLOSED = 0,
	TCP_ST_LISTEN,
	TCP_ST_SYN_SENT,
	TCP_ST_SYN_RECEIVED,
	TCP_ST_ESTABLISHED,
	TCP_ST_FIN_WAIT_1,
	TCP_ST_FIN_WAIT_2,
	TCP_ST_CLOSE_WAIT,
	TCP_ST_CLOSING,
	TCP_ST_LAST_ACK,
	TCP_ST_TIME_WAIT,
};

enum tcp_cc_algo { TCP_CC_NEWRENO = 0, TCP_CC_CUBIC = 1, TCP_CC_NONE = 2 };

/* Per-stack configuration. Start from tcp_config_default(); numeric fields left at
 * zero take the defaults, so a zeroed struct with a few fields set works too. */
struct tcp_config {
	uint32_t mtu;			/* SHIM_MTU: MSS defaults to mtu - 40 */
	uint32_t mss;			/* SHIM_MSS: 0 = from mtu */
	bool window_scaling;		/* SHIM_WINDOW_SCALING >= 0 (-1 turns it off) */
	bool wscale_fixed;		/* offer exactly wscale; otherwise size it to rcvbuf */
	uint8_t wscale;			/* 0..14 */
	bool timestamps;
	bool sack;
	int cc_algo;			/* SHIM_TCP_CC_ALGO: enum tcp_cc_algo */
	bool nodelay, quickack;		/* SHIM_TCP_NODELAY / SHIM_TCP_QUICKACK defaults */
	uint32_t max_syn_rate;		/* SHIM_TCP_MAX_SYN_RATE: SYNs/s per listener, 0 = any */
	uint32_t sndbuf;		/* default send queue limit, bytes */
	uint32_t rcvbuf;		/* default receive queue limit, bytes */
	uint32_t ooo_max_bytes;		/* out-of-order queue limit per connection (0 = rcvbuf) */
	uint32_t max_tx_segs;		/* send queue limit in segments (SHIM_TX_SEGS_TCP) */
	uint32_t init_cwnd_segs;	/* RFC 6928: 10 */
	uint32_t rto_min_us;		/* Linux: 200 ms */
	uint32_t rto_max_us;		/* 120 s */
	uint32_t rto_init_us;		/* RFC 6298: 1 s */
	uint32_t delack_us;		/* 40 ms */
	uint32_t msl_us;		/* TIME_WAIT lasts 2 * msl */
	uint32_t fin_timeout_us;	/* orphaned FIN_WAIT_2 lifetime (Linux 60 s) */
	uint32_t cork_us;		/* a corked partial segment goes out after this (200 ms) */
	uint32_t syn_retries;
	uint32_t synack_retries;
	uint32_t retries2;		/* data retransmissions before ETIMEDOUT */
	uint32_t keepidle_s, keepintvl_s, keepcnt;
	uint32_t challenge_ack_limit;	/* RFC 5961 challenge ACKs per second per stack */
	uint32_t oow_ack_interval_us;	/* min gap between ACKs answering out-of-window pure
					 * ACKs on one connection (Linux tcp_invalid_ratelimit) */
	uint32_t max_syn_backlog;	/* cap on any listener's SYN queue */
	bool rx_csum_verified;		/* the caller verified the checksum already */
	uint16_t ephemeral_lo, ephemeral_hi;	/* host order: local ports for connect(port 0) */
};

void tcp_config_default(struct tcp_config *cfg);
/* Defaults overlaid with SHIM_MTU, SHIM_MSS, SHIM_WINDOW_SCALING, SHIM_TCP_CC_ALGO,
 * SHIM_TCP_NODELAY, SHIM_TCP_QUICKACK, SHIM_TCP_MAX_SYN_RATE, SHIM_TX_SEGS_TCP. */
struct shim_params;
void tcp_config_from_params(struct tcp_config *cfg, const struct shim_params *p);

/* One outgoing segment: hdr (TCP header with options, checksum filled in) followed
 * by payload. Both are only valid during the call: the callee copies them. */
struct tcp_out_pkt {
	uint32_t saddr, daddr;
	const uint8_t *hdr;
	size_t hdr_len;
	const uint8_t *payload;
	size_t payload_len;
};

/* Events reported through ops->event (a mask). */
#define TCP_EV_READABLE		0x01	/* data or EOF to read */
#define TCP_EV_WRITABLE		0x02	/* send space opened */
#define TCP_EV_CONNECTED	0x04	/* active open completed */
#define TCP_EV_ERROR		0x08	/* pending error (tcp_so_error) */
#define TCP_EV_ACCEPT		0x10	/* listener: a connection is ready to accept */
#define TCP_EV_CLOSED		0x20	/* reached CLOSED (or TIME_WAIT) */

struct tcp_stack_ops {
	void (*output)(void *ctx, const struct tcp_out_pkt *pkt);
	void (*event)(void *ctx, struct tcp_conn *c, unsigned events);
	uint64_t (*now_us)(void *ctx);	/* monotonic clock, microseconds */
};

struct tcp_stack_stats {
	uint64_t active_opens, passive_opens, attempt_fails, estab_resets;
	uint64_t in_segs, out_segs, retrans_segs, in_errs, bad_csum, out_rsts;
	uint64_t listen_overflows, listen_drops, syn_queue_drops, syn_rate_drops;
	uint64_t challenge_acks, challenge_ack_limited, paws_drops, ooo_drops, oow_acks_skipped;
	uint64_t fast_retrans, rto_timeouts, tw_reused, keepalive_timeouts;
	uint64_t dup_acks, sack_recoveries, reno_recoveries, zero_window_probes, sack_reneging;
	uint64_t tail_loss_probes, early_retrans, spurious_undos, lost_retrans;
	uint64_t ooo_queued;	/* data segments that arrived ahead of a hole and were queued */
};

struct tcp_stack *tcp_stack_create(const struct tcp_config *cfg,
				   const struct tcp_stack_ops *ops, void *ctx,
				   const uint8_t secret[16]);
/* Frees every connection without sending anything. */
void tcp_stack_destroy(struct tcp_stack *st);
const struct tcp_stack_stats *tcp_stack_stats(const struct tcp_stack *st);
/* Live connections and buffers (segments) owned by the stack: zero after teardown. */
void tcp_stack_live(const struct tcp_stack *st, long *conns, long *bufs);

/* A segment for us (TCP header + payload); saddr is the peer. The bytes are only
 * read during the call. Returns 0, or -EINVAL / -EBADMSG for malformed input. */
int tcp_input(struct tcp_stack *st, uint32_t saddr, uint32_t daddr,
	      const void *seg, size_t len);
/* Runs expired timers. */
void tcp_tick(struct tcp_stack *st);
/* Earliest timer deadline (us, ops->now_us clock), UINT64_MAX when none. */
uint64_t tcp_next_deadline(const struct tcp_stack *st);
/* The same for one connection. */
uint64_t tcp_conn_deadline(const struct tcp_conn *c);

/* --- connections --- */
/* A new CLOSED connection owned by the caller until tcp_close(). Options set before
 * connect/listen apply to the handshake (TCP_OPT_MAXSEG, buffers). */
int tcp_conn_create(struct tcp_stack *st, struct tcp_conn **out);
void tcp_conn_set_user(struct tcp_conn *c, void *user);
void *tcp_conn_user(const struct tcp_conn *c);
/* Local address (0 = any, listeners only) and port (0 = ephemeral at connect);
 * -EADDRINUSE when a listener holds exactly this address and port. */
int tcp_bind(struct tcp_conn *c, uint32_t laddr, uint16_t lport);
/* backlog bounds the accept queue; the SYN queue holds up to twice that (at least 16)
 * and never more than cfg.max_syn_backlog. Calling it again adjusts the backlog. */
int tcp_listen(struct tcp_conn *c, int backlog);
/* Sends the SYN and returns 0 (TCP_EV_CONNECTED or TCP_EV_ERROR follow). Needs a bound
 * local address (the IP layer picks it). -EADDRINUSE when the 4-tuple is taken,
 * including a TIME_WAIT that timestamps do not allow to reuse yet. */
int tcp_connect(struct tcp_conn *c, uint32_t raddr, uint16_t rport);
/* The oldest established connection of the accept queue, or -EAGAIN. Connections that
 * completed the handshake report events only once accepted. */
int tcp_accept(struct tcp_conn *listener, struct tcp_conn **out);

#define TCP_SEND_MORE	0x1	/* MSG_MORE: hold a partial segment */
#define TCP_RECV_PEEK	0x1	/* MSG_PEEK */
/* Returns bytes queued/read, 0 at EOF (recv), or -EAGAIN, -EPIPE, -ENOTCONN,
 * -ECONNRESET, -ETIMEDOUT ... */
ssize_t tcp_send(struct tcp_conn *c, const void *buf, size_t len, int flags);
ssize_t tcp_recv(struct tcp_conn *c, void *buf, size_t len, int flags);
int tcp_shutdown(struct tcp_conn *c, int how);	/* SHUT_RD / SHUT_WR / SHUT_RDWR */
/* Releases the application's handle: graceful close, or RST when SO_LINGER is on with
 * a zero timeout or unread data remains. The engine finishes the close (FIN
 * retransmission, TIME_WAIT) and frees the connection later. A positive SO_LINGER is
 * the caller's to honour: wait until tcp_tx_queued() is 0 or the time is up, then close. */
void tcp_close(struct tcp_conn *c);
/* Sends RST (when synchronized) and drops the connection; the handle stays valid. */
void tcp_abort(struct tcp_conn *c);

enum tcp_opt {
	TCP_OPT_NODELAY, TCP_OPT_CORK, TCP_OPT_QUICKACK, TCP_OPT_KEEPALIVE,
	TCP_OPT_KEEPIDLE, TCP_OPT_KEEPINTVL, TCP_OPT_KEEPCNT, TCP_OPT_MAXSEG,
	TCP_OPT_SNDBUF, TCP_OPT_RCVBUF, TCP_OPT_LINGER /* -1 off, else seconds */,
	TCP_OPT_USER_TIMEOUT /* ms data may stay unacknowledged; 0 = retries decide */,
};
int tcp_setopt(struct tcp_conn *c, enum tcp_opt opt, int val);
int tcp_getopt(const struct tcp_conn *c, enum tcp_opt opt, int *val);

/* poll-style readiness: POLLIN / POLLOUT / POLLERR / POLLHUP / POLLRDHUP. */
unsigned tcp_poll(const struct tcp_conn *c);
/* SO_ERROR: returns and clears the pending error (0 or positive errno). */
int tcp_so_error(struct tcp_conn *c);
enum tcp_state tcp_state(const struct tcp_conn *c);
const char *tcp_state_name(enum tcp_state s);
size_t tcp_rx_avail(const struct tcp_conn *c);	/* FIONREAD */
size_t tcp_tx_queued(const struct tcp_conn *c);	/* SIOCOUTQ */
void tcp_get_info(const struct tcp_conn *c, struct tcp_info *ti);
void tcp_conn_addrs(const struct tcp_conn *c, uint32_t *laddr, uint16_t *lport,
		    uint32_t *raddr, uint16_t *rport);

#endif
