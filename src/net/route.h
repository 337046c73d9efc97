/* route.h — the control plane seen by the socket layer: interfaces, addresses,
 * routes and neighbours mirrored from the kernel through rtnetlink (netlink.c keeps
 * the libnl caches current from netlink events), route lookup with source address
 * and MTU (route.c), and neighbour resolution that leaves ARP to the kernel (neigh.c).
 * Every change bumps cp_generation(), so cached header templates know to re-resolve. */
#ifndef SHIM_NET_ROUTE_H
#define SHIM_NET_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "net/proto/eth.h"

/* Start the control plane (idempotent, thread-safe): fill the caches and start the
 * event thread. 0 or -errno (no netlink: nothing can be offloaded). */
int cp_init(void);
/* Stop the event thread and free the caches (exit, tests). */
void cp_fini(void);
/* Bumped on every interface, address, route or neighbour change. */
uint32_t cp_generation(void);

enum cp_dest_type {
	CP_DEST_UNICAST,	/* through an interface, to a neighbour */
	CP_DEST_LOCAL,		/* one of this host's addresses or loopback */
	CP_DEST_BROADCAST,	/* limited or subnet broadcast */
	CP_DEST_MULTICAST,
	CP_DEST_UNREACHABLE,	/* blackhole, unreachable, prohibit, or no route */
};

struct cp_path {
	enum cp_dest_type type;
	int ifindex;
	uint32_t src;		/* preferred source address (network order) */
	uint32_t nexthop;	/* gateway, or the destination itself when on-link */
	unsigned mtu;		/* route MTU, else the interface MTU */
	uint8_t smac[ETHER_ALEN];
	bool loopback_if;	/* the interface is a loopback */
};

/* Route dst (network order). oif: 0 or the interface the socket is bound to. */
int cp_route(uint32_t dst, int oif, struct cp_path *out);
/* Interface owning a local address, 0 for INADDR_ANY, or -EADDRNOTAVAIL. */
int cp_addr_ifindex(uint32_t addr);
/* True for one of this host's addresses (any interface) or 127/8. */
bool cp_is_local(uint32_t addr);
/* Interfaces with at least one IPv4 address that are up and not loopback: the
 * candidates for a socket bound to INADDR_ANY. Returns the count (up to max). */
int cp_offload_ifaces(int *ifindex, int max);
/* Interface facts. */
int cp_link(int ifindex, unsigned *mtu, uint8_t mac[ETHER_ALEN], bool *up, bool *loopback);
/* True for a veth (or other software pair) interface: a kernel peer's frames may
 * arrive with checksum offload still pending. */
bool cp_link_is_virtual(int ifindex);
/* Broadcast address of the interface's subnet containing addr, or 0. */
uint32_t cp_subnet_broadcast(int ifindex, uint32_t addr);

/* Neighbour (neigh.c). 0 and mac filled when the kernel has a usable entry,
 * -EAGAIN when resolution was started (or is in progress), -EHOSTUNREACH when the
 * kernel marked it failed. Starting resolution asks the kernel (ARP stays there). */
int cp_neigh_lookup(int ifindex, uint32_t nexthop, uint8_t mac[ETHER_ALEN]);
/* Wait up to timeout_ms for a change of the tables (a neighbour answered...). */
void cp_wait_change(uint32_t gen, int timeout_ms);

/* Control-plane counters. */
struct cp_stats {
	uint64_t events;		/* netlink change notifications */
	uint64_t route_lookups;
	uint64_t neigh_resolves;	/* resolutions started */
	uint64_t neigh_failed;		/* lookups answered by a failed entry */
};
extern struct cp_stats cp_stats;

#endif
