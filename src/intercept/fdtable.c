/* fdtable.c — fd number → object (fdtable.h). An array indexed by fd, sized from the
 * soft RLIMIT_NOFILE at start-up (capped: the pages are mapped lazily, but a soft
 * limit of 2^30 must not reserve gigabytes) and grown on demand. The read path takes
 * no lock; install, remove and growth are lock-free against it (see fdt_get). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "core/log.h"
#include "intercept/intercept.h"

#define FDT_INIT_MIN	1024u
#define FDT_INIT_MAX	(1u << 20)	/* 8 MiB of address space, touched only where used */
#define FDT_SIZE_MAX	(1u << 30)	/* the kernel's own ceiling on fd numbers (nr_open) */

/* An empty array until fdt_init(): every lookup misses and calls pass through. */
static struct fdt_array fdt_empty;
struct fdt_array *fdt_cur = &fdt_empty;

/* Lookups in flight, striped by fd number on separate cache lines. A lookup counts
 * itself in before it reads the slot and out once it holds a reference; fdt_remove()
 * clears the slot and then waits for the stripe to drain, so no lookup can take a
 * reference on an object whose last reference the table is about to drop. */
#define FDT_STRIPES 128u
static struct {
	unsigned n;
	char pad[64 - sizeof(unsigned)];
} fdt_busy[FDT_STRIPES] __attribute__((aligned(64)));

/* Growth is rare and serialised; old arrays are retired to a list and never unmapped,
 * because a reader may still be looking at one (their total is below the final
 * array's size: each is half the next). */
static pthread_mutex_t fdt_grow_lock = PTHREAD_MUTEX_INITIALIZER;
struct fdt_retired {
	struct fdt_retired *next;
	struct fdt_array *array;
};
static struct fdt_retired *fdt_retired;
/* Highest fd ever installed: bounds the walks of fdt_for_each(). */
static unsigned fdt_high;

static inline struct shim_fd *slot_obj(uintptr_t v)
{
	return (struct shim_fd *)(v & ~FDT_BITS);
}

static uintptr_t slot_word(struct shim_fd *f)
{
	uintptr_t v = (uintptr_t)f;

	if (f->ops && f->ops->recvmsg)
		v |= FDT_RECV;
	if (f->ops && f->ops->sendmsg)
		v |= FDT_SEND;
	return v;
}

static size_t array_bytes(unsigned n)
{
	return sizeof(struct fdt_array) + (size_t)n * sizeof(uintptr_t);
}

static struct fdt_array *array_new(unsigned n)
{
	/* Anonymous zero pages: a big table costs address space, not memory, until
	 * descriptors that high are actually used. */
	struct fdt_array *t = mmap(NULL, array_bytes(n), PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (t == MAP_FAILED)
		return NULL;
	t->size = n;
	return t;
}

static unsigned initial_size(void)
{
	struct rlimit rl;

	/* The soft limit only: the hard one may be huge and costs nothing until raised. */
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < FDT_INIT_MIN)
		return FDT_INIT_MIN;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FDT_INIT_MAX)
		return FDT_INIT_MAX;
	return (unsigned)rl.rlim_cur;
}

int fdt_init(void)
{
	struct fdt_array *t;

	if (fdt_cur != &fdt_empty)
		return 0;
	t = array_new(initial_size());
	if (!t)
		return -ENOMEM;
	__atomic_store_n(&fdt_cur, t, __ATOMIC_RELEASE);
	return 0;
}

/* Exit: every lookup misses from now on (the data path does not test the stage, the
 * table is its stage). The arrays stay mapped for calls already inside. */
void fdt_exit(void)
{
	__atomic_store_n(&fdt_cur, &fdt_empty, __ATOMIC_RELEASE);
}

/* Wait until the table pointer moves on from t (a grower is publishing a new one). */
static void wait_published(struct fdt_array *t)
{
	while (__atomic_load_n(&fdt_cur, __ATOMIC_ACQUIRE) == t)
		sched_yield();
}

static int fdt_grow(unsigned need)
{
	struct fdt_array *old, *t;
	struct fdt_retired *r;
	unsigned n;
	int err = 0;

	if (need > FDT_SIZE_MAX)
		return -EMFILE;
	pthread_mutex_lock(&fdt_grow_lock);
	old = fdt_cur;
	if (need <= old->size)
		goto out_unlock;
	for (n = old->size ? old->size : FDT_INIT_MIN; n < need; n *= 2)
		;
	r = malloc(sizeof(*r));
	t = r ? array_new(n) : NULL;
	if (!t) {
		free(r);
		err = -ENOMEM;
		goto out_unlock;
	}
	/* Freeze each old slot (install/remove then retry on the new array) and copy it.
	 * A frozen slot keeps its object and data bits: readers still use it meanwhile. */
	for (unsigned i = 0; i < old->size; i++)
		t->slot[i] = __atomic_fetch_or(&old->slot[i], FDT_MOVED, __ATOMIC_ACQ_REL) & ~FDT_MOVED;
	__atomic_store_n(&fdt_cur, t, __ATOMIC_RELEASE);
	if (old != &fdt_empty) {
		r->array = old;
		r->next = fdt_retired;
		fdt_retired = r;
	} else {
		free(r);
	}
	log_dbg("fd table grown from %u to %u slots", old->size, n);
out_unlock:
	pthread_mutex_unlock(&fdt_grow_lock);
	return err;
}

struct shim_fd *fdt_get(int fd)
{
	unsigned *busy = &fdt_busy[(unsigned)fd % FDT_STRIPES].n;
	struct fdt_array *t;
	struct shim_fd *f = NULL;

	if (fd < 0)
		return NULL;
	/* seq_cst on both sides: either fdt_remove() sees us counted, or we see its
	 * cleared slot. */
	__atomic_add_fetch(busy, 1, __ATOMIC_SEQ_CST);
	t = __atomic_load_n(&fdt_cur, __ATOMIC_SEQ_CST);
	if ((unsigned)fd < t->size) {
		/* A frozen slot still names a live object: it is only being copied. */
		f = slot_obj(__atomic_load_n(&t->slot[fd], __ATOMIC_SEQ_CST));
		if (f)
			fd_hold(f);
	}
	__atomic_sub_fetch(busy, 1, __ATOMIC_RELEASE);
	return f;
}

void fd_put(struct shim_fd *f)
{
	if (!f || __atomic_sub_fetch(&f->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (f->ops && f->ops->destroy)
		f->ops->destroy(f);
	else
		free(f);
}

int fdt_install(struct shim_fd *f)
{
	uintptr_t v, old;
	struct fdt_array *t;
	int err;

	if (f->fd < 0)
		return -EBADF;
	if ((uintptr_t)f & FDT_BITS)
		return -EINVAL;
	v = slot_word(f);
	for (;;) {
		t = __atomic_load_n(&fdt_cur, __ATOMIC_ACQUIRE);
		if ((unsigned)f->fd >= t->size) {
			err = fdt_grow((unsigned)f->fd + 1);
			if (err)
				return err;
			continue;
		}
		old = 0;
		if (__atomic_compare_exchange_n(&t->slot[f->fd], &old, v, false,
						__ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE)) {
			unsigned high = __atomic_load_n(&fdt_high, __ATOMIC_RELAXED);

			while ((unsigned)f->fd > high &&
			       !__atomic_compare_exchange_n(&fdt_high, &high, (unsigned)f->fd, true,
							    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
				;
			return 0;
		}
		if (!(old & FDT_MOVED))
			return -EEXIST;
		wait_published(t);
	}
}

struct shim_fd *fdt_remove(int fd)
{
	unsigned *busy = &fdt_busy[(unsigned)fd % FDT_STRIPES].n;
	struct fdt_array *t;
	uintptr_t v;
	int spins = 0;

	if (fd < 0)
		return NULL;
	for (;;) {
		t = __atomic_load_n(&fdt_cur, __ATOMIC_ACQUIRE);
		if ((unsigned)fd >= t->size)
			return NULL;
		v = __atomic_load_n(&t->slot[fd], __ATOMIC_ACQUIRE);
		if (v & FDT_MOVED) {
			wait_published(t);
			continue;
		}
		if (!v)
			return NULL;
		if (__atomic_compare_exchange_n(&t->slot[fd], &v, 0, false,
						__ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
			break;
	}
	/* Lookups that read the slot before we cleared it finish taking their
	 * reference within a few instructions; only a preempted one makes us yield. */
	while (__atomic_load_n(busy, __ATOMIC_SEQ_CST)) {
		if (++spins < 64)
			__builtin_ia32_pause();
		else
			sched_yield();
	}
	return slot_obj(v);
}

/* The object's ops changed (e.g. a socket became offloaded): refresh the data bits
 * its slot caches, so read()/write() find the new ops. */
void fdt_set_ops(struct shim_fd *f, const struct fd_ops *ops)
{
	struct fdt_array *t;
	uintptr_t v;

	__atomic_store_n(&f->ops, ops, __ATOMIC_RELEASE);
	for (;;) {
		t = __atomic_load_n(&fdt_cur, __ATOMIC_ACQUIRE);
		if (f->fd < 0 || (unsigned)f->fd >= t->size)
			return;
		v = __atomic_load_n(&t->slot[f->fd], __ATOMIC_ACQUIRE);
		if (v & FDT_MOVED) {
			wait_published(t);
			continue;
		}
		if (slot_obj(v) != f)
			return;		/* not installed (yet, or any more) */
		if (__atomic_compare_exchange_n(&t->slot[f->fd], &v, slot_word(f), false,
						__ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
			return;
	}
}

void fdt_for_each(void (*fn)(struct shim_fd *f, void *arg), void *arg)
{
	struct fdt_array *t = __atomic_load_n(&fdt_cur, __ATOMIC_ACQUIRE);
	unsigned end = __atomic_load_n(&fdt_high, __ATOMIC_RELAXED) + 1;

	for (unsigned i = 0; i < t->size && i < end; i++) {
		if (!(__atomic_load_n(&t->slot[i], __ATOMIC_RELAXED) & ~FDT_BITS))
			continue;
		struct shim_fd *f = fdt_get((int)i);

		if (f) {
			fn(f, arg);
			fd_put(f);
		}
	}
}

/* fork: no growth may be half done when the address space is copied (the child
 * would wait forever for a new array nobody publishes). */
void fdt_atfork_prepare(void)
{
	pthread_mutex_lock(&fdt_grow_lock);
}

void fdt_atfork_parent(void)
{
	pthread_mutex_unlock(&fdt_grow_lock);
}

/* fork child: the only thread. Lookups other threads had in flight never finish
 * here, so their stripe counts are cleared. */
void fdt_atfork_child(void)
{
	pthread_mutex_init(&fdt_grow_lock, NULL);
	for (unsigned i = 0; i < FDT_STRIPES; i++)
		fdt_busy[i].n = 0;
}

unsigned fdt_size(void)
{
	return __atomic_load_n(&fdt_cur, __ATOMIC_ACQUIRE)->size;
}
