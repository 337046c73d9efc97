/* ring_stats.h — ring counters in the stats segment (ring_stats.c). Internal to
 * ring/: the registry attaches a ring when it opens it and detaches it at close. */
#ifndef SHIM_RING_STATS_H
#define SHIM_RING_STATS_H

struct ring;

void ring_stats_attach(struct ring *r);
/* Copy the ring's counters into its blocks (internal thread, close). */
void ring_stats_publish(struct ring *r);
void ring_stats_detach(struct ring *r);
/* fork() child, before the inherited rings are released. */
void ring_stats_atfork_child(void);
/* One more socket that found no backend (global no_backend counter). */
void ring_stats_no_backend(void);

#endif
