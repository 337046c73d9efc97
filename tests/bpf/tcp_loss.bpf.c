/* tcp_loss.bpf.c — fault injection for the TCP interop tests: a tc (cls_bpf,
 * direct-action) program for the peer's veth that drops IPv4 TCP segments at random,
 * LOSS_PERMILLE in a thousand (set at build time), in whichever direction it is
 * attached. Everything else passes. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef LOSS_PERMILLE
#define LOSS_PERMILLE 10
#endif

SEC("tc")
int tcp_loss(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	if (bpf_get_prandom_u32() % 1000 < LOSS_PERMILLE)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
