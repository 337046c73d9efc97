/* ring_xdp.h — internal to the AF_XDP backend: ring_xdp.c (UMEM, XSKs, the data
 * path) uses ring_xdp_port.c (interface facts, the XDP program, its maps). */
#ifndef SHIM_RING_XDP_H
#define SHIM_RING_XDP_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "ring/ring.h"

struct xdp_port;

/* ioctl on an AF_INET socket for the interface (req 0: only fill ifr_name). */
int xdp_if_ioctl(int ifindex, unsigned long req, struct ifreq *ifr);
/* RX queues of the interface (ethtool channels), at least 1. */
int xdp_if_rx_queues(int ifindex);
int xdp_probe(int ifindex, const struct ring_config *cfg, const char **why);
int xdp_max_rings(int ifindex, const struct ring_config *cfg);

/* The interface's program, loaded and attached by the first user; referenced. */
int xdp_port_get(int ifindex, const struct ring_config *cfg, const char *ifname,
		 struct xdp_port **out);
/* The last put detaches (closes the link). forked: in a fork() child. */
void xdp_port_put(struct xdp_port *p, bool forked);
const char *xdp_port_mode(const struct xdp_port *p);
/* XSKMAP entry key = slot * STEER_MAX_QUEUES + queue. */
int xdp_port_set_xsk(struct xdp_port *p, uint32_t key, int fd);
void xdp_port_clear_xsk(struct xdp_port *p, uint32_t key);
/* Add or remove a flow's entry, redirecting to XSK set slot. */
int xdp_port_flow(struct xdp_port *p, uint32_t slot, const struct ring_flow *f, bool add);
/* fork() child: an fd of the map that steers f in the program (the parent's)
 * attached to ifindex, or -ENOENT when nothing of ours is attached there; then
 * remove f from it, so its frames go to the kernel. */
int xdp_port_inherited_map(int ifindex, const struct ring_flow *f);
int xdp_port_release_inherited(int map_fd, const struct ring_flow *f);

#endif
