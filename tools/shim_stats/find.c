/* find.c — finds the processes using libshim by their segments shim.<pid> in the
 * stats directory, and removes segments whose process is gone (killed, crashed,
 * exec'd) unless asked not to. A pid alone is not proof of life: the segment also
 * records the process's start time, so a recycled pid is recognised as stale, and a
 * live process must still map the file, so one that exec'd another program is too. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/stats_segment.h"
#include "shim_stats.h"

bool segment_alive(const struct stats_reader *r)
{
	int pid = stats_reader_pid(r);

	return stats_segment_alive(pid, stats_reader_starttime(r), r->fd);
}

static bool name_matches(const char *want, const char *program, const char *cmdline)
{
	char first[256];
	const char *sp, *slash;
	size_t n;

	if (!want)
		return true;
	if (strcmp(want, program) == 0)
		return true;
	sp = strchr(cmdline, ' ');
	n = sp ? (size_t)(sp - cmdline) : strlen(cmdline);
	if (n >= sizeof(first))
		n = sizeof(first) - 1;
	memcpy(first, cmdline, n);
	first[n] = '\0';
	slash = strrchr(first, '/');
	return strcmp(want, slash ? slash + 1 : first) == 0;
}

/* A leftover ".shim.<pid>.tmp" of a process that died while creating its segment. */
static void clean_tmp(const char *dir, const char *name, bool keep_stale)
{
	char path[512];
	int pid = atoi(name + 1 + strlen(SHIM_STATS_FILE_PREFIX));

	if (keep_stale || stats_proc_alive(pid, 0))
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

int find_processes(const char *dir, int pid, const char *name, bool keep_stale,
		   struct proc_entry *out, int max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t plen = strlen(SHIM_STATS_FILE_PREFIX);
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct stats_reader r;
		char path[512];
		int err;

		if (de->d_name[0] == '.' && strncmp(de->d_name + 1, SHIM_STATS_FILE_PREFIX, plen) == 0) {
			clean_tmp(dir, de->d_name, keep_stale);
			continue;
		}
		if (strncmp(de->d_name, SHIM_STATS_FILE_PREFIX, plen) != 0)
			continue;
		const char *digits = de->d_name + plen;
		if (!*digits || strspn(digits, "0123456789") != strlen(digits))
			continue;
		/* this tool links the library's core: never list ourselves */
		if (atoi(digits) == getpid())
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		err = stats_reader_open(&r, path, false);
		if (err == -EPROTO) {
			fprintf(stderr, TOOL_NAME ": %s: not a stats segment this version can read\n", path);
			continue;
		}
		if (err)
			continue;	/* not ours to read (other user), or still being created */
		if (!segment_alive(&r)) {
			if (!keep_stale && unlink(path) == 0)
				fprintf(stderr, TOOL_NAME ": removed stale segment %s (process %d is gone)\n",
					path, stats_reader_pid(&r));
			stats_reader_close(&r);
			continue;
		}
		struct stats_snap hdr_only;
		/* program and command line come from the header; a schema-only snapshot is cheap */
		if (stats_snap_take(&r, &hdr_only, 1 << 20, -1) == 0) {
			if ((pid == 0 || hdr_only.pid == pid) &&
			    name_matches(name, hdr_only.program, hdr_only.cmdline)) {
				if (n < max) {
					out[n].pid = hdr_only.pid;
					snprintf(out[n].path, sizeof(out[n].path), "%s", path);
					snprintf(out[n].program, sizeof(out[n].program), "%s", hdr_only.program);
					snprintf(out[n].cmdline, sizeof(out[n].cmdline), "%s", hdr_only.cmdline);
				}
				n++;
			}
			stats_snap_free(&hdr_only);
		}
		stats_reader_close(&r);
	}
	closedir(d);
	return n;
}
