/* pkt.h — packet buffers. A struct shim_pkt describes one frame buffer owned by a
 * pool (a ring's UMEM, or plain memory in unit tests). Received frames travel from
 * the ring through the flow demux to a socket's ready queue without a copy; frames
 * to send are built in place in a buffer taken from the TX pool.
 *
 * Ownership rule: exactly one holder owns each reference to a packet. A function
 * whose type says "takes" consumes the reference (it frees it or passes it on); one
 * that says "borrows" must not keep the pointer after it returns. */
#ifndef SHIM_PKT_H
#define SHIM_PKT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pkt_pool;

/* Packet flags. */
#define PKT_F_TX	0x01u	/* buffer belongs to a TX pool */
#define PKT_F_IPFRAG	0x02u	/* IPv4 fragment (MF set or offset != 0) */
#define PKT_F_CSUM_OK	0x04u	/* L3/L4 checksums already verified */
#define PKT_F_MCAST	0x08u	/* IPv4 destination is multicast */
#define PKT_F_BCAST	0x10u	/* IPv4 destination is broadcast */

struct shim_pkt {
	struct shim_pkt *next;	/* list link, free to use by the current owner */
	struct shim_pkt *frag;	/* next buffer of the same datagram (reassembly chain) */
	uint8_t *data;		/* first byte of the frame (Ethernet header) */
	uint32_t len;		/* frame bytes at data */
	uint32_t cap;		/* writable bytes from data to the end of the buffer */
	uint16_t l3_off;	/* IPv4 header offset from data (set by the RX demux) */
	uint16_t l4_off;	/* L4 header offset from data; 0 for non-first fragments */
	uint16_t queue;		/* receive queue the frame arrived on */
	uint16_t flags;		/* PKT_F_* */
	_Atomic uint32_t refcnt;	/* references; the last pkt_free() returns the buffer */
	uint32_t index;		/* buffer index inside its pool */
	uint64_t addr;		/* backend address of the buffer (UMEM offset, ...) */
	uint64_t ts_ns;		/* software RX timestamp, CLOCK_REALTIME ns, 0 if none */
	struct pkt_pool *pool;	/* where the buffer returns */
	void *ring;		/* ring that received it / will send it */
	uint64_t cb[4];		/* scratch for the current owner (queue bookkeeping, ...) */
};

/* A pool of equally sized buffers with a descriptor each. get/put_local are for the
 * pool's owner (the ring, under its lock); pkt_free() may run on any thread: it
 * pushes onto a lock-free return stack that the owner drains in one exchange (only
 * the owner pops, so the stack has no ABA problem). */
struct pkt_pool {
	struct shim_pkt *descs;	/* nbufs descriptors */
	uint8_t *base;		/* memory of buffer 0 */
	uint32_t nbufs;
	uint32_t buf_size;	/* bytes per buffer */
	uint32_t first_index;	/* index of descs[0] inside the backend area */
	uint32_t headroom;	/* bytes reserved in front of data for TX building */
	uint16_t flags;		/* PKT_F_TX for TX pools */
	struct shim_pkt *free;	/* owner-only free list */
	uint32_t nfree;		/* entries on free */
	_Atomic(struct shim_pkt *) returned;	/* pushed by pkt_free() from any thread */
	_Atomic uint32_t nreturned;
	void (*on_return)(struct pkt_pool *p);	/* optional hook after a return, may be NULL */
	void *owner;
};

/* Set up pool over nbufs buffers of buf_size bytes at base, with addresses
 * base_addr + i * buf_size. Allocates the descriptors; all buffers start free. */
int pkt_pool_init(struct pkt_pool *p, void *base, uint64_t base_addr, uint32_t nbufs,
		  uint32_t buf_size, uint16_t flags);
/* Free the descriptors (the buffer memory belongs to whoever gave it). */
void pkt_pool_fini(struct pkt_pool *p);
/* Owner only: take a free buffer (refcnt 1, len 0) or NULL. The caller owns it. */
struct shim_pkt *pkt_pool_get(struct pkt_pool *p);
/* Owner only: put a buffer back directly (takes the caller's reference). */
void pkt_pool_put_local(struct pkt_pool *p, struct shim_pkt *pkt);
/* Owner only: move everything pkt_free() returned onto the local free list;
 * returns how many buffers moved. */
uint32_t pkt_pool_drain(struct pkt_pool *p);
/* Any thread: the buffer is free again (takes the last reference). */
void pkt_pool_return(struct pkt_pool *p, struct shim_pkt *pkt);
/* Buffers currently available to the owner (local + returned). */
uint32_t pkt_pool_available(const struct pkt_pool *p);
/* Descriptor of the buffer at backend address addr (any offset inside it), or NULL. */
struct shim_pkt *pkt_pool_lookup(struct pkt_pool *p, uint64_t addr);

/* Another holder now shares the packet and its frag chain (e.g. two multicast
 * sockets receiving the same datagram). */
static inline void pkt_ref(struct shim_pkt *pkt)
{
	for (; pkt; pkt = pkt->frag)
		atomic_fetch_add_explicit(&pkt->refcnt, 1, memory_order_relaxed);
}

/* Drop one reference to pkt and to every buffer on its frag chain (takes them). */
static inline void pkt_free(struct shim_pkt *pkt)
{
	while (pkt) {
		struct shim_pkt *frag = pkt->frag;

		if (atomic_fetch_sub_explicit(&pkt->refcnt, 1, memory_order_acq_rel) == 1) {
			pkt->frag = NULL;
			pkt_pool_return(pkt->pool, pkt);
		}
		pkt = frag;
	}
}

/* Free every packet on a ->next list (takes them). */
static inline void pkt_free_list(struct shim_pkt *pkt)
{
	while (pkt) {
		struct shim_pkt *next = pkt->next;

		pkt_free(pkt);
		pkt = next;
	}
}

/* Total bytes of a frag chain (borrows). */
static inline uint32_t pkt_chain_len(const struct shim_pkt *pkt)
{
	uint32_t n = 0;

	for (; pkt; pkt = pkt->frag)
		n += pkt->len;
	return n;
}

/* A consumer of packets: takes ownership of pkt (frees it or keeps it). */
typedef void (*pkt_take_fn)(void *ctx, struct shim_pkt *pkt);
/* An inspector: borrows pkt; must not keep it nor free it. */
typedef bool (*pkt_borrow_fn)(void *ctx, const struct shim_pkt *pkt);

#endif
