/* stats_segment.c — creates, maps, forks and removes the per-process stats segment
 * (layout in stats_layout.h), fills its schema from stats.def, hands out slots and
 * registers custom stats. Knows nothing of parameters or the log: stats.c wires it
 * to the library and handles the data-path open/close calls.
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
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/stats.h"

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
static pthread_mutex_t custom_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

/* --- process identity -------------------------------------------------------- */
/* State letter and start time (field 22, clock ticks) from /proc/<pid>/stat. */
static int proc_stat(int pid, char *state, uint64_t *start)
{
	char path[64], buf[1024];
	unsigned long long st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 state, &st) != 2)
		return -EIO;
	*start = st;
	return 0;
}

uint64_t stats_proc_starttime(int pid)
{
	uint64_t start;
	char state;

	return proc_stat(pid, &state, &start) == 0 ? start : 0;
}

bool stats_proc_alive(int pid, uint64_t starttime)
{
	uint64_t start;
	char state;
	int err;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	err = proc_stat(pid, &state, &start);
	if (err == -ENOENT)
		return false;
	if (err)
		return true;	/* no /proc view of it (other pid namespace): trust kill() */
	if (state == 'Z' || state == 'X')
		return false;	/* exited, not yet reaped */
	return !starttime || start == starttime;	/* else the pid was recycled */
}

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
	off += (CORE_STAT_COUNT + SHIM_STATS_CUSTOM_MAX) * sizeof(struct shim_stats_schema);
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
	h->schema_cap = CORE_STAT_COUNT + SHIM_STATS_CUSTOM_MAX;
	h->schema_core_count = CORE_STAT_COUNT;
	h->ctl_off = ctl_off;
	h->ctl_size = sizeof(struct shim_stats_ctl);
	s->base = base;
	s->size = size;
	seg_set_pointers(s);
	memcpy(s->kinds, kinds, sizeof(kinds));
	for (size_t i = 0; i < CORE_STAT_COUNT; i++) {
		const struct core_stat *c = &core_stats[i];
		fill_schema_entry(&s->schema[i], c->name, c->unit, c->doc, c->kind, c->mode,
				  c->count, c->offset);
	}
	h->schema_count = CORE_STAT_COUNT;
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
	/* a parent thread may have held it at fork() */
	pthread_mutex_init(&custom_lock, NULL);
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
		size_t kl = strlen(kind_defs[k].name);
		if (strncmp(name, kind_defs[k].name, kl) == 0 && name[kl] == '.')
			return false;
	}
	return true;
}

int stats_custom_register(const char *name, int mode)
{
	int idx;

	if (mode != SHIM_STAT_COUNTER && mode != SHIM_STAT_MAXIMUM)
		return -EINVAL;
	if (!custom_name_ok(name))
		return -EINVAL;
	if (!stats_seg.base)
		return -ENODEV;
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
	struct shim_stats_slot *sl = slot_at(kind, i);
	const struct shim_stats_kind *k = &stats_seg.kinds[kind];
	uint64_t base = 0, v;

	if (mode == SHIM_STAT_COUNTER &&
	    __atomic_load_n(&sl->base_gen, __ATOMIC_ACQUIRE) == __atomic_load_n(&sl->gen, __ATOMIC_RELAXED))
		base = __atomic_load_n((uint64_t *)((char *)sl + k->base_off + off), __ATOMIC_RELAXED);
	v = __atomic_load_n((uint64_t *)((char *)sl + k->values_off + off), __ATOMIC_RELAXED);
	return v >= base ? v - base : 0;
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
		if (__atomic_load_n(&slot_at(e->kind, i)->in_use, __ATOMIC_ACQUIRE) != 1)
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
