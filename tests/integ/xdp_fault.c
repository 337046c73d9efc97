/* xdp_fault.c — chains the fault injector of tests/bpf/xdp_fault.bpf.c ahead of
 * libshim's running steering program on an interface (slot STEER_HOOK_FIRST of the
 * program's hooks map, see src/ring/steer.bpf.c) and keeps it there until told to stop.
 *   xdp_fault IFNAME [-s] [-c] [-l LOSS_PERMILLE] [-r REORDER_EVERY [-t TRIPS] [-n MAX]] [-w WAIT_SECONDS]
 * -l drops TCP segments at random; -r sends one data segment in REORDER_EVERY on TRIPS
 * (default 1) round trips to the peer's host and back, which delays it behind the
 * segments that follow (the peer's host must run it too, with or without -r); -n
 * stops after MAX such detours, so that none is still travelling when the transfer
 * ends (a late segment would find the connection gone).
 * -s attaches the program on its own as IFNAME's XDP program instead, for a host
 * whose traffic is the kernel's (frames it keeps go to the kernel). -c goes through
 * the cpumap thread of another CPU: on its own, detoured segments reach the kernel
 * from there; chained, the peer's segments are reflected from there.
 * Waits (default 10 s) for an XDP program named shim_steer on IFNAME, chains, prints
 * "attached" on stdout, then on SIGTERM/SIGINT empties the slot and prints
 * "xdp_fault: N TCP frames seen, M dropped" and "xdp_fault: R data segments reordered
 * (S sent away, B back), P of the peer's reflected". Exit 0 on success, 1 with a message when
 * it cannot attach, 3 when the kernel refuses the program (the caller may skip).
 * Killed with SIGKILL, it leaves the injector chained until the steering program
 * goes away with its process. */
#include <errno.h>
#include <stdbool.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "tests/xdp_fault.skel.h"

#include "ring/steer.h"

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level != LIBBPF_DEBUG || getenv("XDP_FAULT_DEBUG") ? vfprintf(stderr, fmt, ap) : 0;
}

/* The id of the shim_steer program on ifindex, 0 while there is none. */
static __u32 steer_prog_id(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info;
	__u32 len = sizeof(info), id;
	int fd;

	if (bpf_xdp_query(ifindex, 0, &q) < 0)
		return 0;
	id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
	if (!id)
		return 0;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 || strcmp(info.name, "shim_steer"))
		id = 0;
	close(fd);
	return id;
}

/* The fd of the steering program's hooks map, -errno when it has none. */
static int hooks_map_fd(int prog_fd)
{
	struct bpf_prog_info info;
	__u32 ids[16], len = sizeof(info);

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0)
		return -errno;
	for (__u32 i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct bpf_map_info mi;
		__u32 mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) && mi.type == BPF_MAP_TYPE_PROG_ARRAY &&
		    !strcmp(mi.name, "hooks") && mi.max_entries == STEER_HOOK_NR)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* What the program did, printed when it is detached. */
static void report(const struct xdp_fault_bpf *skel)
{
	const typeof(*skel->bss) *c = skel->bss;

	printf("xdp_fault: %llu TCP frames seen, %llu dropped\n",
	       (unsigned long long)c->tcp_seen, (unsigned long long)c->tcp_dropped);
	printf("xdp_fault: %llu data segments reordered (%llu sent away, %llu back), "
	       "%llu of the peer's reflected\n", (unsigned long long)c->returned,
	       (unsigned long long)c->sent_away, (unsigned long long)c->returned,
	       (unsigned long long)c->reflected);
}

/* Loads the program for the steering program prog_fd (its hooks map) or, with
 * prog_fd -1, on its own (an empty hooks map of its own: frames go to the kernel).
 * Returns 0, or 3 when the kernel refuses it. */
static long max_detours;

static int load(struct xdp_fault_bpf **out, int map_fd, int ifindex, long loss, long every,
		long trips, bool cpumap)
{
	struct xdp_fault_bpf *skel = xdp_fault_bpf__open();
	int ncpu = libbpf_num_possible_cpus(), rc;

	if (!skel) {
		fprintf(stderr, "xdp_fault: open: %s\n", strerror(errno));
		return 3;
	}
	skel->rodata->loss_permille = (__u32)loss;
	skel->rodata->reorder_every = (__u32)every;
	skel->rodata->reorder_trips = (__u32)trips;
	skel->rodata->reorder_max = (__u64)max_detours;
	if (cpumap)
		skel->rodata->detour_cpus = (__u32)(ncpu > 64 ? 64 : ncpu);
	skel->rodata->out_ifindex = (__u32)ifindex;
	skel->rodata->to_kernel = map_fd < 0;
	rc = map_fd >= 0 ? bpf_map__reuse_fd(skel->maps.hooks, map_fd) : 0;
	if (!rc)
		rc = xdp_fault_bpf__load(skel);
	if (rc) {
		fprintf(stderr, "xdp_fault: the kernel refuses the fault program: %s\n",
			strerror(-rc));
		xdp_fault_bpf__destroy(skel);
		return 3;
	}
	for (__u32 cpu = 0; cpu < skel->rodata->detour_cpus; cpu++) {
		struct bpf_cpumap_val v = { .qsize = 256 };

		if (map_fd >= 0)	/* chained: reflections leave from the thread */
			v.bpf_prog.fd = bpf_program__fd(skel->progs.xdp_fault_reflect);

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.cpus), &cpu, &v, BPF_ANY) < 0) {
			fprintf(stderr, "xdp_fault: cpumap entry %u: %s\n", cpu, strerror(errno));
			xdp_fault_bpf__destroy(skel);
			return 3;
		}
	}
	*out = skel;
	return 0;
}

/* Chained ahead of libshim's steering: waits for it, fills its first hooks slot,
 * empties it on a signal. */
static int run_chained(int ifindex, const char *ifname, long wait_s, long loss, long every,
		       long trips, bool cpumap, sigset_t *set)
{
	struct xdp_fault_bpf *skel;
	__u32 first = STEER_HOOK_FIRST, id = 0;
	int prog_fd, map_fd, fault_fd, sig, rc;

	for (long i = 0; i < wait_s * 50 && !(id = steer_prog_id(ifindex)); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	if (!id) {
		fprintf(stderr, "xdp_fault: no shim_steer program on %s\n", ifname);
		return 1;
	}
	prog_fd = bpf_prog_get_fd_by_id(id);
	if (prog_fd < 0) {
		fprintf(stderr, "xdp_fault: program %u: %s\n", id, strerror(errno));
		return 1;
	}
	map_fd = hooks_map_fd(prog_fd);
	if (map_fd < 0) {
		fprintf(stderr, "xdp_fault: program %u has no chaining point: %s\n", id,
			strerror(-map_fd));
		return 1;
	}
	rc = load(&skel, map_fd, ifindex, loss, every, trips, cpumap);
	if (rc)
		return rc;
	fault_fd = bpf_program__fd(skel->progs.xdp_fault);
	if (bpf_map_update_elem(map_fd, &first, &fault_fd, BPF_ANY) < 0) {
		fprintf(stderr, "xdp_fault: chaining: %s\n", strerror(errno));
		xdp_fault_bpf__destroy(skel);
		return 3;
	}
	printf("attached to program %u on %s\n", id, ifname);
	fflush(stdout);

	sigwait(set, &sig);
	bpf_map_delete_elem(map_fd, &first);
	report(skel);
	xdp_fault_bpf__destroy(skel);
	close(map_fd);
	close(prog_fd);
	return 0;
}

/* On its own as the XDP program of an interface whose traffic is the kernel's (the
 * kernel peer of a reordering test), through a BPF link released on a signal. */
static int run_alone(int ifindex, const char *ifname, long loss, long every, long trips,
		     bool cpumap, sigset_t *set)
{
	struct xdp_fault_bpf *skel;
	struct bpf_link *link;
	int sig, rc;

	rc = load(&skel, -1, ifindex, loss, every, trips, cpumap);
	if (rc)
		return rc;
	link = bpf_program__attach_xdp(skel->progs.xdp_fault, ifindex);
	if (!link) {
		fprintf(stderr, "xdp_fault: attach on %s: %s\n", ifname, strerror(errno));
		xdp_fault_bpf__destroy(skel);
		return 1;
	}
	printf("attached on %s on its own\n", ifname);
	fflush(stdout);

	sigwait(set, &sig);
	bpf_link__destroy(link);
	report(skel);
	xdp_fault_bpf__destroy(skel);
	return 0;
}

int main(int argc, char **argv)
{
	long loss = 0, every = 0, trips = 1, wait_s = 10;
	bool alone = false, cpumap = false;
	sigset_t set;
	int ifindex, opt;

	while ((opt = getopt(argc, argv, "l:r:t:n:w:sc")) != -1) {
		switch (opt) {
		case 'l': loss = atol(optarg); break;
		case 'r': every = atol(optarg); break;
		case 't': trips = atol(optarg); break;
		case 'n': max_detours = atol(optarg); break;
		case 'w': wait_s = atol(optarg); break;
		case 's': alone = true; break;
		case 'c': cpumap = true; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	ifindex = (int)if_nametoindex(argv[optind]);
	if (!ifindex || loss < 0 || loss > 1000 || every < 0 || every == 1 ||
	    trips < 1 || trips > 100 || max_detours < 0) {
		fprintf(stderr, "xdp_fault: bad interface %s, loss %ld or reorder %ld/%ld\n",
			argv[optind], loss, every, trips);
		return 2;
	}
	/* Signals are taken synchronously, so that the program is always detached. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	libbpf_set_print(quiet_print);
	if (alone)
		return run_alone(ifindex, argv[optind], loss, every, trips, cpumap, &set);
	return run_chained(ifindex, argv[optind], wait_s, loss, every, trips, cpumap, &set);
usage:
	fprintf(stderr, "usage: xdp_fault IFNAME [-s] [-c] [-l LOSS_PERMILLE] [-r REORDER_EVERY "
		"[-t TRIPS] [-n MAX]] [-w WAIT_SECONDS]\n");
	return 2;
}
