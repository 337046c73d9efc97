/* xdp_fault.bpf.c — fault injection for libshim's own receive path: an XDP program
 * that tests/integ/xdp_fault chains ahead of the running steering program (slot
 * STEER_HOOK_FIRST of its hooks program array), so it sees every frame before libshim
 * steers it to its AF_XDP socket, where a tc program never looks. Two faults:
 *  - loss: IPv4 TCP segments dropped at random, loss_permille in a thousand;
 *  - reordering: an XDP program cannot hold a frame, so one TCP data segment in
 *    reorder_every is sent on a trip: out of the interface again (XDP_TX) with a
 *    marked source MAC; the same program chained on the peer's host sees the mark
 *    and sends it back, re-marked; after reorder_trips round trips the source MAC is
 *    put back and the segment steered, behind the segments that overtook it. A trip
 *    within one softirq is often over before the next segment is even sent, so with
 *    -c the reflecting host sends it back from a cpumap thread instead (program
 *    xdp_fault_reflect), which runs later. The segment reaches libshim's AF_XDP ring
 *    only through the receiving veth's own NAPI, like every frame: no other context
 *    ever writes that ring.
 *    On a host whose traffic is the kernel's (loaded on its own, -s -c), the segment
 *    goes to the cpumap thread of the other CPU, which hands it to the kernel's stack
 *    later.
 * Every frame it keeps goes back to the steering (slot STEER_HOOK_NEXT), or to the
 * kernel when it runs on its own. */
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

/* CPUs whose cpumap threads take detoured segments (-c: the loader fills them). */
struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpus SEC(".maps");

/* Set by the loader before the program is loaded. */
const volatile __u32 loss_permille = 0;
const volatile __u32 reorder_every = 0;
const volatile __u32 reorder_trips = 1;	/* round trips per detoured segment */
const volatile __u64 reorder_max = 0;	/* detours in all, 0 for no limit */
const volatile __u32 detour_cpus = 0;	/* CPUs in the cpumap, 0 without -c */
const volatile __u32 to_kernel = 0;	/* on its own: detours go to the kernel's stack */
const volatile __u32 out_ifindex = 0;	/* where the cpumap thread sends reflections */

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
		if (detour_cpus)	/* later, from this CPU's cpumap thread */
			return bpf_redirect_map(&cpus, bpf_get_smp_processor_id() %
						detour_cpus, XDP_TX);
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
	    __sync_fetch_and_add(&data_segs, 1) % reorder_every == reorder_every / 2 &&
	    (!reorder_max || sent_away < reorder_max)) {
		__sync_fetch_and_add(&sent_away, 1);
		if (detour_cpus && to_kernel) {
			__u32 cpu = (bpf_get_smp_processor_id() + 1) % detour_cpus;

			__sync_fetch_and_add(&returned, 1);
			return bpf_redirect_map(&cpus, cpu, XDP_PASS);
		}
		set_mark(eth->h_source, MARK_OUT(0));
		return XDP_TX;
	}
steer:
	bpf_tail_call(ctx, &hooks, STEER_HOOK_NEXT);
	return XDP_PASS;	/* no steering to go back to: the kernel's */
}

/* The cpumap thread's program on the reflecting host: out of the interface again, so
 * the segment reaches the peer's NAPI (which alone steers it to its AF_XDP ring). */
SEC("xdp/cpumap")
int xdp_fault_reflect(struct xdp_md *ctx)
{
	return bpf_redirect(out_ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
