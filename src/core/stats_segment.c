/* stats_segment.c — creates, maps, forks and removes the per-process stats segment
 * (layout in stats_layout.h), hands out slots and applies -z. The schema and custom
 * stats are in stats_schema.c. Knows nothing of parameters or the log: stats.c wires
 * it to the library and handles the data-path open/close calls.
 *
 * Baselines (-z): a counter's value is written only by its block's writer, so -z
 * cannot zero it without losing a racing increment. Instead the internal thread
 * copies values into the slot's base area and then publishes base_gen = gen; a
 * reader shows value - base while base_gen == gen. Reopening a slot bumps gen,
 * which voids old baselines. Maxima are simply stored as 0 (a racing STAT_MAX only
 * means the new mark starts a few nanoseconds earlier). */
#include "core/stats_segment.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/stats.h"

struct kind_def {
	const char *name;
	size_t values_size;
	unsigned slots;		/* 0: from the configuration (sockets) */
};

static const struct kind_def kind_defs[STATS_KIND_COUNT] = {
	[STATS_KIND_SOCKET] = { "socket", sizeof(struct shim_sock_stats), 0 },
	[STATS_KIND_RING] = { "ring", sizeof(struct shim_ring_stats), 64 },
	[STATS_KIND_CQ] = { "cq", sizeof(struct shim_cq_stats), 64 },
	[STATS_KIND_BPOOL] = { "bpool", sizeof(struct shim_bpool_stats), 64 },
	[STATS_KIND_IOMUX] = { "iomux", sizeof(struct shim_iomux_stats), 64 },
	[STATS_KIND_GLOBAL] = { "global", sizeof(struct shim_global_stats), 1 },
	[STATS_KIND_CUSTOM] = { "custom", SHIM_STATS_CUSTOM_MAX * sizeof(uint64_t), 1 },
};

struct stats_segment stats_seg;

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

/* --- identity ----------------------------------------------------------------- */
/* Bounded copy that always terminates (names are cut, never overflow). */
static void copy_cut(char *dst, size_t dstsz, const char *src)
{
	size_t n = strnlen(src, dstsz - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void read_cmdline(char *cmd, size_t cmdsz, char *prog, size_t progsz)
{
	char buf[SHIM_STATS_CMDLINE_LEN];
	ssize_t n = 0;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0)
		n = 0;
	buf[n] = '\0';
	const char *slash = strrchr(buf, '/');
	copy_cut(prog, progsz, slash ? slash + 1 : buf);
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0' && i + 1 < n)
			buf[i] = ' ';
	copy_cut(cmd, cmdsz, buf);
}

/* --- layout ------------------------------------------------------------------- */
static size_t layout(unsigned fd_num, struct shim_stats_kind *kinds, uint32_t *schema_off,
		     uint32_t *ctl_off)
{
	size_t off = align_up(sizeof(struct shim_stats_hdr), 64);
	size_t kinds_off = off;

	off = align_up(kinds_off + STATS_KIND_COUNT * sizeof(struct shim_stats_kind), 64);
	*schema_off = (uint32_t)off;
	off += (stats_schema_core_count() + SHIM_STATS_CUSTOM_MAX) * sizeof(struct shim_stats_schema);
	off = align_up(off, 64);
	*ctl_off = (uint32_t)off;
	off = align_up(off + sizeof(struct shim_stats_ctl), 4096);
	for (int k = 0; k < STATS_KIND_COUNT; k++) {
		struct shim_stats_kind *kd = &kinds[k];
		size_t vsz = align_up(kind_defs[k].values_size, 8);

		memset(kd, 0, sizeof(*kd));
		snprintf(kd->name, sizeof(kd->name), "%s", kind_defs[k].name);
		/* sockets: fd_num slots plus the shared one for sockets beyond them */
		kd->slot_count = kind_defs[k].slots ? kind_defs[k].slots : fd_num + 1;
		kd->values_off = sizeof(struct shim_stats_slot);
		kd->base_off = (uint32_t)(kd->values_off + vsz);
		kd->nvalues = (uint32_t)(vsz / 8);
		kd->slot_size = (uint32_t)align_up(kd->base_off + vsz, 64);
		kd->slots_off = off;
		off = align_up(off + (size_t)kd->slot_size * kd->slot_count, 64);
	}
	(void)kinds_off;
	return align_up(off, 4096);
}

static void fill_identity(struct shim_stats_hdr *h)
{
	struct timespec ts;

	h->pid = getpid();
	h->proc_starttime = stats_proc_starttime(h->pid);
	clock_gettime(CLOCK_REALTIME, &ts);
	h->start_time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	read_cmdline(h->cmdline, sizeof(h->cmdline), h->program, sizeof(h->program));
}

static void seg_set_pointers(struct stats_segment *s)
{
	s->hdr = s->base;
	s->kinds = (struct shim_stats_kind *)((char *)s->base + s->hdr->kinds_off);
	s->schema = (struct shim_stats_schema *)((char *)s->base + s->hdr->schema_off);
	s->ctl = (struct shim_stats_ctl *)((char *)s->base + s->hdr->ctl_off);
}

static void format_paths(struct stats_segment *s, int pid, char *tmp, size_t tmpsz)
{
	snprintf(s->path, sizeof(s->path), "%s/" SHIM_STATS_FILE_PREFIX "%d", s->dir, pid);
	snprintf(tmp, tmpsz, "%s/." SHIM_STATS_FILE_PREFIX "%d.tmp", s->dir, pid);
}

/* Open a fresh 0600 file of the segment's size under a temporary name. */
static int open_tmp(const char *tmp, size_t size)
{
	int fd;

	unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)size) < 0) {
		int err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	return fd;
}

int stats_segment_create(const char *dir, unsigned fd_num)
{
	struct stats_segment *s = &stats_seg;
	struct shim_stats_kind kinds[STATS_KIND_COUNT];
	uint32_t schema_off, ctl_off;
	char tmp[PATH_MAX];
	size_t size;
	void *base;
	int fd, err;

	if (s->base)
		return -EALREADY;
	if (!dir || !*dir)
		return -ENOENT;
	if (fd_num > 1024)
		fd_num = 1024;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	format_paths(s, getpid(), tmp, sizeof(tmp));
	size = layout(fd_num, kinds, &schema_off, &ctl_off);
	fd = open_tmp(tmp, size);
	if (fd < 0)
		return fd;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		err = -errno;
		goto out_unlink;
	}

	struct shim_stats_hdr *h = base;
	memcpy(h->magic, SHIM_STATS_MAGIC, sizeof(h->magic));
	h->layout_version = SHIM_STATS_LAYOUT_VERSION;
	h->hdr_size = sizeof(*h);
	h->file_size = size;
#ifdef SHIM_VERSION
	snprintf(h->lib_version, sizeof(h->lib_version), "%s", SHIM_VERSION);
#endif
	fill_identity(h);
	h->kinds_off = (uint32_t)align_up(sizeof(*h), 64);
	h->kind_count = STATS_KIND_COUNT;
	h->kind_entry_size = sizeof(struct shim_stats_kind);
	h->schema_off = schema_off;
	h->schema_entry_size = sizeof(struct shim_stats_schema);
	h->schema_cap = stats_schema_core_count() + SHIM_STATS_CUSTOM_MAX;
	h->schema_core_count = stats_schema_core_count();
	h->ctl_off = ctl_off;
	h->ctl_size = sizeof(struct shim_stats_ctl);
	s->base = base;
	s->size = size;
	seg_set_pointers(s);
	memcpy(s->kinds, kinds, sizeof(kinds));
	stats_schema_fill_core(s->schema);
	h->schema_count = stats_schema_core_count();
	s->custom_count = 0;
	s->ctl->cur_log_level = -1;
	s->ctl->cur_log_details = -1;
	/* the global and custom kinds have one slot, always open */
	stats_slot_open(STATS_KIND_GLOBAL, 0, "process");
	stats_slot_open(STATS_KIND_CUSTOM, 0, "custom");
	__atomic_store_n(&h->ready, 1, __ATOMIC_RELEASE);
	if (rename(tmp, s->path) < 0) {
		err = -errno;
		munmap(base, size);
		s->base = NULL;
		goto out_unlink;
	}
	close(fd);
	return 0;

out_unlink:
	close(fd);
	unlink(tmp);
	return err;
}

/* Write the current contents to a new file and map it over the same addresses:
 * every block pointer held by inherited sockets stays valid and now points at it. */
static int publish_file(struct stats_segment *s)
{
	char tmp[PATH_MAX];
	size_t done = 0;
	void *m;
	int fd, err = -EIO;

	format_paths(s, getpid(), tmp, sizeof(tmp));
	fd = open_tmp(tmp, s->size);
	if (fd < 0)
		return fd;
	while (done < s->size) {
		ssize_t n = pwrite(fd, (char *)s->base + done, s->size - done, (off_t)done);
		if (n <= 0)
			goto out_close;
		done += (size_t)n;
	}
	/* an update made by another thread between the copy and the swap is lost:
	 * a few counts, once, in the child's first moments */
	m = mmap(s->base, s->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (m == MAP_FAILED)
		goto out_close;
	if (rename(tmp, s->path) < 0) {
		err = -errno;
		goto out_close;
	}
	close(fd);
	return 0;

out_close:
	close(fd);
	unlink(tmp);
	s->path[0] = '\0';
	return err;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int stats_segment_fork_child(void)
{
	struct stats_segment *s = &stats_seg;
	void *copy;

	if (!s->base)
		return 0;
	stats_schema_atfork_child();
	s->path[0] = '\0';
	/* From now on never write the parent's file: take a private copy at the same
	 * addresses. The child's own file comes later (stats_segment_publish), so the
	 * many children that exec or _exit at once leave nothing behind. */
	copy = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (copy != MAP_FAILED)
		memcpy(copy, s->base, s->size);
	if (mmap(s->base, s->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) == MAP_FAILED) {
		/* cannot happen short of address-space exhaustion; stop counting rather
		 * than corrupt the parent's segment */
		mprotect(s->base, s->size, PROT_READ);
		s->base = NULL;
		return -ENOMEM;
	}
	if (copy == MAP_FAILED)
		return -ENOMEM;	/* zeroed private memory: counts start over, unpublished */
	memcpy(s->base, copy, s->size);
	munmap(copy, s->size);
	fill_identity(s->hdr);
	memset(s->ctl, 0, sizeof(*s->ctl));
	s->ctl->cur_log_level = -1;
	s->ctl->cur_log_details = -1;
	s->publish_after_ns = mono_ns() + STATS_PUBLISH_DELAY_MS * 1000000ull;
	s->pending_publish = true;
	return 0;
}

int stats_segment_publish(bool now)
{
	struct stats_segment *s = &stats_seg;
	int err;

	if (!s->base || !s->pending_publish)
		return 0;
	if (!now && mono_ns() < s->publish_after_ns)
		return -EAGAIN;
	s->pending_publish = false;
	err = publish_file(s);
	return err;
}

void stats_segment_remove(void)
{
	struct stats_segment *s = &stats_seg;

	if (s->base && s->path[0] && s->hdr->pid == getpid())
		unlink(s->path);
	s->path[0] = '\0';
}

/* --- slots ------------------------------------------------------------------------ */
static inline struct shim_stats_slot *slot_at(unsigned kind, unsigned i)
{
	const struct shim_stats_kind *k = &stats_seg.kinds[kind];

	return (struct shim_stats_slot *)((char *)stats_seg.base + k->slots_off +
					  (size_t)i * k->slot_size);
}

void *stats_slot_values(unsigned kind, unsigned i)
{
	return (char *)slot_at(kind, i) + stats_seg.kinds[kind].values_off;
}

static void slot_claim(unsigned kind, unsigned i, struct shim_stats_slot *sl, int64_t id,
		       const char *label)
{
	const struct shim_stats_kind *k = &stats_seg.kinds[kind];
	uint64_t *v = (uint64_t *)((char *)sl + k->values_off);
	uint64_t *b = (uint64_t *)((char *)sl + k->base_off);

	for (unsigned w = 0; w < k->nvalues; w++) {
		__atomic_store_n(&v[w], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&b[w], 0, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&sl->gen, sl->gen + 1, __ATOMIC_RELAXED);
	sl->id = id;
	memset(sl->label, 0, sizeof(sl->label));
	if (label)
		snprintf(sl->label, sizeof(sl->label), "%s", label);
	__atomic_store_n(&sl->in_use, 1, __ATOMIC_RELEASE);
	uint32_t hwm = __atomic_load_n(&stats_seg.kinds[kind].slot_hwm, __ATOMIC_RELAXED);
	while (i + 1 > hwm &&
	       !__atomic_compare_exchange_n(&stats_seg.kinds[kind].slot_hwm, &hwm, i + 1, true,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

int stats_slot_open(unsigned kind, int64_t id, const char *label)
{
	if (!stats_seg.base || kind >= STATS_KIND_COUNT)
		return -ENODEV;
	const struct shim_stats_kind *k = &stats_seg.kinds[kind];
	unsigned n = kind == STATS_KIND_SOCKET ? k->slot_count - 1 : k->slot_count;

	/* lowest free slot first, so the reader's scan stays short */
	for (unsigned i = 0; i < n; i++) {
		struct shim_stats_slot *sl = slot_at(kind, i);
		uint32_t expect = 0;

		if (__atomic_load_n(&sl->in_use, __ATOMIC_RELAXED) != 0)
			continue;
		if (!__atomic_compare_exchange_n(&sl->in_use, &expect, 2, false, __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED))
			continue;
		slot_claim(kind, i, sl, id, label);
		return (int)i;
	}
	return -ENOSPC;
}

int stats_slot_overflow(void)
{
	if (!stats_seg.base)
		return -ENODEV;
	unsigned i = stats_seg.kinds[STATS_KIND_SOCKET].slot_count - 1;
	struct shim_stats_slot *sl = slot_at(STATS_KIND_SOCKET, i);
	uint32_t expect = 0;

	/* opened once, by whoever overflows first; never closed */
	if (__atomic_compare_exchange_n(&sl->in_use, &expect, 2, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		slot_claim(STATS_KIND_SOCKET, i, sl, -1, "other sockets");
	return (int)i;
}

int stats_slot_find(unsigned kind, const void *values)
{
	if (!stats_seg.base || kind >= STATS_KIND_COUNT)
		return -ENOENT;
	const struct shim_stats_kind *k = &stats_seg.kinds[kind];
	const char *first = (const char *)stats_seg.base + k->slots_off + k->values_off;
	const char *p = values;

	if (p < first || p >= first + (size_t)k->slot_size * k->slot_count ||
	    (size_t)(p - first) % k->slot_size)
		return -ENOENT;
	return (int)((size_t)(p - first) / k->slot_size);
}

struct shim_stats_slot *stats_slot_hdr(unsigned kind, unsigned i)
{
	return slot_at(kind, i);
}

void stats_slot_close(unsigned kind, unsigned i)
{
	__atomic_store_n(&slot_at(kind, i)->in_use, 0, __ATOMIC_RELEASE);
}

int stats_slot_by_id(unsigned kind, int64_t id)
{
	if (!stats_seg.base || kind >= STATS_KIND_COUNT)
		return -ENOENT;
	uint32_t hwm = __atomic_load_n(&stats_seg.kinds[kind].slot_hwm, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < hwm; i++) {
		struct shim_stats_slot *sl = slot_at(kind, i);
		if (__atomic_load_n(&sl->in_use, __ATOMIC_ACQUIRE) == 1 && sl->id == id)
			return (int)i;
	}
	return -ENOENT;
}

/* --- -z ------------------------------------------------------------------------------ */
static void zero_slot(unsigned kind, unsigned i)
{
	struct shim_stats_slot *sl = slot_at(kind, i);
	const struct shim_stats_kind *k = &stats_seg.kinds[kind];
	uint32_t n = __atomic_load_n(&stats_seg.hdr->schema_count, __ATOMIC_ACQUIRE);

	if (__atomic_load_n(&sl->in_use, __ATOMIC_ACQUIRE) != 1)
		return;
	uint64_t gen = __atomic_load_n(&sl->gen, __ATOMIC_ACQUIRE);
	for (uint32_t s = 0; s < n; s++) {
		const struct shim_stats_schema *e = &stats_seg.schema[s];
		if (e->kind != kind)
			continue;
		for (unsigned j = 0; j < e->count; j++) {
			uint32_t off = e->offset + 8 * j;
			uint64_t *v = (uint64_t *)((char *)sl + k->values_off + off);
			uint64_t *b = (uint64_t *)((char *)sl + k->base_off + off);
			if (e->mode == SHIM_STAT_COUNTER)
				__atomic_store_n(b, __atomic_load_n(v, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
			else if (e->mode == SHIM_STAT_MAXIMUM)
				__atomic_store_n(v, 0, __ATOMIC_RELAXED);
		}
	}
	/* publish only if the slot was not reopened meanwhile */
	if (__atomic_load_n(&sl->in_use, __ATOMIC_ACQUIRE) == 1 &&
	    __atomic_load_n(&sl->gen, __ATOMIC_ACQUIRE) == gen)
		__atomic_store_n(&sl->base_gen, gen, __ATOMIC_RELEASE);
}

void stats_segment_zero(void)
{
	if (!stats_seg.base)
		return;
	for (unsigned k = 0; k < STATS_KIND_COUNT; k++) {
		uint32_t hwm = __atomic_load_n(&stats_seg.kinds[k].slot_hwm, __ATOMIC_ACQUIRE);
		for (unsigned i = 0; i < hwm; i++)
			zero_slot(k, i);
	}
}

void stats_segment_touch(void)
{
	struct timespec ts;

	if (!stats_seg.base)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	__atomic_store_n(&stats_seg.hdr->update_ns,
			 (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, __ATOMIC_RELAXED);
}

/* Unit tests start over with a new configuration. */
void stats_segment_reset(void)
{
	struct stats_segment *s = &stats_seg;

	stats_segment_remove();
	if (s->base)
		munmap(s->base, s->size);
	memset(s, 0, sizeof(*s));
}
