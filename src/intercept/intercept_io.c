/* intercept_io.c — the data path. read/recv/recvfrom/readv (and their _chk forms)
 * become the object's recvmsg op, write/send/sendto/writev its sendmsg op; an fd
 * whose object has no such op (or no object) goes straight to the same libc
 * function, after one table peek and no atomics. recvmmsg/sendmmsg and sendfile
 * fall back to the single-message ops when the object lacks a batch op. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <time.h>

#include "intercept/intercept.h"

extern void __chk_fail(void) __attribute__((noreturn));

#define RW_MAX 0x7ffff000UL	/* the kernel's cap on one transfer (MAX_RW_COUNT) */

/* The data path in two halves. The fast half, inlined in each wrapper, is one peek and
 * a tail call into libc: no stack frame, no atomics, no errno traffic. It needs no
 * "initialised?" test: the table stays empty until start-up has finished, so every
 * fd misses. The slow half (an object with the op) is out of line. */
#define DATA_FAST(name, fd, bit, sys_args, slow_call)                            \
	do {                                                                     \
		if (likely(!(fdt_peek(fd) & (bit))))                             \
			return SYS(name) sys_args;                               \
		return slow_call;                                                \
	} while (0)

/* Start of a slow half: the object with a reference, or the real call after all (the
 * object went away or changed its ops since the peek). */
#define DATA_OBJ(name, fd, op, sys_args)                                         \
	struct shim_fd *obj = fdt_get(fd);                                       \
	if (unlikely(!obj || !obj->ops->op)) {                                   \
		fd_put(obj);                                                     \
		return sys_##name sys_args;                                      \
	}

#define SLOW static __attribute__((noinline))

/* The object's op read once: another thread may change an object's ops at any
 * time (a UDP socket whose receive side moves to the kernel drops its recvmsg op),
 * and then the kernel does the call, as it would have a moment later. */
static ssize_t op_recvmsg(struct shim_fd *obj, struct msghdr *msg, int flags)
{
	ssize_t (*fn)(struct shim_fd *, struct msghdr *, int) =
		__atomic_load_n(&obj->ops, __ATOMIC_ACQUIRE)->recvmsg;

	return fn ? fn(obj, msg, flags) : shim_fd_sys_recvmsg(obj, msg, flags);
}

static ssize_t op_sendmsg(struct shim_fd *obj, const struct msghdr *msg, int flags)
{
	ssize_t (*fn)(struct shim_fd *, const struct msghdr *, int) =
		__atomic_load_n(&obj->ops, __ATOMIC_ACQUIRE)->sendmsg;

	return fn ? fn(obj, msg, flags) : shim_fd_sys_sendmsg(obj, msg, flags);
}

/* One message through the object's op: the data-path wrappers all end here. */
static ssize_t obj_msg(struct shim_fd *obj, bool rx, const struct iovec *iov, int iovcnt,
		       int flags, const struct sockaddr *addr, socklen_t *addrlen)
{
	struct msghdr msg = {
		.msg_name = (void *)addr,
		.msg_namelen = addr && addrlen ? *addrlen : 0,
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = (size_t)iovcnt,
	};
	int saved = errno;
	ssize_t r;

	if (iovcnt < 0 || iovcnt > UIO_MAXIOV)
		r = -EINVAL;
	else if (rx)
		r = op_recvmsg(obj, &msg, flags);
	else
		r = op_sendmsg(obj, &msg, flags);
	fd_put(obj);
	if (rx && r >= 0 && addr && addrlen)
		*addrlen = msg.msg_namelen;
	return shim_ret(r, saved);
}

static inline ssize_t obj_recv(struct shim_fd *obj, const struct iovec *iov, int iovcnt,
			       int flags, struct sockaddr *addr, socklen_t *addrlen)
{
	return obj_msg(obj, true, iov, iovcnt, flags, addr, addrlen);
}

static inline ssize_t obj_send(struct shim_fd *obj, const struct iovec *iov, int iovcnt,
			       int flags, const struct sockaddr *addr, socklen_t addrlen)
{
	return obj_msg(obj, false, iov, iovcnt, flags, addr, &addrlen);
}

/* ---- receive ---- */

SLOW ssize_t read_slow(int fd, void *buf, size_t n)
{
	DATA_OBJ(read, fd, recvmsg, (fd, buf, n));
	struct iovec iov = { buf, n };
	return obj_recv(obj, &iov, 1, 0, NULL, NULL);
}

ssize_t read(int fd, void *buf, size_t n)
{
	DATA_FAST(read, fd, FDT_RECV, (fd, buf, n), read_slow(fd, buf, n));
}

SLOW ssize_t __read_chk_slow(int fd, void *buf, size_t n, size_t buflen)
{
	DATA_OBJ(__read_chk, fd, recvmsg, (fd, buf, n, buflen));
	if (n > buflen)
		__chk_fail();
	struct iovec iov = { buf, n };
	return obj_recv(obj, &iov, 1, 0, NULL, NULL);
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	DATA_FAST(__read_chk, fd, FDT_RECV, (fd, buf, n, buflen),
		  __read_chk_slow(fd, buf, n, buflen));
}

SLOW ssize_t readv_slow(int fd, const struct iovec *iov, int iovcnt)
{
	DATA_OBJ(readv, fd, recvmsg, (fd, iov, iovcnt));
	return obj_recv(obj, iov, iovcnt, 0, NULL, NULL);
}

ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	DATA_FAST(readv, fd, FDT_RECV, (fd, iov, iovcnt), readv_slow(fd, iov, iovcnt));
}

SLOW ssize_t recv_slow(int fd, void *buf, size_t n, int flags)
{
	DATA_OBJ(recv, fd, recvmsg, (fd, buf, n, flags));
	struct iovec iov = { buf, n };
	return obj_recv(obj, &iov, 1, flags, NULL, NULL);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	DATA_FAST(recv, fd, FDT_RECV, (fd, buf, n, flags), recv_slow(fd, buf, n, flags));
}

SLOW ssize_t __recv_chk_slow(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	DATA_OBJ(__recv_chk, fd, recvmsg, (fd, buf, n, buflen, flags));
	if (n > buflen)
		__chk_fail();
	struct iovec iov = { buf, n };
	return obj_recv(obj, &iov, 1, flags, NULL, NULL);
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	DATA_FAST(__recv_chk, fd, FDT_RECV, (fd, buf, n, buflen, flags),
		  __recv_chk_slow(fd, buf, n, buflen, flags));
}

SLOW ssize_t recvfrom_slow(int fd, void *restrict buf, size_t n, int flags, __SOCKADDR_ARG addr,
		 socklen_t *restrict len)
{
	DATA_OBJ(recvfrom, fd, recvmsg, (fd, buf, n, flags, addr, len));
	struct iovec iov = { buf, n };
	return obj_recv(obj, &iov, 1, flags, addr.__sockaddr__, len);
}

ssize_t recvfrom(int fd, void *restrict buf, size_t n, int flags, __SOCKADDR_ARG addr,
		 socklen_t *restrict len)
{
	DATA_FAST(recvfrom, fd, FDT_RECV, (fd, buf, n, flags, addr, len),
		  recvfrom_slow(fd, buf, n, flags, addr, len));
}

SLOW ssize_t __recvfrom_chk_slow(int fd, void *restrict buf, size_t n, size_t buflen, int flags,
		       __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	DATA_OBJ(__recvfrom_chk, fd, recvmsg, (fd, buf, n, buflen, flags, addr, len));
	if (n > buflen)
		__chk_fail();
	struct iovec iov = { buf, n };
	return obj_recv(obj, &iov, 1, flags, addr.__sockaddr__, len);
}

ssize_t __recvfrom_chk(int fd, void *restrict buf, size_t n, size_t buflen, int flags,
		       __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	DATA_FAST(__recvfrom_chk, fd, FDT_RECV, (fd, buf, n, buflen, flags, addr, len),
		  __recvfrom_chk_slow(fd, buf, n, buflen, flags, addr, len));
}

SLOW ssize_t recvmsg_slow(int fd, struct msghdr *msg, int flags)
{
	DATA_OBJ(recvmsg, fd, recvmsg, (fd, msg, flags));
	int saved = errno;
	ssize_t r = op_recvmsg(obj, msg, flags);

	fd_put(obj);
	return shim_ret(r, saved);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	DATA_FAST(recvmsg, fd, FDT_RECV, (fd, msg, flags), recvmsg_slow(fd, msg, flags));
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* recvmmsg through recvmsg, with the kernel's rules: the first error is returned
 * only when nothing was received; MSG_WAITFORONE turns on MSG_DONTWAIT after the
 * first datagram; the timeout is checked after each datagram and the time left is
 * written back. */
static long emul_recvmmsg(struct shim_fd *obj, struct mmsghdr *vec, unsigned vlen, int flags,
			  struct timespec *tmo)
{
	int64_t deadline = 0;
	unsigned i;

	if (tmo) {
		if (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000)
			return -EINVAL;
		deadline = mono_ns() + tmo->tv_sec * 1000000000 + tmo->tv_nsec;
	}
	if (vlen > UIO_MAXIOV)
		vlen = UIO_MAXIOV;
	for (i = 0; i < vlen; i++) {
		ssize_t r = op_recvmsg(obj, &vec[i].msg_hdr, flags);

		if (r < 0) {
			if (i == 0)
				return r;
			break;
		}
		vec[i].msg_len = (unsigned)r;
		if (flags & MSG_WAITFORONE)
			flags |= MSG_DONTWAIT;
		if (tmo && mono_ns() >= deadline) {
			i++;
			break;
		}
	}
	if (tmo) {
		int64_t left = deadline - mono_ns();

		if (left < 0)
			left = 0;
		tmo->tv_sec = left / 1000000000;
		tmo->tv_nsec = left % 1000000000;
	}
	return i;
}

SLOW int recvmmsg_slow(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *tmo)
{
	DATA_OBJ(recvmmsg, fd, recvmsg, (fd, vec, vlen, flags, tmo));
	int saved = errno;
	int (*fn)(struct shim_fd *, struct mmsghdr *, unsigned, int, struct timespec *) =
		__atomic_load_n(&obj->ops, __ATOMIC_ACQUIRE)->recvmmsg;
	long r = fn ? fn(obj, vec, vlen, flags, tmo) : emul_recvmmsg(obj, vec, vlen, flags, tmo);

	fd_put(obj);
	return (int)shim_ret(r, saved);
}

int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *tmo)
{
	DATA_FAST(recvmmsg, fd, FDT_RECV, (fd, vec, vlen, flags, tmo),
		  recvmmsg_slow(fd, vec, vlen, flags, tmo));
}

/* ---- send ---- */

SLOW ssize_t write_slow(int fd, const void *buf, size_t n)
{
	DATA_OBJ(write, fd, sendmsg, (fd, buf, n));
	struct iovec iov = { (void *)buf, n };
	return obj_send(obj, &iov, 1, 0, NULL, 0);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	DATA_FAST(write, fd, FDT_SEND, (fd, buf, n), write_slow(fd, buf, n));
}

SLOW ssize_t writev_slow(int fd, const struct iovec *iov, int iovcnt)
{
	DATA_OBJ(writev, fd, sendmsg, (fd, iov, iovcnt));
	return obj_send(obj, iov, iovcnt, 0, NULL, 0);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	DATA_FAST(writev, fd, FDT_SEND, (fd, iov, iovcnt), writev_slow(fd, iov, iovcnt));
}

SLOW ssize_t send_slow(int fd, const void *buf, size_t n, int flags)
{
	DATA_OBJ(send, fd, sendmsg, (fd, buf, n, flags));
	struct iovec iov = { (void *)buf, n };
	return obj_send(obj, &iov, 1, flags, NULL, 0);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	DATA_FAST(send, fd, FDT_SEND, (fd, buf, n, flags), send_slow(fd, buf, n, flags));
}

SLOW ssize_t sendto_slow(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr,
	       socklen_t len)
{
	DATA_OBJ(sendto, fd, sendmsg, (fd, buf, n, flags, addr, len));
	struct iovec iov = { (void *)buf, n };
	return obj_send(obj, &iov, 1, flags, addr.__sockaddr__, len);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG addr,
	       socklen_t len)
{
	DATA_FAST(sendto, fd, FDT_SEND, (fd, buf, n, flags, addr, len),
		  sendto_slow(fd, buf, n, flags, addr, len));
}

SLOW ssize_t sendmsg_slow(int fd, const struct msghdr *msg, int flags)
{
	DATA_OBJ(sendmsg, fd, sendmsg, (fd, msg, flags));
	int saved = errno;
	ssize_t r = op_sendmsg(obj, msg, flags);

	fd_put(obj);
	return shim_ret(r, saved);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	DATA_FAST(sendmsg, fd, FDT_SEND, (fd, msg, flags), sendmsg_slow(fd, msg, flags));
}

/* sendmmsg through sendmsg: like the kernel, an error after the first message ends
 * the batch and the count sent so far is returned. */
static long emul_sendmmsg(struct shim_fd *obj, struct mmsghdr *vec, unsigned vlen, int flags)
{
	unsigned i;

	if (vlen > UIO_MAXIOV)
		vlen = UIO_MAXIOV;
	for (i = 0; i < vlen; i++) {
		ssize_t r = op_sendmsg(obj, &vec[i].msg_hdr, flags);

		if (r < 0)
			return i ? (long)i : r;
		vec[i].msg_len = (unsigned)r;
	}
	return i;
}

SLOW int sendmmsg_slow(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	DATA_OBJ(sendmmsg, fd, sendmsg, (fd, vec, vlen, flags));
	int saved = errno;
	int (*fn)(struct shim_fd *, struct mmsghdr *, unsigned, int) =
		__atomic_load_n(&obj->ops, __ATOMIC_ACQUIRE)->sendmmsg;
	long r = fn ? fn(obj, vec, vlen, flags) : emul_sendmmsg(obj, vec, vlen, flags);

	fd_put(obj);
	return (int)shim_ret(r, saved);
}

int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	DATA_FAST(sendmmsg, fd, FDT_SEND, (fd, vec, vlen, flags),
		  sendmmsg_slow(fd, vec, vlen, flags));
}

/* sendfile onto a socket whose data does not go through the kernel: read the file and
 * send through the op. With an offset the file position is left alone (pread); without
 * one it advances by exactly what was sent (unsent bytes are sought back). */
#define SENDFILE_CHUNK 65536
static long emul_sendfile(struct shim_fd *obj, int in_fd, off64_t *offset, size_t count)
{
	char *buf = malloc(SENDFILE_CHUNK);
	size_t done = 0;
	long err = 0;

	if (!buf)
		return -ENOMEM;
	if (count > RW_MAX)
		count = RW_MAX;
	while (done < count) {
		size_t want = count - done < SENDFILE_CHUNK ? count - done : SENDFILE_CHUNK;
		ssize_t n = offset ? pread64(in_fd, buf, want, *offset + (off64_t)done)
				   : sys_read(in_fd, buf, want);

		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		struct iovec iov = { buf, (size_t)n };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t s = op_sendmsg(obj, &msg, 0);

		if (!offset && s < n)
			lseek64(in_fd, -(off64_t)(n - (s > 0 ? s : 0)), SEEK_CUR);
		if (s < 0) {
			err = s;
			break;
		}
		done += (size_t)s;
		if (s < n)
			break;
	}
	free(buf);
	if (offset)
		*offset += (off64_t)done;
	return done ? (long)done : err;
}

SLOW ssize_t sendfile64_slow(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	DATA_OBJ(sendfile64, out_fd, sendmsg, (out_fd, in_fd, offset, count));
	int saved = errno;
	long r = emul_sendfile(obj, in_fd, offset, count);

	fd_put(obj);
	return shim_ret(r, saved);
}

ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	DATA_FAST(sendfile64, out_fd, FDT_SEND, (out_fd, in_fd, offset, count),
		  sendfile64_slow(out_fd, in_fd, offset, count));
}

_Static_assert(sizeof(off_t) == sizeof(off64_t), "64-bit off_t");

SLOW ssize_t sendfile_slow(int out_fd, int in_fd, off_t *offset, size_t count)
{
	DATA_OBJ(sendfile, out_fd, sendmsg, (out_fd, in_fd, offset, count));
	int saved = errno;
	long r = emul_sendfile(obj, in_fd, (off64_t *)offset, count);

	fd_put(obj);
	return shim_ret(r, saved);
}

ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	DATA_FAST(sendfile, out_fd, FDT_SEND, (out_fd, in_fd, offset, count),
		  sendfile_slow(out_fd, in_fd, offset, count));
}
