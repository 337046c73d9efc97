/* epoll.c — the epoll family. Passed to the kernel unchanged for now (see select.c);
 * a new epoll fd is a number the kernel just handed out, so a stale object left at
 * that number by an unseen close is dropped. */
#include "intercept/intercept.h"

static int new_fd(int fd)
{
	if (fd >= 0 && likely(shim_ready())) {
		int saved = errno;

		fdt_forget_stale(fd);
		errno = saved;
	}
	return fd;
}

int epoll_create(int size)
{
	return new_fd(SYS(epoll_create)(size));
}

int epoll_create1(int flags)
{
	return new_fd(SYS(epoll_create1)(flags));
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	return SYS(epoll_ctl)(epfd, op, fd, ev);
}

int epoll_wait(int epfd, struct epoll_event *evs, int maxevents, int tmo)
{
	return SYS(epoll_wait)(epfd, evs, maxevents, tmo);
}

int epoll_pwait(int epfd, struct epoll_event *evs, int maxevents, int tmo, const __sigset_t *mask)
{
	return SYS(epoll_pwait)(epfd, evs, maxevents, tmo, mask);
}

int epoll_pwait2(int epfd, struct epoll_event *evs, int maxevents, const struct timespec *tmo,
		 const __sigset_t *mask)
{
	return SYS(epoll_pwait2)(epfd, evs, maxevents, tmo, mask);
}
