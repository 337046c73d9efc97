/* intercept_signal.c — sigaction()/signal(). The application's handlers are recorded
 * and installed behind a trampoline that counts deliveries, so code waiting in user
 * space (ring spin loops, later) can return EINTR exactly where the kernel would;
 * the application sees its own handlers, flags and masks in every query. VMA's two
 * options make the library own a signal even without an application handler:
 * SHIM_HANDLE_SIGINTR (SIGINT wakes blocking calls with EINTR, then the default
 * action runs) and SHIM_HANDLE_SIGSEGV (a backtrace goes to the log first). */
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/params.h"
#include "intercept/intercept.h"

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000	/* set by libc on every action it installs */
#endif

typedef void (*sig_info_fn)(int, siginfo_t *, void *);

struct app_action {
	struct sigaction act;	/* as the application gave it */
	void *fn;		/* act's handler, read by the trampoline */
	int flags;		/* act's flags, read by the trampoline */
	int reported;		/* the flags a query reports: libc adds SA_RESTORER */
	bool ours;		/* the kernel runs our trampoline for this signal */
};

static struct app_action app_act[NSIG];
/* Deliveries to this thread: low 32 bits any handled signal, high 32 bits those
 * without SA_RESTART. Per thread, because the kernel interrupts only the call of the
 * thread that takes the signal, and only after its handler ran: the handler runs on
 * that thread before its wait loop looks again. Initial-exec TLS: the library is
 * loaded at start-up and the trampoline must not allocate. */
static __thread uint64_t sig_gen __attribute__((tls_model("initial-exec")));
static int sig_lock;
/* Signals the library handles itself (SIGINT, SIGSEGV), whatever the application's
 * action is; set once at start-up. */
static bool owned[NSIG];
static int segv_reported;

uint64_t shim_signal_snapshot(void)
{
	return __atomic_load_n(&sig_gen, __ATOMIC_RELAXED);
}

bool shim_signal_arrived(uint64_t snap)
{
	return (uint32_t)shim_signal_snapshot() != (uint32_t)snap;
}

bool shim_signal_interrupted(uint64_t snap)
{
	return (shim_signal_snapshot() >> 32) != (snap >> 32);
}

/* Signals we never wrap: faults are synchronous (nothing waits on them, and runtimes
 * that handle them expect their own handler on the frame), and the kernel refuses
 * SIGKILL and SIGSTOP anyway. */
static bool wrappable(int sig)
{
	if (sig > 0 && sig < NSIG && owned[sig])
		return true;
	switch (sig) {
	case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGTRAP:
	case SIGKILL: case SIGSTOP:
		return false;
	default:
		return sig > 0 && sig < NSIG;
	}
}

static bool is_function(void *fn)
{
	return fn != (void *)SIG_DFL && fn != (void *)SIG_IGN && fn != (void *)SIG_ERR;
}

static void *act_fn(const struct sigaction *a)
{
	return (a->sa_flags & SA_SIGINFO) ? (void *)a->sa_sigaction : (void *)a->sa_handler;
}

static void default_action(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	sys_sigaction(sig, &dfl, NULL);
	/* Blocked while we run; delivered with the default action when we return. */
	pthread_kill(pthread_self(), sig);
}

/* SHIM_HANDLE_SIGSEGV: where the process crashed, on the log, once. backtrace() was
 * warmed up at start-up so that it does not load anything here. */
static void segv_report(const siginfo_t *info)
{
	void *frames[64];
	char line[128];
	int fd = log_get_fd(), n, len;

	if (__atomic_exchange_n(&segv_reported, 1, __ATOMIC_ACQ_REL))
		return;
	len = snprintf(line, sizeof(line), " SHIM PANIC : SIGSEGV at address %p in pid %d, backtrace:\n",
		       info ? info->si_addr : NULL, (int)getpid());
	if (len > 0 && SYS(write)(fd, line, (size_t)len) < 0)
		return;
	n = backtrace(frames, 64);
	backtrace_symbols_fd(frames, n, fd);
}

static void trampoline(int sig, siginfo_t *info, void *ctx)
{
	struct app_action *a = &app_act[sig];
	void *fn = __atomic_load_n(&a->fn, __ATOMIC_ACQUIRE);
	int flags = __atomic_load_n(&a->flags, __ATOMIC_ACQUIRE);

	__atomic_add_fetch(&sig_gen, (flags & SA_RESTART) ? 1 : 1 | (1ULL << 32), __ATOMIC_RELAXED);
	/* Only a fault that is about to kill: runtimes with their own SIGSEGV handler
	 * take (and survive) faults on purpose. */
	if (sig == SIGSEGV && owned[SIGSEGV] && !is_function(fn) && fn != (void *)SIG_IGN)
		segv_report(info);
	if (flags & SA_RESETHAND) {
		/* The kernel has just reset the action; so does the record. */
		__atomic_store_n(&a->ours, false, __ATOMIC_RELEASE);
	}
	if (fn == (void *)SIG_IGN)
		return;
	if (!is_function(fn)) {
		default_action(sig);
		return;
	}
	if (flags & SA_SIGINFO)
		((sig_info_fn)fn)(sig, info, ctx);
	else
		((void (*)(int))fn)(sig);
}

/* Short critical sections with every signal blocked, so a handler that calls
 * sigaction() on this thread cannot deadlock on the lock its thread holds. */
static void lock(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
	while (__atomic_exchange_n(&sig_lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void unlock(const sigset_t *old)
{
	__atomic_store_n(&sig_lock, 0, __ATOMIC_RELEASE);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* What the application should see as the current action, given the kernel's. Libc's
 * internal paths (siginterrupt, sigset) reach the kernel without us: when the kernel
 * no longer runs our trampoline, the kernel is right. */
static void current_action(int sig, const struct sigaction *kernel, struct sigaction *out)
{
	struct app_action *a = &app_act[sig];

	if (a->ours && kernel->sa_sigaction == trampoline) {
		/* Bit for bit what libc would report: its restorer is part of it. */
		*out = a->act;
		out->sa_flags = a->reported;
		if (a->reported & SA_RESTORER)
			out->sa_restorer = kernel->sa_restorer;
	} else {
		*out = *kernel;
	}
}

static void record(int sig, const struct sigaction *act, bool ours, bool via_libc)
{
	struct app_action *a = &app_act[sig];

	a->act = *act;
	a->reported = act->sa_flags | (via_libc ? SA_RESTORER : 0);
	__atomic_store_n(&a->flags, act->sa_flags, __ATOMIC_RELEASE);
	__atomic_store_n(&a->fn, act_fn(act), __ATOMIC_RELEASE);
	__atomic_store_n(&a->ours, ours, __ATOMIC_RELEASE);
}

/* via_libc: the application's own call (libc stamps its restorer on the action), not
 * the action the process inherited, which signal_init() re-installs as found. */
static int do_sigaction(int sig, const struct sigaction *act, struct sigaction *oact, bool via_libc)
{
	struct sigaction kact, kold;
	sigset_t mask;
	bool wrap;
	int r;

	if (!wrappable(sig))
		return sys_sigaction(sig, act, oact);
	lock(&mask);
	if (!act) {
		r = sys_sigaction(sig, NULL, &kold);
		if (r == 0 && oact)
			current_action(sig, &kold, oact);
		goto out_unlock;
	}
	kact = *act;
	wrap = is_function(act_fn(act)) || owned[sig];
	if (wrap) {
		kact.sa_sigaction = trampoline;
		kact.sa_flags |= SA_SIGINFO;
		if (!is_function(act_fn(act)))
			kact.sa_flags &= ~SA_RESETHAND;
	}
	r = sys_sigaction(sig, &kact, &kold);
	if (r == 0) {
		if (oact)
			current_action(sig, &kold, oact);
		record(sig, act, wrap, via_libc);
	}
out_unlock:
	unlock(&mask);
	return r;
}

int sigaction(int sig, const struct sigaction *restrict act, struct sigaction *restrict oact)
{
	int saved, r;

	if (unlikely(!shim_ready()))
		return SYS(sigaction)(sig, act, oact);
	saved = errno;
	r = do_sigaction(sig, act, oact, true);
	if (r == 0)
		errno = saved;
	return r;
}

/* signal() with glibc's BSD semantics: restart, the signal blocked in its handler. */
sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction act = { .sa_handler = handler, .sa_flags = SA_RESTART }, old;
	int saved;

	if (unlikely(!shim_ready()))
		return SYS(signal)(sig, handler);
	if (sig <= 0 || sig >= NSIG || handler == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	saved = errno;
	sigemptyset(&act.sa_mask);
	sigaddset(&act.sa_mask, sig);
	if (do_sigaction(sig, &act, &old, true) < 0)
		return SIG_ERR;
	errno = saved;
	return (old.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)old.sa_sigaction : old.sa_handler;
}

/* fork child: the lock may have been held by a thread that does not exist here. */
void signal_atfork_child(void)
{
	sig_lock = 0;
}

/* Take sig over from the start, keeping whatever action the process inherited. An
 * ignored signal (nohup, a background job's SIGINT) stays ignored and unowned. */
static int own(int sig)
{
	struct sigaction cur;

	if (sys_sigaction(sig, NULL, &cur) < 0)
		return -errno;
	if (cur.sa_handler == SIG_IGN)
		return 0;
	owned[sig] = true;
	if (do_sigaction(sig, &cur, NULL, false) < 0) {
		owned[sig] = false;
		return -errno;
	}
	return 0;
}

int signal_init(void)
{
	int err = 0;

	if (shim_params.handle_sigintr)
		err = own(SIGINT);
	if (shim_params.handle_sigsegv) {
		void *warm[1];

		backtrace(warm, 1);	/* loads libgcc's unwinder now, not in the handler */
		if (!err)
			err = own(SIGSEGV);
	}
	return err;
}
