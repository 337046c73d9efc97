/* stats_reader.c — validates a stats segment and copies it into snapshots, going by
 * the header, kind table and schema only. Every size and offset in the file is
 * checked before use, so a truncated, foreign or newer file yields an error or the
 * stats this reader can place, never a crash. */
#include "core/stats_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HDR(r) ((const struct shim_stats_hdr *)(r)->base)

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void copy_str(char *dst, size_t dstsz, const char *src, size_t srcsz)
{
	size_t n = strnlen(src, srcsz);

	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool range_ok(const struct stats_reader *r, uint64_t off, uint64_t len)
{
	return off <= r->size && len <= r->size - off;
}

static const struct shim_stats_kind *kind_entry(const struct stats_reader *r, unsigned k)
{
	const struct shim_stats_hdr *h = HDR(r);

	return (const void *)((const char *)r->base + h->kinds_off + (size_t)k * h->kind_entry_size);
}

static const struct shim_stats_schema *schema_entry(const struct stats_reader *r, unsigned i)
{
	const struct shim_stats_hdr *h = HDR(r);

	return (const void *)((const char *)r->base + h->schema_off + (size_t)i * h->schema_entry_size);
}

static int validate(const struct stats_reader *r)
{
	const struct shim_stats_hdr *h = HDR(r);

	if (r->size < SHIM_STATS_HDR_V1_SIZE || memcmp(h->magic, SHIM_STATS_MAGIC, sizeof(h->magic)) != 0)
		return -EPROTO;
	if (!__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	if (h->layout_version != SHIM_STATS_LAYOUT_VERSION || h->hdr_size < SHIM_STATS_HDR_V1_SIZE ||
	    h->file_size > r->size)
		return -EPROTO;
	if (h->kind_entry_size < SHIM_STATS_KIND_V1_SIZE || h->kind_count > 64 ||
	    !range_ok(r, h->kinds_off, (uint64_t)h->kind_count * h->kind_entry_size))
		return -EPROTO;
	if (h->schema_entry_size < SHIM_STATS_SCHEMA_V1_SIZE || h->schema_cap > 65536 ||
	    !range_ok(r, h->schema_off, (uint64_t)h->schema_cap * h->schema_entry_size))
		return -EPROTO;
	if (h->ctl_size < SHIM_STATS_CTL_V1_SIZE || !range_ok(r, h->ctl_off, h->ctl_size) ||
	    h->ctl_off % 8)
		return -EPROTO;
	for (unsigned k = 0; k < h->kind_count; k++) {
		const struct shim_stats_kind *kd = kind_entry(r, k);
		if (kd->slot_size % 8 || kd->slots_off % 8 || kd->values_off % 8 || kd->base_off % 8 ||
		    kd->slot_size < sizeof(struct shim_stats_slot) ||
		    !range_ok(r, kd->slots_off, (uint64_t)kd->slot_size * kd->slot_count) ||
		    (uint64_t)kd->values_off + (uint64_t)kd->nvalues * 8 > kd->slot_size ||
		    (kd->base_off && (uint64_t)kd->base_off + (uint64_t)kd->nvalues * 8 > kd->slot_size))
			return -EPROTO;
	}
	return 0;
}

int stats_reader_open(struct stats_reader *r, const char *path, bool rw)
{
	struct stat st;
	int err;

	memset(r, 0, sizeof(*r));
	r->fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd < 0)
		return -errno;
	if (fstat(r->fd, &st) < 0) {
		err = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)SHIM_STATS_HDR_V1_SIZE) {
		err = -EPROTO;
		goto out_close;
	}
	r->size = (size_t)st.st_size;
	r->base = mmap(NULL, r->size, PROT_READ | (rw ? PROT_WRITE : 0), MAP_SHARED, r->fd, 0);
	if (r->base == MAP_FAILED) {
		err = -errno;
		r->base = NULL;
		goto out_close;
	}
	r->rw = rw;
	snprintf(r->path, sizeof(r->path), "%s", path);
	err = validate(r);
	if (err) {
		munmap(r->base, r->size);
		r->base = NULL;
		goto out_close;
	}
	return 0;

out_close:
	close(r->fd);
	r->fd = -1;
	return err;
}

int stats_reader_attach(struct stats_reader *r, void *base, size_t size)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->base = base;
	r->size = size;
	if (!base)
		return -ENODEV;
	return validate(r);
}

void stats_reader_close(struct stats_reader *r)
{
	if (r->fd >= 0) {
		if (r->base)
			munmap(r->base, r->size);
		close(r->fd);
	}
	r->fd = -1;
	r->base = NULL;
}

int stats_reader_pid(const struct stats_reader *r)
{
	return HDR(r)->pid;
}

uint64_t stats_reader_starttime(const struct stats_reader *r)
{
	return HDR(r)->proc_starttime;
}

const char *stats_reader_program(const struct stats_reader *r)
{
	return HDR(r)->program;
}

/* --- snapshots ----------------------------------------------------------------------- */
static int load_schema(const struct stats_reader *r, struct stats_snap *s)
{
	const struct shim_stats_hdr *h = HDR(r);
	uint32_t n = __atomic_load_n(&h->schema_count, __ATOMIC_ACQUIRE);

	if (n > h->schema_cap)
		n = h->schema_cap;
	s->stats = calloc(n ? n : 1, sizeof(*s->stats));
	if (!s->stats)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const struct shim_stats_schema *e = schema_entry(r, i);
		struct snap_stat *st = &s->stats[s->nstats];
		if (e->kind >= h->kind_count || e->offset % 8 || e->count == 0)
			continue;
		const struct shim_stats_kind *kd = kind_entry(r, e->kind);
		if ((uint64_t)e->offset + 8ull * e->count > 8ull * kd->nvalues)
			continue;
		copy_str(st->name, sizeof(st->name), e->name, sizeof(e->name));
		copy_str(st->unit, sizeof(st->unit), e->unit, sizeof(e->unit));
		copy_str(st->doc, sizeof(st->doc), e->doc, sizeof(e->doc));
		if (!st->name[0])
			continue;
		st->kind = e->kind;
		st->mode = e->mode;
		st->count = e->count;
		st->offset = e->offset;
		s->nstats++;
	}
	return 0;
}

static void set_short_names(struct stats_snap *s)
{
	for (unsigned i = 0; i < s->nstats; i++) {
		struct snap_stat *st = &s->stats[i];
		const char *kn = s->kinds[st->kind].name;
		size_t kl = strlen(kn);
		st->short_name = strncmp(st->name, kn, kl) == 0 && st->name[kl] == '.' ?
					 st->name + kl + 1 : st->name;
	}
}

/* Copy one open slot: values, minus baselines for counters (stats.h protocol). */
static void copy_slot(const struct stats_reader *r, const struct stats_snap *s, unsigned k,
		      const struct shim_stats_kind *kd, const struct shim_stats_slot *sl,
		      struct snap_slot *out)
{
	const uint64_t *v = (const void *)((const char *)sl + kd->values_off);
	const uint64_t *b = kd->base_off ? (const void *)((const char *)sl + kd->base_off) : NULL;
	uint64_t gen = __atomic_load_n(&sl->gen, __ATOMIC_ACQUIRE);
	bool based = b && __atomic_load_n(&sl->base_gen, __ATOMIC_ACQUIRE) == gen;

	out->gen = gen;
	out->id = __atomic_load_n(&sl->id, __ATOMIC_RELAXED);
	copy_str(out->label, sizeof(out->label), sl->label, sizeof(sl->label));
	/* baselines first: a value read after its baseline is never below it */
	for (unsigned w = 0; w < kd->nvalues; w++)
		out->v[w] = based ? __atomic_load_n(&b[w], __ATOMIC_RELAXED) : 0;
	for (unsigned i = 0; i < s->nstats; i++) {
		const struct snap_stat *st = &s->stats[i];
		if (st->kind != k)
			continue;
		for (unsigned j = 0; j < st->count; j++) {
			unsigned w = st->offset / 8 + j;
			uint64_t val = __atomic_load_n(&v[w], __ATOMIC_RELAXED);
			uint64_t base = st->mode == SHIM_STAT_COUNTER ? out->v[w] : 0;
			out->v[w] = val >= base ? val - base : 0;
		}
	}
	(void)r;
}

int stats_snap_take(const struct stats_reader *r, struct stats_snap *s, int only_kind,
		    int64_t only_id)
{
	const struct shim_stats_hdr *h = HDR(r);
	const struct shim_stats_ctl *ctl = (const void *)((const char *)r->base + h->ctl_off);
	int err;

	memset(s, 0, sizeof(*s));
	s->pid = h->pid;
	s->layout_version = h->layout_version;
	s->proc_starttime = h->proc_starttime;
	s->start_time_ns = h->start_time_ns;
	s->taken_ns = now_ns(CLOCK_MONOTONIC);
	s->taken_real_ns = now_ns(CLOCK_REALTIME);
	copy_str(s->program, sizeof(s->program), h->program, sizeof(h->program));
	copy_str(s->cmdline, sizeof(s->cmdline), h->cmdline, sizeof(h->cmdline));
	copy_str(s->lib_version, sizeof(s->lib_version), h->lib_version, sizeof(h->lib_version));
	s->log_level = __atomic_load_n(&ctl->cur_log_level, __ATOMIC_RELAXED);
	s->log_details = __atomic_load_n(&ctl->cur_log_details, __ATOMIC_RELAXED);
	err = load_schema(r, s);
	if (err)
		return err;
	s->nkinds = h->kind_count;
	s->kinds = calloc(s->nkinds ? s->nkinds : 1, sizeof(*s->kinds));
	if (!s->kinds)
		goto out_nomem;
	for (unsigned k = 0; k < s->nkinds; k++) {
		const struct shim_stats_kind *kd = kind_entry(r, k);
		struct snap_kind *sk = &s->kinds[k];
		uint32_t hwm = __atomic_load_n(&kd->slot_hwm, __ATOMIC_ACQUIRE);

		copy_str(sk->name, sizeof(sk->name), kd->name, sizeof(kd->name));
		sk->nvalues = kd->nvalues;
		sk->slot_count = kd->slot_count;
		if (hwm > kd->slot_count)
			hwm = kd->slot_count;
		if (only_kind >= 0 && (unsigned)only_kind != k)
			continue;
		sk->slots = calloc(hwm ? hwm : 1, sizeof(*sk->slots));
		if (!sk->slots)
			goto out_nomem;
		for (unsigned i = 0; i < hwm; i++) {
			const struct shim_stats_slot *sl =
				(const void *)((const char *)r->base + kd->slots_off + (size_t)i * kd->slot_size);
			struct snap_slot *out = &sk->slots[sk->nslots];
			if (__atomic_load_n(&sl->in_use, __ATOMIC_ACQUIRE) != 1)
				continue;
			if (only_id >= 0 && __atomic_load_n(&sl->id, __ATOMIC_RELAXED) != only_id)
				continue;
			out->v = calloc(kd->nvalues ? kd->nvalues : 1, sizeof(uint64_t));
			if (!out->v)
				goto out_nomem;
			out->index = i;
			copy_slot(r, s, k, kd, sl, out);
			sk->nslots++;
		}
	}
	set_short_names(s);
	return 0;

out_nomem:
	stats_snap_free(s);
	return -ENOMEM;
}

void stats_snap_free(struct stats_snap *s)
{
	for (unsigned k = 0; s->kinds && k < s->nkinds; k++) {
		for (unsigned i = 0; i < s->kinds[k].nslots; i++)
			free(s->kinds[k].slots[i].v);
		free(s->kinds[k].slots);
	}
	free(s->kinds);
	free(s->stats);
	memset(s, 0, sizeof(*s));
}

int stats_snap_find(const struct stats_snap *s, const char *name)
{
	for (unsigned i = 0; i < s->nstats; i++)
		if (strcmp(s->stats[i].name, name) == 0)
			return (int)i;
	return -1;
}

int stats_snap_kind(const struct stats_snap *s, const char *kind_name)
{
	for (unsigned k = 0; k < s->nkinds; k++)
		if (strcmp(s->kinds[k].name, kind_name) == 0)
			return (int)k;
	return -1;
}

uint64_t stats_snap_get(const struct stats_snap *s, const struct snap_slot *sl, int stat,
			unsigned elem)
{
	if (stat < 0 || (unsigned)stat >= s->nstats || !sl)
		return 0;
	const struct snap_stat *st = &s->stats[stat];
	if (elem >= st->count)
		return 0;
	return sl->v[st->offset / 8 + elem];
}

uint64_t stats_snap_get_name(const struct stats_snap *s, const struct snap_slot *sl,
			     const char *name)
{
	return stats_snap_get(s, sl, stats_snap_find(s, name), 0);
}

const struct snap_slot *stats_snap_twin(const struct stats_snap *prev, unsigned k,
					const struct snap_slot *sl)
{
	if (!prev || k >= prev->nkinds)
		return NULL;
	const struct snap_kind *pk = &prev->kinds[k];
	for (unsigned i = 0; i < pk->nslots; i++)
		if (pk->slots[i].index == sl->index && pk->slots[i].gen == sl->gen)
			return &pk->slots[i];
	return NULL;
}

/* --- control requests ------------------------------------------------------------------ */
int stats_reader_request(struct stats_reader *r, enum stats_request req, int value,
			 int timeout_ms)
{
	if (!r->rw)
		return -EPERM;
	const struct shim_stats_hdr *h = HDR(r);
	struct shim_stats_ctl *ctl = (void *)((char *)r->base + h->ctl_off);
	uint32_t *seq, *ack, want;

	switch (req) {
	case STATS_REQ_LOG_LEVEL:
		__atomic_store_n(&ctl->log_level, value, __ATOMIC_RELAXED);
		seq = &ctl->log_level_seq;
		ack = &ctl->log_level_ack;
		break;
	case STATS_REQ_LOG_DETAILS:
		__atomic_store_n(&ctl->log_details, value, __ATOMIC_RELAXED);
		seq = &ctl->log_details_seq;
		ack = &ctl->log_details_ack;
		break;
	case STATS_REQ_ZERO:
		seq = &ctl->zero_seq;
		ack = &ctl->zero_ack;
		break;
	default:
		return -EINVAL;
	}
	want = __atomic_add_fetch(seq, 1, __ATOMIC_RELEASE);
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		if ((int32_t)(__atomic_load_n(ack, __ATOMIC_ACQUIRE) - want) >= 0)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}
