/* xdp_fault.c — chains the fault injector of tests/bpf/xdp_fault.bpf.c ahead of
 * libshim's running steering program on an interface (slot STEER_HOOK_FIRST of the
 * program's hooks map, see src/ring/steer.bpf.c) and keeps it there until told to stop.
 *   xdp_fault IFNAME [-l LOSS_PERMILLE] [-r REORDER_EVERY [-t TRIPS]] [-w WAIT_SECONDS]
 * -l drops TCP segments at random; -r sends one data segment in REORDER_EVERY on TRIPS
 * (default 1) round trips to the peer's host and back, which delays it behind the
 * segments that follow (the peer's host must run it too, with or without -r).
 * Waits (default 10 s) for an XDP program named shim_steer on IFNAME, chains, prints
 * "attached" on stdout, then on SIGTERM/SIGINT empties the slot and prints
 * "xdp_fault: N TCP frames seen, M dropped" and "xdp_fault: R data segments reordered
 * (S sent away, B back), P of the peer's reflected". Exit 0 on success, 1 with a message when
 * it cannot attach, 3 when the kernel refuses the program (the caller may skip).
 * Killed with SIGKILL, it leaves the injector chained until the steering program
 * goes away with its process. */
#include <errno.h>
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

int main(int argc, char **argv)
{
	struct xdp_fault_bpf *skel;
	sigset_t set;
	__u32 first = STEER_HOOK_FIRST;
	int ifindex, prog_fd, map_fd, fault_fd, sig, rc;
	long loss = 0, every = 0, trips = 1, wait_s = 10;
	__u32 id = 0;
	int opt;

	while ((opt = getopt(argc, argv, "l:r:t:w:")) != -1) {
		switch (opt) {
		case 'l': loss = atol(optarg); break;
		case 'r': every = atol(optarg); break;
		case 't': trips = atol(optarg); break;
		case 'w': wait_s = atol(optarg); break;
		default: goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	ifindex = (int)if_nametoindex(argv[optind]);
	if (!ifindex || loss < 0 || loss > 1000 || every < 0 || every == 1 ||
	    trips < 1 || trips > 100) {
		fprintf(stderr, "xdp_fault: bad interface %s, loss %ld or reorder %ld\n",
			argv[optind], loss, every);
		return 2;
	}
	/* Signals are taken synchronously, so that the link is always released. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	libbpf_set_print(quiet_print);

	for (long i = 0; i < wait_s * 50 && !(id = steer_prog_id(ifindex)); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	if (!id) {
		fprintf(stderr, "xdp_fault: no shim_steer program on %s\n", argv[optind]);
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
	skel = xdp_fault_bpf__open();
	if (!skel) {
		fprintf(stderr, "xdp_fault: open: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->loss_permille = (__u32)loss;
	skel->rodata->reorder_every = (__u32)every;
	skel->rodata->reorder_trips = (__u32)trips;
	rc = bpf_map__reuse_fd(skel->maps.hooks, map_fd);
	if (!rc)
		rc = xdp_fault_bpf__load(skel);
	if (rc) {
		fprintf(stderr, "xdp_fault: the kernel refuses the fault program: %s\n",
			strerror(-rc));
		xdp_fault_bpf__destroy(skel);
		return 3;
	}
	fault_fd = bpf_program__fd(skel->progs.xdp_fault);
	if (bpf_map_update_elem(map_fd, &first, &fault_fd, BPF_ANY) < 0) {
		fprintf(stderr, "xdp_fault: chaining: %s\n", strerror(errno));
		xdp_fault_bpf__destroy(skel);
		return 3;
	}
	printf("attached to program %u on %s\n", id, argv[optind]);
	fflush(stdout);

	sigwait(&set, &sig);
	bpf_map_delete_elem(map_fd, &first);
	printf("xdp_fault: %llu TCP frames seen, %llu dropped\n",
	       (unsigned long long)skel->bss->tcp_seen, (unsigned long long)skel->bss->tcp_dropped);
	printf("xdp_fault: %llu data segments reordered (%llu sent away, %llu back), "
	       "%llu of the peer's reflected\n", (unsigned long long)skel->bss->returned,
	       (unsigned long long)skel->bss->sent_away, (unsigned long long)skel->bss->returned,
	       (unsigned long long)skel->bss->reflected);
	xdp_fault_bpf__destroy(skel);
	close(map_fd);
	close(prog_fd);
	return 0;
usage:
	fprintf(stderr, "usage: xdp_fault IFNAME [-l LOSS_PERMILLE] [-r REORDER_EVERY "
		"[-t TRIPS]] [-w WAIT_SECONDS]\n");
	return 2;
}
