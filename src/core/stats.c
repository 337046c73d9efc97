/* stats.c — the stats segment inside the library: created at start-up from
 * SHIM_STATS_SHMEM_DIR / SHIM_STATS_FD_NUM, copied for a fork child (whose own file
 * appears 100 ms later, from the internal thread), removed at exit. Hands out blocks
 * to the data path (the shared "other sockets" block when socket slots run out,
 * process-local scratch when there is no segment), writes a closing socket's summary
 * (VMA example 5) to SHIM_STATS_FILE and the debug log, and applies shim_stats
 * -l / -D / -z from the control area. */
#include "core/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal_thread.h"
#include "core/log.h"
#include "core/params.h"
#include "core/stats_segment.h"

#define CONTROL_PERIOD_MS 100

/* Where writers go without a segment (or a free ring, CQ ... slot): never read,
 * shared, racy by design. */
static struct shim_sock_stats scratch_sock;
static struct shim_ring_stats scratch_ring;
static struct shim_cq_stats scratch_cq;
static struct shim_bpool_stats scratch_bpool;
static struct shim_iomux_stats scratch_iomux;
static struct shim_global_stats scratch_global;

static char stats_file_tmpl[PATH_MAX];
static char stats_file[PATH_MAX];
static int control_task = -1;
static int cur_details;

static void expand_stats_file(void)
{
	stats_file[0] = '\0';
	if (stats_file_tmpl[0] && log_expand_pid(stats_file_tmpl, stats_file, sizeof(stats_file)) < 0) {
		log_warn("SHIM_STATS_FILE '%s' is too long; socket summaries go to the log only",
			 stats_file_tmpl);
		stats_file[0] = '\0';
	}
}

int stats_init_with(const struct stats_config *cfg)
{
	static int exit_hooked;
	int err;

	if (stats_seg.base)
		return 0;	/* once per process; a fork child moves, it does not start over */
	snprintf(stats_file_tmpl, sizeof(stats_file_tmpl), "%s", cfg->file ? cfg->file : "");
	expand_stats_file();
	if (!cfg->dir || !*cfg->dir) {
		log_dbg("stats: SHIM_STATS_SHMEM_DIR is empty, no stats segment");
		return 0;
	}
	err = stats_segment_create(cfg->dir, cfg->fd_num);
	if (err) {
		log_warn("stats: cannot create the stats segment in %s: %s; shim_stats will not see this process",
			 cfg->dir, strerror(-err));
		return err;
	}
	stats_seg.ctl->cur_log_level = shim_log_level;
	stats_seg.ctl->cur_log_details = cur_details;
	stats_segment_touch();
	if (!exit_hooked && atexit(stats_fini) == 0 &&
	    pthread_atfork(NULL, NULL, stats_atfork_child) == 0)
		exit_hooked = 1;
	if (control_task < 0) {
		/* the thread starts with the first socket (or custom stat): a process
		 * that never has one stays single-threaded */
		control_task = internal_thread_add_deferred(stats_poll_control, NULL, CONTROL_PERIOD_MS);
		if (control_task < 0)
			log_warn("stats: no internal thread (%s): shim_stats -z/-l/-D will not be applied",
				 strerror(-control_task));
	}
	log_dbg("stats: segment %s, %u socket slots", stats_seg.path, cfg->fd_num);
	return 0;
}

int stats_init(void)
{
	struct stats_config cfg = {
		.dir = shim_params.stats_shmem_dir,
		.fd_num = (unsigned)shim_params.stats_fd_num,
		.file = shim_params.stats_file,
	};

	cur_details = (int)shim_params.log_details;
	return stats_init_with(&cfg);
}

void stats_atfork_child(void)
{
	expand_stats_file();
	if (!stats_seg.base || stats_seg.hdr->pid == getpid())
		return;
	if (stats_segment_fork_child() < 0)
		log_warn("stats: no memory for the child's copy of the stats segment; its counters start over");
}

void stats_fini(void)
{
	stats_segment_remove();
}

const char *stats_segment_path(void)
{
	return stats_seg.base && stats_seg.path[0] ? stats_seg.path : NULL;
}

/* --- control area ---------------------------------------------------------------- */
static bool take_request(uint32_t *seq, uint32_t *ack, uint32_t *got)
{
	*got = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
	return *got != __atomic_load_n(ack, __ATOMIC_RELAXED);
}

void stats_poll_control(void *arg)
{
	struct shim_stats_ctl *ctl = stats_seg.ctl;
	uint32_t seq;

	/* a fork child may run this before its segment moved: never touch the parent's */
	if (!stats_seg.base || stats_seg.hdr->pid != getpid())
		return;
	int err = stats_segment_publish(false);
	if (err && err != -EAGAIN)
		log_warn("stats: cannot create this child's stats segment in %s: %s; shim_stats will not see it",
			 stats_seg.dir, strerror(-err));
	static bool swept;
	if (!swept) {
		/* once per process tree: segments of our dead processes (kill, _exit) */
		swept = true;
		int n = stats_clean_stale(stats_seg.dir);
		if (n)
			log_dbg("stats: removed %d stale segment(s) from %s", n, stats_seg.dir);
	}
	if (take_request(&ctl->log_level_seq, &ctl->log_level_ack, &seq)) {
		int lvl = __atomic_load_n(&ctl->log_level, __ATOMIC_RELAXED);
		if (lvl >= SHIM_LOG_PANIC && lvl <= SHIM_LOG_FUNC_ALL) {
			log_set_level(lvl);
			log_info("stats: log level set to %s by shim_stats", log_level_name(lvl));
		}
		__atomic_store_n(&ctl->log_level_ack, seq, __ATOMIC_RELEASE);
	}
	if (take_request(&ctl->log_details_seq, &ctl->log_details_ack, &seq)) {
		int d = __atomic_load_n(&ctl->log_details, __ATOMIC_RELAXED);
		if (d >= 0 && d <= 3) {
			log_set_details(d);
			cur_details = d;
			log_info("stats: log details set to %d by shim_stats", d);
		}
		__atomic_store_n(&ctl->log_details_ack, seq, __ATOMIC_RELEASE);
	}
	if (take_request(&ctl->zero_seq, &ctl->zero_ack, &seq)) {
		stats_segment_zero();
		log_info("stats: counters zeroed by shim_stats");
		__atomic_store_n(&ctl->zero_ack, seq, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&ctl->cur_log_level, shim_log_level, __ATOMIC_RELAXED);
	__atomic_store_n(&ctl->cur_log_details, cur_details, __ATOMIC_RELAXED);
	stats_segment_touch();
}

/* --- blocks ------------------------------------------------------------------------- */
static void *open_block(unsigned kind, int64_t id, const char *label, void *scratch,
			const char *what)
{
	int i = stats_slot_open(kind, id, label);

	internal_thread_start();	/* there is something to watch now */
	if (i >= 0)
		return stats_slot_values(kind, (unsigned)i);
	if (i == -ENOSPC)
		log_once(SHIM_LOG_WARN, "stats: no free %s slot in the stats segment; more %ss are not shown by shim_stats",
			 what, what);
	return scratch;
}

struct shim_global_stats *stats_global(void)
{
	return stats_seg.base ? stats_slot_values(STATS_KIND_GLOBAL, 0) : &scratch_global;
}

/* The last socket slot is shared by the sockets beyond SHIM_STATS_FD_NUM. */
static bool is_overflow(int i)
{
	return stats_seg.base && i == (int)stats_seg.kinds[STATS_KIND_SOCKET].slot_count - 1;
}

struct shim_sock_stats *stats_sock_open(int fd, int domain, int type, int protocol)
{
	int t = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	const char *label = t == SOCK_STREAM ? "tcp" : t == SOCK_DGRAM ? "udp" : "raw";
	struct shim_sock_stats *s;
	struct stat st;
	int i;

	STAT_INC_MT(stats_global(), sockets_created);
	/* No internal thread for a socket yet: its first ring starts one. A second thread
	 * moves glibc to its slower multi-threaded syscall path for the whole process,
	 * which a program with kernel sockets only must not pay. */
	i = stats_slot_open(STATS_KIND_SOCKET, fd, label);
	if (i < 0) {
		if (i != -ENOSPC)
			return &scratch_sock;
		STAT_INC_MT(stats_global(), stats_slots_exhausted);
		unsigned slots = stats_seg.kinds[STATS_KIND_SOCKET].slot_count - 1;
		if (slots)
			log_once(SHIM_LOG_WARN,
				 "stats: all %u socket slots of the stats segment are in use; raise SHIM_STATS_FD_NUM (up to 1024) to see more sockets in shim_stats (until then they count together as \"other sockets\")",
				 slots);
		else
			log_once(SHIM_LOG_INFO,
				 "stats: SHIM_STATS_FD_NUM is 0: shim_stats shows all sockets together as \"other sockets\"");
		i = stats_slot_overflow();
		/* counters only: attributes (fd, addresses) would describe some socket */
		return i < 0 ? &scratch_sock : stats_slot_values(STATS_KIND_SOCKET, (unsigned)i);
	}
	s = stats_slot_values(STATS_KIND_SOCKET, (unsigned)i);
	STAT_SET(s, fd, fd);
	if (protocol == 0)
		protocol = t == SOCK_STREAM ? IPPROTO_TCP : t == SOCK_DGRAM ? IPPROTO_UDP : 0;
	STAT_SET(s, protocol, protocol);
	STAT_SET(s, blocking, !(type & SOCK_NONBLOCK));
	STAT_SET(s, ring, UINT64_MAX);
	STAT_SET(s, mc_loop, 1);
	if (fstat(fd, &st) == 0)
		STAT_SET(s, inode, st.st_ino);
	(void)domain;
	return s;
}

void stats_sock_set_fd(struct shim_sock_stats *s, int fd)
{
	int i = stats_slot_find(STATS_KIND_SOCKET, s);

	if (i < 0 || is_overflow(i))
		return;
	__atomic_store_n(&stats_slot_hdr(STATS_KIND_SOCKET, (unsigned)i)->id, fd, __ATOMIC_RELAXED);
	STAT_SET(s, fd, fd);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* The socket's summary in the form of VMA's example 5, one line per '\n'. */
static int format_summary(const struct shim_sock_stats *s, int fd, const char *pfx, char *buf,
			  size_t sz)
{
	uint64_t rxb = STAT_GET(s, rx_offload_bytes) + STAT_GET(s, rx_os_bytes);
	uint64_t rxp = STAT_GET(s, rx_offload_packets) + STAT_GET(s, rx_os_packets);
	uint64_t db = STAT_GET(s, rx_bytes_dropped), dp = STAT_GET(s, rx_packets_dropped);
	uint64_t hit = STAT_GET(s, rx_poll_hit), miss = STAT_GET(s, rx_poll_miss);

	return snprintf(buf, sz,
		"%s[fd=%d] Tx Offload: %llu KB / %llu / %llu [bytes/packets/errors]\n"
		"%s[fd=%d] Tx OS info: %llu KB / %llu / %llu [bytes/packets/errors]\n"
		"%s[fd=%d] Rx Offload: %llu KB / %llu / %llu [bytes/packets/errors]\n"
		"%s[fd=%d] Rx OS info: %llu KB / %llu / %llu [bytes/packets/errors]\n"
		"%s[fd=%d] Rx byte: max %llu / dropped %llu (%.2f%%) / limit %llu\n"
		"%s[fd=%d] Rx pkt : max %llu / dropped %llu (%.2f%%)\n"
		"%s[fd=%d] Rx poll: %llu / %llu (%.2f%%) [miss/hit]\n",
		pfx, fd, (unsigned long long)STAT_GET(s, tx_offload_bytes) / 1024,
		(unsigned long long)STAT_GET(s, tx_offload_packets), (unsigned long long)STAT_GET(s, tx_offload_errors),
		pfx, fd, (unsigned long long)STAT_GET(s, tx_os_bytes) / 1024,
		(unsigned long long)STAT_GET(s, tx_os_packets), (unsigned long long)STAT_GET(s, tx_os_errors),
		pfx, fd, (unsigned long long)STAT_GET(s, rx_offload_bytes) / 1024,
		(unsigned long long)STAT_GET(s, rx_offload_packets), (unsigned long long)STAT_GET(s, rx_offload_errors),
		pfx, fd, (unsigned long long)STAT_GET(s, rx_os_bytes) / 1024,
		(unsigned long long)STAT_GET(s, rx_os_packets), (unsigned long long)STAT_GET(s, rx_os_errors),
		pfx, fd, (unsigned long long)STAT_GET(s, rx_bytes_max), (unsigned long long)db, pct(db, db + rxb),
		(unsigned long long)STAT_GET(s, rx_bytes_limit),
		pfx, fd, (unsigned long long)STAT_GET(s, rx_packets_max), (unsigned long long)dp, pct(dp, dp + rxp),
		pfx, fd, (unsigned long long)miss, (unsigned long long)hit, pct(hit, hit + miss));
}

static bool had_traffic(const struct shim_sock_stats *s)
{
	return STAT_GET(s, rx_offload_packets) || STAT_GET(s, tx_offload_packets) ||
	       STAT_GET(s, rx_os_packets) || STAT_GET(s, tx_os_packets) ||
	       STAT_GET(s, rx_offload_errors) || STAT_GET(s, tx_offload_errors) ||
	       STAT_GET(s, rx_os_errors) || STAT_GET(s, tx_os_errors);
}

static void log_lines(int level, char *buf)
{
	for (char *line = buf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = '\0';
		shim_log(level, "%s", line);
	}
}

/* Append to SHIM_STATS_FILE: opened per summary, so an application that closes every
 * descriptor (daemons do) can never make us write into one of its own files. */
static void append_stats_file(const char *buf, size_t len)
{
	int fd = open(stats_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		log_once(SHIM_LOG_WARN, "stats: cannot open SHIM_STATS_FILE %s: %s", stats_file, strerror(errno));
		return;
	}
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n <= 0)
			break;
		buf += n;
		len -= (size_t)n;
	}
	close(fd);
}

void stats_sock_close(struct shim_sock_stats *s)
{
	struct shim_sock_stats now;
	char buf[1536];
	int i, fd, n;

	if (!s || s == &scratch_sock)
		return;
	i = stats_slot_find(STATS_KIND_SOCKET, s);
	if (i < 0 || is_overflow(i))
		return;	/* the shared block of sockets beyond the slots stays */
	fd = (int)STAT_GET(s, fd);
	if (had_traffic(s) && (stats_file[0] || shim_log_level >= SHIM_LOG_DEBUG)) {
		/* as shim_stats shows it: since the last -z */
		stats_slot_snapshot(STATS_KIND_SOCKET, (unsigned)i, &now, sizeof(now));
		if (stats_file[0]) {
			n = format_summary(&now, fd, "SHIM: ", buf, sizeof(buf));
			if (n > 0)
				append_stats_file(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
		}
		if (shim_log_level >= SHIM_LOG_DEBUG && format_summary(&now, fd, "", buf, sizeof(buf)) > 0)
			log_lines(SHIM_LOG_DEBUG, buf);
	}
	stats_slot_close(STATS_KIND_SOCKET, (unsigned)i);
}

int stats_dump_fd(int fd, int level)
{
	char buf[1536];
	int i;

	if (level < SHIM_LOG_PANIC || level > SHIM_LOG_FUNC_ALL)
		return -EINVAL;
	i = stats_slot_by_id(STATS_KIND_SOCKET, fd);
	if (i < 0)
		return -ENOENT;
	struct shim_sock_stats now;
	stats_slot_snapshot(STATS_KIND_SOCKET, (unsigned)i, &now, sizeof(now));
	if (format_summary(&now, fd, "", buf, sizeof(buf)) > 0)
		log_lines(level, buf);
	return 0;
}

struct shim_ring_stats *stats_ring_open(const char *label, int ifindex, int queue)
{
	struct shim_ring_stats *r = open_block(STATS_KIND_RING, queue, label, &scratch_ring, "ring");

	STAT_SET(r, ifindex, ifindex);
	STAT_SET(r, queue, queue);
	return r;
}

int stats_ring_index(const struct shim_ring_stats *r)
{
	int i = stats_slot_find(STATS_KIND_RING, r);

	return i < 0 ? -1 : i;
}

struct shim_cq_stats *stats_cq_open(const char *label, int ring_index)
{
	struct shim_cq_stats *c = open_block(STATS_KIND_CQ, ring_index, label, &scratch_cq, "CQ");

	STAT_SET(c, ring, ring_index < 0 ? UINT64_MAX : (uint64_t)ring_index);
	return c;
}

struct shim_bpool_stats *stats_bpool_open(const char *label)
{
	return open_block(STATS_KIND_BPOOL, -1, label, &scratch_bpool, "buffer pool");
}

struct shim_iomux_stats *stats_iomux_open(const char *label, int id)
{
	return open_block(STATS_KIND_IOMUX, id, label, &scratch_iomux, "iomux");
}

static void close_block(unsigned kind, const void *blk)
{
	int i = blk ? stats_slot_find(kind, blk) : -1;

	if (i >= 0)
		stats_slot_close(kind, (unsigned)i);
}

void stats_ring_close(struct shim_ring_stats *r)
{
	close_block(STATS_KIND_RING, r);
}

void stats_cq_close(struct shim_cq_stats *c)
{
	close_block(STATS_KIND_CQ, c);
}

void stats_bpool_close(struct shim_bpool_stats *b)
{
	close_block(STATS_KIND_BPOOL, b);
}

void stats_iomux_close(struct shim_iomux_stats *m)
{
	close_block(STATS_KIND_IOMUX, m);
}
