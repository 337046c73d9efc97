/* tcp_sock_opt.c — socket options of offloaded TCP sockets. Every option goes to
 * the kernel twin first (its answers and errno are the kernel's, and it keeps what
 * was set before a connection existed); the engine then gets what it implements.
 * Options set before connect/listen are read back from the twin when the engine
 * connection is created (an accepted socket inherits its listener's, as in Linux). */
#include "sock/tcp_sock.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>

#include "core/params.h"
#include "intercept/intercept.h"
#include "net/tcp_glue.h"

static int kget_int(int fd, int level, int name, int *v)
{
	socklen_t len = sizeof(*v);

	return sys_getsockopt(fd, level, name, v, &len) < 0 ? -errno : 0;
}

/* Glue lock held, connection synchronized. A receive buffer beyond what the
 * window can announce (65535 << the negotiated shift) never shows to the peer, and
 * the engine would answer every read with a window update: keep it within. */
void tcp_sock_fit_rcvbuf(struct tcp_sock *s)
{
	struct tcp_info ti;
	int rb = 0;

	tcp_get_info(s->conn, &ti);
	long max = 65535L << ti.tcpi_rcv_wscale;
	if (!tcp_getopt(s->conn, TCP_OPT_RCVBUF, &rb) && rb > max)
		tcp_setopt(s->conn, TCP_OPT_RCVBUF, (int)max);
}

/* Glue lock held. The kernel socket holds every option the application set before
 * the connection existed (the listener's for an accepted socket, as Linux inherits
 * them); buffer sizes and the MSS only when they were set explicitly, since the
 * kernel's defaults would shrink the engine's. */
void tcp_sock_inherit_opts(struct tcp_sock *s, int from)
{
	struct linger lg;
	socklen_t len = sizeof(lg);
	int v;

	if (shim_params.tcp_nodelay)
		tcp_setopt(s->conn, TCP_OPT_NODELAY, 1);
	if (shim_params.tcp_quickack)
		tcp_setopt(s->conn, TCP_OPT_QUICKACK, 1);
	if (!kget_int(from, IPPROTO_TCP, TCP_NODELAY, &v) && v)
		tcp_setopt(s->conn, TCP_OPT_NODELAY, 1);
	if (!kget_int(from, IPPROTO_TCP, TCP_CORK, &v) && v)
		tcp_setopt(s->conn, TCP_OPT_CORK, 1);
	if (!kget_int(from, SOL_SOCKET, SO_KEEPALIVE, &v) && v)
		tcp_setopt(s->conn, TCP_OPT_KEEPALIVE, 1);
	if (!kget_int(from, IPPROTO_TCP, TCP_KEEPIDLE, &v))
		tcp_setopt(s->conn, TCP_OPT_KEEPIDLE, v);
	if (!kget_int(from, IPPROTO_TCP, TCP_KEEPINTVL, &v))
		tcp_setopt(s->conn, TCP_OPT_KEEPINTVL, v);
	if (!kget_int(from, IPPROTO_TCP, TCP_KEEPCNT, &v))
		tcp_setopt(s->conn, TCP_OPT_KEEPCNT, v);
	if (sys_getsockopt(from, SOL_SOCKET, SO_LINGER, &lg, &len) == 0 && lg.l_onoff)
		tcp_setopt(s->conn, TCP_OPT_LINGER, lg.l_linger);
	/* Buffer sizes and MSS only when set explicitly (our setsockopt op noted them:
	 * the kernel's defaults would shrink the engine's). */
	struct tcp_sock *p = from == s->base.fd ? s : s->parent;
	if (p && p->user_sndbuf && !kget_int(from, SOL_SOCKET, SO_SNDBUF, &v))
		tcp_setopt(s->conn, TCP_OPT_SNDBUF, v);
	if (p && p->user_rcvbuf && !kget_int(from, SOL_SOCKET, SO_RCVBUF, &v))
		tcp_setopt(s->conn, TCP_OPT_RCVBUF, v);
	if (p && p->user_maxseg)
		tcp_setopt(s->conn, TCP_OPT_MAXSEG, p->user_maxseg);
}

static void apply_opt(struct tcp_sock *s, int level, int name, const void *val, socklen_t len)
{
	int v = 0;

	if (level == SOL_SOCKET && name == SO_LINGER) {
		struct linger lg;
		if (len < sizeof(lg))
			return;
		memcpy(&lg, val, sizeof(lg));
		tcp_setopt(s->conn, TCP_OPT_LINGER, lg.l_onoff ? lg.l_linger : -1);
		return;
	}
	if (len >= sizeof(int))
		memcpy(&v, val, sizeof(int));
	else if (len >= 1)
		v = *(const unsigned char *)val;
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_KEEPALIVE: tcp_setopt(s->conn, TCP_OPT_KEEPALIVE, !!v); break;
		case SO_SNDBUF:
		case SO_SNDBUFFORCE:
			/* The kernel's doubled value is what getsockopt reports: use it. */
			if (!kget_int(s->base.fd, SOL_SOCKET, SO_SNDBUF, &v))
				tcp_setopt(s->conn, TCP_OPT_SNDBUF, v);
			break;
		case SO_RCVBUF:
		case SO_RCVBUFFORCE:
			if (!kget_int(s->base.fd, SOL_SOCKET, SO_RCVBUF, &v))
				tcp_setopt(s->conn, TCP_OPT_RCVBUF, v);
			break;
		}
	} else if (level == IPPROTO_TCP) {
		switch (name) {
		case TCP_NODELAY: tcp_setopt(s->conn, TCP_OPT_NODELAY, !!v); break;
		case TCP_CORK: tcp_setopt(s->conn, TCP_OPT_CORK, !!v); break;
		case TCP_QUICKACK: tcp_setopt(s->conn, TCP_OPT_QUICKACK, !!v); break;
		case TCP_KEEPIDLE: tcp_setopt(s->conn, TCP_OPT_KEEPIDLE, v); break;
		case TCP_KEEPINTVL: tcp_setopt(s->conn, TCP_OPT_KEEPINTVL, v); break;
		case TCP_KEEPCNT: tcp_setopt(s->conn, TCP_OPT_KEEPCNT, v); break;
		case TCP_MAXSEG: tcp_setopt(s->conn, TCP_OPT_MAXSEG, v); break;
		}
	}
}

static void set_timeo(struct tcp_sock *s, int name, const void *val, socklen_t len)
{
	struct timeval tv;

	if (len < sizeof(tv))
		return;
	memcpy(&tv, val, sizeof(tv));
	int64_t ns = (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
	if (name == SO_RCVTIMEO)
		s->rcvtimeo_ns = ns;
	else
		s->sndtimeo_ns = ns;
}

int tcp_sock_setsockopt(struct shim_fd *f, int level, int name, const void *val, socklen_t len)
{
	struct tcp_sock *s = tcp_sk(f);

	if (sys_setsockopt(f->fd, level, name, val, len) < 0)
		return -errno;
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO))
		set_timeo(s, name, val, len);
	if (val && len >= sizeof(int) && level == SOL_SOCKET &&
	    (name == SO_SNDBUF || name == SO_SNDBUFFORCE))
		s->user_sndbuf = true;
	if (val && len >= sizeof(int) && level == SOL_SOCKET &&
	    (name == SO_RCVBUF || name == SO_RCVBUFFORCE))
		s->user_rcvbuf = true;
	if (val && len >= sizeof(int) && level == IPPROTO_TCP && name == TCP_MAXSEG)
		memcpy(&s->user_maxseg, val, sizeof(int));
	if (s->conn && !s->listener && val) {
		tcp_glue_lock();
		apply_opt(s, level, name, val, len);
		tcp_glue_unlock();
	}
	return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
	if (!val || !len)
		return -EFAULT;
	if (*len >= sizeof(int)) {
		memcpy(val, &v, sizeof(v));
		*len = sizeof(v);
	} else if (*len > 0) {
		*(unsigned char *)val = (unsigned char)v;
		*len = 1;
	} else {
		return -EINVAL;
	}
	return 0;
}

int tcp_sock_getsockopt(struct shim_fd *f, int level, int name, void *val, socklen_t *len)
{
	struct tcp_sock *s = tcp_sk(f);
	int v, rc;

	if (!s->conn)
		return sys_ret(sys_getsockopt(f->fd, level, name, val, len));
	if (level == SOL_SOCKET && name == SO_ACCEPTCONN)
		return put_int(val, len, s->listener);
	if (level == SOL_SOCKET && name == SO_ERROR) {
		tcp_glue_lock();
		v = tcp_so_error(s->conn);
		tcp_glue_unlock();
		return put_int(val, len, v);
	}
	if (level == IPPROTO_TCP && name == TCP_INFO && !s->listener) {
		struct tcp_info ti;
		if (!val || !len)
			return -EFAULT;
		tcp_glue_lock();
		tcp_get_info(s->conn, &ti);
		tcp_glue_unlock();
		socklen_t n = *len < sizeof(ti) ? *len : (socklen_t)sizeof(ti);
		memcpy(val, &ti, n);
		*len = n;
		return 0;
	}
	if (level == IPPROTO_TCP && name == TCP_MAXSEG && !s->listener) {
		tcp_glue_lock();
		rc = tcp_getopt(s->conn, TCP_OPT_MAXSEG, &v);
		tcp_glue_unlock();
		return rc ? rc : put_int(val, len, v);
	}
	return sys_ret(sys_getsockopt(f->fd, level, name, val, len));
}
