/* proto/tcp.h — TCP wire format (RFC 9293 §3.1) and option kinds (RFC 7323, 2018).
 * Only the layout lives here: the engine in net/tcp_*.c builds and parses it.
 * Multi-byte fields are in network byte order on the wire. */
#ifndef SHIM_PROTO_TCP_H
#define SHIM_PROTO_TCP_H

#include <stdint.h>

struct tcp_hdr {
	uint16_t sport;
	uint16_t dport;
	uint32_t seq;
	uint32_t ack;
	uint8_t  doff_rsvd;	/* data offset (32-bit words) in the high nibble */
	uint8_t  flags;
	uint16_t wnd;
	uint16_t csum;
	uint16_t urg;
} __attribute__((packed));

#define TCP_HDR_LEN	20
#define TCP_HDR_MAX	60
#define TCP_OPT_SPACE	40

#define TCP_FIN	0x01
#define TCP_SYN	0x02
#define TCP_RST	0x04
#define TCP_PSH	0x08
#define TCP_ACK	0x10
#define TCP_URG	0x20
#define TCP_ECE	0x40
#define TCP_CWR	0x80

#define TCPOPT_EOL		0
#define TCPOPT_NOP		1
#define TCPOPT_MSS		2	/* len 4 */
#define TCPOPT_WSCALE		3	/* len 3 */
#define TCPOPT_SACK_PERM	4	/* len 2 */
#define TCPOPT_SACK		5	/* len 2 + 8n */
#define TCPOPT_TIMESTAMP	8	/* len 10 */

#define TCPOLEN_MSS		4
#define TCPOLEN_WSCALE		3
#define TCPOLEN_SACK_PERM	2
#define TCPOLEN_TIMESTAMP	10
#define TCPOLEN_TS_ALIGNED	12	/* NOP NOP TS */
#define TCP_MAX_WSCALE		14

static inline unsigned tcp_hdr_doff(const struct tcp_hdr *h)
{
	return (unsigned)(h->doff_rsvd >> 4) * 4;
}

#endif
