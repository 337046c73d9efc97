/* pkt.c — buffer pools behind struct shim_pkt. A ring's UMEM is carved into pools
 * (RX and TX); the owner allocates under its ring lock, any thread frees through a
 * lock-free return stack. Unit tests build pools over plain heap memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/pkt.h"

int pkt_pool_init(struct pkt_pool *p, void *base, uint64_t base_addr, uint32_t nbufs,
		  uint32_t buf_size, uint16_t flags)
{
	uint32_t i;

	if (!base || !nbufs || !buf_size)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->descs = calloc(nbufs, sizeof(*p->descs));
	if (!p->descs)
		return -ENOMEM;
	p->base = base;
	p->nbufs = nbufs;
	p->buf_size = buf_size;
	p->flags = flags;
	p->first_index = (uint32_t)(base_addr / buf_size);
	atomic_init(&p->returned, NULL);
	atomic_init(&p->nreturned, 0);
	/* Build the free list backwards so buffer 0 is handed out first. */
	for (i = nbufs; i-- > 0;) {
		struct shim_pkt *d = &p->descs[i];

		d->index = i;
		d->addr = base_addr + (uint64_t)i * buf_size;
		d->pool = p;
		d->flags = flags;
		atomic_init(&d->refcnt, 0);
		d->next = p->free;
		p->free = d;
	}
	p->nfree = nbufs;
	return 0;
}

void pkt_pool_fini(struct pkt_pool *p)
{
	free(p->descs);
	p->descs = NULL;
	p->free = NULL;
	p->nfree = 0;
	p->nbufs = 0;
}

uint32_t pkt_pool_drain(struct pkt_pool *p)
{
	struct shim_pkt *list, *last;
	uint32_t n = 1;

	if (!atomic_load_explicit(&p->returned, memory_order_relaxed))
		return 0;
	list = atomic_exchange_explicit(&p->returned, NULL, memory_order_acquire);
	if (!list)
		return 0;
	for (last = list; last->next; last = last->next)
		n++;
	atomic_fetch_sub_explicit(&p->nreturned, n, memory_order_relaxed);
	last->next = p->free;
	p->free = list;
	p->nfree += n;
	return n;
}

struct shim_pkt *pkt_pool_get(struct pkt_pool *p)
{
	struct shim_pkt *pkt = p->free;

	if (!pkt) {
		pkt_pool_drain(p);
		pkt = p->free;
		if (!pkt)
			return NULL;
	}
	p->free = pkt->next;
	p->nfree--;
	pkt->next = NULL;
	pkt->frag = NULL;
	pkt->data = p->base + (size_t)pkt->index * p->buf_size + p->headroom;
	pkt->cap = p->buf_size - p->headroom;
	pkt->len = 0;
	pkt->l3_off = pkt->l4_off = 0;
	pkt->queue = 0;
	pkt->flags = p->flags;
	pkt->ts_ns = 0;
	atomic_store_explicit(&pkt->refcnt, 1, memory_order_relaxed);
	return pkt;
}

void pkt_pool_put_local(struct pkt_pool *p, struct shim_pkt *pkt)
{
	atomic_store_explicit(&pkt->refcnt, 0, memory_order_relaxed);
	pkt->frag = NULL;
	pkt->next = p->free;
	p->free = pkt;
	p->nfree++;
}

void pkt_pool_return(struct pkt_pool *p, struct shim_pkt *pkt)
{
	struct shim_pkt *head = atomic_load_explicit(&p->returned, memory_order_relaxed);

	do
		pkt->next = head;
	while (!atomic_compare_exchange_weak_explicit(&p->returned, &head, pkt,
						      memory_order_release,
						      memory_order_relaxed));
	/* A closing owner's on_return hook frees the descriptors once the count says
	 * every buffer is back: our writes to pkt come first, and count then hook are
	 * sequentially consistent with the owner's hook-then-count, so one side sees
	 * the other. */
	void (*hook)(struct pkt_pool *);

	atomic_fetch_add_explicit(&p->nreturned, 1, memory_order_seq_cst);
	hook = __atomic_load_n(&p->on_return, __ATOMIC_SEQ_CST);
	if (hook)
		hook(p);
}

uint32_t pkt_pool_available(const struct pkt_pool *p)
{
	return p->nfree + atomic_load_explicit(&((struct pkt_pool *)p)->nreturned,
					       memory_order_relaxed);
}

struct shim_pkt *pkt_pool_lookup(struct pkt_pool *p, uint64_t addr)
{
	uint64_t idx = addr / p->buf_size;

	if (idx < p->first_index || idx - p->first_index >= p->nbufs)
		return NULL;
	return &p->descs[idx - p->first_index];
}
