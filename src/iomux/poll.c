/* poll.c — poll(), ppoll() and their _chk forms. Passed to the kernel unchanged for
 * now (see select.c); the _chk forms keep libc's check of the array's size by going
 * to libc's own _chk entry points. */
#include "intercept/intercept.h"

int poll(struct pollfd *fds, nfds_t nfds, int tmo)
{
	return SYS(poll)(fds, nfds, tmo);
}

int __poll_chk(struct pollfd *fds, nfds_t nfds, int tmo, size_t fdslen)
{
	return SYS(__poll_chk)(fds, nfds, tmo, fdslen);
}

int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo, const __sigset_t *mask)
{
	return SYS(ppoll)(fds, nfds, tmo, mask);
}

int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
		const __sigset_t *mask, size_t fdslen)
{
	return SYS(__ppoll_chk)(fds, nfds, tmo, mask, fdslen);
}
