/* eth.h — Ethernet II header as it is on the wire. The UDP transmit path prepends it
 * from the per-destination header template; the receive path only checks the
 * EtherType before handing the IPv4 packet up. */
#ifndef SHIM_PROTO_ETH_H
#define SHIM_PROTO_ETH_H

#include <stdint.h>

#define ETHER_ALEN	6
#define ETH_HDR_LEN	14
#define ETHTYPE_IPV4	0x0800
#define ETHTYPE_ARP	0x0806
#define ETHTYPE_VLAN	0x8100

struct eth_hdr {
	uint8_t dst[ETHER_ALEN];
	uint8_t src[ETHER_ALEN];
	uint16_t type;		/* network order */
} __attribute__((packed));

_Static_assert(sizeof(struct eth_hdr) == ETH_HDR_LEN, "Ethernet header is 14 bytes");

#endif
