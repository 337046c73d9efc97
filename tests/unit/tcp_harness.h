/* tcp_harness.h — deterministic in-process harness for the TCP engine: two stacks
 * (side A 10.0.0.1, side B 10.0.0.2) joined by a fake wire that can drop (by index,
 * by rule, by probability with a fixed seed), duplicate, reorder, delay and corrupt
 * segments, driven by a fake clock the test advances. Everything is single-threaded
 * and repeatable. */
#ifndef TCP_HARNESS_H
#define TCP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/tcp.h"

#define TH_A 0
#define TH_B 1
#define TH_LOG_MAX 65536
#define TH_MAX_RULES 16

/* One segment as it was handed to the wire (before faults). */
struct th_seg {
	int from;
	uint64_t idx;		/* per-side index, 0 = first segment that side sent */
	uint64_t t_us;
	uint8_t flags;
	uint32_t seq, ack, len;
	uint16_t wnd;		/* raw field */
	bool dropped;
	/* options as parsed */
	bool has_mss, has_ws, sack_ok, has_ts;
	uint16_t mss;
	uint8_t ws, nsack;
	uint32_t tsval, tsecr;
	uint32_t sack[4][2];
};

/* Drop rule: segments from `from` (-1 any side) with (flags & mask) == val and,
 * when data is 1 / 0, carrying / not carrying payload; skip matches first, then drop
 * count of them (count < 0: all). */
struct th_rule {
	int from;
	uint8_t mask, val;
	int data;
	int skip, count;
	bool used;
};

struct th_pkt {
	struct th_pkt *next;
	int from;
	uint64_t at;
	uint64_t order;
	size_t len;
	uint8_t data[];
};

typedef bool (*th_pred)(const struct th_seg *seg, void *arg);

struct th_side {
	struct th *th;
	int id;
	struct tcp_stack *st;
	uint32_t addr;
	unsigned events;		/* OR of every event seen */
	unsigned ev_count;
	struct tcp_conn *last_ev_conn;
	uint64_t sent;
};

struct th {
	uint64_t now;
	struct th_side side[2];
	struct th_pkt *wire;		/* sorted by delivery time, then send order */
	struct th_pkt *wire_tail;
	uint64_t order;
	/* faults */
	uint64_t delay_us;		/* one-way latency */
	double loss, dup, reorder, corrupt;
	uint64_t reorder_us;		/* extra delay of a reordered segment */
	uint64_t rng;
	uint64_t drop_idx[2][64];
	int ndrop_idx[2];
	struct th_rule rules[TH_MAX_RULES];
	int nrules;
	th_pred drop_pred;
	void *drop_arg;
	bool blackhole[2];		/* drop everything a side sends */
	/* observation */
	struct th_seg *log;
	size_t nlog;
	uint64_t dropped, duplicated, corrupted, reordered, delivered;
};

/* New harness; cfg_a / cfg_b may be NULL for test defaults (small MSL so TIME_WAIT
 * ends quickly in fake time, everything else as tcp_config_default()). */
struct th *th_new(const struct tcp_config *cfg_a, const struct tcp_config *cfg_b);
/* The same with chosen ISN secrets (NULL: the harness's fixed ones). */
struct th *th_new_keyed(const struct tcp_config *cfg_a, const struct tcp_config *cfg_b,
			const uint8_t *secret_a, const uint8_t *secret_b);
/* Test defaults used when a cfg is NULL. */
void th_config(struct tcp_config *cfg);
/* Lets every timer run out (TIME_WAIT etc.), then destroys; returns the number of
 * leaked connections + buffers over both stacks (0 = clean). */
long th_finish(struct th *th);
void th_seed(struct th *th, uint64_t seed);

/* Time: run until nothing is left to do or max_us of fake time passed. */
void th_run(struct th *th, uint64_t max_us);
/* Advance the clock by exactly us, processing everything due on the way. */
void th_advance(struct th *th, uint64_t us);
/* Run until cond(arg) is true or max_us passed; returns cond's final value. */
bool th_run_until(struct th *th, bool (*cond)(void *arg), void *arg, uint64_t max_us);
bool th_idle(const struct th *th);
size_t th_in_flight(const struct th *th);

/* Faults */
void th_drop_nth(struct th *th, int from, uint64_t idx);
void th_drop_rule(struct th *th, int from, uint8_t mask, uint8_t val, int data, int skip,
		  int count);

/* Connections */
int th_listen(struct th *th, int side, uint16_t port, int backlog, struct tcp_conn **out);
int th_connect(struct th *th, int side, uint16_t port, struct tcp_conn **out);
/* Listener on B:port, client from A, run the handshake, accept: 0 on success. */
int th_establish(struct th *th, uint16_t port, struct tcp_conn **client,
		 struct tcp_conn **server, struct tcp_conn **listener);
/* Moves nbytes of a known pattern from src to dst through the wire, reading as it
 * goes; returns bytes received intact (== nbytes on success), -1 on corruption. */
long th_transfer(struct th *th, struct tcp_conn *src, struct tcp_conn *dst, size_t nbytes,
		 uint64_t max_us);
/* Reads everything available into buf (up to cap); returns bytes read. */
size_t th_drain(struct tcp_conn *c, void *buf, size_t cap);

/* Log queries */
size_t th_count(const struct th *th, int from, uint8_t mask, uint8_t val);
const struct th_seg *th_find(const struct th *th, int from, uint8_t mask, uint8_t val,
			     size_t nth);
const struct th_seg *th_last(const struct th *th, int from);
size_t th_count_data(const struct th *th, int from);

uint32_t th_addr(int side);

/* Fills in the checksum of a raw segment sent from side `from`. */
void th_fix_csum(int from, uint8_t *seg, size_t len);
/* The harness's seeded generator (for tests that randomise their own input). */
uint64_t th_random(struct th *th);

/* Fixture shared by the suites: a harness with one connection established on port 80
 * (NULL on failure), and its teardown (closes the non-NULL handles, then th_finish). */
struct th *th_setup(const struct tcp_config *a, const struct tcp_config *b,
		    struct tcp_conn **cl, struct tcp_conn **sv, struct tcp_conn **ls);
long th_teardown(struct th *th, struct tcp_conn *cl, struct tcp_conn *sv, struct tcp_conn *ls);
/* Runs a Check suite; returns the process exit status. */
struct Suite;
int th_run_suite(struct Suite *s);

/* Hands a crafted segment from side `from` (ports in host order) straight to the other
 * stack; ts = {tsval, tsecr} adds a timestamp option. Returns tcp_input()'s result. */
int th_inject(struct th *th, int from, uint16_t sport, uint16_t dport, uint8_t flags,
	      uint32_t seq, uint32_t ack, uint16_t wnd, const void *data, size_t len,
	      const uint32_t *ts);
#endif
