/* internal_thread.h — the library's one background thread. It runs registered
 * periodic work (stats control area, TCP timers, neighbour refresh) and nothing on
 * the data path. Started lazily (first internal_thread_add() or _start()), pinned by
 * SHIM_INTERNAL_THREAD_AFFINITY / SHIM_INTERNAL_THREAD_CPUSET, restarted in a fork
 * child, stopped at exit without ever keeping the process alive. */
#ifndef SHIM_INTERNAL_THREAD_H
#define SHIM_INTERNAL_THREAD_H

#include <stdbool.h>

typedef void (*internal_task_fn)(void *arg);

#define INTERNAL_THREAD_MAX_TASKS 32

/* Run fn(arg) every period_ms (>= 1; SHIM_PROGRESS_ENGINE_INTERVAL is the usual
 * choice for timers). Tasks run one after another on the internal thread; a task
 * must not block. Returns a task id >= 0, or -EINVAL / -ENOSPC / -EAGAIN (no thread). */
int internal_thread_add(internal_task_fn fn, void *arg, unsigned period_ms);
/* The same, without starting the thread: the task waits for the first
 * internal_thread_add() or internal_thread_start(). For work that only matters once
 * the process does something (stats control area: once there are sockets). */
int internal_thread_add_deferred(internal_task_fn fn, void *arg, unsigned period_ms);
/* Start the thread if it has tasks and is not running. Cheap when it runs. */
int internal_thread_start(void);
bool internal_thread_running(void);
/* Stop running a task; when this returns the task is not running and will not run
 * again (unless called from the task itself, which is allowed). 0 or -ENOENT. */
int internal_thread_remove(int id);
/* Run every due task now, waking the thread (tests, "apply this request now"). */
void internal_thread_kick(void);
/* fork() child: the thread did not survive; start a new one for the same tasks. */
void internal_thread_atfork_child(void);
/* Exit: stop the thread, waiting at most ~100 ms for a running task. */
void internal_thread_stop(void);
/* True when called on the internal thread. */
bool internal_thread_self(void);

#endif
