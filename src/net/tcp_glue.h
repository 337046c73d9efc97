/* tcp_glue.h — joins the TCP engine (net/tcp.h) to the rings and the IP layer for
 * the offloaded socket layer (sock/tcp_sock.c). One engine instance serves the whole
 * process under one lock: segments polled from any ring go to tcp_input(), the engine's
 * output is framed (Ethernet + IPv4 from the route and neighbour tables) straight into
 * ring TX buffers, and timers run from whichever thread is inside the library, or from
 * the internal thread when none is. */
#ifndef SHIM_NET_TCP_GLUE_H
#define SHIM_NET_TCP_GLUE_H

#include <stdbool.h>
#include <stdint.h>

#include "net/tcp.h"
#include "ring/ring.h"

/* Start the engine and the periodic task (idempotent). 0 or -errno. */
int tcp_glue_init(void);
struct tcp_stack *tcp_glue_stack(void);

/* The engine lock. Every tcp_* call on a connection is made under it. Unlock pushes
 * the frames the engine produced meanwhile to their rings in one burst per ring. */
void tcp_glue_lock(void);
void tcp_glue_unlock(void);

/* The ring serving an interface for TCP (shared by every TCP socket on it; the glue
 * holds the reference). 0 or -errno (no backend: stay with the kernel). */
int tcp_glue_ring(int ifindex, struct ring **out);
/* Steer a flow's segments to the engine, or stop. Never under the engine lock. */
int tcp_glue_attach(struct ring *r, const struct ring_flow *f);
void tcp_glue_detach(struct ring *r, const struct ring_flow *f);

/* Make the path to daddr ready for output (route, neighbour resolution, ring), waiting
 * up to timeout_ms for the neighbour. *ifindex and *src receive the output interface
 * and source address. 0, -EHOSTUNREACH, -ENETUNREACH, -EAGAIN (neighbour still
 * unknown). Not under the engine lock. */
int tcp_glue_path(uint32_t daddr, int timeout_ms, int *ifindex, uint32_t *src);

/* Application thread inside the library: poll the given rings once and run the
 * timers that are due. Returns frames received. Not under the engine lock. */
int tcp_glue_progress(struct ring *const *rings, int n);
/* Microseconds until the earliest timer (0 when due), capped at cap_us. */
uint64_t tcp_glue_timer_wait_us(uint64_t cap_us);
uint64_t tcp_glue_now_us(void);

/* Frames the output path could not send (no route, no neighbour, no TX buffer); the
 * engine retransmits them like wire losses. */
uint64_t tcp_glue_tx_drops(void);

#endif
