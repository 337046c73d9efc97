/* shim_stats — watch a running libshim process: per-socket, ring, CQ, buffer pool,
 * iomux, process and application counters from its stats segment, in the views of
 * vma_stats or as JSON / Prometheus text; and -z / -l / -D requests the process
 * applies through its control area. See shim_stats(8). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "shim_stats.h"

#define MAX_PROCS 64

enum fmt { FMT_TEXT, FMT_JSON, FMT_PROM };

struct opts {
	int pid;
	const char *name;
	bool keep_stale;
	double interval;
	long cycles;
	bool cycles_set;
	bool view_set;
	int zero, log_level, log_details;	/* -1: not asked */
	enum fmt fmt;
	const char *dir;
	struct view_opts v;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " TOOL_NAME " [options]\n"
		"Show the statistics of a process running with libshim.\n\n"
		"  -p, --pid=PID             the process with this pid\n"
		"  -n, --name=NAME           the process whose program name is NAME\n"
		"  -f, --find_pid            find the one process using libshim (default)\n"
		"  -F, --forbid_clean        leave the segments of dead processes in place\n"
		"  -i, --interval=SECS       seconds between reports (default 1)\n"
		"  -c, --cycles=N            reports to print, 0 forever (default 0; 1 for json and prometheus)\n"
		"  -v, --view=1..5           1 basic, 2 extra (rings, CQs, pools, process, custom),\n"
		"                            3 full detail, 4 multicast groups, 5 netstat-like\n"
		"  -d, --details=1|2         1 totals (default), 2 deltas per second\n"
		"  -s, --sockets=LIST        only these fds: 4-16,1,9\n"
		"  -z, --zero                zero the process's counters\n"
		"  -l, --log_level=LEVEL     set the process's log level (0..6 or panic..func_all)\n"
		"  -D, --details_level=N     set the process's log details (0..3)\n"
		"      --format=FMT          text (default), json (one document per line), prometheus\n"
		"      --dir=DIR             segment directory (default $SHIM_STATS_SHMEM_DIR or /dev/shm)\n"
		"  -V, --version             print the version\n"
		"  -h, --help                print this help\n");
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "find_pid", no_argument, NULL, 'f' },
		{ "forbid_clean", no_argument, NULL, 'F' },
		{ "interval", required_argument, NULL, 'i' },
		{ "cycles", required_argument, NULL, 'c' },
		{ "view", required_argument, NULL, 'v' },
		{ "details", required_argument, NULL, 'd' },
		{ "sockets", required_argument, NULL, 's' },
		{ "zero", no_argument, NULL, 'z' },
		{ "log_level", required_argument, NULL, 'l' },
		{ "details_level", required_argument, NULL, 'D' },
		{ "format", required_argument, NULL, 'o' },
		{ "dir", required_argument, NULL, 'r' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int c;

	while ((c = getopt_long(argc, argv, "p:n:fFi:c:v:d:s:zl:D:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_int(optarg, 1, 1 << 30, &v))
				goto bad;
			o->pid = (int)v;
			break;
		case 'n': o->name = optarg; break;
		case 'f': break;
		case 'F': o->keep_stale = true; break;
		case 'i': {
			char *end;
			o->interval = strtod(optarg, &end);
			if (end == optarg || *end || o->interval <= 0 || o->interval > 86400)
				goto bad;
			break;
		}
		case 'c':
			if (parse_int(optarg, 0, 1L << 40, &o->cycles))
				goto bad;
			o->cycles_set = true;
			break;
		case 'v':
			if (parse_int(optarg, 1, 5, &v))
				goto bad;
			o->v.view = (int)v;
			o->view_set = true;
			break;
		case 'd':
			if (parse_int(optarg, 1, 2, &v))
				goto bad;
			o->v.deltas = v == 2;
			o->view_set = true;
			break;
		case 's':
			if (parse_fd_list(optarg, &o->v))
				goto bad;
			break;
		case 'z': o->zero = 1; break;
		case 'l':
			o->log_level = log_level_parse(optarg);
			if (o->log_level < 0)
				goto bad;
			break;
		case 'D':
			if (parse_int(optarg, 0, 3, &v))
				goto bad;
			o->log_details = (int)v;
			break;
		case 'o':
			if (!strcmp(optarg, "text"))
				o->fmt = FMT_TEXT;
			else if (!strcmp(optarg, "json"))
				o->fmt = FMT_JSON;
			else if (!strcmp(optarg, "prometheus"))
				o->fmt = FMT_PROM;
			else
				goto bad;
			o->view_set = true;
			break;
		case 'r': o->dir = optarg; break;
		case 'V':
			printf(TOOL_NAME " %s (stats layout %d)\n", SHIM_VERSION, SHIM_STATS_LAYOUT_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, TOOL_NAME ": unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (o->fmt == FMT_PROM && o->v.deltas) {
		fprintf(stderr, TOOL_NAME ": -d 2 (deltas) is not available in prometheus format: counters are totals there\n");
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, TOOL_NAME ": invalid value '%s' for -%c\n", optarg, c == 'o' ? '-' : c);
	return -EINVAL;
}

/* The single process to watch, or an exit code after saying why not. */
static int pick_process(const struct opts *o, struct proc_entry *chosen)
{
	struct proc_entry procs[MAX_PROCS];
	int n = find_processes(o->dir, o->pid, o->name, o->keep_stale, procs, MAX_PROCS);

	if (n < 0) {
		fprintf(stderr, TOOL_NAME ": cannot read %s: %s\n", o->dir, strerror(-n));
		return 1;
	}
	if (n == 0) {
		fprintf(stderr, TOOL_NAME ": Failed to identify process");
		if (o->pid)
			fprintf(stderr, " %d (is it running with libshim, and as your user?)", o->pid);
		else if (o->name)
			fprintf(stderr, " named '%s'", o->name);
		fprintf(stderr, "\n");
		return 1;
	}
	if (n > 1) {
		fprintf(stderr, TOOL_NAME ": %d processes use libshim; choose one with -p PID or -n NAME:\n", n);
		fprintf(stderr, "%8s  %-16s  %s\n", "PID", "PROGRAM", "COMMAND");
		for (int i = 0; i < n && i < MAX_PROCS; i++)
			fprintf(stderr, "%8d  %-16s  %s\n", procs[i].pid, procs[i].program, procs[i].cmdline);
		return 1;
	}
	*chosen = procs[0];
	return 0;
}

static int send_requests(const struct opts *o, const struct proc_entry *p)
{
	struct stats_reader r;
	int err = stats_reader_open(&r, p->path, true), rc = 0;

	if (err) {
		fprintf(stderr, TOOL_NAME ": cannot open %s for writing: %s (only the process's owner or root may)\n",
			p->path, strerror(-err));
		return 1;
	}
	struct { int want; enum stats_request req; const char *what; } reqs[] = {
		{ o->log_level, STATS_REQ_LOG_LEVEL, "log level" },
		{ o->log_details, STATS_REQ_LOG_DETAILS, "log details" },
		{ o->zero > 0 ? 0 : -1, STATS_REQ_ZERO, "zero" },
	};
	for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		if (reqs[i].want < 0)
			continue;
		err = stats_reader_request(&r, reqs[i].req, reqs[i].want, 2000);
		if (err) {
			fprintf(stderr, TOOL_NAME ": process %d did not apply the %s request: %s\n", p->pid,
				reqs[i].what, err == -ETIMEDOUT ?
				"no answer within 2 s (a process applies requests once it has a socket)" :
				strerror(-err));
			rc = 1;
		} else if (reqs[i].req == STATS_REQ_ZERO) {
			printf("Zeroed the counters of process %d\n", p->pid);
		} else if (reqs[i].req == STATS_REQ_LOG_LEVEL) {
			printf("Set the log level of process %d to %d (%s)\n", p->pid, reqs[i].want,
			       log_level_name(reqs[i].want));
		} else {
			printf("Set the log details of process %d to %d\n", p->pid, reqs[i].want);
		}
	}
	stats_reader_close(&r);
	return rc;
}

static void sleep_secs(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int report_loop(const struct opts *o, const struct proc_entry *p)
{
	struct stats_reader r;
	struct stats_snap snaps[2];
	int cur = 0, have_prev = 0, err;
	long printed = 0;

	err = stats_reader_open(&r, p->path, false);
	if (err) {
		fprintf(stderr, TOOL_NAME ": cannot read %s: %s\n", p->path, strerror(-err));
		return 1;
	}
	if (o->v.deltas) {
		/* a rate needs two samples */
		if (stats_snap_take(&r, &snaps[cur], -1, -1) == 0) {
			have_prev = 1;
			cur ^= 1;
		}
		sleep_secs(o->interval);
	}
	while (!stop) {
		struct stats_snap *s = &snaps[cur], *prev = have_prev ? &snaps[cur ^ 1] : NULL;
		if (!segment_alive(&r)) {
			fprintf(stderr, TOOL_NAME ": process %d exited\n", p->pid);
			break;
		}
		err = stats_snap_take(&r, s, -1, -1);
		if (err) {
			fprintf(stderr, TOOL_NAME ": cannot read the segment: %s\n", strerror(-err));
			break;
		}
		struct view_ctx c = {
			.o = &o->v, .cur = s, .prev = o->v.deltas ? prev : NULL, .out = stdout,
			.secs = prev ? (double)(s->taken_ns - prev->taken_ns) / 1e9 : 0,
		};
		if (o->fmt == FMT_JSON)
			view_json(&c);
		else if (o->fmt == FMT_PROM)
			view_prometheus(&c);
		else
			view_text(&c);
		if (prev)
			stats_snap_free(prev);
		have_prev = 1;
		cur ^= 1;
		if (o->cycles && ++printed >= o->cycles)
			break;
		sleep_secs(o->interval);
	}
	if (have_prev)
		stats_snap_free(&snaps[cur ^ 1]);
	stats_reader_close(&r);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.interval = 1, .zero = -1, .log_level = -1, .log_details = -1,
		.v = { .view = 1 },
	};
	struct proc_entry p;
	int rc;

	o.dir = getenv("SHIM_STATS_SHMEM_DIR");
	if (!o.dir || !*o.dir)
		o.dir = "/dev/shm";
	if (parse_args(argc, argv, &o))
		return 2;
	if (!o.cycles_set && o.fmt != FMT_TEXT)
		o.cycles = 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_DFL);
	rc = pick_process(&o, &p);
	if (rc)
		return rc;
	bool control = o.zero > 0 || o.log_level >= 0 || o.log_details >= 0;
	if (control) {
		rc = send_requests(&o, &p);
		/* control alone is a one-shot command, as with vma_stats */
		if (rc || (!o.view_set && !o.cycles_set))
			return rc;
	}
	rc = report_loop(&o, &p);
	free(o.v.fds);
	return rc;
}
