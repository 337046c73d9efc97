/* udp.c — UDP datagrams on ring buffers. Receive: validation of a frame or of a
 * reassembled fragment chain (IPv4 header, UDP length and checksum over the whole
 * chain) and the one copy of its payload into the application's buffers. Transmit:
 * frames built in place in ring buffers from the destination's header template,
 * fragmented above the path MTU. The demux into sockets is in flow.c. */
#include "net/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- validation ---- */

/* IP payload of one buffer of a datagram: pointer and length. */
static const uint8_t *seg_payload(const struct shim_pkt *p, unsigned *len)
{
	const uint8_t *ip = p->data + (p->l3_off ? p->l3_off : ETH_HDR_LEN);
	const struct ipv4_hdr *h = (const struct ipv4_hdr *)ip;
	unsigned hl = ipv4_hdr_len(h);

	*len = ntohs(h->tot_len) - hl;
	return ip + hl;
}

/* Interfaces whose frames may carry the kernel's checksum-offload placeholder. */
static uint64_t partial_ifs[UDP_PARTIAL_IF_MAX / 64];

void udp_set_partial_csum_if(int ifindex)
{
	if (ifindex > 0 && ifindex < UDP_PARTIAL_IF_MAX)
		__atomic_or_fetch(&partial_ifs[ifindex / 64], 1ull << (ifindex % 64), __ATOMIC_RELAXED);
}

/* A kernel peer on a veth pair hands its frames over with checksum offload pending:
 * the UDP checksum field then holds the pseudo-header sum, never the full one
 * (no wire and no NIC in between to finish it). Accept exactly that value, and only
 * on such interfaces; anything else with a bad sum is dropped. */
static bool csum_partial_ok(const struct shim_pkt *pkt, const struct ip_rx *r)
{
	const struct ring *ring = pkt->ring;
	const struct udp_hdr *uh = (const struct udp_hdr *)r->payload;

	if (!ring || ring->ifindex <= 0 || ring->ifindex >= UDP_PARTIAL_IF_MAX ||
	    !(__atomic_load_n(&partial_ifs[ring->ifindex / 64], __ATOMIC_RELAXED) & (1ull << (ring->ifindex % 64))))
		return false;
	uint32_t ps = csum_pseudo(r->ip->saddr, r->ip->daddr, IPPROTO_NUM_UDP, ntohs(uh->len));
	uint16_t placeholder = (uint16_t)(0xffffu ^ (unsigned)csum_fold(ps));
	return uh->csum == placeholder;
}

int udp_rx_parse(const struct shim_pkt *pkt, struct udp_meta *m)
{
	unsigned l3 = pkt->l3_off ? pkt->l3_off : ETH_HDR_LEN;
	struct ip_rx r;
	enum ip_drop d;

	IP_STAT_INC(rx_packets);
	if (pkt->len < l3) {
		d = IP_DROP_SHORT;
		goto drop;
	}
	if (pkt->frag) {
		/* Reassembled chain: every buffer was checked by the reassembler. The
		 * UDP header is in the first; length and checksum cover the chain. */
		const struct ipv4_hdr *ip = (const struct ipv4_hdr *)(pkt->data + l3);
		unsigned total = 0, seg;
		const uint8_t *udp = seg_payload(pkt, &seg);
		uint32_t sum = 0;

		for (const struct shim_pkt *p = pkt; p; p = p->frag) {
			const uint8_t *pl = seg_payload(p, &seg);
			sum = csum_add(sum, csum_partial(pl, seg, 0));	/* offsets are 8-aligned */
			total += seg;
		}
		seg_payload(pkt, &seg);
		if (seg < UDP_HDR_LEN) {
			d = UDP_DROP_SHORT;
			goto drop;
		}
		const struct udp_hdr *uh = (const struct udp_hdr *)udp;
		unsigned ulen = ntohs(uh->len);
		if (ulen != total) {
			/* Trailing bytes past the UDP length would have to be left out of the
			 * sum; a fragmented datagram has none unless it is forged. */
			d = UDP_DROP_LEN;
			goto drop;
		}
		if (uh->csum && csum_fold(csum_add(sum, csum_pseudo(ip->saddr, ip->daddr, IPPROTO_NUM_UDP,
								    (uint16_t)ulen))) != 0) {
			d = UDP_DROP_CSUM;
			goto drop;
		}
		m->saddr = ip->saddr;
		m->daddr = ip->daddr;
		m->sport = uh->sport;
		m->dport = uh->dport;
		m->len = ulen - UDP_HDR_LEN;
		m->off = (uint16_t)(udp - pkt->data + UDP_HDR_LEN);
		m->tos = ip->tos;
		m->ttl = ip->ttl;
		return 0;
	}
	d = ip_rx_parse(pkt->data + l3, pkt->len - l3, &r);
	if (d)
		goto drop;
	if (ip_rx_is_frag(&r) || r.ip->proto != IPPROTO_NUM_UDP) {
		d = IP_DROP_FRAG_BAD;
		goto drop;
	}
	unsigned dlen;
	if (pkt->flags & PKT_F_CSUM_OK) {
		const struct udp_hdr *uh = (const struct udp_hdr *)r.payload;
		if (r.payload_len < UDP_HDR_LEN) {
			d = UDP_DROP_SHORT;
			goto drop;
		}
		if (ntohs(uh->len) < UDP_HDR_LEN || ntohs(uh->len) > r.payload_len) {
			d = UDP_DROP_LEN;
			goto drop;
		}
		dlen = ntohs(uh->len) - UDP_HDR_LEN;
	} else {
		d = udp_rx_check(r.ip->saddr, r.ip->daddr, r.payload, r.payload_len, &dlen);
		if (d == UDP_DROP_CSUM && csum_partial_ok(pkt, &r)) {
			d = IP_DROP_NONE;
			dlen = ntohs(((const struct udp_hdr *)r.payload)->len) - UDP_HDR_LEN;
			IP_STAT_INC(rx_csum_partial);
		}
		if (d)
			goto drop;
	}
	const struct udp_hdr *uh = (const struct udp_hdr *)r.payload;
	m->saddr = r.ip->saddr;
	m->daddr = r.ip->daddr;
	m->sport = uh->sport;
	m->dport = uh->dport;
	m->len = dlen;
	m->off = (uint16_t)(r.payload + UDP_HDR_LEN - pkt->data);
	m->tos = r.ip->tos;
	m->ttl = r.ip->ttl;
	return 0;
drop:
	IP_STAT_INC(rx_drop[d]);
	return (int)d;
}

size_t udp_copy_out(const struct shim_pkt *pkt, const struct udp_meta *m, size_t skip,
		    const struct iovec *iov, int iovcnt)
{
	size_t left = m->len > skip ? m->len - skip : 0, done = 0;
	const uint8_t *src;
	unsigned seglen;
	int vi = 0;
	size_t vo = 0;

	if (!pkt->frag) {
		src = pkt->data + m->off + skip;
		seglen = (unsigned)left;
	} else {
		/* First buffer: from the payload start to its end; then whole buffers. */
		unsigned plen;
		const uint8_t *pl = seg_payload(pkt, &plen);
		unsigned first = plen - (unsigned)(pkt->data + m->off - pl);
		src = pkt->data + m->off;
		seglen = first;
		while (skip && pkt) {
			if (skip < seglen) {
				src += skip;
				seglen -= (unsigned)skip;
				skip = 0;
				break;
			}
			skip -= seglen;
			pkt = pkt->frag;
			if (pkt)
				src = seg_payload(pkt, &seglen);
		}
	}
	while (left && pkt && vi < iovcnt) {
		size_t n = seglen < left ? seglen : left;
		while (n && vi < iovcnt) {
			size_t room = iov[vi].iov_len - vo;
			size_t k = n < room ? n : room;
			memcpy((uint8_t *)iov[vi].iov_base + vo, src, k);
			src += k;
			n -= k;
			left -= k;
			seglen -= (unsigned)k;
			done += k;
			vo += k;
			if (vo == iov[vi].iov_len) {
				vi++;
				vo = 0;
			}
		}
		if (seglen == 0) {
			pkt = pkt->frag;
			if (pkt)
				src = seg_payload(pkt, &seglen);
		}
	}
	return done;
}

/* ---- transmit ---- */

#define UDP_TX_MAX_FRAMES 128

int udp_tx_ring(struct ring *r, const struct net_tmpl *t, unsigned mtu, const struct iovec *iov,
		int iovcnt, unsigned len, bool flush)
{
	struct shim_pkt *pk[UDP_TX_MAX_FRAMES];
	struct ip_txd d;
	unsigned got;

	ip_txd_init(&d, t, mtu, iov, iovcnt, len, true);
	if (d.nframes > UDP_TX_MAX_FRAMES)
		return -EMSGSIZE;
	ring_tx_lock(r);
	got = ring_tx_alloc(r, pk, d.nframes);
	if (got < d.nframes) {
		/* Frames queued by a batch but not yet pushed hold buffers too. */
		if (r->ops->tx_kick)
			r->ops->tx_kick(r);
		else
			r->ops->tx_flush(r);
		ring_tx_reap(r);
		got += ring_tx_alloc(r, pk + got, d.nframes - got);
	}
	if (got < d.nframes) {
		RING_STAT_ADD(r, tx_no_buf, 1);
		ring_tx_unlock(r);
		for (unsigned i = 0; i < got; i++)
			pkt_free(pk[i]);
		return -ENOBUFS;
	}
	if (pk[0]->cap < ETH_HDR_LEN + (d.nframes > 1 ? mtu : len + IPV4_HDR_LEN + UDP_HDR_LEN)) {
		ring_tx_unlock(r);
		for (unsigned i = 0; i < got; i++)
			pkt_free(pk[i]);
		return -EMSGSIZE;
	}
	for (unsigned i = 0; i < d.nframes; i++)
		pk[i]->len = ip_txd_frame(&d, pk[i]->data);
	if (flush)
		ring_tx_send(r, pk, d.nframes);
	else
		r->ops->tx_burst(r, pk, d.nframes);
	ring_tx_unlock(r);
	return 0;
}

void udp_tx_flush(struct ring *r)
{
	ring_tx_lock(r);
	r->ops->tx_flush(r);
	ring_tx_unlock(r);
}
