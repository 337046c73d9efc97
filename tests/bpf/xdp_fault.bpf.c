/* xdp_fault.bpf.c — fault injection for libshim's own receive path: an XDP program
 * that tests/integ/xdp_fault chains ahead of the running steering program (slot
 * STEER_HOOK_FIRST of its hooks program array), so it sees every frame before libshim
 * steers it to its AF_XDP socket, where a tc program never looks. Two faults:
 *  - loss: IPv4 TCP segments dropped at random, loss_permille in a thousand;
 *  - reordering: one TCP data segment in reorder_every is sent back out of the
 *    interface (XDP_TX) with a marked source MAC; the same program chained on the
 *    peer's host sees the mark and sends it straight back, re-marked; after
 *    reorder_trips such round trips the original source MAC is put back and the
 *    segment steered, behind the segments that arrived meanwhile. The frame never leaves the native XDP path of each veth
 *    (no other CPU ever writes libshim's AF_XDP ring), and an XDP program cannot hold
 *    a frame: the trip through the peer's NAPI is the delay.
 * Every frame it keeps goes back to the steering (slot STEER_HOOK_NEXT). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ring/steer.h"

/* The steering program's own map: the loader points this at it before loading. */
STEER_HOOKS_MAP(hooks);

/* Set by the loader before the program is loaded. */
const volatile __u32 loss_permille = 0;
const volatile __u32 reorder_every = 0;
const volatile __u32 reorder_trips = 1;	/* round trips per detoured segment */

/* Read by the loader when it detaches. */
__u64 tcp_seen = 0;
__u64 tcp_dropped = 0;
__u64 data_segs = 0;
__u64 sent_away = 0;	/* our data segments sent on a trip to the peer and back */
__u64 reflected = 0;	/* the peer's segments sent back to it */
__u64 returned = 0;	/* our segments back from their trip, steered late */

/* Source MAC of the peer, learnt from its frames, put back on returning segments. */
unsigned char peer_mac[ETH_ALEN];

/* Locally administered addresses that mark a segment on its trips; the last byte is
 * trips done * 2, + 1 on the way to the peer's host (OUT), + 2 on the way home (BACK). */
#define MARK_OUT(trip)	((trip) * 2 + 1)
#define MARK_BACK(trip)	((trip) * 2 + 2)

static __always_inline int mark_of(const unsigned char *mac)
{
	if (mac[0] != 0x02 || mac[1] != 0x00 || mac[2] != 0x5f || mac[3] != 0xa1 ||
	    mac[4] != 0x7e)
		return 0;
	return mac[5];		/* 0 never marks */
}

static __always_inline void set_mark(unsigned char *mac, int mark)
{
	mac[0] = 0x02;
	mac[1] = 0x00;
	mac[2] = 0x5f;
	mac[3] = 0xa1;
	mac[4] = 0x7e;
	mac[5] = (unsigned char)mark;
}

static __always_inline int is_data(struct iphdr *ip, void *end)
{
	__u32 ihl = ip->ihl * 4;
	struct tcphdr *th = (void *)ip + ihl;

	if (ihl < sizeof(*ip) || (void *)(th + 1) > end)
		return 0;
	if (th->syn || th->fin || th->rst)
		return 0;
	return (int)(bpf_ntohs(ip->tot_len) - ihl - th->doff * 4) > 0;
}

SEC("xdp")
int xdp_fault(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	int mark;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_TCP)
		goto steer;
	mark = mark_of(eth->h_source);
	if (mark & 1) {			/* the peer's segment on a trip: send it home */
		set_mark(eth->h_source, mark + 1);
		__sync_fetch_and_add(&reflected, 1);
		return XDP_TX;
	}
	if (mark) {			/* ours, back from a trip */
		if ((__u32)mark / 2 < reorder_trips) {
			set_mark(eth->h_source, MARK_OUT(mark / 2));
			return XDP_TX;
		}
		__builtin_memcpy(eth->h_source, peer_mac, ETH_ALEN);	/* steer it, late */
		__sync_fetch_and_add(&returned, 1);
		goto steer;
	}
	__builtin_memcpy(peer_mac, eth->h_source, ETH_ALEN);
	__sync_fetch_and_add(&tcp_seen, 1);
	if (loss_permille && bpf_get_prandom_u32() % 1000 < loss_permille) {
		__sync_fetch_and_add(&tcp_dropped, 1);
		return XDP_DROP;
	}
	if (reorder_every && is_data(ip, end) &&
	    __sync_fetch_and_add(&data_segs, 1) % reorder_every == reorder_every / 2) {
		set_mark(eth->h_source, MARK_OUT(0));
		__sync_fetch_and_add(&sent_away, 1);
		return XDP_TX;
	}
steer:
	bpf_tail_call(ctx, &hooks, STEER_HOOK_NEXT);
	return XDP_PASS;	/* no steering to go back to: the kernel's */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
