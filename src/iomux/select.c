/* select.c — select() and pselect(). Sets without offloaded sockets go to the kernel
 * after a scan of the set words against the fd table. Otherwise the sets become a
 * poll array run through the mixed engine (poll.c) under select's rules (which
 * events count for which set, EBADF for a closed fd), and the results go back into
 * the sets the way the kernel writes them, remaining time in select()'s timeval. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "intercept/intercept.h"
#include "iomux/iomux.h"

#define WORD_BITS (8 * (int)sizeof(unsigned long))
#define SEL_INLINE 128

static unsigned long set_word(const fd_set *s, int i)
{
	return s ? ((const unsigned long *)s->fds_bits)[i] : 0;
}

/* Is any fd of the sets an object that answers in user space, now or once it gains
 * rings? */
static bool any_offloaded(int nfds, const fd_set *r, const fd_set *w, const fd_set *e)
{
	for (int i = 0; i * WORD_BITS < nfds; i++) {
		unsigned long word = set_word(r, i) | set_word(w, i) | set_word(e, i);

		while (word) {
			int fd = i * WORD_BITS + __builtin_ctzl(word);
			uintptr_t v;

			word &= word - 1;
			if (fd >= nfds)
				break;
			v = fdt_peek(fd);
			if (!(v & ~FDT_BITS))
				continue;
			struct shim_fd *f = fdt_get(fd);
			bool user = f && iomux_watched(f);

			fd_put(f);
			if (user)
				return true;
		}
	}
	return false;
}

static bool in_set(const fd_set *s, int fd)
{
	return s && FD_ISSET(fd, s);
}

static int do_select(int nfds, fd_set *r, fd_set *w, fd_set *e, int64_t tmo_ns,
		     const sigset_t *mask, int64_t *left_ns)
{
	struct pollfd inl[SEL_INLINE], *p = inl;
	struct iomux_pent pinl[32], *offl;
	int n = 0, cap = SEL_INLINE, noffl, res, bits = 0;
	int64_t start = iomux_now_ns();

	for (int fd = 0; fd < nfds; fd++) {
		short ev = (short)((in_set(r, fd) ? POLLIN : 0) | (in_set(w, fd) ? POLLOUT : 0) |
				   (in_set(e, fd) ? POLLPRI : 0));

		if (!ev)
			continue;
		if (n == cap) {
			struct pollfd *np = malloc(sizeof(*np) * (size_t)cap * 2);

			if (!np) {
				res = -ENOMEM;
				goto out;
			}
			memcpy(np, p, sizeof(*np) * (size_t)n);
			if (p != inl)
				free(p);
			p = np;
			cap *= 2;
		}
		p[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	noffl = iomux_poll_scan(p, (unsigned)n, pinl, 32, &offl);
	if (noffl < 0) {
		res = noffl;
		goto out;
	}
	res = iomux_poll_mixed(p, (unsigned)n, offl, noffl, tmo_ns, mask, iomux_stats_select(), true);
	iomux_poll_release(offl, noffl, pinl);
	if (res < 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (p[i].revents & POLLNVAL) {
			res = -EBADF;
			goto out;
		}
	/* The kernel writes back whole words up to nfds. */
	for (int i = 0; i * WORD_BITS < nfds; i++) {
		if (r)
			((unsigned long *)r->fds_bits)[i] = 0;
		if (w)
			((unsigned long *)w->fds_bits)[i] = 0;
		if (e)
			((unsigned long *)e->fds_bits)[i] = 0;
	}
	for (int i = 0; i < n; i++) {
		unsigned rev = (unsigned)p[i].revents;
		int fd = p[i].fd;

		if ((p[i].events & POLLIN) && (rev & (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR))) {
			FD_SET(fd, r);
			bits++;
		}
		if ((p[i].events & POLLOUT) && (rev & (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR))) {
			FD_SET(fd, w);
			bits++;
		}
		if ((p[i].events & POLLPRI) && (rev & POLLPRI)) {
			FD_SET(fd, e);
			bits++;
		}
	}
	res = bits;
out:
	if (left_ns && tmo_ns >= 0) {
		int64_t left = tmo_ns - (iomux_now_ns() - start);

		*left_ns = left > 0 ? left : 0;
	}
	if (p != inl)
		free(p);
	return res;
}

int select(int nfds, fd_set *restrict r, fd_set *restrict w, fd_set *restrict e,
	   struct timeval *restrict tmo)
{
	int64_t ns, left = -1;
	int saved, res;

	if (unlikely(!shim_ready()) || likely(!iomux_any_offloaded()) || nfds <= 0 ||
	    !any_offloaded(nfds, r, w, e))
		return SYS(select)(nfds, r, w, e, tmo);
	if (tmo && (tmo->tv_sec < 0 || tmo->tv_usec < 0))
		return SYS(select)(nfds, r, w, e, tmo);	/* EINVAL */
	/* Like the kernel: microseconds beyond a second carry over. */
	ns = tmo ? (int64_t)tmo->tv_sec * 1000000000 + (int64_t)tmo->tv_usec * 1000 : -1;
	saved = errno;
	res = do_select(nfds, r, w, e, ns, NULL, &left);
	if (tmo && left >= 0) {
		tmo->tv_sec = left / 1000000000;
		tmo->tv_usec = (left % 1000000000) / 1000;
	}
	return (int)shim_ret(res, saved);
}

int pselect(int nfds, fd_set *restrict r, fd_set *restrict w, fd_set *restrict e,
	    const struct timespec *restrict tmo, const __sigset_t *restrict mask)
{
	int64_t ns;
	int saved;

	if (unlikely(!shim_ready()) || likely(!iomux_any_offloaded()) || nfds <= 0 ||
	    iomux_ts_to_ns(tmo, &ns) < 0 || !any_offloaded(nfds, r, w, e))
		return SYS(pselect)(nfds, r, w, e, tmo, mask);
	saved = errno;
	return (int)shim_ret(do_select(nfds, r, w, e, ns, mask, NULL), saved);
}
