/* tcp_reorder.bpf.c — reordering for the TCP interop tests, without netem: a tc
 * (cls_bpf, direct-action) program for the kernel peer's veth that detours one TCP
 * data segment in REORDER_EVERY through an ifb device (ifindex DETOUR_IFINDEX, set
 * at build time; the test creates the ifb with that index). The ifb re-injects the
 * segment from its own tasklet, after the segments that followed it in the same
 * softirq round, so it reaches the receiver out of order. Re-injected segments skip
 * classification; everything else passes untouched. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef REORDER_EVERY
#define REORDER_EVERY 20
#endif
#ifndef DETOUR_IFINDEX
#define DETOUR_IFINDEX 4242
#endif

/* Segments seen and detoured, read by the test with bpftool. */
__u64 data_segs = 0;
__u64 detoured = 0;

SEC("tc")
int tcp_reorder(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *th;
	__u32 ihl, payload;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return TC_ACT_OK;
	th = (void *)ip + ihl;
	if ((void *)(th + 1) > end)
		return TC_ACT_OK;
	payload = bpf_ntohs(ip->tot_len) - ihl - th->doff * 4;
	if ((int)payload <= 0 || th->syn || th->fin || th->rst)
		return TC_ACT_OK;
	if (__sync_fetch_and_add(&data_segs, 1) % REORDER_EVERY != REORDER_EVERY / 2)
		return TC_ACT_OK;
	__sync_fetch_and_add(&detoured, 1);
	return bpf_redirect(DETOUR_IFINDEX, 0);
}

char LICENSE[] SEC("license") = "GPL";
