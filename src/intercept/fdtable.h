/* fdtable.h — fd number → object, O(1). Sized from the soft RLIMIT_NOFILE at start-up,
 * grown on demand (never from the hard limit). A slot holds a reference; lookups
 * take one more for the duration of the call, so close() in another thread never
 * frees an object under a caller. */
#ifndef SHIM_FDTABLE_H
#define SHIM_FDTABLE_H

#include "sock/sock.h"

int fdt_init(void);
/* Object for fd with a reference taken, or NULL (pass-through). */
struct shim_fd *fdt_get(int fd);
void fd_put(struct shim_fd *f);
static inline void fd_hold(struct shim_fd *f) { __atomic_add_fetch(&f->refcnt, 1, __ATOMIC_RELAXED); }
/* Install f at f->fd (takes over the caller's reference). Replaces nothing: the slot
 * must be empty (the kernel just gave us this fd number). */
int fdt_install(struct shim_fd *f);
/* Detach the object at fd and return it with the table's reference, or NULL. */
struct shim_fd *fdt_remove(int fd);
/* Replace f->ops. Use this, not a plain store, once f is installed: the table caches
 * which data ops the object has so that pass-through reads and writes never touch it. */
void fdt_set_ops(struct shim_fd *f, const struct fd_ops *ops);
/* Call fn on every installed object (fork child, exit). */
void fdt_for_each(void (*fn)(struct shim_fd *f, void *arg), void *arg);

#endif
