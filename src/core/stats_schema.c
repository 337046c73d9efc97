/* stats_schema.c — the names side of the stats segment: the schema table built from
 * stats.def, lookups by name and index, custom stats registered through the extra
 * API, and reading a stat the way shim_stats shows it (counters minus their -z
 * baselines, summed over slots). */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/stats.h"
#include "core/stats_segment.h"

/* --- schema from stats.def ------------------------------------------------------ */
struct core_stat {
	const char *name, *unit, *doc;
	uint16_t kind;
	uint8_t mode;
	uint16_t count;
	uint32_t offset;
};

#define MODE_counter SHIM_STAT_COUNTER
#define MODE_maximum SHIM_STAT_MAXIMUM
#define MODE_value SHIM_STAT_VALUE
/* unit is stringified by the STAT_* wrappers, before `bool` could expand to _Bool */
#define CORE_STAT(kname, kid, strct, name, count, unit, mode, doc)                    \
	{ kname "." #name, unit, doc, kid, MODE_##mode, count, offsetof(struct strct, name) },

static const struct core_stat core_stats[] = {
#define STAT_SOCK(n, c, u, m, d) CORE_STAT("socket", STATS_KIND_SOCKET, shim_sock_stats, n, c, #u, m, d)
#define STAT_RING(n, c, u, m, d) CORE_STAT("ring", STATS_KIND_RING, shim_ring_stats, n, c, #u, m, d)
#define STAT_CQ(n, c, u, m, d) CORE_STAT("cq", STATS_KIND_CQ, shim_cq_stats, n, c, #u, m, d)
#define STAT_BPOOL(n, c, u, m, d) CORE_STAT("bpool", STATS_KIND_BPOOL, shim_bpool_stats, n, c, #u, m, d)
#define STAT_IOMUX(n, c, u, m, d) CORE_STAT("iomux", STATS_KIND_IOMUX, shim_iomux_stats, n, c, #u, m, d)
#define STAT_GLOBAL(n, c, u, m, d) CORE_STAT("global", STATS_KIND_GLOBAL, shim_global_stats, n, c, #u, m, d)
#include "core/stats.def"
};
#define CORE_STAT_COUNT (sizeof(core_stats) / sizeof(core_stats[0]))


static pthread_mutex_t custom_lock = PTHREAD_MUTEX_INITIALIZER;

unsigned stats_schema_core_count(void)
{
	return CORE_STAT_COUNT;
}

static void fill_schema_entry(struct shim_stats_schema *e, const char *name, const char *unit,
			      const char *doc, unsigned kind, unsigned mode, unsigned count,
			      uint32_t offset)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->unit, sizeof(e->unit), "%s", unit);
	snprintf(e->doc, sizeof(e->doc), "%s", doc);
	e->kind = (uint16_t)kind;
	e->mode = (uint8_t)mode;
	e->count = (uint16_t)count;
	e->offset = offset;
}

void stats_schema_fill_core(struct shim_stats_schema *tab)
{
	for (size_t i = 0; i < CORE_STAT_COUNT; i++) {
		const struct core_stat *c = &core_stats[i];
		fill_schema_entry(&tab[i], c->name, c->unit, c->doc, c->kind, c->mode, c->count,
				  c->offset);
	}
}

void stats_schema_atfork_child(void)
{
	/* a parent thread may have held it at fork() */
	pthread_mutex_init(&custom_lock, NULL);
}

/* --- names and custom stats --------------------------------------------------------- */
int stats_index(const char *name)
{
	if (!stats_seg.base || !name)
		return -ENOENT;
	uint32_t n = __atomic_load_n(&stats_seg.hdr->schema_count, __ATOMIC_ACQUIRE);

	for (uint32_t i = 0; i < n; i++)
		if (strncmp(stats_seg.schema[i].name, name, SHIM_STATS_NAME_LEN) == 0)
			return (int)i;
	return -ENOENT;
}

static bool custom_name_ok(const char *name)
{
	size_t n = name ? strnlen(name, SHIM_STATS_NAME_LEN) : 0;

	if (n == 0 || n >= SHIM_STATS_NAME_LEN || !strchr(name, '.') || name[0] == '.' ||
	    name[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	/* the core kinds' namespaces are the library's */
	for (int k = 0; k < STATS_KIND_COUNT; k++) {
		const char *kn = stats_seg.kinds[k].name;
		size_t kl = strnlen(kn, sizeof(stats_seg.kinds[k].name));
		if (strncmp(name, kn, kl) == 0 && name[kl] == '.')
			return false;
	}
	return true;
}

int stats_custom_register(const char *name, int mode)
{
	int idx;

	if (mode != SHIM_STAT_COUNTER && mode != SHIM_STAT_MAXIMUM)
		return -EINVAL;
	if (!stats_seg.base)
		return -ENODEV;
	if (!custom_name_ok(name))
		return -EINVAL;
	pthread_mutex_lock(&custom_lock);
	if (stats_index(name) >= 0) {
		idx = -EEXIST;
		goto out_unlock;
	}
	if (stats_seg.custom_count >= SHIM_STATS_CUSTOM_MAX) {
		idx = -ENOSPC;
		goto out_unlock;
	}
	uint32_t n = stats_seg.hdr->schema_count;
	if (n >= stats_seg.hdr->schema_cap) {
		idx = -ENOSPC;
		goto out_unlock;
	}
	fill_schema_entry(&stats_seg.schema[n], name, "count",
			  mode == SHIM_STAT_COUNTER ? "application counter" : "application maximum",
			  STATS_KIND_CUSTOM, (unsigned)mode, 1,
			  stats_seg.custom_count * (uint32_t)sizeof(uint64_t));
	stats_seg.custom_count++;
	__atomic_store_n(&stats_seg.hdr->schema_count, n + 1, __ATOMIC_RELEASE);
	idx = (int)n;
out_unlock:
	pthread_mutex_unlock(&custom_lock);
	return idx;
}

static uint64_t *custom_word(int index, int mode)
{
	if (!stats_seg.base || index < 0)
		return NULL;
	uint32_t n = __atomic_load_n(&stats_seg.hdr->schema_count, __ATOMIC_ACQUIRE);
	if ((uint32_t)index >= n)
		return NULL;
	const struct shim_stats_schema *e = &stats_seg.schema[index];
	if (e->kind != STATS_KIND_CUSTOM || e->mode != mode)
		return NULL;
	return (uint64_t *)((char *)stats_slot_values(STATS_KIND_CUSTOM, 0) + e->offset);
}

int stats_custom_add(int index, uint64_t value)
{
	uint64_t *w = custom_word(index, SHIM_STAT_COUNTER);

	if (!w)
		return -EINVAL;
	__atomic_fetch_add(w, value, __ATOMIC_RELAXED);
	return 0;
}

int stats_custom_max(int index, uint64_t value)
{
	uint64_t *w = custom_word(index, SHIM_STAT_MAXIMUM);

	if (!w)
		return -EINVAL;
	stats_max_mt(w, value);
	return 0;
}

/* Displayed value of word w of an open slot (counter minus its -z baseline). */
static uint64_t slot_word(unsigned kind, unsigned i, unsigned mode, uint32_t off)
{
	struct shim_stats_slot *sl = stats_slot_hdr(kind, i);
	const struct shim_stats_kind *k = &stats_seg.kinds[kind];
	uint64_t base = 0, v;

	if (mode == SHIM_STAT_COUNTER &&
	    __atomic_load_n(&sl->base_gen, __ATOMIC_ACQUIRE) == __atomic_load_n(&sl->gen, __ATOMIC_RELAXED))
		base = __atomic_load_n((uint64_t *)((char *)sl + k->base_off + off), __ATOMIC_RELAXED);
	v = __atomic_load_n((uint64_t *)((char *)sl + k->values_off + off), __ATOMIC_RELAXED);
	return v >= base ? v - base : 0;
}

void stats_slot_snapshot(unsigned kind, unsigned i, void *out, size_t size)
{
	uint32_t n = __atomic_load_n(&stats_seg.hdr->schema_count, __ATOMIC_ACQUIRE);
	uint64_t *w = out;

	memset(out, 0, size);
	for (uint32_t e = 0; e < n; e++) {
		const struct shim_stats_schema *st = &stats_seg.schema[e];
		if (st->kind != kind)
			continue;
		for (unsigned j = 0; j < st->count; j++) {
			uint32_t off = st->offset + 8 * j;
			if (off + 8 <= size)
				w[off / 8] = slot_word(kind, i, st->mode, off);
		}
	}
}

int stats_read(int index, uint64_t *value)
{
	if (!value)
		return -EINVAL;
	if (!stats_seg.base)
		return -ENODEV;
	uint32_t n = __atomic_load_n(&stats_seg.hdr->schema_count, __ATOMIC_ACQUIRE);
	if (index < 0 || (uint32_t)index >= n)
		return -ENOENT;
	const struct shim_stats_schema *e = &stats_seg.schema[index];
	uint32_t hwm = __atomic_load_n(&stats_seg.kinds[e->kind].slot_hwm, __ATOMIC_ACQUIRE);
	uint64_t acc = 0;

	for (unsigned i = 0; i < hwm; i++) {
		if (__atomic_load_n(&stats_slot_hdr(e->kind, i)->in_use, __ATOMIC_ACQUIRE) != 1)
			continue;
		uint64_t v = slot_word(e->kind, i, e->mode, e->offset);
		if (e->mode == SHIM_STAT_COUNTER)
			acc += v;
		else if (e->mode == SHIM_STAT_MAXIMUM)
			acc = v > acc ? v : acc;
		else {
			acc = v;
			break;
		}
	}
	*value = acc;
	return 0;
}
