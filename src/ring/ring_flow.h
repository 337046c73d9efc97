/* ring_flow.h — the per-ring flow table behind ring_flow_attach() and the RX demux:
 * a hash of flow keys (5-tuple, 3-tuple, multicast group) to the sinks attached to
 * them. The table is used under the ring's rx lock; the first sink of a key installs
 * the backend's steering, the last one removes it. Internal to ring/. */
#ifndef SHIM_RING_FLOW_H
#define SHIM_RING_FLOW_H

#include <stdbool.h>

#include "ring/ring.h"

int ring_flow_table_new(struct ring_flow_table **out);
void ring_flow_table_free(struct ring_flow_table *t);
/* Add sink (rx, ctx) to key f; installs steering through r->ops on a new key. */
int ring_flow_table_add(struct ring *r, struct ring_flow_table *t, const struct ring_flow *f,
			pkt_take_fn rx, void *ctx);
/* Remove one sink; -ENOENT when it is not attached. */
int ring_flow_table_del(struct ring *r, struct ring_flow_table *t, const struct ring_flow *f,
			pkt_take_fn rx, void *ctx);
/* Remove every key's steering and every sink (ring close). */
void ring_flow_table_clear(struct ring *r, struct ring_flow_table *t);
/* Hand p (l3_off/l4_off set) to the sinks of the most specific matching key: true
 * when it was taken, false when nothing matched (p still belongs to the caller). */
bool ring_flow_table_deliver(struct ring_flow_table *t, struct shim_pkt *p);
/* Keys in the table. */
unsigned ring_flow_table_count(const struct ring_flow_table *t);

#endif
