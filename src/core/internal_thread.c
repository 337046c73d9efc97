/* internal_thread.c — the library's background thread and its table of periodic
 * tasks (stats control area now, TCP timers and ring draining later). It blocks
 * every signal so the application's handlers run on the application's threads, is
 * pinned per SHIM_INTERNAL_THREAD_AFFINITY / _CPUSET, comes back in a fork child,
 * and at exit is stopped with a bounded wait: it never keeps the process alive and
 * never runs a task after the library started tearing down. A process that never
 * needs it (no socket, no timer) never starts it: a second thread would move all of
 * glibc onto its slower multi-threaded paths. */
#include "core/internal_thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/params.h"
#include "core/stats.h"

struct task {
	internal_task_fn fn;
	void *arg;
	unsigned period_ms;
	uint64_t due_ns;
	bool active;
};

static struct task tasks[INTERNAL_THREAD_MAX_TASKS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;		/* CLOCK_MONOTONIC */
static pthread_t thread;
static bool running, stopping, hooks_done;
static int running_task = -1;
static __thread bool on_thread;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool internal_thread_self(void)
{
	return on_thread;
}

/* "0x5" (hex mask) or "0,2,4-7" (list); "-1" or "" = leave the thread alone. */
static int parse_cpus(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	if (!s || !*s || strcmp(s, "-1") == 0)
		return 1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		const char *end = s + strlen(s);
		int bit = 0;
		if (end == s + 2)
			return -EINVAL;
		for (const char *p = end - 1; p >= s + 2; p--, bit += 4) {
			int v;
			if (*p >= '0' && *p <= '9') v = *p - '0';
			else if (*p >= 'a' && *p <= 'f') v = *p - 'a' + 10;
			else if (*p >= 'A' && *p <= 'F') v = *p - 'A' + 10;
			else return -EINVAL;
			for (int b = 0; b < 4; b++)
				if (v & (1 << b) && bit + b < CPU_SETSIZE)
					CPU_SET(bit + b, set);
		}
		return CPU_COUNT(set) ? 0 : -EINVAL;
	}
	for (const char *p = s; *p;) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;
		if (end == p || lo < 0 || lo >= CPU_SETSIZE)
			return -EINVAL;
		p = end;
		if (*p == '-') {
			hi = strtol(p + 1, &end, 10);
			if (end == p + 1 || hi < lo || hi >= CPU_SETSIZE)
				return -EINVAL;
			p = end;
		}
		for (long c = lo; c <= hi; c++)
			CPU_SET((int)c, set);
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
	}
	return CPU_COUNT(set) ? 0 : -EINVAL;
}

static void place_thread(void)
{
	const char *aff = shim_params.internal_thread_affinity;
	const char *cpuset = shim_params.internal_thread_cpuset;
	cpu_set_t set;
	int r = parse_cpus(aff, &set);

	if (r < 0)
		log_warn("internal thread: SHIM_INTERNAL_THREAD_AFFINITY '%s' is neither a hex mask (0x5) nor a CPU list (0,2-3); left unpinned",
			 aff);
	else if (r == 0 && (r = pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) != 0)
		log_warn("internal thread: cannot pin to CPUs %s: %s", aff, strerror(r));
	if (cpuset && *cpuset) {
		static const char *const files[] = { "cgroup.threads", "tasks" };
		char path[512], tid[32];
		int n = snprintf(tid, sizeof(tid), "%ld\n", (long)syscall(SYS_gettid));
		bool done = false;
		for (unsigned i = 0; i < 2 && !done; i++) {
			snprintf(path, sizeof(path), "%s/%s", cpuset, files[i]);
			int fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			done = write(fd, tid, (size_t)n) == n;
			close(fd);
		}
		if (!done)
			log_warn("internal thread: cannot join cpuset %s (SHIM_INTERNAL_THREAD_CPUSET): %s",
				 cpuset, strerror(errno));
	}
}

static void *thread_main(void *unused)
{
	on_thread = true;
	place_thread();
	pthread_mutex_lock(&lock);
	while (!stopping) {
		uint64_t now = mono_ns(), next = now + 1000000000ull;

		for (int i = 0; i < INTERNAL_THREAD_MAX_TASKS && !stopping; i++) {
			struct task *t = &tasks[i];
			if (!t->active)
				continue;
			if (t->due_ns <= now) {
				internal_task_fn fn = t->fn;
				void *arg = t->arg;
				running_task = i;
				pthread_mutex_unlock(&lock);
				fn(arg);
				STAT_INC_MT(stats_global(), internal_thread_runs);
				pthread_mutex_lock(&lock);
				running_task = -1;
				pthread_cond_broadcast(&wake);	/* internal_thread_remove() waits */
				now = mono_ns();
				/* late by more than a period: skip the missed runs */
				t->due_ns += (uint64_t)t->period_ms * 1000000ull;
				if (t->due_ns <= now)
					t->due_ns = now + (uint64_t)t->period_ms * 1000000ull;
			}
			if (t->active && t->due_ns < next)
				next = t->due_ns;
		}
		if (stopping)
			break;
		struct timespec ts = { (time_t)(next / 1000000000ull), (long)(next % 1000000000ull) };
		pthread_cond_timedwait(&wake, &lock, &ts);
	}
	__atomic_store_n(&running, false, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void at_exit(void)
{
	internal_thread_stop();
}

static void atfork_child(void)
{
	internal_thread_atfork_child();
}

static void init_cond(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&wake, &a);
	pthread_condattr_destroy(&a);
}

/* Called with the lock held. */
static int start_locked(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	int err;

	if (stopping)
		return -EAGAIN;	/* exiting: no new work */
	if (running)
		return 0;
	if (!hooks_done) {
		init_cond();
		atexit(at_exit);
		pthread_atfork(NULL, NULL, atfork_child);
		hooks_done = true;
	}
	/* the thread inherits a mask with every signal blocked */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	err = pthread_create(&thread, &attr, thread_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		log_warn("internal thread: cannot start: %s", strerror(err));
		return -err;
	}
	pthread_setname_np(thread, "shim-internal");
	__atomic_store_n(&running, true, __ATOMIC_RELAXED);
	return 0;
}

static int add_task(internal_task_fn fn, void *arg, unsigned period_ms, bool start)
{
	int id = -ENOSPC, err;

	if (!fn || period_ms == 0)
		return -EINVAL;
	pthread_mutex_lock(&lock);
	if (stopping) {
		pthread_mutex_unlock(&lock);
		return -EAGAIN;
	}
	for (int i = 0; i < INTERNAL_THREAD_MAX_TASKS; i++) {
		if (tasks[i].active)
			continue;
		tasks[i] = (struct task){ fn, arg, period_ms,
					  mono_ns() + (uint64_t)period_ms * 1000000ull, true };
		id = i;
		break;
	}
	if (id >= 0 && (start || running)) {
		err = start_locked();
		if (err) {
			tasks[id].active = false;
			id = err;
		} else {
			pthread_cond_broadcast(&wake);
		}
	}
	pthread_mutex_unlock(&lock);
	return id;
}

int internal_thread_add(internal_task_fn fn, void *arg, unsigned period_ms)
{
	return add_task(fn, arg, period_ms, true);
}

int internal_thread_add_deferred(internal_task_fn fn, void *arg, unsigned period_ms)
{
	return add_task(fn, arg, period_ms, false);
}

int internal_thread_start(void)
{
	int err = 0;
	bool any = false;

	if (__atomic_load_n(&running, __ATOMIC_RELAXED))
		return 0;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < INTERNAL_THREAD_MAX_TASKS; i++)
		any |= tasks[i].active;
	if (any && !running)
		err = start_locked();
	pthread_mutex_unlock(&lock);
	return err;
}

bool internal_thread_running(void)
{
	return __atomic_load_n(&running, __ATOMIC_RELAXED);
}

int internal_thread_remove(int id)
{
	if (id < 0 || id >= INTERNAL_THREAD_MAX_TASKS)
		return -ENOENT;
	pthread_mutex_lock(&lock);
	if (!tasks[id].active) {
		pthread_mutex_unlock(&lock);
		return -ENOENT;
	}
	tasks[id].active = false;
	while (running_task == id && running && !on_thread)
		pthread_cond_wait(&wake, &lock);
	pthread_mutex_unlock(&lock);
	return 0;
}

void internal_thread_kick(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < INTERNAL_THREAD_MAX_TASKS; i++)
		if (tasks[i].active)
			tasks[i].due_ns = 0;
	if (hooks_done)
		pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
}

void internal_thread_atfork_child(void)
{
	bool any = false, was_running = running;

	/* move the stats segment first: a restarted task must never write the parent's */
	stats_atfork_child();
	/* only this thread exists now: the lock may have been held by a thread that is
	 * gone, so start from fresh primitives */
	pthread_mutex_init(&lock, NULL);
	if (hooks_done)
		init_cond();
	__atomic_store_n(&running, false, __ATOMIC_RELAXED);
	running_task = -1;
	on_thread = false;
	if (stopping || !was_running)
		return;	/* deferred tasks stay deferred, as in the parent */
	for (int i = 0; i < INTERNAL_THREAD_MAX_TASKS; i++)
		any |= tasks[i].active;
	if (any) {
		pthread_mutex_lock(&lock);
		start_locked();
		pthread_mutex_unlock(&lock);
	}
}

void internal_thread_stop(void)
{
	struct timespec ts;
	bool was_running;

	pthread_mutex_lock(&lock);
	stopping = true;
	was_running = running;
	if (hooks_done)
		pthread_cond_broadcast(&wake);
	if (was_running && !on_thread) {
		/* bounded: a task stuck in a system call must not hold up exit() */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (running && pthread_cond_timedwait(&wake, &lock, &ts) == 0)
			;
	}
	bool done = !running;
	pthread_mutex_unlock(&lock);
	if (was_running && done && !on_thread)
		pthread_join(thread, NULL);
}
