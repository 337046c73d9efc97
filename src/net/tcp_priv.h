/* tcp_priv.h — the engine's internal structures, shared by the tcp_*.c files and
 * the congestion controls (cc_*.c). Nothing outside net/tcp_* and net/cc_* includes it;
 * sockets see only tcp.h. */
#ifndef SHIM_NET_TCP_PRIV_H
#define SHIM_NET_TCP_PRIV_H

#include <arpa/inet.h>

#include "core/log.h"
#include "net/tcp.h"
#include "net/cc.h"
#include "net/proto/tcp.h"

/* Log a line about a connection: "tcp 10.0.0.1:80>10.0.0.2:40000 <message>". */
#define TCP_IP4_(a) ((const uint8_t *)&(a))[0], ((const uint8_t *)&(a))[1], \
		    ((const uint8_t *)&(a))[2], ((const uint8_t *)&(a))[3]
#define tcp_log(lvl, c, fmt, ...)                                                   \
	shim_log((lvl), "tcp %u.%u.%u.%u:%u>%u.%u.%u.%u:%u " fmt, TCP_IP4_((c)->laddr), \
		 ntohs((c)->lport), TCP_IP4_((c)->raddr), ntohs((c)->rport), ##__VA_ARGS__)

/* Sequence-space comparisons (RFC 9293 §3.4). */
#define SEQ_LT(a, b)	((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b)	((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b)	((int32_t)((a) - (b)) > 0)
#define SEQ_GEQ(a, b)	((int32_t)((a) - (b)) >= 0)
#define SEQ_MAX(a, b)	(SEQ_GT(a, b) ? (a) : (b))

/* A queued segment: send queue (unacked + unsent), receive queue or out-of-order
 * queue. Data is data[off .. off + len). A SYN or FIN occupies one sequence number
 * after (SYN: before) the data. */
struct tcp_seg {
	struct tcp_seg *next;
	uint32_t seq;		/* sequence number of data[off] (or of the SYN/FIN) */
	uint32_t len;		/* payload bytes */
	uint32_t off;
	uint32_t cap;		/* bytes allocated in data[] */
	uint8_t  flags;		/* TCP_SYN / TCP_FIN carried */
	uint8_t  sacked;	/* send queue: covered by a SACK block */
	uint8_t  lost;		/* send queue: deemed lost in recovery */
	uint8_t  retx;		/* send queue: retransmitted in the current episode */
	uint16_t xmits;		/* times sent */
	uint64_t xmit_us;	/* last transmission time */
	uint8_t  data[];
};

static inline uint32_t seg_seqlen(const struct tcp_seg *s)
{
	return s->len + ((s->flags & TCP_SYN) ? 1 : 0) + ((s->flags & TCP_FIN) ? 1 : 0);
}

static inline uint32_t seg_end(const struct tcp_seg *s)
{
	return s->seq + seg_seqlen(s);
}

struct tcp_segq {
	struct tcp_seg *head, *tail;
	uint32_t bytes;		/* payload bytes */
	uint32_t count;
};

/* Parsed incoming segment. */
struct tcp_parsed {
	uint32_t seq, ack;
	uint16_t wnd;
	uint8_t flags;
	const uint8_t *data;
	uint32_t len;
	/* options */
	bool has_mss, has_ws, sack_ok, has_ts;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	uint32_t sack[4][2];
};

enum tcp_timer {
	TT_RTX = 0,	/* retransmission / SYN / persist (zero window) */
	TT_DELACK,
	TT_KEEPALIVE,
	TT_CLOSE,	/* TIME_WAIT 2MSL / orphaned FIN_WAIT_2 */
	TT_CORK,	/* corked partial segment deadline */
	TT_MAX
};

#define TCP_NO_DEADLINE UINT64_MAX
#define TCP_NOT_IN_HEAP UINT32_MAX

struct tcp_conn {
	struct tcp_stack *st;
	struct tcp_conn *hnext;		/* connection hash chain */
	struct tcp_conn *all_next, *all_prev;	/* every conn of the stack */
	struct tcp_conn *parent;	/* listener, while embryonic or in accept queue */
	struct tcp_conn *qnext;		/* listener's SYN or accept queue */
	struct tcp_conn *lnext;		/* stack's listener list */
	void *user;

	enum tcp_state state;
	uint32_t laddr, raddr;
	uint16_t lport, rport;
	bool hashed, app_ref, accepted, bound, dead, in_acceptq;
	bool passive;			/* created by a listener */

	/* listener */
	int backlog;
	struct tcp_conn *synq_head;
	struct tcp_conn *acceptq_head, *acceptq_tail;
	int synq_len, acceptq_len;
	uint64_t syn_window_us;		/* SHIM_TCP_MAX_SYN_RATE accounting */
	uint32_t syn_count;

	/* send sequence space */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint32_t snd_queued_end;	/* sequence after the last queued byte/FIN */
	/* receive sequence space */
	uint32_t irs, rcv_nxt, rcv_wnd, rcv_adv;	/* rcv_adv: right edge advertised */
	uint32_t last_ack_sent;

	/* options */
	uint16_t mss_clamp;		/* TCP_MAXSEG / config */
	uint16_t peer_mss;
	uint16_t mss;			/* effective payload per segment */
	uint8_t snd_wscale, rcv_wscale;
	bool ws_ok, ts_ok, sack_ok;
	uint32_t ts_recent, ts_offset;
	uint64_t ts_recent_us;		/* when ts_recent was set */

	/* queues */
	struct tcp_segq sndq;		/* snd_una .. queued end */
	struct tcp_seg *snd_next_seg;	/* first segment not yet sent (at snd_nxt) */
	struct tcp_segq rcvq;		/* in-order data for the application */
	struct tcp_segq oooq;		/* sorted, non-overlapping */
	uint32_t sndbuf, rcvbuf;
	uint32_t last_ooo_seq;		/* most recent out-of-order arrival, for SACK order */
	uint32_t dsack[2];		/* RFC 2883: duplicate range to report once */
	bool dsack_pending;

	/* application-side flags */
	bool fin_queued;		/* shutdown(WR)/close: FIN after the queued data */
	bool rd_shut, fin_rcvd, nodelay, cork, more_pending, keepalive;
	int linger_s;			/* -1 off */
	int so_error;
	uint32_t keepidle_s, keepintvl_s, keepcnt;
	uint32_t user_timeout_ms;	/* TCP_USER_TIMEOUT */
	uint64_t rtx_start_us;		/* first RTO of the current episode, 0 = none */

	/* RTT / RTO (RFC 6298) */
	uint32_t srtt_us, rttvar_us, rto_us;
	uint32_t min_rtt_us;
	uint8_t backoff;		/* RTO doublings since the last fresh ACK */
	uint8_t retries;		/* consecutive RTO expirations */
	uint8_t probes;			/* keepalive or window probes unanswered */
	bool rtt_valid;

	/* congestion control and recovery */
	uint32_t cwnd, ssthresh, bytes_acked;
	uint32_t dupacks;
	bool in_recovery;
	bool persist;			/* TT_RTX is the zero-window persist timer */
	bool tlp_armed;			/* TT_RTX is the tail loss probe timer */
	bool tlp_out;			/* a probe is unacknowledged (one at a time) */
	uint32_t tlp_high;		/* snd_max when the probe went out */
	uint32_t tlp_rexmit_seq;	/* segment a probe sent again (its D-SACK is no undo) */
	bool tlp_rexmit;
	bool after_rto;			/* RFC 6582: no fast recovery until snd_una passes recover */
	bool fin_sent_once;
	bool push_now;			/* cork deadline passed: send the partial segment */
	uint32_t recover;		/* snd_max when recovery started (RFC 6582) */
	uint32_t sacked_bytes, lost_bytes, retx_bytes;	/* RFC 6675 scoreboard totals */
	uint32_t high_rxt;
	uint64_t rack_xmit_us;		/* latest send time among segments known delivered */
	uint32_t prior_cwnd;
	uint32_t undo_cwnd, undo_ssthresh;	/* state before the reduction, for undo */
	uint32_t rexmit_tsval;		/* TSval of the fast retransmission */
	bool undo_possible;		/* Eifel check still open for this episode */
	uint32_t undo_retrans;		/* retransmissions not yet proven needless by D-SACK */
	uint32_t undo_lo, undo_hi;	/* sequence range of the recovery episode */
	uint8_t reordering;		/* DupThresh of this connection (3) */
	const struct cc_ops *cc;
	union cc_state ccs;

	/* delayed ACK */
	uint32_t unacked_segs;		/* full-sized segments received since our last ACK */
	uint32_t quickack;		/* ACK the next N segments immediately */
	bool ack_pending;

	/* timers */
	uint64_t timer[TT_MAX];
	uint64_t tnext;			/* earliest of timer[], the key in the stack's heap */
	uint32_t heap_idx;		/* position in st->theap, TCP_NOT_IN_HEAP when absent */
	uint64_t last_rcv_us, last_snd_us;
	uint64_t last_oow_ack_us;	/* last ACK sent for an out-of-window segment */

	/* tcp_info counters */
	uint32_t total_retrans, rcv_ooopack;
	uint64_t bytes_sent, bytes_received, bytes_retrans;
	uint32_t segs_out, segs_in;
};

struct tcp_stack {
	struct tcp_config cfg;
	struct tcp_stack_ops ops;
	void *ctx;
	uint8_t secret[16];
	struct tcp_conn **hash;
	uint32_t hash_mask;
	uint32_t hashed;		/* connections in the table (drives resizing) */
	struct tcp_conn *listeners;	/* linked by lnext */
	struct tcp_conn **theap;	/* min-heap of connections by tnext */
	uint32_t theap_len, theap_cap;
	struct tcp_conn *all;		/* every conn, listeners included */
	struct tcp_conn *dead;		/* closed and unreferenced: freed by tcp_reap() */
	struct tcp_stack_stats stats;
	long live_conns, live_bufs;
	struct tcp_seg *seg_cache;	/* recycled buffers of seg_class bytes */
	uint32_t seg_class, seg_cached;
	uint16_t next_ephemeral;
	uint64_t challenge_window_us;
	uint32_t challenge_count;
	uint64_t now;			/* cached clock for the current call */
	uint8_t scratch[TCP_HDR_MAX];
};

/* tcp_conn.c */
struct tcp_conn *tcp_conn_alloc(struct tcp_stack *st);
void tcp_conn_hash(struct tcp_conn *c);
void tcp_conn_unhash(struct tcp_conn *c);
struct tcp_conn *tcp_conn_lookup(struct tcp_stack *st, uint32_t laddr, uint16_t lport,
				 uint32_t raddr, uint16_t rport);
struct tcp_conn *tcp_listener_lookup(struct tcp_stack *st, uint32_t laddr, uint16_t lport);
void tcp_listener_add(struct tcp_conn *l);
void tcp_listener_remove(struct tcp_conn *l);
void tcp_set_state(struct tcp_conn *c, enum tcp_state s);
/* Moves to CLOSED with err (0 = quiet), flushes queues, frees when unreferenced. */
void tcp_conn_done(struct tcp_conn *c, int err);
void tcp_conn_release_if_dead(struct tcp_conn *c);
void tcp_reap(struct tcp_stack *st);
void tcp_enter_time_wait(struct tcp_conn *c);
void tcp_conn_established(struct tcp_conn *c);
int tcp_conn_start_syn(struct tcp_conn *c);
void tcp_notify(struct tcp_conn *c, unsigned ev);
void tcp_conn_init_seq(struct tcp_conn *c);
uint16_t tcp_mss_for(const struct tcp_stack *st, uint16_t clamp);

/* tcp_input.c */
int tcp_parse(const uint8_t *buf, size_t len, struct tcp_parsed *p);

/* tcp_listen.c */
void tcp_listen_input(struct tcp_conn *l, uint32_t saddr, uint32_t daddr, uint16_t sport,
		      uint16_t dport, const struct tcp_parsed *p, uint32_t iss_hint);
bool tcp_listen_child_established(struct tcp_conn *c);
void tcp_listen_unlink_child(struct tcp_conn *c);
void tcp_listen_close(struct tcp_conn *l);

/* tcp_output.c */
void tcp_output(struct tcp_conn *c);
void tcp_send_ack(struct tcp_conn *c);
void tcp_send_syn(struct tcp_conn *c);	/* SYN or SYN-ACK by state */
void tcp_send_rst(struct tcp_conn *c);
void tcp_send_probe(struct tcp_conn *c);	/* seq snd_una - 1, no data */
void tcp_send_reset_for(struct tcp_stack *st, uint32_t saddr, uint32_t daddr,
			uint16_t sport, uint16_t dport, const struct tcp_parsed *p);
void tcp_send_challenge_ack(struct tcp_conn *c);
uint32_t tcp_rcv_window(struct tcp_conn *c);
bool tcp_retransmit_seg(struct tcp_conn *c, struct tcp_seg *s);
uint16_t tcp_csum(uint32_t saddr, uint32_t daddr, const uint8_t *hdr, size_t hlen,
		  const uint8_t *data, size_t dlen);
void tcp_maybe_window_update(struct tcp_conn *c);

/* tcp_options.c */
size_t tcp_write_options(struct tcp_conn *c, uint8_t *opt, uint8_t flags);
void tcp_parse_options(const uint8_t *opt, size_t len, bool syn, struct tcp_parsed *p);
void tcp_negotiate_syn_options(struct tcp_conn *c, const struct tcp_parsed *p);
uint32_t tcp_ts_now(const struct tcp_conn *c);

/* tcp_sack.c */
uint32_t tcp_sack_update(struct tcp_conn *c, const struct tcp_parsed *p);
void tcp_sack_mark_lost(struct tcp_conn *c);
uint32_t tcp_pipe(const struct tcp_conn *c);
void tcp_sack_clear(struct tcp_conn *c);
bool tcp_sack_reneged(struct tcp_conn *c);
size_t tcp_sack_blocks(const struct tcp_conn *c, uint32_t blocks[][2], size_t max);

/* tcp_recovery.c */
void tcp_ack_newdata(struct tcp_conn *c, uint32_t acked, uint32_t prior_una, uint64_t rtt_us);
void tcp_dupack(struct tcp_conn *c);
void tcp_detect_loss(struct tcp_conn *c);
bool tcp_undo_spurious(struct tcp_conn *c, const struct tcp_parsed *p);
void tcp_dsack_undo(struct tcp_conn *c, const struct tcp_parsed *p);
void tcp_enter_recovery(struct tcp_conn *c);
void tcp_rto_recovery(struct tcp_conn *c);
void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_us);
uint32_t tcp_flight(const struct tcp_conn *c);

/* tcp_timer.c */
void tcp_timer_set(struct tcp_conn *c, enum tcp_timer t, uint64_t delay_us);
void tcp_timer_clear(struct tcp_conn *c, enum tcp_timer t);
void tcp_timer_clear_all(struct tcp_conn *c);
void tcp_rearm_rtx(struct tcp_conn *c);
void tcp_keepalive_reset(struct tcp_conn *c);
uint32_t tcp_current_rto(const struct tcp_conn *c);

/* tcp_isn.c */
uint32_t tcp_isn(const struct tcp_stack *st, uint32_t laddr, uint16_t lport,
		 uint32_t raddr, uint16_t rport, uint64_t now_us);
uint64_t tcp_siphash(const uint8_t key[16], const void *data, size_t len);

/* tcp_buf.c */
struct tcp_seg *tcp_seg_alloc(struct tcp_stack *st, uint32_t cap);
void tcp_seg_free(struct tcp_stack *st, struct tcp_seg *s);
void tcp_seg_cache_drain(struct tcp_stack *st);
void tcp_segq_push(struct tcp_segq *q, struct tcp_seg *s);
struct tcp_seg *tcp_segq_pop(struct tcp_segq *q);
void tcp_segq_purge(struct tcp_stack *st, struct tcp_segq *q);
void tcp_rcv_data(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t len,
		  bool fin);
void tcp_ooo_drain(struct tcp_conn *c);
void tcp_sndq_acked(struct tcp_conn *c, uint32_t ack, uint64_t *rtt_us);

#endif
