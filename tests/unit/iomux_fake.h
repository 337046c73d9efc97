/* iomux_fake.h — an in-process offloaded socket for the iomux tests: a real kernel UDP
 * socket on 127.0.0.1 (its kernel twin, for OS-path traffic) with an object whose
 * user-space queue is fed by a fake ring. The ring delivers when polled (after a set
 * number of polls) or when a test thread says so, exactly as a ring demux would:
 * queue, then shim_fd_wake(). */
#ifndef IOMUX_FAKE_H
#define IOMUX_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "ring/ring.h"
#include "sock/sock.h"

struct iofake_sock {
	struct shim_fd base;
	int queued;			/* datagrams in the user-space queue */
	bool writable;
	bool err;
	struct ring *ring;
	int closes, destroyed;
	uint16_t port;			/* kernel twin's port (network order) */
};

struct iofake_ring {
	struct ring r;
	struct iofake_sock *target;	/* delivers here */
	int deliver_after;		/* polls until one datagram arrives; -1 never */
	int polls, arms;
};

struct iofake_ring *iofake_ring_new(void);
void iofake_ring_free(struct iofake_ring *fr);
/* A socket served by ring fr (may be NULL: no ring, user-space queue only),
 * installed in the fd table at its kernel fd; the test holds one reference. */
struct iofake_sock *iofake_sock_new(struct iofake_ring *fr);
/* Close it as the application would (close op, table, kernel fd). */
void iofake_sock_close(struct iofake_sock *s);
/* One datagram into the user-space queue, with the wake-up a ring demux gives. */
void iofake_deliver(struct iofake_sock *s);
/* Take one datagram from the user-space queue. */
void iofake_consume(struct iofake_sock *s);
/* Send a datagram to the socket's kernel twin (OS path). */
void iofake_send_os(struct iofake_sock *s);
/* Read one datagram from the kernel twin; true if there was one. */
bool iofake_recv_os(struct iofake_sock *s);

#endif
