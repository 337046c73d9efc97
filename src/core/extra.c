/* extra.c — the extra API table behind include/shim_extra.h. The application gets
 * it through getsockopt(-1, SOL_SOCKET, SO_SHIM_GET_API), which the interposer routes
 * to shim_extra_getsockopt(). Entries return 0 / an index or -errno and never touch
 * errno. Also keeps the per-thread offload choices of thread_offload(), which the
 * socket layer reads through shim_thread_may_offload(). */
#include "core/extra.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <shim_extra.h>

#include "core/internal_thread.h"
#include "core/log.h"
#include "core/params.h"
#include "core/rules.h"
#include "core/stats.h"
#include "core/stats_layout.h"

/* --- thread_offload ---------------------------------------------------------------------- */
#define THREAD_OFFLOAD_MAX 256

struct thread_choice {
	pthread_t tid;
	int offload;
	int used;	/* written last (release), read first (acquire) */
};

static struct thread_choice choices[THREAD_OFFLOAD_MAX];
static int choices_n;		/* highest used index + 1 */
static pthread_mutex_t choices_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t choice_key;
static pthread_once_t choice_key_once = PTHREAD_ONCE_INIT;

/* A thread that chose for itself forgets its choice when it ends, so a later
 * thread that gets the same pthread_t starts from SHIM_OFFLOADED_SOCKETS. */
static void forget_choice(void *p)
{
	struct thread_choice *c = p;

	pthread_mutex_lock(&choices_lock);
	__atomic_store_n(&c->used, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&choices_lock);
}

/* fork child: only the forking thread lives on; the others' pthread_t values will be
 * handed to the child's new threads, which must not inherit their choices. */
static void choices_atfork_child(void)
{
	pthread_t self = pthread_self();

	pthread_mutex_init(&choices_lock, NULL);
	for (int i = 0; i < THREAD_OFFLOAD_MAX; i++)
		if (choices[i].used && !pthread_equal(choices[i].tid, self))
			choices[i].used = 0;
}

static void make_key(void)
{
	pthread_key_create(&choice_key, forget_choice);
	pthread_atfork(NULL, NULL, choices_atfork_child);
}

static int api_thread_offload(int offload, pthread_t tid)
{
	struct thread_choice *slot = NULL;
	int n;

	if (offload != 0 && offload != 1)
		return -EINVAL;
	pthread_once(&choice_key_once, make_key);
	pthread_mutex_lock(&choices_lock);
	n = choices_n;
	for (int i = 0; i < n && !slot; i++)
		if (__atomic_load_n(&choices[i].used, __ATOMIC_ACQUIRE) && pthread_equal(choices[i].tid, tid))
			slot = &choices[i];
	for (int i = 0; i < THREAD_OFFLOAD_MAX && !slot; i++)
		if (!__atomic_load_n(&choices[i].used, __ATOMIC_ACQUIRE))
			slot = &choices[i];
	if (!slot) {
		pthread_mutex_unlock(&choices_lock);
		return -ENOSPC;
	}
	__atomic_store_n(&slot->offload, offload, __ATOMIC_RELAXED);
	slot->tid = tid;
	__atomic_store_n(&slot->used, 1, __ATOMIC_RELEASE);
	int idx = (int)(slot - choices);
	if (idx + 1 > choices_n)
		__atomic_store_n(&choices_n, idx + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&choices_lock);
	if (pthread_equal(tid, pthread_self()))
		pthread_setspecific(choice_key, slot);
	log_dbg("extra: thread %lu: new sockets %s", (unsigned long)tid,
		offload ? "may be offloaded" : "stay with the kernel");
	return 0;
}

bool shim_thread_may_offload(void)
{
	int n = __atomic_load_n(&choices_n, __ATOMIC_ACQUIRE);
	pthread_t self;

	if (n) {
		self = pthread_self();
		for (int i = 0; i < n; i++)
			if (__atomic_load_n(&choices[i].used, __ATOMIC_ACQUIRE) &&
			    pthread_equal(choices[i].tid, self))
				return __atomic_load_n(&choices[i].offload, __ATOMIC_RELAXED);
	}
	return shim_params.offloaded_sockets != 0;
}

/* --- the other entries -------------------------------------------------------------------- */
/* Weak: a build without the live rule set (rules.c) still links, and add_conf_rule
 * then answers -ENOSYS with SHIM_CAP_RULES clear. */
extern int rules_add_line(const char *line) __attribute__((weak));

static int api_add_conf_rule(const char *line)
{
	int err;

	if (!line)
		return -EINVAL;
	if (!rules_add_line)
		return -ENOSYS;
	err = rules_add_line(line);
	if (err)
		log_warn("extra: add_conf_rule rejected '%s'", line);
	else
		log_dbg("extra: rule added at the head: %s", line);
	return err;
}

static int api_dump_fd_stats(int fd, int level)
{
	return stats_dump_fd(fd, level);
}

static int api_stat_index(const char *name)
{
	return name ? stats_index(name) : -EINVAL;
}

static int api_add_stat(const char *name, int mode)
{
	int m = mode == SHIM_STAT_MODE_COUNTER ? SHIM_STAT_COUNTER :
		mode == SHIM_STAT_MODE_MAXIMUM ? SHIM_STAT_MAXIMUM : -1;

	if (m < 0)
		return -EINVAL;
	internal_thread_start();	/* so shim_stats -z reaches the new stat */
	return stats_custom_register(name, m);
}

static int api_stat_add(int index, uint64_t value)
{
	return stats_custom_add(index, value);
}

static int api_stat_max(int index, uint64_t value)
{
	return stats_custom_max(index, value);
}

static int api_stat_get(int index, uint64_t *value)
{
	return stats_read(index, value);
}

static struct shim_api api_table = {
	.magic = SHIM_API_MAGIC,
	.size = sizeof(struct shim_api),
	.version = SHIM_API_VERSION,
	.cap_mask = SHIM_CAP_STATS | SHIM_CAP_THREAD_OFFLOAD,	/* + SHIM_CAP_RULES when linked */
	.add_conf_rule = api_add_conf_rule,
	.thread_offload = api_thread_offload,
	.dump_fd_stats = api_dump_fd_stats,
	.stat_index = api_stat_index,
	.add_stat = api_add_stat,
	.stat_add = api_stat_add,
	.stat_max = api_stat_max,
	.stat_get = api_stat_get,
};

int shim_extra_getsockopt(void *val, socklen_t *len)
{
	struct shim_api *p = &api_table;

	if (!val || !len)
		return -EFAULT;
	if (*len < sizeof(p))
		return -EINVAL;
	if (rules_add_line)
		__atomic_or_fetch(&api_table.cap_mask, SHIM_CAP_RULES, __ATOMIC_RELAXED);
	memcpy(val, &p, sizeof(p));
	*len = sizeof(p);
	return 0;
}
