/* ip.c — IPv4 for the offloaded path: Internet checksums, per-destination header
 * templates (filled once from route + neighbour, then only lengths, id and sums change
 * per frame), and validation of received frames before UDP demux. Fragment
 * reassembly lives in ip_reasm.c. */
#include "net/ip.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/log.h"

struct ip_stats ip_stats;

uint32_t csum_partial(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;
	uint64_t acc = sum;

	/* 64-bit loads, each added as two 32-bit halves into a 64-bit accumulator: no
	 * carry is ever lost below 2^32 words, and the fold at the end restores the
	 * end-around carries. Four independent sums keep the adders busy. */
	uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
	while (len >= 32) {
		uint64_t w0, w1, w2, w3;
		memcpy(&w0, b, 8);
		memcpy(&w1, b + 8, 8);
		memcpy(&w2, b + 16, 8);
		memcpy(&w3, b + 24, 8);
		a0 += (w0 & 0xffffffffu) + (w0 >> 32);
		a1 += (w1 & 0xffffffffu) + (w1 >> 32);
		a2 += (w2 & 0xffffffffu) + (w2 >> 32);
		a3 += (w3 & 0xffffffffu) + (w3 >> 32);
		b += 32;
		len -= 32;
	}
	acc += a0 + a1 + a2 + a3;
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		acc += (w & 0xffffffffu) + (w >> 32);
		b += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t w;
		memcpy(&w, b, 4);
		acc += w;
		b += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;
		memcpy(&h, b, 2);
		acc += h;
		b += 2;
		len -= 2;
	}
	if (len) {
		/* The odd trailing byte is the high-order byte of a zero-padded word in
		 * network order, which on little endian is the low byte in memory. */
		uint16_t h = 0;
		memcpy(&h, b, 1);
		acc += h;
	}
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint32_t csum_copy(void *dst, const void *src, size_t len, uint32_t sum)
{
	/* Sum the source (hot in the application's cache), not the freshly written
	 * destination buffer. */
	sum = csum_partial(src, len, sum);
	memcpy(dst, src, len);
	return sum;
}

uint32_t csum_pseudo(uint32_t saddr, uint32_t daddr, uint8_t proto, uint16_t len)
{
	uint64_t acc = (uint64_t)(saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) + (daddr & 0xffff);
	acc += htons(proto);
	acc += htons(len);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

void net_tmpl_init(struct net_tmpl *t, const struct net_tmpl_args *a)
{
	struct eth_hdr *eth = (struct eth_hdr *)t->hdr;
	struct ipv4_hdr *ip = (struct ipv4_hdr *)(t->hdr + ETH_HDR_LEN);
	struct udp_hdr *udp = (struct udp_hdr *)(t->hdr + ETH_HDR_LEN + IPV4_HDR_LEN);

	memset(t, 0, sizeof(*t));
	memcpy(eth->dst, a->dmac, ETHER_ALEN);
	memcpy(eth->src, a->smac, ETHER_ALEN);
	eth->type = htons(ETHTYPE_IPV4);
	ip->ver_ihl = (IPV4_VERSION << 4) | (IPV4_HDR_LEN / 4);
	ip->tos = a->tos;
	ip->ttl = a->ttl;
	ip->proto = IPPROTO_NUM_UDP;
	ip->saddr = a->saddr;
	ip->daddr = a->daddr;
	udp->sport = a->sport;
	udp->dport = a->dport;
	/* Constant part of the header sum: tot_len, id, frag_off and csum are zero here. */
	t->ip_sum = csum_partial(ip, IPV4_HDR_LEN, 0);
	/* Ports are part of the UDP header the checksum covers; add them once. */
	t->pseudo_sum = csum_add(csum_pseudo(a->saddr, a->daddr, IPPROTO_NUM_UDP, 0),
				 (uint32_t)a->sport + a->dport);
}

void net_tmpl_set_tos_ttl(struct net_tmpl *t, uint8_t tos, uint8_t ttl)
{
	struct ipv4_hdr *ip = (struct ipv4_hdr *)(t->hdr + ETH_HDR_LEN);

	ip->tos = tos;
	ip->ttl = ttl;
	t->ip_sum = csum_partial(ip, IPV4_HDR_LEN, 0);
}

void net_tmpl_write_ip(const struct net_tmpl *t, void *frame, unsigned ip_len, uint16_t id,
		       uint16_t frag_off)
{
	struct ipv4_hdr *ip = (struct ipv4_hdr *)((uint8_t *)frame + ETH_HDR_LEN);
	uint32_t sum;

	memcpy(frame, t->hdr, ETH_HDR_LEN + IPV4_HDR_LEN);
	ip->tot_len = htons((uint16_t)ip_len);
	ip->id = id;
	ip->frag_off = htons(frag_off);
	sum = t->ip_sum + ip->tot_len + ip->id + ip->frag_off;
	ip->csum = csum_fold(sum);
}

void net_tmpl_write_udp(const struct net_tmpl *t, void *udp_p, unsigned udp_len, uint32_t data_sum,
			bool csum)
{
	struct udp_hdr *udp = udp_p;
	uint16_t c = 0;

	udp->sport = ((const struct udp_hdr *)(t->hdr + ETH_HDR_LEN + IPV4_HDR_LEN))->sport;
	udp->dport = ((const struct udp_hdr *)(t->hdr + ETH_HDR_LEN + IPV4_HDR_LEN))->dport;
	udp->len = htons((uint16_t)udp_len);
	if (csum) {
		/* The length appears twice: in the pseudo-header and in the UDP header. */
		uint32_t s = csum_add(t->pseudo_sum, data_sum);
		s = csum_add(s, (uint32_t)udp->len + udp->len);
		c = csum_fold(s);
		if (c == 0)
			c = 0xffff;
	}
	udp->csum = c;
}

uint16_t ip_next_id(void)
{
	static uint32_t id;
	static int seeded;

	if (!__atomic_load_n(&seeded, __ATOMIC_ACQUIRE)) {
		uint32_t seed = 0;
		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
			seed = (uint32_t)net_now_ns();
		uint32_t zero = 0;
		__atomic_compare_exchange_n(&id, &zero, seed, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		__atomic_store_n(&seeded, 1, __ATOMIC_RELEASE);
	}
	return htons((uint16_t)__atomic_add_fetch(&id, 1, __ATOMIC_RELAXED));
}

enum ip_drop ip_rx_parse(const void *p, unsigned len, struct ip_rx *out)
{
	const struct ipv4_hdr *ip = p;
	unsigned hl, tot;

	if (len < IPV4_HDR_LEN)
		return IP_DROP_SHORT;
	if (ipv4_version(ip) != IPV4_VERSION || (ip->ver_ihl & 0x0f) < 5)
		return IP_DROP_VERSION;
	hl = ipv4_hdr_len(ip);
	if (hl > len)
		return IP_DROP_SHORT;
	tot = ntohs(ip->tot_len);
	if (tot < hl || tot > len)
		return IP_DROP_LEN;
	if (csum_fold(csum_partial(ip, hl, 0)) != 0)
		return IP_DROP_CSUM;
	out->ip = ip;
	out->payload = (const uint8_t *)p + hl;
	out->payload_len = tot - hl;	/* Ethernet pads short frames: trust tot_len */
	out->frag_off = ntohs(ip->frag_off);
	if (out->frag_off & IPV4_FLAG_RF)
		return IP_DROP_FRAG_BAD;
	if (ip_rx_is_frag(out)) {
		unsigned off = (out->frag_off & IPV4_OFF_MASK) * 8u;
		/* A non-final fragment must carry a multiple of 8 bytes, and nothing may
		 * reach past the largest IP datagram. */
		if (off + out->payload_len > IPV4_MAX_LEN - hl ||
		    ((out->frag_off & IPV4_FLAG_MF) && (out->payload_len & 7 || !out->payload_len)))
			return IP_DROP_FRAG_BAD;
	}
	return IP_DROP_NONE;
}

enum ip_drop udp_rx_check(uint32_t saddr, uint32_t daddr, const void *udp_p,
			  unsigned ip_payload_len, unsigned *data_len)
{
	const struct udp_hdr *udp = udp_p;
	unsigned ulen;

	if (ip_payload_len < UDP_HDR_LEN)
		return UDP_DROP_SHORT;
	ulen = ntohs(udp->len);
	if (ulen < UDP_HDR_LEN || ulen > ip_payload_len)
		return UDP_DROP_LEN;
	if (udp->csum) {
		uint32_t s = csum_pseudo(saddr, daddr, IPPROTO_NUM_UDP, (uint16_t)ulen);
		if (csum_fold(csum_partial(udp, ulen, s)) != 0)
			return UDP_DROP_CSUM;
	}
	*data_len = ulen - UDP_HDR_LEN;
	return IP_DROP_NONE;
}

const char *ip_drop_name(enum ip_drop d)
{
	static const char *const names[IP_DROP__COUNT] = {
		[IP_DROP_NONE] = "none",
		[IP_DROP_SHORT] = "ip_short",
		[IP_DROP_VERSION] = "ip_version",
		[IP_DROP_LEN] = "ip_len",
		[IP_DROP_CSUM] = "ip_csum",
		[IP_DROP_FRAG_BAD] = "ip_frag_bad",
		[UDP_DROP_SHORT] = "udp_short",
		[UDP_DROP_LEN] = "udp_len",
		[UDP_DROP_CSUM] = "udp_csum",
	};
	return (unsigned)d < IP_DROP__COUNT ? names[d] : "?";
}

uint64_t net_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t n = 0;

	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

uint32_t csum_iov(const struct iovec *iov, int iovcnt, size_t len)
{
	uint32_t sum = 0;
	size_t done = 0;

	for (int i = 0; i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;
		uint32_t s;

		if (!n)
			continue;
		s = csum_partial(iov[i].iov_base, n, 0);
		sum = csum_add(sum, (done & 1) ? csum_shift_odd(s) : s);
		done += n;
	}
	return sum;
}

/* Copy n bytes from the cursor into dst, returning the sum of what was copied as if
 * it started at an even offset. */
static uint32_t txd_copy(struct ip_txd *d, uint8_t *dst, size_t n)
{
	uint32_t sum = 0;
	size_t done = 0;

	while (done < n && d->ci < d->iovcnt) {
		size_t avail = d->iov[d->ci].iov_len - d->co;
		size_t k = avail < n - done ? avail : n - done;

		if (k) {
			uint32_t s = csum_copy(dst + done, (const uint8_t *)d->iov[d->ci].iov_base + d->co, k, 0);
			sum = csum_add(sum, (done & 1) ? csum_shift_odd(s) : s);
			done += k;
			d->co += k;
		}
		if (d->co == d->iov[d->ci].iov_len) {
			d->ci++;
			d->co = 0;
		}
	}
	return sum;
}

void ip_txd_init(struct ip_txd *d, const struct net_tmpl *t, unsigned mtu,
		 const struct iovec *iov, int iovcnt, unsigned len, bool csum)
{
	d->t = t;
	d->iov = iov;
	d->iovcnt = iovcnt;
	d->ci = 0;
	d->co = 0;
	while (d->ci < iovcnt && iov[d->ci].iov_len == 0)
		d->ci++;
	d->len = len;
	d->mtu = mtu;
	d->next = 0;
	d->csum = csum;
	d->nframes = ip_frag_count(len + UDP_HDR_LEN, mtu);
	d->data_sum = 0;
	if (d->nframes > 1) {
		/* The UDP checksum is in the first fragment, so the payload is summed first. */
		if (csum)
			d->data_sum = csum_iov(iov, iovcnt, len);
		d->id = ip_next_id();
	} else {
		d->id = 0;	/* DF set: the id carries no meaning (RFC 6864) */
	}
}

unsigned ip_txd_frame(struct ip_txd *d, void *frame)
{
	uint8_t *ipp = (uint8_t *)frame + ETH_HDR_LEN;
	unsigned k = d->next++;

	if (d->nframes == 1) {
		uint32_t sum = txd_copy(d, ipp + IPV4_HDR_LEN + UDP_HDR_LEN, d->len);
		unsigned ulen = d->len + UDP_HDR_LEN;

		net_tmpl_write_udp(d->t, ipp + IPV4_HDR_LEN, ulen, sum, d->csum);
		net_tmpl_write_ip(d->t, frame, ulen + IPV4_HDR_LEN, d->id, IPV4_FLAG_DF);
		IP_STAT_INC(tx_packets);
		return ETH_HDR_LEN + IPV4_HDR_LEN + ulen;
	}

	unsigned fs = ip_frag_payload(d->mtu);
	unsigned total = d->len + UDP_HDR_LEN;
	unsigned off = k * fs;
	unsigned n = total - off < fs ? total - off : fs;
	uint16_t fo = (uint16_t)(off / 8) | (k + 1 < d->nframes ? IPV4_FLAG_MF : 0);

	if (k == 0) {
		net_tmpl_write_udp(d->t, ipp + IPV4_HDR_LEN, total, d->data_sum, d->csum);
		txd_copy(d, ipp + IPV4_HDR_LEN + UDP_HDR_LEN, n - UDP_HDR_LEN);
	} else {
		txd_copy(d, ipp + IPV4_HDR_LEN, n);
	}
	net_tmpl_write_ip(d->t, frame, n + IPV4_HDR_LEN, d->id, fo);
	IP_STAT_INC(tx_packets);
	IP_STAT_INC(tx_frags);
	return ETH_HDR_LEN + IPV4_HDR_LEN + n;
}

/* At exit, the IP layer's counters go to the debug log: drops by reason, fragments,
 * reassembly outcomes (flow.c publishes them to the stats segment). */
__attribute__((destructor)) static void ip_stats_dump(void)
{
	if (SHIM_LOG_DEBUG > shim_log_level || (!__atomic_load_n(&ip_stats.rx_packets, __ATOMIC_RELAXED) &&
						!__atomic_load_n(&ip_stats.tx_packets, __ATOMIC_RELAXED)))
		return;
	log_dbg("ip: rx %" PRIu64 " tx %" PRIu64 " (fragments %" PRIu64 ") rx fragments %" PRIu64
		" reassembled %" PRIu64 " timeouts %" PRIu64 " overlaps %" PRIu64 " limit %" PRIu64
		" bad %" PRIu64 " held %u partial csum %" PRIu64, ip_stats.rx_packets, ip_stats.tx_packets, ip_stats.tx_frags,
		ip_stats.rx_frags, ip_stats.reasm_ok, ip_stats.reasm_timeout, ip_stats.reasm_overlap,
		ip_stats.reasm_limit, ip_stats.reasm_bad, ip_reasm_pending(NULL), ip_stats.rx_csum_partial);
	for (int d = 1; d < IP_DROP__COUNT; d++)
		if (ip_stats.rx_drop[d])
			log_dbg("ip: dropped %s: %" PRIu64, ip_drop_name((enum ip_drop)d), ip_stats.rx_drop[d]);
}
