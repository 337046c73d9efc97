/* segv.c — crashes on purpose (segv.sh: SHIM_HANDLE_SIGSEGV logs a backtrace and the
 * process still dies of SIGSEGV). With an argument, first installs its own handler,
 * which must run and exit cleanly. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void own_handler(int sig)
{
	(void)sig;
	static const char msg[] = "own handler ran\n";
	write(1, msg, sizeof(msg) - 1);
	_exit(3);
}

/* The crash itself: a sanitized build must not turn it into a report and exit(1). */
__attribute__((noinline, no_sanitize("undefined"))) static int crash(volatile int *p)
{
	return *p;
}

int main(int argc, char **argv)
{
	struct sigaction old;

	sigaction(SIGSEGV, NULL, &old);
	printf("SIGSEGV action is default: %d\n", old.sa_handler == SIG_DFL);
	fflush(stdout);
	if (argc > 1)
		signal(SIGSEGV, own_handler);
	return crash(NULL);
}
