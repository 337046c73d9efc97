/* stats_stale.c — is a segment's process still there? A pid alone is not proof: the
 * segment records the process's start time (a recycled pid is another process) and
 * a live owner still maps the file (exec() into a program without libshim drops it).
 * shim_stats uses this to clean up; so does the library itself, once, from its
 * internal thread, for segments its user's dead processes left (kill, _exit). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/stats_segment.h"

/* State letter and start time (field 22, clock ticks) from /proc/<pid>/stat. */
static int proc_stat(int pid, char *state, uint64_t *start)
{
	char path[64], buf[1024];
	unsigned long long st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 state, &st) != 2)
		return -EIO;
	*start = st;
	return 0;
}

uint64_t stats_proc_starttime(int pid)
{
	uint64_t start;
	char state;

	return proc_stat(pid, &state, &start) == 0 ? start : 0;
}

bool stats_proc_alive(int pid, uint64_t starttime)
{
	uint64_t start;
	char state;
	int err;

	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return false;
	err = proc_stat(pid, &state, &start);
	if (err == -ENOENT)
		return false;
	if (err)
		return true;	/* no /proc view of it (other pid namespace): trust kill() */
	if (state == 'Z' || state == 'X')
		return false;	/* exited, not yet reaped */
	return !starttime || start == starttime;	/* else the pid was recycled */
}

/* Does pid still map the segment? exec() drops every mapping, so a process that
 * exec'd a program without libshim (same pid, same start time) no longer does.
 * Unknown (maps unreadable: another user, not dumpable) counts as yes. */
static bool maps_file(int pid, int seg_fd)
{
	char path[64], line[512];
	struct stat st;
	bool found = false;
	FILE *f;

	if (seg_fd < 0 || fstat(seg_fd, &st) < 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long ino;
		unsigned maj, min;
		/* start-end perms offset dev inode path */
		if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &ino) == 3)
			found = ino == (unsigned long long)st.st_ino && makedev(maj, min) == st.st_dev;
	}
	fclose(f);
	return found;
}

bool stats_segment_alive(int pid, uint64_t starttime, int seg_fd)
{
	return stats_proc_alive(pid, starttime) && maps_file(pid, seg_fd);
}

/* One entry of the directory: remove it if it is our user's and its process is gone. */
static bool clean_one(const char *dir, const char *name)
{
	size_t plen = strlen(SHIM_STATS_FILE_PREFIX);
	struct shim_stats_hdr h;
	char path[PATH_MAX];
	struct stat st;
	bool gone = false;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (name[0] == '.') {
		/* ".shim.<pid>.tmp": a process died while creating its segment */
		int pid = atoi(name + 1 + plen);
		if (lstat(path, &st) == 0 && st.st_uid == geteuid() && !stats_proc_alive(pid, 0))
			return unlink(path) == 0;
		return false;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    memcmp(h.magic, SHIM_STATS_MAGIC, sizeof(h.magic)) == 0 && h.pid != getpid())
		gone = !stats_segment_alive(h.pid, h.proc_starttime, fd);
	close(fd);
	return gone && unlink(path) == 0;
}

int stats_clean_stale(const char *dir)
{
	size_t plen = strlen(SHIM_STATS_FILE_PREFIX);
	struct dirent *de;
	int removed = 0;
	DIR *d;

	if (!dir || !*dir || !(d = opendir(dir)))
		return 0;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		const char *digits = n[0] == '.' ? n + 1 + plen : n + plen;
		if (strncmp(n[0] == '.' ? n + 1 : n, SHIM_STATS_FILE_PREFIX, plen) != 0 ||
		    !*digits || *digits < '0' || *digits > '9')
			continue;
		removed += clean_one(dir, n);
	}
	closedir(d);
	return removed;
}
