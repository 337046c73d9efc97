/* test_intercept_ops.c — the interposed calls with an object that has ops: which op
 * each libc call reaches and with what, the errno rule (failures carry the op's
 * errno, successes keep the caller's), the batch and sendfile fall-backs, _chk
 * overflow, close/dup2/fcntl/ioctl bookkeeping, socket() objects, stale objects, and
 * the signal trampoline. The wrappers are this program's own read(), write() ... */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/params.h"
#include "intercept/intercept.h"

extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
			      struct sockaddr *addr, socklen_t *len);

struct fake {
	struct shim_fd base;
	int rx_calls, tx_calls, closes, queued, fail;
	int last_flags;
	size_t tx_bytes;
	char tx[1 << 17];
};

static int destroyed;

static struct fake *fake_of(struct shim_fd *f)
{
	return (struct fake *)f;
}

/* Hands out `queued` datagrams "msg<N>" from 10.0.0.<N>:7, then -EAGAIN (or -fail). */
static ssize_t fake_recvmsg(struct shim_fd *f, struct msghdr *msg, int flags)
{
	struct fake *k = fake_of(f);
	char data[16];
	int n;

	k->rx_calls++;
	k->last_flags = flags;
	errno = EIO;	/* ops may clobber errno internally: the wrapper must restore it */
	if (k->fail)
		return -k->fail;
	if (!k->queued)
		return -EAGAIN;
	n = snprintf(data, sizeof(data), "msg%d", k->queued--);
	size_t left = (size_t)n, off = 0;
	for (size_t i = 0; i < msg->msg_iovlen && left; i++) {
		size_t c = msg->msg_iov[i].iov_len < left ? msg->msg_iov[i].iov_len : left;
		memcpy(msg->msg_iov[i].iov_base, data + off, c);
		off += c;
		left -= c;
	}
	if (msg->msg_name && msg->msg_namelen >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7),
					 .sin_addr.s_addr = htonl(0x0a000000 | (unsigned)k->queued) };
		memcpy(msg->msg_name, &a, sizeof(a));
		msg->msg_namelen = sizeof(a);
	}
	return (ssize_t)off;
}

static ssize_t fake_sendmsg(struct shim_fd *f, const struct msghdr *msg, int flags)
{
	struct fake *k = fake_of(f);
	size_t total = 0;

	k->tx_calls++;
	k->last_flags = flags;
	errno = EIO;
	if (k->fail)
		return -k->fail;
	for (size_t i = 0; i < msg->msg_iovlen; i++) {
		size_t c = msg->msg_iov[i].iov_len;

		if (k->tx_bytes + c > sizeof(k->tx))
			c = sizeof(k->tx) - k->tx_bytes;
		memcpy(k->tx + k->tx_bytes, msg->msg_iov[i].iov_base, c);
		k->tx_bytes += c;
		total += c;
	}
	return (ssize_t)total;
}

static int fake_close(struct shim_fd *f)
{
	fake_of(f)->closes++;
	return 0;
}

static void fake_destroy(struct shim_fd *f)
{
	destroyed++;
	free(f);
}

static const struct fd_ops fake_ops = {
	.name = "fake", .close = fake_close, .destroy = fake_destroy,
	.recvmsg = fake_recvmsg, .sendmsg = fake_sendmsg,
};

static int sock_fd;
static struct fake *obj;

static void setup(void)
{
	ck_assert(shim_ready());
	sock_fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(sock_fd, 0);
	fd_put(fdt_remove(sock_fd));	/* socket() may have tracked it: not via syscall() */
	obj = calloc(1, sizeof(*obj));
	obj->base.ops = &fake_ops;
	obj->base.fd = sock_fd;
	obj->base.refcnt = 2;		/* the table's and the test's */
	ck_assert_int_eq(fdt_install(&obj->base), 0);
	destroyed = 0;
}

static void teardown(void)
{
	fd_put(fdt_remove(sock_fd));
	fd_put(&obj->base);
	syscall(SYS_close, sock_fd);
}

START_TEST(test_receive_calls_reach_recvmsg)
{
	char buf[32];
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	struct iovec iov[2] = { { buf, 2 }, { buf + 2, 10 } };

	obj->queued = 10;
	errno = 1234;
	ck_assert_int_eq(read(sock_fd, buf, sizeof(buf)), 5);
	ck_assert_int_eq(errno, 1234);
	ck_assert(!memcmp(buf, "msg10", 5));
	ck_assert_int_eq(recv(sock_fd, buf, sizeof(buf), MSG_PEEK), 4);
	ck_assert_int_eq(obj->last_flags, MSG_PEEK);
	ck_assert_int_eq(recvfrom(sock_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len), 4);
	ck_assert_int_eq(len, sizeof(from));
	ck_assert_int_eq(ntohs(from.sin_port), 7);
	ck_assert_int_eq(readv(sock_fd, iov, 2), 4);
	ck_assert(!memcmp(buf, "msg7", 4));
	ck_assert_int_eq(__read_chk(sock_fd, buf, 8, sizeof(buf)), 4);
	ck_assert_int_eq(__recvfrom_chk(sock_fd, buf, 8, sizeof(buf), 0, NULL, NULL), 4);
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 1 };
	ck_assert_int_eq(recvmsg(sock_fd, &m, 0), 2);
	ck_assert_int_eq(obj->rx_calls, 7);
	errno = 1234;
	ck_assert_int_eq(read(sock_fd, buf, sizeof(buf)), 4);
	ck_assert_int_eq(read(sock_fd, buf, sizeof(buf)), 4);
	ck_assert_int_eq(read(sock_fd, buf, sizeof(buf)), 4);
	ck_assert_int_eq(errno, 1234);
	ck_assert_int_eq(read(sock_fd, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	obj->fail = ECONNREFUSED;
	ck_assert_int_eq(recv(sock_fd, buf, 1, 0), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	volatile int bad = -1;	/* hidden from the compiler's own iovcnt check */
	ck_assert_int_eq(readv(sock_fd, iov, bad), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_send_calls_reach_sendmsg)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	struct iovec iov[2] = { { "ab", 2 }, { "cd", 2 } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };

	errno = 4321;
	ck_assert_int_eq(write(sock_fd, "12", 2), 2);
	ck_assert_int_eq(send(sock_fd, "34", 2, MSG_MORE), 2);
	ck_assert_int_eq(obj->last_flags, MSG_MORE);
	ck_assert_int_eq(sendto(sock_fd, "56", 2, 0, (struct sockaddr *)&to, sizeof(to)), 2);
	ck_assert_int_eq(writev(sock_fd, iov, 2), 4);
	ck_assert_int_eq(sendmsg(sock_fd, &m, 0), 4);
	ck_assert_int_eq(errno, 4321);
	ck_assert_int_eq(obj->tx_calls, 5);
	ck_assert_int_eq(obj->tx_bytes, 14);
	ck_assert(!memcmp(obj->tx, "123456abcdabcd", 14));
	obj->fail = EMSGSIZE;
	ck_assert_int_eq(write(sock_fd, "x", 1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
}
END_TEST

START_TEST(test_mmsg_fallbacks)
{
	char bufs[4][16];
	struct iovec iov[4];
	struct mmsghdr v[4];

	memset(v, 0, sizeof(v));
	for (int i = 0; i < 4; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		v[i].msg_hdr.msg_iov = &iov[i];
		v[i].msg_hdr.msg_iovlen = 1;
	}
	obj->queued = 3;
	ck_assert_int_eq(recvmmsg(sock_fd, v, 4, MSG_DONTWAIT, NULL), 3);
	ck_assert_int_eq(v[0].msg_len, 4);
	ck_assert(!memcmp(bufs[2], "msg1", 4));
	ck_assert_int_eq(recvmmsg(sock_fd, v, 4, 0, NULL), -1);
	ck_assert_int_eq(errno, EAGAIN);
	obj->queued = 4;
	ck_assert_int_eq(recvmmsg(sock_fd, v, 4, MSG_WAITFORONE, NULL), 4);
	ck_assert_int_eq(obj->last_flags, MSG_WAITFORONE | MSG_DONTWAIT);
	ck_assert_int_eq(sendmmsg(sock_fd, v, 4, 0), 4);
	ck_assert_int_eq(v[3].msg_len, sizeof(bufs[3]));
	obj->fail = ENOBUFS;
	ck_assert_int_eq(sendmmsg(sock_fd, v, 4, 0), -1);
	ck_assert_int_eq(errno, ENOBUFS);
}
END_TEST

START_TEST(test_sendfile_fallback)
{
	char path[] = "/tmp/shim-test-sendfile.XXXXXX";
	int in = mkstemp(path);
	char data[100000];
	off_t off = 10;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	ck_assert_int_eq(write(in, data, sizeof(data)), sizeof(data));
	unlink(path);
	/* with an offset: the file position stays where it was */
	ck_assert_int_eq(sendfile(sock_fd, in, &off, 70000), 70000);
	ck_assert_int_eq(off, 70010);
	ck_assert_int_eq(lseek(in, 0, SEEK_CUR), sizeof(data));
	ck_assert(!memcmp(obj->tx, data + 10, 70000));
	/* without: it advances by what was sent */
	obj->tx_bytes = 0;
	lseek(in, 5, SEEK_SET);
	ck_assert_int_eq(sendfile(sock_fd, in, NULL, 1000), 1000);
	ck_assert_int_eq(lseek(in, 0, SEEK_CUR), 1005);
	ck_assert(!memcmp(obj->tx, data + 5, 1000));
	obj->fail = EPIPE;
	ck_assert_int_eq(sendfile(sock_fd, in, NULL, 10), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(lseek(in, 0, SEEK_CUR), 1005);
	close(in);
}
END_TEST

START_TEST(test_read_chk_overflow_aborts)
{
	char buf[4];

	__read_chk(sock_fd, buf, 8, sizeof(buf));
}
END_TEST

START_TEST(test_close_runs_op_then_kernel)
{
	ck_assert_int_eq(close(sock_fd), 0);
	ck_assert_int_eq(obj->closes, 1);
	ck_assert_ptr_null(fdt_get(sock_fd));
	ck_assert_int_eq(fcntl(sock_fd, F_GETFD), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(destroyed, 0);	/* the test still holds its reference */
}
END_TEST

START_TEST(test_close_range)
{
	ck_assert_int_eq(close_range(sock_fd, sock_fd, CLOSE_RANGE_CLOEXEC), 0);
	ck_assert_int_eq(obj->closes, 0);
	ck_assert_int_eq(fcntl(sock_fd, F_GETFD), FD_CLOEXEC);
	ck_assert_int_eq(close_range(sock_fd, sock_fd, 0), 0);
	ck_assert_int_eq(obj->closes, 1);
	ck_assert_ptr_null(fdt_get(sock_fd));
	ck_assert_int_eq(fcntl(sock_fd, F_GETFD), -1);
	ck_assert_int_eq(close_range(5, 4, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_nonblock_bookkeeping)
{
	int d;

	ck_assert_int_eq(fcntl(sock_fd, F_SETFL, O_NONBLOCK), 0);
	ck_assert(obj->base.nonblock);
	ck_assert_int_eq(ioctl(sock_fd, FIONBIO, &(int){ 0 }), 0);
	ck_assert(!obj->base.nonblock);
	ck_assert_int_eq(fcntl(sock_fd, F_GETFL) & O_NONBLOCK, 0);
	d = fcntl(sock_fd, F_DUPFD_CLOEXEC, 900);
	ck_assert_int_ge(d, 900);
	ck_assert_uint_eq(fdt_peek(d), 0);	/* the duplicate is the kernel's */
	ck_assert_int_eq(fcntl(d, F_GETFD), FD_CLOEXEC);
	close(d);
	d = dup(sock_fd);
	ck_assert_uint_eq(fdt_peek(d), 0);
	close(d);
	ck_assert_int_eq(obj->closes, 0);
}
END_TEST

START_TEST(test_dup2_onto_object)
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	shim_params.close_on_dup2 = true;
	ck_assert_int_eq(dup2(p[0], sock_fd), sock_fd);
	ck_assert_int_eq(obj->closes, 1);
	ck_assert_ptr_null(fdt_get(sock_fd));
	/* again with SHIM_CLOSE_ON_DUP2=0: dropped without its close op */
	obj->closes = 0;
	fd_hold(&obj->base);
	ck_assert_int_eq(fdt_install(&obj->base), 0);
	shim_params.close_on_dup2 = false;
	ck_assert_int_eq(dup3(p[1], sock_fd, O_CLOEXEC), sock_fd);
	ck_assert_int_eq(obj->closes, 0);
	ck_assert_ptr_null(fdt_get(sock_fd));
	shim_params.close_on_dup2 = true;
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_stale_object_dropped)
{
	int p[2];

	/* Closed behind the library's back; the kernel reuses the number at once. */
	syscall(SYS_close, sock_fd);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert(p[0] == sock_fd || p[1] == sock_fd);
	ck_assert_ptr_null(fdt_get(sock_fd));
	ck_assert_int_eq(obj->closes, 0);
	ck_assert_int_eq(write(p[1], "z", 1), 1);	/* the pipe is not the old socket */
	ck_assert_int_eq(obj->tx_calls, 0);
	close(p[0]);
	close(p[1]);
	sock_fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
}
END_TEST

START_TEST(test_socket_objects)
{
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int t = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	int x = socket(AF_UNIX, SOCK_DGRAM, 0);
	int r = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	struct shim_fd *f = fdt_get(u);

	ck_assert_ptr_nonnull(f);
	ck_assert(f->nonblock);
	ck_assert_int_eq(f->type, SOCK_DGRAM);
	ck_assert_int_eq(f->domain, AF_INET);
	fd_put(f);
	f = fdt_get(t);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(f->type, SOCK_STREAM);
	ck_assert(!f->nonblock);
	fd_put(f);
	ck_assert_uint_eq(fdt_peek(x), 0);
	if (r >= 0)	/* ping sockets may be forbidden by net.ipv4.ping_group_range */
		ck_assert_uint_eq(fdt_peek(r), 0);
	close(u);
	close(t);
	close(x);
	if (r >= 0)
		close(r);
	ck_assert_uint_eq(fdt_peek(u), 0);
}
END_TEST

static volatile sig_atomic_t handled;
static void on_usr1(int sig)
{
	handled = sig;
}

START_TEST(test_signal_trampoline)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	uint64_t snap;

	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	ck_assert_int_eq(sigaction(SIGUSR1, NULL, &old), 0);
	ck_assert_ptr_eq(old.sa_handler, on_usr1);
	ck_assert(!(old.sa_flags & SA_SIGINFO));
	snap = shim_signal_snapshot();
	raise(SIGUSR1);
	ck_assert_int_eq(handled, SIGUSR1);
	ck_assert(shim_signal_arrived(snap));
	ck_assert(shim_signal_interrupted(snap));	/* no SA_RESTART */
	ck_assert_ptr_eq(signal(SIGUSR1, SIG_IGN), on_usr1);
	snap = shim_signal_snapshot();
	raise(SIGUSR1);
	ck_assert(!shim_signal_arrived(snap));
	ck_assert_ptr_eq(signal(SIGUSR1, on_usr1), SIG_IGN);
	snap = shim_signal_snapshot();
	handled = 0;
	raise(SIGUSR1);
	ck_assert_int_eq(handled, SIGUSR1);
	ck_assert(shim_signal_arrived(snap));
	ck_assert(!shim_signal_interrupted(snap));	/* signal() restarts */
	signal(SIGUSR1, SIG_DFL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("intercept_ops");
	TCase *tc = tcase_create("ops");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_receive_calls_reach_recvmsg);
	tcase_add_test(tc, test_send_calls_reach_sendmsg);
	tcase_add_test(tc, test_mmsg_fallbacks);
	tcase_add_test(tc, test_sendfile_fallback);
	tcase_add_test_raise_signal(tc, test_read_chk_overflow_aborts, SIGABRT);
	tcase_add_test(tc, test_close_runs_op_then_kernel);
	tcase_add_test(tc, test_close_range);
	tcase_add_test(tc, test_nonblock_bookkeeping);
	tcase_add_test(tc, test_dup2_onto_object);
	tcase_add_test(tc, test_stale_object_dropped);
	tcase_add_test(tc, test_socket_objects);
	tcase_add_test(tc, test_signal_trampoline);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
