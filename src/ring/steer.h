/* steer.h — map layouts shared by the XDP steering program (steer.bpf.c) and the
 * AF_XDP backend (ring_xdp.c). Addresses and ports are in network byte order, as they
 * appear in the packet, so the program compares without swapping. Every key is
 * padded explicitly: hash maps compare the whole key, padding included. */
#ifndef SHIM_STEER_H
#define SHIM_STEER_H

#include <linux/types.h>

#define STEER_MAX_QUEUES	64	/* queues per ring (RING_MAX_QUEUES) */
#define STEER_MAX_SLOTS		4	/* XSK sets per interface */
#define STEER_XSK_ENTRIES	(STEER_MAX_QUEUES * STEER_MAX_SLOTS)
#define STEER_FLOW_ENTRIES	65536
#define STEER_MCAST_ENTRIES	4096
#define STEER_FRAG_ENTRIES	4096

/* XSKMAP key: slot * STEER_MAX_QUEUES + rx queue index. */

struct steer_key5 {		/* remote -> local, 5-tuple */
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct steer_key3 {		/* local address (0 = any), local port, protocol */
	__u32 daddr;
	__u16 dport;
	__u8 proto;
	__u8 pad;
};

/* Non-first IPv4 fragments carry no ports: they follow their first fragment, whose
 * (src, dst, id, proto) the program learns when the first fragment hits a flow. */
struct steer_frag_key {
	__u32 saddr;
	__u32 daddr;
	__u16 id;
	__u8 proto;
	__u8 pad;
};

struct steer_val {
	__u32 slot;		/* XSK set that receives the flow */
};

/* Slots of the hooks program array (see steer.bpf.c). */
enum steer_hook {
	STEER_HOOK_FIRST = 0,	/* a chained program, empty unless a tool fills it */
	STEER_HOOK_NEXT,	/* shim_steer_next, installed at load */
	STEER_HOOK_NR,
};

#ifdef __bpf__
/* The hooks program array, declared alike by the steering program and by a program
 * chained on it (which points its copy at the running program's map). */
#define STEER_HOOKS_MAP(name)						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);			\
		__uint(max_entries, STEER_HOOK_NR);			\
		__type(key, __u32);					\
		__type(value, __u32);					\
	} name SEC(".maps")
#endif

/* Per-CPU counters of the program, index = enum steer_stat. */
enum steer_stat {
	STEER_ST_REDIRECT = 0,	/* handed to bpf_redirect_map on a flow hit */
	STEER_ST_PASS,		/* left to the kernel */
	STEER_ST_FRAG_LEARN,	/* first fragment of an offloaded datagram */
	STEER_ST_FRAG_FOLLOW,	/* later fragment redirected after its first */
	STEER_ST_NR,
};

#endif
