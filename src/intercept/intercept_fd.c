/* intercept_fd.c — calls on descriptors as such: close, close_range, closefrom,
 * fcntl/fcntl64/ioctl (variadic: one word is read after the command, as libc itself
 * does, and every command passes through unchanged), dup/dup2/dup3 and pipe/pipe2. The object's view (nonblocking
 * flag, which number it lives at) follows what the kernel accepted. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>

#include "core/log.h"
#include "core/params.h"
#include "intercept/intercept.h"

static bool close_on_dup2(void)
{
	return shim_params.close_on_dup2;
}

/* The application closed the fd of a detached object: its close op runs while the
 * kernel fd still exists, then the table's reference goes. */
static void obj_close(struct shim_fd *f)
{
	if (!f)
		return;
	if (f->ops->close) {
		int r = f->ops->close(f);

		if (r < 0)
			log_dbg("fd %d: close op failed (%d); closing the kernel fd anyway", f->fd, r);
	}
	fd_put(f);
}

/* The log's own file (SHIM_LOG_FILE, moved to a high number by the log) is not the
 * application's: for it that number is not open, and a close loop or closefrom()
 * in a daemon must not cut the log off or let its next file take the log's number. */
static bool is_log_fd(int fd)
{
	return fd > 2 && fd == log_get_fd();
}

int close(int fd)
{
	int saved;

	/* An fd we do not know costs one peek (and the log check). */
	if (unlikely(!shim_ready()))
		return SYS(close)(fd);
	if (unlikely(is_log_fd(fd))) {
		errno = EBADF;
		return -1;
	}
	if (likely(!(fdt_peek(fd) & ~FDT_BITS)))
		return sys_close(fd);
	saved = errno;
	/* Detach first: from here on no other thread can find the object, and the fd
	 * number cannot be reused before the kernel close below. */
	obj_close(fdt_remove(fd));
	errno = saved;
	return sys_close(fd);
}

/* close_range() and closefrom() close many fds at once, out of sight of close():
 * every object in the range is closed first, as close() would. */
struct fd_range {
	unsigned lo, hi;
};

static void close_if_in_range(struct shim_fd *f, void *arg)
{
	const struct fd_range *r = arg;

	if ((unsigned)f->fd >= r->lo && (unsigned)f->fd <= r->hi)
		obj_close(fdt_remove(f->fd));
}

static void close_objects(unsigned lo, unsigned hi)
{
	struct fd_range r = { lo, hi };
	int saved = errno;

	fdt_for_each(close_if_in_range, &r);
	errno = saved;
}

int close_range(unsigned int fd, unsigned int max_fd, int flags)
{
	int log_fd = log_get_fd(), r;

	if (unlikely(!shim_ready()) || fd > max_fd ||
	    (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)))
		return SYS(close_range)(fd, max_fd, flags);	/* the kernel says what is wrong */
	/* CLOSE_RANGE_CLOEXEC only marks: nothing is closed. */
	if (!(flags & CLOSE_RANGE_CLOEXEC))
		close_objects(fd, max_fd);
	if (log_fd <= 2 || (unsigned)log_fd < fd || (unsigned)log_fd > max_fd)
		return sys_close_range(fd, max_fd, flags);
	/* Around the log's fd. */
	r = (unsigned)log_fd > fd ? sys_close_range(fd, (unsigned)log_fd - 1, flags) : 0;
	if (r == 0 && (unsigned)log_fd < max_fd)
		r = sys_close_range((unsigned)log_fd + 1, max_fd, flags);
	return r;
}

void closefrom(int lowfd)
{
	int log_fd = log_get_fd(), low = lowfd < 0 ? 0 : lowfd;

	if (unlikely(!shim_ready()))
		return SYS(closefrom)(lowfd);
	close_objects((unsigned)low, ~0U);
	if (log_fd > 2 && log_fd >= low) {
		if (log_fd > low)
			sys_close_range((unsigned)low, (unsigned)log_fd - 1, 0);
		low = log_fd + 1;
	}
	sys_closefrom(low);
}

static int do_fcntl(sys_fcntl_fn real, int fd, int cmd, unsigned long arg)
{
	struct shim_fd *f;
	int saved = errno;
	long r;

	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
		r = real(fd, cmd, arg);
		if (r >= 0) {
			fd_dup_done(fd, (int)r);
			errno = saved;
		}
		return (int)r;
	}
	f = fd_obj(fd);
	if (!f)
		return real(fd, cmd, arg);
	if (f->ops->fcntl)
		r = f->ops->fcntl(f, cmd, arg);
	else
		r = sys_ret(real(fd, cmd, arg));
	if (r >= 0 && cmd == F_SETFL)
		__atomic_store_n(&f->nonblock, !!(arg & O_NONBLOCK), __ATOMIC_RELAXED);
	fd_put(f);
	return (int)shim_ret(r, saved);
}

/* fcntl and fcntl64 are the same call under two names (libc keeps both). */
#define FCNTL_WRAPPER(name)                                                     \
	int name(int fd, int cmd, ...)                                          \
	{                                                                       \
		unsigned long arg;                                              \
		VA_WORD(cmd, arg);                                              \
		if (unlikely(!shim_ready()))                                    \
			return SYS(name)(fd, cmd, arg);                         \
		return do_fcntl(sys_##name, fd, cmd, arg);                      \
	}
FCNTL_WRAPPER(fcntl)
FCNTL_WRAPPER(fcntl64)

int ioctl(int fd, unsigned long req, ...)
{
	struct shim_fd *f;
	unsigned long word;
	void *arg;
	int saved;
	long r;

	VA_WORD(req, word);
	arg = (void *)word;
	if (unlikely(!shim_ready()) || !(f = fd_obj(fd)))
		return SYS(ioctl)(fd, req, arg);
	saved = errno;
	if (f->ops->ioctl)
		r = f->ops->ioctl(f, req, arg);
	else
		r = sys_ret(sys_ioctl(fd, req, arg));
	if (r >= 0 && req == FIONBIO && arg)
		__atomic_store_n(&f->nonblock, *(int *)arg != 0, __ATOMIC_RELAXED);
	fd_put(f);
	return (int)shim_ret(r, saved);
}

int dup(int fd)
{
	int r = SYS(dup)(fd);

	if (r >= 0 && likely(shim_ready())) {
		int saved = errno;

		fd_dup_done(fd, r);
		errno = saved;
	}
	return r;
}

/* dup2/dup3 onto a number that holds an object. SHIM_CLOSE_ON_DUP2 on (VMA's default):
 * the object is closed as if the application had closed that fd (its close op runs
 * while the kernel socket still exists), then the kernel replaces the file. Off: the
 * kernel replaces the file first and the object, now stale, is dropped without its
 * close op (which would act on the new file). Either way the new number passes
 * through afterwards (see fd_dup_done). A failing dup2 leaves the kernel fd open and
 * served by the kernel. */
static int do_dup2(int fd, int fd2, int flags, bool three)
{
	int saved = errno, r;

	if (fd != fd2 && (fdt_peek(fd2) & ~FDT_BITS) && close_on_dup2()) {
		obj_close(fdt_remove(fd2));
		errno = saved;
	}
	r = three ? sys_dup3(fd, fd2, flags) : sys_dup2(fd, fd2);
	if (r >= 0 && fd != fd2) {
		saved = errno;
		fd_dup_done(fd, r);
		errno = saved;
	}
	return r;
}

int dup2(int fd, int fd2)
{
	if (unlikely(!shim_ready()))
		return SYS(dup2)(fd, fd2);
	return do_dup2(fd, fd2, 0, false);
}

int dup3(int fd, int fd2, int flags)
{
	if (unlikely(!shim_ready()))
		return SYS(dup3)(fd, fd2, flags);
	return do_dup2(fd, fd2, flags, true);
}

int pipe(int fds[2])
{
	int r = SYS(pipe)(fds);

	return r == 0 ? fdt_forget_pair(fds) : r;
}

int pipe2(int fds[2], int flags)
{
	int r = SYS(pipe2)(fds, flags);

	return r == 0 ? fdt_forget_pair(fds) : r;
}
