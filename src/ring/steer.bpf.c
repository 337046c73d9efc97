/* steer.bpf.c — libshim's XDP program. It redirects frames of offloaded flows
 * (IPv4 UDP/TCP 5-tuple, then 3-tuple, then multicast group) to the AF_XDP socket
 * bound on the arriving queue; everything else (ARP, ICMP, IPv6, flows we do not
 * own) is XDP_PASS to the kernel. ring_xdp.c fills the maps and attaches the program
 * through a BPF link, so the kernel gets its traffic back when the process dies.
 * Fragments: a first fragment that hits a flow teaches (src, dst, id, proto) to an
 * LRU map and later fragments with that key follow it; anything else stays kernel.
 * The entry tail-calls a chained program first when one is installed (hooks map). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "ring/steer.h"

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, STEER_XSK_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_FLOW_ENTRIES);
	__type(key, struct steer_key5);
	__type(value, struct steer_val);
} flow5 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_FLOW_ENTRIES);
	__type(key, struct steer_key3);
	__type(value, struct steer_val);
} flow3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_MCAST_ENTRIES);
	__type(key, __u32);
	__type(value, struct steer_val);
} mcast SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, STEER_FRAG_ENTRIES);
	__type(key, struct steer_frag_key);
	__type(value, struct steer_val);
} frags SEC(".maps");

/* The chaining point ahead of the steering, in the manner of libxdp's dispatcher: a
 * test or monitoring program put in slot STEER_HOOK_FIRST sees every frame before it
 * is steered (the fault injector of tests/bpf/xdp_fault.bpf.c drops TCP frames there,
 * where a tc program never looks), and either gives the verdict itself or tail-calls
 * slot STEER_HOOK_NEXT, shim_steer_next, to have the frame steered as usual. The
 * product installs only shim_steer_next. A tail call rather than an freplace'd
 * global function because kernels that refuse BPF_PROG_TYPE_EXT and fentry (as under
 * lockdown) still allow tail calls; with a constant key and an empty slot the JIT
 * emits a patched no-op jump, so the hook costs nothing until it is filled. */
STEER_HOOKS_MAP(hooks);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STEER_ST_NR);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Ports of UDP and TCP sit at the same offsets. */
struct l4_ports {
	__u16 source;
	__u16 dest;
};

static __always_inline void count(__u32 what)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &what);

	if (v)
		*v += 1;
}

static __always_inline int pass(void)
{
	count(STEER_ST_PASS);
	return XDP_PASS;
}

static __always_inline int redirect(struct xdp_md *ctx, const struct steer_val *v)
{
	__u32 key = v->slot * STEER_MAX_QUEUES + ctx->rx_queue_index;

	count(STEER_ST_REDIRECT);
	/* No XSK on this queue (not covered by the ring): the kernel gets the frame. */
	return bpf_redirect_map(&xsks, key, XDP_PASS);
}

static __always_inline const struct steer_val *
flow_lookup(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport, __u8 proto)
{
	struct steer_key5 k5 = { .saddr = saddr, .daddr = daddr, .sport = sport,
				 .dport = dport, .proto = proto };
	struct steer_key3 k3 = { .daddr = daddr, .dport = dport, .proto = proto };
	const struct steer_val *v;

	/* 224.0.0.0/4 (first byte, network order): only a group joined here is ours,
	 * never through a port bound to any address. */
	if ((daddr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000))
		return bpf_map_lookup_elem(&mcast, &daddr);
	v = bpf_map_lookup_elem(&flow5, &k5);
	if (v)
		return v;
	v = bpf_map_lookup_elem(&flow3, &k3);
	if (v)
		return v;
	k3.daddr = 0;		/* bound to INADDR_ANY */
	v = bpf_map_lookup_elem(&flow3, &k3);
	if (v)
		return v;
	/* 224.0.0.0/4: the first byte of the address in network order. */
	if ((daddr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000))
		v = bpf_map_lookup_elem(&mcast, &daddr);
	return v;
}

static __always_inline int steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct l4_ports *l4;
	const struct steer_val *v;
	__u32 ihl;
	__u16 frag;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return pass();
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->version != 4)
		return pass();
	if (ip->protocol != IPPROTO_UDP && ip->protocol != IPPROTO_TCP)
		return pass();
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return pass();

	frag = bpf_ntohs(ip->frag_off);
	if (frag & 0x1fff) {
		/* Later fragment: no ports; follow the first fragment if it was ours. */
		struct steer_frag_key fk = { .saddr = ip->saddr, .daddr = ip->daddr,
					     .id = ip->id, .proto = ip->protocol };

		v = bpf_map_lookup_elem(&frags, &fk);
		if (!v)
			return pass();
		count(STEER_ST_FRAG_FOLLOW);
		return redirect(ctx, v);
	}

	l4 = (void *)ip + ihl;
	if ((void *)(l4 + 1) > data_end)
		return pass();
	v = flow_lookup(ip->saddr, ip->daddr, l4->source, l4->dest, ip->protocol);
	if (!v)
		return pass();
	if (frag & 0x2000) {	/* MF: first fragment of a datagram we own */
		struct steer_frag_key fk = { .saddr = ip->saddr, .daddr = ip->daddr,
					     .id = ip->id, .proto = ip->protocol };
		struct steer_val copy = *v;

		bpf_map_update_elem(&frags, &fk, &copy, BPF_ANY);
		count(STEER_ST_FRAG_LEARN);
	}
	return redirect(ctx, v);
}

SEC("xdp")
int shim_steer(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &hooks, STEER_HOOK_FIRST);	/* returns only when empty */
	return steer(ctx);
}

/* The steering without the hook: what a chained program tail-calls to go on. */
SEC("xdp")
int shim_steer_next(struct xdp_md *ctx)
{
	return steer(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
