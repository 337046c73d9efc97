/* xdp_fault.bpf.c — fault injection for libshim's own receive path: an XDP program
 * that tests/integ/xdp_fault chains ahead of the running steering program (slot
 * STEER_HOOK_FIRST of its hooks program array), so it sees every frame before libshim
 * steers it to its AF_XDP socket, where a tc program never looks. It drops IPv4 TCP
 * segments at random, loss_permille in a thousand, counts what it saw and did, and
 * hands every other frame back to the steering (slot STEER_HOOK_NEXT). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ring/steer.h"

/* The steering program's own map: the loader points this at it before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, STEER_HOOK_NR);
	__type(key, __u32);
	__type(value, __u32);
} hooks SEC(".maps");

/* Set by the loader before the program is loaded. */
const volatile __u32 loss_permille = 0;

/* Read by the loader when it detaches. */
__u64 tcp_seen = 0;
__u64 tcp_dropped = 0;

SEC("xdp")
int xdp_fault(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP) &&
	    ip->protocol == IPPROTO_TCP) {
		__sync_fetch_and_add(&tcp_seen, 1);
		if (bpf_get_prandom_u32() % 1000 < loss_permille) {
			__sync_fetch_and_add(&tcp_dropped, 1);
			return XDP_DROP;
		}
	}
	bpf_tail_call(ctx, &hooks, STEER_HOOK_NEXT);
	return XDP_PASS;	/* no steering to go back to: the kernel's */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
