/* stats_writer.c — a process with a stats segment and known counters, for the
 * shim_stats integration tests. Linked with the library's archive, it uses the real
 * writer API (stats_init_with, stats_sock_open, STAT_*, the internal thread and the
 * control area), without the interposer.
 *
 *   stats_writer fill     fixed sockets, ring, CQ, pool, iomux, custom stats
 *   stats_writer busy     fill, then keep counting (rates, -z on a moving target)
 *   stats_writer future   hand-made segment of a "newer" library: larger entries,
 *                         an unknown kind and unknown stats
 *   stats_writer many N   open N sockets (slot exhaustion), close every other one
 *   stats_writer close    one socket with traffic, closed: its summary, then exit
 *   stats_writer exec     fill, say ready, then exec sleep (a program without libshim)
 *   stats_writer fork     fill, fork; the child counts 5 more packets on fd 14
 *                         ("ready <pid> <child pid>")
 *
 * Prints "ready <pid>" on stdout once the segment is there, then runs until SIGTERM
 * (normal exit: the segment is removed) or SIGKILL (it stays, for the tool to clean). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/stats.h"
#include "core/stats_layout.h"
#include "core/stats_segment.h"

static volatile sig_atomic_t done;

static void on_term(int sig)
{
	done = 1;
}

static uint64_t ip(const char *s)
{
	return inet_addr(s);
}

static struct shim_sock_stats *fill(void)
{
	struct shim_sock_stats *a = stats_sock_open(14, AF_INET, SOCK_DGRAM, 0);
	STAT_SET(a, offloaded, 1);
	STAT_SET(a, bound_addr, ip("0.0.0.0"));
	STAT_SET(a, bound_port, 11111);
	STAT_SET(a, mc_group_count, 2);
	STAT_SET(a, mc_groups_v[0], ip("224.7.7.7"));
	STAT_SET(a, mc_groups_v[1], ip("224.4.1.3"));
	STAT_SET(a, inode, 0);
	STAT_ADD(a, rx_offload_packets, 140479898);
	STAT_ADD(a, rx_offload_bytes, 280958976ull);
	STAT_ADD(a, rx_poll_hit, 276077);
	STAT_ADD(a, rx_poll_miss, 10);
	STAT_SET(a, rx_bytes_cur, 1470);
	STAT_MAX(a, rx_bytes_max, 23520);
	STAT_SET(a, rx_bytes_limit, 16777216);
	STAT_SET(a, rx_packets_cur, 1);
	STAT_MAX(a, rx_packets_max, 16);
	STAT_ADD(a, tx_offload_packets, 140479902);
	STAT_ADD(a, tx_offload_bytes, 281090048ull);

	struct shim_sock_stats *b = stats_sock_open(15, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	STAT_SET(b, offloaded, 1);
	STAT_SET(b, tcp_state, 1);
	STAT_SET(b, inode, 0);
	STAT_SET(b, bound_addr, ip("198.18.0.1"));
	STAT_SET(b, bound_port, 5000);
	STAT_SET(b, connected_addr, ip("198.18.0.2"));
	STAT_SET(b, connected_port, 41234);
	STAT_ADD(b, rx_offload_packets, 1000);
	STAT_ADD(b, rx_offload_bytes, 2048000);
	STAT_ADD(b, rx_offload_eagain, 7);
	STAT_ADD(b, tx_offload_packets, 1000);
	STAT_ADD(b, tx_offload_bytes, 1024000);
	STAT_SET(b, tx_bytes_cur, 300);
	STAT_ADD(b, tcp_retransmits, 2);
	STAT_SET(b, tcp_srtt_us, 45);

	struct shim_sock_stats *c = stats_sock_open(23, AF_INET, SOCK_DGRAM, 0);
	STAT_SET(c, inode, 0);
	STAT_ADD(c, rx_os_packets, 15185);
	STAT_ADD(c, rx_os_bytes, 22528);
	STAT_ADD(c, tx_os_packets, 15185);
	STAT_ADD(c, tx_os_bytes, 22528);

	struct shim_ring_stats *r = stats_ring_open("veth0:0 xdp", 2, 0);
	STAT_ADD(r, rx_packets, 786133);
	STAT_ADD(r, rx_bytes, 1192953545);
	STAT_ADD(r, wakeups_requested, 786137);
	STAT_ADD(r, wakeups_received, 78613);
	STAT_SET(r, fill_level, 2048);
	struct shim_cq_stats *q = stats_cq_open("veth0:0 rx", stats_ring_index(r));
	STAT_MAX(q, drained_max, 511);
	STAT_SET(q, bpool_size, 500);
	struct shim_bpool_stats *p = stats_bpool_open("veth0:0 umem");
	STAT_SET(p, size, 4096);
	STAT_SET(p, free, 3000);
	STAT_MAX(p, used_max, 1200);
	STAT_SET(p, buf_size, 2048);
	struct shim_iomux_stats *m = stats_iomux_open("select", -1);
	STAT_ADD_MT(m, poll_hit, 30372);
	STAT_ADD_MT(m, rx_ready_os, 15185);
	STAT_ADD_MT(m, rx_ready_offloaded, 30372);
	STAT_ADD_MT(stats_global(), sockets_offloaded, 2);
	STAT_ADD_MT(stats_global(), sockets_os, 1);
	int orders = stats_custom_register("myapp.orders", SHIM_STAT_COUNTER);
	int depth = stats_custom_register("myapp.queue_depth", SHIM_STAT_MAXIMUM);
	stats_custom_add(orders, 42);
	stats_custom_max(depth, 17);
	return a;
}

/* A segment as a future library might write it: every table entry is longer than
 * this reader's struct, and there is a kind and stats it has never heard of. */
static int future(const char *dir)
{
	struct { uint32_t hdr, kind, schema; } sz = {
		sizeof(struct shim_stats_hdr) + 64, sizeof(struct shim_stats_kind) + 16,
		sizeof(struct shim_stats_schema) + 32,
	};
	const uint32_t kinds_off = 1024, schema_off = 2048, ctl_off = 4096;
	const uint32_t slot_size = 64 + 2 * 4 * 8;	/* hdr + 4 values + 4 bases */
	size_t size = 16384;
	char path[512], tmp[520];

	snprintf(path, sizeof(path), "%s/shim.%d", dir, getpid());
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return -1;
	char *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return -1;
	struct shim_stats_hdr *h = (void *)base;
	memcpy(h->magic, SHIM_STATS_MAGIC, 8);
	h->layout_version = SHIM_STATS_LAYOUT_VERSION;
	h->hdr_size = sz.hdr;
	h->file_size = size;
	h->pid = getpid();
	h->proc_starttime = stats_proc_starttime(getpid());
	h->start_time_ns = 1700000000ull * 1000000000ull;
	snprintf(h->lib_version, sizeof(h->lib_version), "9.9.9");
	snprintf(h->program, sizeof(h->program), "future_app");
	snprintf(h->cmdline, sizeof(h->cmdline), "future_app --fast");
	h->kinds_off = kinds_off;
	h->kind_count = 2;
	h->kind_entry_size = sz.kind;
	h->schema_off = schema_off;
	h->schema_entry_size = sz.schema;
	h->schema_cap = 8;
	h->schema_count = 4;
	h->schema_core_count = 4;
	h->ctl_off = ctl_off;
	h->ctl_size = sizeof(struct shim_stats_ctl) + 32;
	static const char *const kn[] = { "socket", "widget" };
	for (int k = 0; k < 2; k++) {
		struct shim_stats_kind *kd = (void *)(base + kinds_off + k * sz.kind);
		snprintf(kd->name, sizeof(kd->name), "%s", kn[k]);
		kd->slots_off = 8192 + (uint64_t)k * 2048;
		kd->slot_size = slot_size;
		kd->slot_count = 4;
		kd->values_off = 64;
		kd->base_off = 64 + 32;
		kd->nvalues = 4;
		kd->slot_hwm = 1;
		struct shim_stats_slot *sl = (void *)(base + kd->slots_off);
		sl->in_use = 1;
		sl->gen = 1;
		sl->id = k ? 0 : 9;
		snprintf(sl->label, sizeof(sl->label), "%s", k ? "gear box" : "udp");
		uint64_t *v = (void *)((char *)sl + 64);
		v[0] = k ? 1234 : 9;
		v[1] = k ? 5 : 777;
		v[2] = 3;
	}
	static const struct { const char *name, *unit, *doc; int kind, mode; uint32_t off; } st[] = {
		{ "socket.fd", "fd", "file descriptor", 0, SHIM_STAT_VALUE, 0 },
		{ "socket.rx_offload_packets", "packets", "packets received", 0, SHIM_STAT_COUNTER, 8 },
		{ "socket.quantum_flux", "flux", "a stat this reader does not know", 0, SHIM_STAT_COUNTER, 16 },
		{ "widget.sprockets", "count", "sprockets turned", 1, SHIM_STAT_COUNTER, 0 },
	};
	for (int i = 0; i < 4; i++) {
		struct shim_stats_schema *e = (void *)(base + schema_off + i * sz.schema);
		snprintf(e->name, sizeof(e->name), "%s", st[i].name);
		snprintf(e->unit, sizeof(e->unit), "%s", st[i].unit);
		snprintf(e->doc, sizeof(e->doc), "%s", st[i].doc);
		e->kind = (uint16_t)st[i].kind;
		e->mode = (uint8_t)st[i].mode;
		e->count = 1;
		e->offset = st[i].off;
	}
	h->ready = 1;
	if (rename(tmp, path) < 0)
		return -1;
	close(fd);
	return 0;
}

static void *busy_thread(void *arg)
{
	struct shim_sock_stats *s = arg;

	while (!done) {
		STAT_ADD(s, rx_offload_packets, 1000);
		STAT_ADD(s, rx_offload_bytes, 1024000);
		usleep(1000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "fill";
	const char *dir = getenv("SHIM_STATS_SHMEM_DIR");
	struct stats_config cfg = { .dir = dir ? dir : "/dev/shm", .fd_num = 100 };
	pthread_t t;
	pid_t child = 0;

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (getenv("SHIM_STATS_FD_NUM"))
		cfg.fd_num = (unsigned)atoi(getenv("SHIM_STATS_FD_NUM"));
	cfg.file = getenv("SHIM_STATS_FILE");
	if (getenv("SHIM_TRACELEVEL"))
		log_set_level(atoi(getenv("SHIM_TRACELEVEL")));
	if (!strcmp(mode, "future")) {
		if (future(cfg.dir) < 0) {
			perror("future segment");
			return 1;
		}
	} else {
		if (stats_init_with(&cfg) < 0)
			return 1;
		if (!strcmp(mode, "fill") || !strcmp(mode, "busy") || !strcmp(mode, "exec")) {
			fill();
		} else if (!strcmp(mode, "fork")) {
			struct shim_sock_stats *a = fill();
			int pfd[2];
			char c = 'x';
			if (pipe(pfd) < 0 || (child = fork()) < 0)
				return 1;
			if (child == 0) {
				/* the library's fork handler moved us to our own segment */
				STAT_ADD(a, rx_offload_packets, 5);
				if (write(pfd[1], &c, 1) != 1)
					return 1;
				while (!done)
					pause();
				return 0;
			}
			if (read(pfd[0], &c, 1) != 1)
				return 1;
		} else if (!strcmp(mode, "many")) {
			int n = argc > 2 ? atoi(argv[2]) : 10;
			struct shim_sock_stats *s[2048];
			for (int i = 0; i < n && i < 2048; i++) {
				s[i] = stats_sock_open(100 + i, AF_INET, SOCK_DGRAM, 0);
				STAT_ADD(s[i], tx_os_packets, 1);
			}
			for (int i = 0; i < n && i < 2048; i += 2)
				stats_sock_close(s[i]);
		} else if (!strcmp(mode, "close")) {
			/* open, count, close: the summary goes to SHIM_STATS_FILE and the log */
			struct shim_sock_stats *s = stats_sock_open(10, AF_INET, SOCK_DGRAM, 0);
			STAT_ADD(s, tx_offload_packets, 233020);
			STAT_ADD(s, tx_offload_bytes, 465920);
			STAT_ADD(s, rx_offload_packets, 233020);
			STAT_ADD(s, rx_offload_bytes, 465920);
			STAT_MAX(s, rx_bytes_max, 200);
			STAT_SET(s, rx_bytes_limit, 2000000);
			STAT_MAX(s, rx_packets_max, 1);
			STAT_ADD(s, rx_poll_hit, 233020);
			stats_sock_close(s);
			return 0;
		}
		if (!strcmp(mode, "busy")) {
			struct shim_sock_stats *s = stats_sock_open(30, AF_INET, SOCK_DGRAM, 0);
			pthread_create(&t, NULL, busy_thread, s);
		}
	}
	/* the internal thread has run once: its counter is in every report from now on */
	for (int i = 0; i < 400 && strcmp(mode, "future") && !STAT_GET(stats_global(), internal_thread_runs); i++)
		usleep(5000);
	if (child)
		printf("ready %d %d\n", getpid(), child);
	else
		printf("ready %d\n", getpid());
	fflush(stdout);
	if (!strcmp(mode, "exec")) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		return 1;
	}
	while (!done)
		pause();
	if (!strcmp(mode, "future")) {
		char path[512];
		snprintf(path, sizeof(path), "%s/shim.%d", cfg.dir, getpid());
		unlink(path);
	}
	if (!strcmp(mode, "busy"))
		pthread_join(t, NULL);
	if (child) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	return 0;
}
