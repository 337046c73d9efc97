/* mcast.h — offloaded IPv4 multicast receive: the memberships of each UDP socket (as
 * the kernel holds them), one steering entry per (group, interface) on a ring, and the
 * demux that gives every datagram of a group to each socket of the process the kernel
 * would deliver it to (port, bound address, membership and source filter, or
 * IP_MULTICAST_ALL), a copy each. Also the loopback copies of offloaded sends. */
#ifndef SHIM_NET_MCAST_H
#define SHIM_NET_MCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct udp_sock;

/* One membership of a socket: group joined on ifindex, with the kernel's source
 * filter (MCAST_INCLUDE or MCAST_EXCLUDE and its sources). */
struct udp_mc {
	struct udp_mc *next;
	uint32_t group;			/* network order */
	int ifindex;
	int fmode;			/* MCAST_INCLUDE / MCAST_EXCLUDE */
	unsigned nsrc;
	uint32_t *src;			/* network order */
	struct mc_ent *ent;		/* steering held for it, or NULL (kernel path) */
};

/* The socket's receive side is offloaded (bound to INADDR_ANY or a group address
 * with a udp_receiver decision): its memberships are steered to rings and it hears
 * the groups of the process. Idempotent. */
void mc_sock_register(struct udp_sock *s);
/* Receive side no longer ours (close, connect, fork): steering it held goes. */
void mc_sock_unregister(struct udp_sock *s);
/* Destroy: memberships forgotten, rings the socket polled released. */
void mc_sock_release(struct udp_sock *s);

/* The kernel socket is (or no longer is) a member of group on ifindex with this
 * filter. Steers or unsteers as needed. 0, or -errno when the membership could not be
 * steered (no usable ring: its datagrams stay with the kernel). */
int mc_membership_set(struct udp_sock *s, uint32_t group, int ifindex, int fmode,
		      const uint32_t *src, unsigned nsrc);
void mc_membership_drop(struct udp_sock *s, uint32_t group, int ifindex);
/* IP_MULTICAST_ALL changed. */
void mc_sock_set_all(struct udp_sock *s, bool all);
/* Interfaces on which s holds a membership of group (up to max). */
int mc_membership_ifaces(struct udp_sock *s, uint32_t group, int *ifs, int max);

/* SHIM_WAIT_AFTER_JOIN_MSEC: the first send to a group this process joined less
 * than that long ago waits out the rest (the switches learn the join meanwhile). */
void mc_wait_after_join(uint32_t group);

/* A datagram this process sent to group through a ring on ifindex, with
 * IP_MULTICAST_LOOP on: the process's sockets that would receive it get a copy. */
void mc_loopback(uint32_t saddr, uint16_t sport, uint32_t group, uint16_t dport, int ifindex,
		 uint8_t tos, uint8_t ttl, const struct iovec *iov, int iovcnt, size_t len);

#endif
