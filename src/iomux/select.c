/* select.c — select() and pselect(). Every fd the library serves today is also a
 * kernel fd that carries its traffic, so both go to the kernel unchanged; offloaded
 * sockets will answer here through their poll_ready op (sock/sock.h) before the
 * kernel is asked about the rest. */
#include "intercept/intercept.h"

int select(int nfds, fd_set *restrict r, fd_set *restrict w, fd_set *restrict e,
	   struct timeval *restrict tmo)
{
	return SYS(select)(nfds, r, w, e, tmo);
}

int pselect(int nfds, fd_set *restrict r, fd_set *restrict w, fd_set *restrict e,
	    const struct timespec *restrict tmo, const __sigset_t *restrict mask)
{
	return SYS(pselect)(nfds, r, w, e, tmo, mask);
}
