/* test_params.c — the parameter table: every type, range edges, bad values (one
 * warning each, naming the variable, the value and what is accepted, and the
 * application goes on), profiles, params file against environment precedence,
 * VMA_ aliases, %d expansion, level names, the start-up banner. Each test feeds
 * params_init_env() an explicit environment and reads the log from a file. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/init.h"
#include "core/log.h"
#include "core/params.h"
#include "core/params_internal.h"

static char log_path[128], conf_path[128], log_env[160];

static void setup(void)
{
	snprintf(log_path, sizeof(log_path), "/tmp/shim-test-params-log.%d", (int)getpid());
	snprintf(conf_path, sizeof(conf_path), "/tmp/shim-test-params-conf.%d", (int)getpid());
	snprintf(log_env, sizeof(log_env), "SHIM_LOG_FILE=%s", log_path);
	unlink(log_path);
	unlink(conf_path);
}

static void teardown(void)
{
	log_set_file(NULL);
	unlink(log_path);
	unlink(conf_path);
}

/* params_init_env() with the given variables plus SHIM_LOG_FILE, NULL-terminated. */
static void init_with(const char *first, ...)
{
	char *env[64];
	int n = 0;
	va_list ap;

	env[n++] = log_env;
	va_start(ap, first);
	for (const char *s = first; s && n < 63; s = va_arg(ap, const char *))
		env[n++] = (char *)s;
	va_end(ap);
	env[n] = NULL;
	ck_assert_int_eq(params_init_env(env), 0);
}
#define INIT(...) init_with(__VA_ARGS__, (const char *)NULL)

static const char *log_text(void)
{
	static char buf[65536];
	FILE *f = fopen(log_path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Warning lines, not counting the boxed debug-level banner. */
static int warnings(void)
{
	return count(log_text(), " SHIM WARN  : ") - count(log_text(), " SHIM WARN  : *");
}

/* Exactly one warning, and it contains every given fragment. */
static void assert_one_warning(const char *frag1, const char *frag2, const char *frag3)
{
	const char *s = log_text();
	ck_assert_msg(warnings() == 1, "want one warning, log:\n%s", s);
	const char *frags[] = { frag1, frag2, frag3 };
	for (int i = 0; i < 3; i++)
		if (frags[i])
			ck_assert_msg(strstr(s, frags[i]), "warning lacks \"%s\":\n%s", frags[i], s);
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_defaults)
{
	errno = EINTR;
	INIT(NULL);
	ck_assert_int_eq(errno, EINTR);
	ck_assert_int_eq(warnings(), 0);
	ck_assert_int_eq(shim_params.tracelevel, 3);
	ck_assert_int_eq(shim_params.rx_poll, 100000);
	ck_assert_int_eq(shim_params.select_poll, 100000);
	ck_assert_int_eq(shim_params.stats_fd_num, 100);
	ck_assert_str_eq(shim_params.stats_shmem_dir, "/dev/shm");
	ck_assert_str_eq(shim_params.config_file, "/etc/shim.conf");
	ck_assert_str_eq(shim_params.spec, "");
	ck_assert(shim_params.tx_mc_loopback);
	ck_assert(!shim_params.tcp_3t_rules);
	ck_assert(shim_params.close_on_dup2);
	ck_assert_int_eq(shim_params.backend, SHIM_BACKEND_AUTO);
	ck_assert_int_eq(shim_params.xdp_zerocopy, SHIM_XDP_ZEROCOPY_AUTO);
	ck_assert_int_eq(shim_params.thread_mode, SHIM_THREAD_MULTI_SPIN);
	ck_assert_int_eq(shim_params.ring_allocation_logic_rx, SHIM_RING_PER_INTERFACE);
	ck_assert_int_eq(shim_params.mem_alloc_type, SHIM_MEM_CONTIG);
	ck_assert_int_eq(shim_params.window_scaling, 3);
	ck_assert_int_eq(params_source("RX_POLL"), PARAM_SRC_DEFAULT);
	ck_assert_int_eq(params_source("rx_poll"), PARAM_SRC_DEFAULT);
	ck_assert_int_eq(params_source("NO_SUCH"), -1);
}
END_TEST

/* Every INT accepts its edges and warns one step beyond them. */
START_TEST(test_int_values)
{
	static const struct {
		const char *env;
		long *field;
		long want;
		bool ok;
	} cases[] = {
		{ "SHIM_RX_POLL=-1", &shim_params.rx_poll, -1, true },
		{ "SHIM_RX_POLL=0", &shim_params.rx_poll, 0, true },
		{ "SHIM_RX_POLL=100000000", &shim_params.rx_poll, 100000000, true },
		{ "SHIM_RX_POLL=100000001", &shim_params.rx_poll, 100000, false },
		{ "SHIM_RX_POLL=-2", &shim_params.rx_poll, 100000, false },
		{ "SHIM_RX_POLL= 42 ", &shim_params.rx_poll, 42, true },
		{ "SHIM_RX_POLL=+7", &shim_params.rx_poll, 7, true },
		{ "SHIM_RX_POLL=0x10", &shim_params.rx_poll, 16, true },
		{ "SHIM_RX_POLL=010", &shim_params.rx_poll, 10, true },
		{ "SHIM_RX_POLL=abc", &shim_params.rx_poll, 100000, false },
		{ "SHIM_RX_POLL=12abc", &shim_params.rx_poll, 100000, false },
		{ "SHIM_RX_POLL=", &shim_params.rx_poll, 100000, false },
		{ "SHIM_RX_POLL=--5", &shim_params.rx_poll, 100000, false },
		{ "SHIM_RX_POLL=1.5", &shim_params.rx_poll, 100000, false },
		{ "SHIM_RX_POLL=0x", &shim_params.rx_poll, 100000, false },
		{ "SHIM_RX_POLL=99999999999999999999999", &shim_params.rx_poll, 100000, false },
		{ "SHIM_STATS_FD_NUM=0", &shim_params.stats_fd_num, 0, true },
		{ "SHIM_STATS_FD_NUM=1024", &shim_params.stats_fd_num, 1024, true },
		{ "SHIM_STATS_FD_NUM=1025", &shim_params.stats_fd_num, 100, false },
		{ "SHIM_STATS_FD_NUM=-1", &shim_params.stats_fd_num, 100, false },
		{ "SHIM_WINDOW_SCALING=-2", &shim_params.window_scaling, -2, true },
		{ "SHIM_WINDOW_SCALING=14", &shim_params.window_scaling, 14, true },
		{ "SHIM_WINDOW_SCALING=15", &shim_params.window_scaling, 3, false },
		{ "SHIM_SELECT_SKIP_OS=10000", &shim_params.select_skip_os, 10000, true },
		{ "SHIM_SELECT_SKIP_OS=10001", &shim_params.select_skip_os, 4, false },
		{ "SHIM_MTU=0", &shim_params.mtu, 0, true },
		{ "SHIM_MTU=68", &shim_params.mtu, 68, true },
		{ "SHIM_MTU=67", &shim_params.mtu, 1500, false },
		{ "SHIM_MTU=9216", &shim_params.mtu, 9216, true },
		{ "SHIM_MTU=9217", &shim_params.mtu, 1500, false },
		{ "SHIM_LOG_DETAILS=3", &shim_params.log_details, 3, true },
		{ "SHIM_LOG_DETAILS=4", &shim_params.log_details, 0, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unlink(log_path);
		INIT(cases[i].env);
		ck_assert_msg(*cases[i].field == cases[i].want, "%s: got %ld want %ld", cases[i].env,
			      *cases[i].field, cases[i].want);
		ck_assert_msg(warnings() == (cases[i].ok ? 0 : 1), "%s: %d warnings:\n%s", cases[i].env,
			      warnings(), log_text());
	}
}
END_TEST

START_TEST(test_bad_value_message)
{
	INIT("SHIM_RX_POLL=fast");
	assert_one_warning("SHIM_RX_POLL='fast'", "an integer from -1 to 100000000", "using 100000");
	ck_assert_int_eq(shim_params.rx_poll, 100000);

	unlink(log_path);
	INIT("SHIM_STATS_FD_NUM=5000");
	assert_one_warning("SHIM_STATS_FD_NUM='5000'", "out of range", "from 0 to 1024");

	unlink(log_path);
	INIT("SHIM_BACKEND=dpdk");
	assert_one_warning("SHIM_BACKEND='dpdk'", "one of auto, xdp, verbs, none", "using auto");
}
END_TEST

START_TEST(test_bool_values)
{
	static const struct {
		const char *v;
		int want;	/* -1: bad */
	} cases[] = {
		{ "0", 0 }, { "1", 1 }, { "yes", 1 }, { "NO", 0 }, { "on", 1 }, { "Off", 0 },
		{ "true", 1 }, { "false", 0 }, { "enabled", 1 }, { "Disable", 0 }, { " 1 ", 1 },
		{ "2", -1 }, { "-1", -1 }, { "maybe", -1 }, { "", -1 },
	};
	char env[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unlink(log_path);
		snprintf(env, sizeof(env), "SHIM_TCP_3T_RULES=%s", cases[i].v);
		INIT(env);
		bool want = cases[i].want < 0 ? false : cases[i].want;
		ck_assert_msg(shim_params.tcp_3t_rules == want, "%s", env);
		ck_assert_msg(warnings() == (cases[i].want < 0), "%s: %s", env, log_text());
	}
	unlink(log_path);
	INIT("SHIM_CLOSE_ON_DUP2=sometimes");
	assert_one_warning("SHIM_CLOSE_ON_DUP2='sometimes'", "0 or 1", "using Enabled");
	ck_assert(shim_params.close_on_dup2);
}
END_TEST

START_TEST(test_enum_values)
{
	INIT("SHIM_BACKEND=xdp", "SHIM_XDP_MODE=Generic", "SHIM_XDP_ZEROCOPY=off",
	     "SHIM_RING_ALLOCATION_LOGIC_RX=20", "SHIM_RING_ALLOCATION_LOGIC_TX=core-attach",
	     "SHIM_THREAD_MODE=multi_mutex", "SHIM_TCP_CC_ALGO=1", "SHIM_MEM_ALLOC_TYPE=HUGEPAGES",
	     "SHIM_INTERNAL_THREAD_TCP_TIMER_HANDLING=immediate");
	ck_assert_int_eq(warnings(), 0);
	ck_assert_int_eq(shim_params.backend, SHIM_BACKEND_XDP);
	ck_assert_int_eq(shim_params.xdp_mode, SHIM_XDP_MODE_GENERIC);
	ck_assert_int_eq(shim_params.xdp_zerocopy, SHIM_XDP_ZEROCOPY_OFF);
	ck_assert_int_eq(shim_params.ring_allocation_logic_rx, SHIM_RING_PER_THREAD);
	ck_assert_int_eq(shim_params.ring_allocation_logic_tx, SHIM_RING_PER_CORE_ATTACH);
	ck_assert_int_eq(shim_params.thread_mode, SHIM_THREAD_MULTI_MUTEX);
	ck_assert_int_eq(shim_params.tcp_cc_algo, SHIM_TCP_CC_CUBIC);
	ck_assert_int_eq(shim_params.mem_alloc_type, SHIM_MEM_HUGEPAGES);
	ck_assert_int_eq(shim_params.internal_thread_tcp_timer_handling, SHIM_TCP_TIMERS_IMMEDIATE);

	/* Plain lists take the index as a number; numbered lists only listed numbers. */
	unlink(log_path);
	INIT("SHIM_BACKEND=3", "SHIM_RING_ALLOCATION_LOGIC_RX=15");
	ck_assert_int_eq(shim_params.backend, SHIM_BACKEND_NONE);
	ck_assert_int_eq(shim_params.ring_allocation_logic_rx, 0);
	assert_one_warning("SHIM_RING_ALLOCATION_LOGIC_RX='15'", "interface (0)", "core_attach (31)");

	unlink(log_path);
	INIT("SHIM_BACKEND=4");
	assert_one_warning("SHIM_BACKEND='4'", "one of auto", NULL);
}
END_TEST

START_TEST(test_string_values)
{
	INIT("SHIM_CONFIG_FILE=/tmp/my.conf", "SHIM_APPLICATION_ID=feed", "SHIM_STATS_SHMEM_DIR=");
	ck_assert_int_eq(warnings(), 0);
	ck_assert_str_eq(shim_params.config_file, "/tmp/my.conf");
	ck_assert_str_eq(shim_params.application_id, "feed");
	ck_assert_str_eq(shim_params.stats_shmem_dir, "");

	static char big[5000] = "SHIM_APPLICATION_ID=";
	memset(big + strlen(big), 'a', sizeof(big) - 1 - strlen(big));
	unlink(log_path);
	INIT(big);
	assert_one_warning("SHIM_APPLICATION_ID=", "at most 4095 bytes", NULL);
	ck_assert_str_eq(shim_params.application_id, "");
}
END_TEST

START_TEST(test_tracelevel_names)
{
	static const struct {
		const char *env;
		long want;
	} cases[] = {
		{ "SHIM_TRACELEVEL=debug", 4 }, { "SHIM_TRACELEVEL=WARN", 2 },
		{ "SHIM_TRACELEVEL=warning", 2 }, { "SHIM_TRACELEVEL=func_all", 6 },
		{ "SHIM_TRACELEVEL=0", 0 }, { "SHIM_TRACELEVEL=5", 5 }, { "SHIM_TRACELEVEL=error", 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		INIT(cases[i].env);
		ck_assert_msg(shim_params.tracelevel == cases[i].want, "%s", cases[i].env);
		ck_assert_int_eq(shim_log_level, cases[i].want);
	}
	unlink(log_path);
	INIT("SHIM_TRACELEVEL=7");
	assert_one_warning("SHIM_TRACELEVEL='7'", "level name", "using 3 (INFO)");
	unlink(log_path);
	INIT("SHIM_TRACELEVEL=loud");
	assert_one_warning("SHIM_TRACELEVEL='loud'", "panic, error, warn, info", NULL);
}
END_TEST

START_TEST(test_log_details_follow_level)
{
	INIT("SHIM_TRACELEVEL=debug");
	ck_assert_int_eq(shim_params.log_details, 2);
	INIT("SHIM_TRACELEVEL=debug", "SHIM_LOG_DETAILS=0");
	ck_assert_int_eq(shim_params.log_details, 0);
	INIT("SHIM_TRACELEVEL=info");
	ck_assert_int_eq(shim_params.log_details, 0);
}
END_TEST

/* The logging parameters reach the log before the warnings are written. */
START_TEST(test_log_params_applied)
{
	INIT("SHIM_LOG_DETAILS=1", "SHIM_RX_POLL=bad");
	ck_assert_int_eq(warnings(), 1);
	ck_assert(!strncmp(log_text(), " Tid: ", 6));

	/* At level error, warnings are not shown, and the level is the log's. */
	unlink(log_path);
	INIT("SHIM_TRACELEVEL=error", "SHIM_RX_POLL=bad");
	ck_assert_int_eq(shim_log_level, SHIM_LOG_ERROR);
	ck_assert_str_eq(log_text(), "");
	ck_assert_int_eq(shim_params.rx_poll, 100000);

	/* Without LOG_FILE a second init goes back to stderr. */
	char *envp[] = { NULL };
	params_init_env(envp);
	ck_assert_int_eq(log_get_fd(), 2);
}
END_TEST

START_TEST(test_vma_alias)
{
	INIT("VMA_RX_POLL=-1", "VMA_TRACELEVEL=2");
	ck_assert_int_eq(shim_params.rx_poll, -1);
	ck_assert_int_eq(shim_params.tracelevel, 2);
	ck_assert_int_eq(params_source("RX_POLL"), PARAM_SRC_ENV);

	/* SHIM_ wins whichever comes first in the environment. */
	INIT("VMA_RX_POLL=-1", "SHIM_RX_POLL=5");
	ck_assert_int_eq(shim_params.rx_poll, 5);
	INIT("SHIM_RX_POLL=5", "VMA_RX_POLL=-1");
	ck_assert_int_eq(shim_params.rx_poll, 5);

	/* A bad VMA_ value names the VMA_ variable. */
	unlink(log_path);
	INIT("VMA_SELECT_POLL=x");
	assert_one_warning("VMA_SELECT_POLL='x'", NULL, NULL);
	/* Old VMA names still work; the current name wins, whatever the order. */
	INIT("VMA_MAX_INLINE=100", "VMA_CQ_AIM_MAX_PERIOD_US=99", "VMA_INTERNAL_THREAD_CPUSSET=/c");
	ck_assert_int_eq(shim_params.tx_max_inline, 100);
	ck_assert_int_eq(shim_params.cq_aim_max_period_usec, 99);
	ck_assert_str_eq(shim_params.internal_thread_cpuset, "/c");
	INIT("VMA_MAX_INLINE=100", "VMA_TX_MAX_INLINE=50");
	ck_assert_int_eq(shim_params.tx_max_inline, 50);
	INIT("VMA_TX_MAX_INLINE=50", "VMA_MAX_INLINE=100");
	ck_assert_int_eq(shim_params.tx_max_inline, 50);
	unlink(log_path);
	INIT("VMA_MAX_INLINE=huge");
	assert_one_warning("VMA_MAX_INLINE='huge'", "from 0 to 884", NULL);
	/* SHIM_ names have no old spellings. */
	unlink(log_path);
	INIT("SHIM_MAX_INLINE=100");
	assert_one_warning("SHIM_MAX_INLINE is not a libshim parameter", NULL, NULL);

	/* A VMA_ variable we do not know is not ours to complain about. */
	unlink(log_path);
	INIT("VMA_HUGETBL=1");
	ck_assert_int_eq(warnings(), 0);
}
END_TEST

START_TEST(test_unknown_shim_variable)
{
	INIT("SHIM_RX_POL=5");
	assert_one_warning("SHIM_RX_POL", "not a libshim parameter", NULL);
	unlink(log_path);
	INIT("SHIM_LIB=/x/libshim.so", "SHIM_BUILD=/x", "SHIM_SRC=/y", "SHIM_TESTS=*");
	ck_assert_int_eq(warnings(), 0);
}
END_TEST

START_TEST(test_profiles)
{
	INIT("SHIM_SPEC=latency");
	ck_assert_int_eq(warnings(), 0);
	ck_assert_str_eq(shim_params.spec, "latency");
	ck_assert_int_eq(shim_params.rx_poll, -1);
	ck_assert_int_eq(shim_params.select_poll, -1);
	ck_assert(!shim_params.cq_moderation_enable);
	ck_assert_int_eq(params_source("RX_POLL"), PARAM_SRC_PROFILE);
	ck_assert_int_eq(shim_params.thread_mode, SHIM_THREAD_MULTI_SPIN);

	/* ultra-latency inherits latency and adds its own; spelling is forgiving. */
	INIT("SHIM_SPEC=ULTRA_latency");
	ck_assert_int_eq(warnings(), 0);
	ck_assert_int_eq(shim_params.rx_poll, -1);
	ck_assert_int_eq(shim_params.thread_mode, SHIM_THREAD_SINGLE);
	ck_assert_int_eq(shim_params.rx_wre, 256);

	INIT("SHIM_SPEC=throughput");
	ck_assert_int_eq(shim_params.tcp_cc_algo, SHIM_TCP_CC_CUBIC);
	ck_assert_int_eq(shim_params.rx_poll, 100000);

	INIT("VMA_SPEC=multi_ring_latency");
	ck_assert_int_eq(shim_params.ring_allocation_logic_tx, SHIM_RING_PER_THREAD);
	ck_assert_int_eq(shim_params.ring_allocation_logic_rx, SHIM_RING_PER_THREAD);
	ck_assert(shim_params.rx_poll_on_tx_tcp);
	ck_assert_int_eq(warnings(), 0);

	/* The environment overrides the profile. */
	INIT("SHIM_SPEC=latency", "SHIM_RX_POLL=1000");
	ck_assert_int_eq(shim_params.rx_poll, 1000);
	ck_assert_int_eq(shim_params.select_poll, -1);

	unlink(log_path);
	INIT("SHIM_SPEC=fastest");
	assert_one_warning("SHIM_SPEC='fastest'", "latency, ultra-latency, throughput, multi_ring_latency", NULL);
	ck_assert_int_eq(shim_params.rx_poll, 100000);
	ck_assert_str_eq(shim_params.spec, "");
}
END_TEST

START_TEST(test_params_file)
{
	char env[200];
	snprintf(env, sizeof(env), "SHIM_PARAMS_FILE=%s", conf_path);
	write_conf("# tuning for the feed handler\n"
		   "RX_POLL = 5000;\n"
		   "SHIM_SELECT_POLL = 7;\n"
		   "vma_select_skip_os = 9;\n"
		   "tracelevel = \"warn\";\n"
		   "TCP_3T_RULES = true;\n"
		   "BACKEND = \"xdp\";\n"
		   "CONFIG_FILE = \"/tmp/rules.conf\";\n"
		   "RX_BYTES_MIN = 100000L;\n");
	INIT(env);
	ck_assert_int_eq(warnings(), 0);
	ck_assert_int_eq(shim_params.rx_poll, 5000);
	ck_assert_int_eq(shim_params.select_poll, 7);
	ck_assert_int_eq(shim_params.select_skip_os, 9);
	ck_assert_int_eq(shim_params.tracelevel, 2);
	ck_assert(shim_params.tcp_3t_rules);
	ck_assert_int_eq(shim_params.backend, SHIM_BACKEND_XDP);
	ck_assert_str_eq(shim_params.config_file, "/tmp/rules.conf");
	ck_assert_int_eq(shim_params.rx_bytes_min, 100000);
	ck_assert_int_eq(params_source("RX_POLL"), PARAM_SRC_FILE);
	ck_assert_str_eq(shim_params.params_file, conf_path);

	/* @include is relative to the params file's directory. */
	char inc[160], text[256];
	snprintf(inc, sizeof(inc), "%s.inc", conf_path);
	FILE *f = fopen(inc, "w");
	fputs("SELECT_POLL = 33;\n", f);
	fclose(f);
	snprintf(text, sizeof(text), "RX_POLL = 1;\n@include \"%s\"\n", strrchr(inc, '/') + 1);
	write_conf(text);
	INIT(env);
	ck_assert_int_eq(warnings(), 0);
	ck_assert_int_eq(shim_params.rx_poll, 1);
	ck_assert_int_eq(shim_params.select_poll, 33);
	unlink(inc);
}
END_TEST

START_TEST(test_precedence)
{
	char env[200];
	snprintf(env, sizeof(env), "SHIM_PARAMS_FILE=%s", conf_path);
	write_conf("RX_POLL = 5000;\nSELECT_POLL = 7;\n");
	/* default < profile < file < environment */
	INIT("SHIM_SPEC=latency", env, "SHIM_SELECT_POLL=3");
	ck_assert_int_eq(shim_params.select_poll, 3);
	ck_assert_int_eq(params_source("SELECT_POLL"), PARAM_SRC_ENV);
	ck_assert_int_eq(shim_params.rx_poll, 5000);
	ck_assert_int_eq(params_source("RX_POLL"), PARAM_SRC_FILE);
	ck_assert_int_eq(shim_params.select_skip_os, 0);
	ck_assert_int_eq(params_source("SELECT_SKIP_OS"), PARAM_SRC_PROFILE);
	ck_assert_int_eq(shim_params.stats_fd_num, 100);
	ck_assert_int_eq(params_source("STATS_FD_NUM"), PARAM_SRC_DEFAULT);
	/* VMA_ in the environment still beats the file. */
	INIT(env, "VMA_RX_POLL=11");
	ck_assert_int_eq(shim_params.rx_poll, 11);
	/* A bad environment value keeps the file's value. */
	unlink(log_path);
	INIT(env, "SHIM_RX_POLL=bad");
	ck_assert_int_eq(shim_params.rx_poll, 5000);
	assert_one_warning("SHIM_RX_POLL='bad'", "using 5000", NULL);
}
END_TEST

START_TEST(test_params_file_errors)
{
	char env[200];
	snprintf(env, sizeof(env), "SHIM_PARAMS_FILE=%s", conf_path);

	/* Bad entries warn one by one; good ones are used. */
	write_conf("RX_POLL = \"lots\";\n"
		   "NOT_A_PARAM = 1;\n"
		   "SPEC = \"latency\";\n"
		   "GROUP = { a = 1; };\n"
		   "SELECT_POLL = 1.5;\n"
		   "STATS_FD_NUM = 10;\n");
	INIT(env);
	const char *s = log_text();
	ck_assert_int_eq(warnings(), 5);
	ck_assert_ptr_nonnull(strstr(s, ":1: RX_POLL='lots'"));
	ck_assert_ptr_nonnull(strstr(s, ":2: NOT_A_PARAM is not a libshim parameter"));
	ck_assert_ptr_nonnull(strstr(s, ":3: SPEC is read from the environment only"));
	ck_assert_ptr_nonnull(strstr(s, ":4: GROUP"));
	ck_assert_ptr_nonnull(strstr(s, ":5: SELECT_POLL='1.5'"));
	ck_assert_int_eq(shim_params.stats_fd_num, 10);
	ck_assert_int_eq(shim_params.rx_poll, 100000);
	ck_assert_str_eq(shim_params.spec, "");

	/* A syntax error ignores the whole file, with the line. */
	unlink(log_path);
	write_conf("RX_POLL = 5;\nSELECT_POLL 7\n");
	INIT(env, "SHIM_STATS_FD_NUM=3");
	assert_one_warning(conf_path, ":2: ", "the whole params file is ignored");
	ck_assert_int_eq(shim_params.rx_poll, 100000);
	ck_assert_int_eq(shim_params.stats_fd_num, 3);

	/* Integers libconfig would wrap at 32 bits are checked as written. */
	unlink(log_path);
	write_conf("RX_POLL = 4294967396;\nRX_BYTES_MIN = 0x100000;\nSELECT_POLL = 12L;\n"
		   "STATS_FD_NUM=5 ; TX_BUFS:7;\n");
	INIT(env);
	assert_one_warning(":1: RX_POLL='4294967396'", "out of range", NULL);
	ck_assert_int_eq(shim_params.rx_poll, 100000);
	ck_assert_int_eq(shim_params.rx_bytes_min, 0x100000);
	ck_assert_int_eq(shim_params.select_poll, 12);
	ck_assert_int_eq(shim_params.stats_fd_num, 5);
	ck_assert_int_eq(shim_params.tx_bufs, 7);

	/* A directory is refused before libconfig sees it. */
	unlink(log_path);
	INIT("SHIM_PARAMS_FILE=/tmp");
	assert_one_warning("SHIM_PARAMS_FILE='/tmp' is not a regular file", NULL, NULL);

	/* A missing file warns once and the environment still applies. */
	unlink(log_path);
	unlink(conf_path);
	INIT(env, "SHIM_RX_POLL=8");
	assert_one_warning("SHIM_PARAMS_FILE=", "cannot be read", "No such file");
	ck_assert_int_eq(shim_params.rx_poll, 8);
}
END_TEST

START_TEST(test_pid_expansion)
{
	char want[128], env[200], pf[200];
	snprintf(want, sizeof(want), "/tmp/stats.%d.txt", (int)getpid());
	INIT("SHIM_STATS_FILE=/tmp/stats.%d.txt", "SHIM_APPLICATION_ID=a%db");
	ck_assert_str_eq(shim_params.stats_file, want);
	/* Only _FILE parameters are expanded. */
	ck_assert_str_eq(shim_params.application_id, "a%db");

	/* The params file name too. */
	snprintf(env, sizeof(env), "/tmp/shim-test-params-pf.%d", (int)getpid());
	FILE *f = fopen(env, "w");
	fputs("RX_POLL = 77;\n", f);
	fclose(f);
	snprintf(pf, sizeof(pf), "SHIM_PARAMS_FILE=/tmp/shim-test-params-pf.%%d");
	INIT(pf);
	ck_assert_int_eq(shim_params.rx_poll, 77);
	unlink(env);

	/* A forked child sees its own pid. */
	INIT("SHIM_STATS_FILE=/tmp/stats.%d.txt");
	pid_t pid = fork();
	if (pid == 0) {
		char mine[128];
		snprintf(mine, sizeof(mine), "/tmp/stats.%d.txt", (int)getpid());
		_exit(strcmp(shim_params.stats_file, mine) ? 1 : 0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

START_TEST(test_log_file_param)
{
	char env[200], path[200];
	snprintf(env, sizeof(env), "SHIM_LOG_FILE=/tmp/shim-test-params-%%d.%d.log", (int)getpid());
	snprintf(path, sizeof(path), "/tmp/shim-test-params-%d.%d.log", (int)getpid(), (int)getpid());
	char *envp[] = { env, "SHIM_RX_POLL=oops", NULL };
	params_init_env(envp);
	ck_assert_str_eq(shim_params.log_file, path);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char line[512] = "";
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	ck_assert_ptr_nonnull(strstr(line, "SHIM_RX_POLL='oops'"));
	unlink(path);

	/* An unopenable log file warns on stderr and the rest still applies. */
	char *envp2[] = { "SHIM_LOG_FILE=/nonexistent/dir/x.log", "SHIM_RX_POLL=9", NULL };
	params_init_env(envp2);
	ck_assert_int_eq(shim_params.rx_poll, 9);
}
END_TEST

START_TEST(test_affinity)
{
	static const struct {
		const char *v;
		bool ok;
	} cases[] = {
		{ "-1", true }, { "0x1", true }, { "0xff", true }, { "0", true }, { "0,4,8", true },
		{ "0, 1, 7-10", true }, { "3", true }, { "0x0", false }, { "0x", false },
		{ "1-", false }, { "5-2", false }, { "a", false }, { "1,,2", false }, { "1,", false },
		{ "9999", false }, { "", false }, { "-2", false },
	};
	char env[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unlink(log_path);
		snprintf(env, sizeof(env), "SHIM_INTERNAL_THREAD_AFFINITY=%s", cases[i].v);
		INIT(env);
		ck_assert_msg(warnings() == !cases[i].ok, "'%s': %s", cases[i].v, log_text());
		ck_assert_str_eq(shim_params.internal_thread_affinity, cases[i].ok ? cases[i].v : "-1");
	}
}
END_TEST

START_TEST(test_fixups)
{
	INIT("SHIM_SELECT_POLL_OS_FORCE=1");
	ck_assert_int_eq(shim_params.select_poll_os_ratio, 1);
	ck_assert_int_eq(shim_params.select_skip_os, 1);

	unlink(log_path);
	INIT("SHIM_TIMER_RESOLUTION_MSEC=50", "SHIM_TCP_TIMER_RESOLUTION_MSEC=20");
	ck_assert_int_eq(shim_params.tcp_timer_resolution_msec, 50);
	assert_one_warning("SHIM_TCP_TIMER_RESOLUTION_MSEC=20", "using 50", NULL);

	unlink(log_path);
	INIT("SHIM_MTU=1000", "SHIM_MSS=1400");
	ck_assert_int_eq(shim_params.mss, 960);
	assert_one_warning("SHIM_MSS=1400", "SHIM_MTU=1000", NULL);
}
END_TEST

START_TEST(test_reinit_reuses_storage)
{
	/* The string arena is reset on every init: thousands of runs never run out. */
	for (int i = 0; i < 5000; i++) {
		INIT("SHIM_CONFIG_FILE=/some/rather/long/path/to/a/rules/file/that/repeats.conf",
		     "SHIM_STATS_FILE=/tmp/s.%d");
		ck_assert_int_eq(warnings(), 0);
	}
	params_defaults();
	ck_assert_str_eq(shim_params.config_file, "/etc/shim.conf");
	ck_assert_int_eq(params_source("CONFIG_FILE"), PARAM_SRC_DEFAULT);
}
END_TEST

START_TEST(test_banner)
{
	INIT("SHIM_RX_POLL=-1", "SHIM_BACKEND=xdp", "SHIM_TCP_3T_RULES=1",
	     "SHIM_RING_ALLOCATION_LOGIC_RX=thread", "SHIM_STATS_FD_NUM=100");
	params_log_banner();
	const char *s = log_text();
	char pid[32];
	snprintf(pid, sizeof(pid), "Pid: %d\n", (int)getpid());
	ck_assert_ptr_nonnull(strstr(s, "libshim " SHIM_VERSION " built on "));
	ck_assert_ptr_nonnull(strstr(s, "Cmd Line: "));
	ck_assert_ptr_nonnull(strstr(s, shim_cmdline()));
	ck_assert_ptr_nonnull(strstr(s, pid));
	ck_assert_ptr_nonnull(strstr(s, "[SHIM_TRACELEVEL]"));
	ck_assert_ptr_nonnull(strstr(s, "3 (INFO)"));
	ck_assert_ptr_nonnull(strstr(s, " SHIM INFO  : Rx Poll Loops                    -1                         [SHIM_RX_POLL]\n"));
	ck_assert_ptr_nonnull(strstr(s, "xdp"));
	ck_assert_ptr_nonnull(strstr(s, "Enabled                    [SHIM_TCP_3T_RULES]"));
	ck_assert_ptr_nonnull(strstr(s, "20 (thread)                [SHIM_RING_ALLOCATION_LOGIC_RX]"));
	/* Values equal to the default are not shown, even when set explicitly. */
	ck_assert_ptr_null(strstr(s, "[SHIM_STATS_FD_NUM]"));
	ck_assert_ptr_null(strstr(s, "[SHIM_SELECT_POLL]"));
	/* The log file itself differs from its default and is shown. */
	ck_assert_ptr_nonnull(strstr(s, "[SHIM_LOG_FILE]"));
	ck_assert_int_eq(count(s, "-----\n"), 3);
	ck_assert_ptr_null(strstr(s, "Architecture: "));

	/* At debug level the machine is described too. */
	unlink(log_path);
	INIT("SHIM_TRACELEVEL=debug");
	params_log_banner();
	s = log_text();
	ck_assert_ptr_nonnull(strstr(s, "SHIM DEBUG : Current Time: "));
	ck_assert_ptr_nonnull(strstr(s, "SHIM DEBUG : System: Linux "));
	ck_assert_ptr_nonnull(strstr(s, "SHIM DEBUG : Architecture: "));
	ck_assert_ptr_nonnull(strstr(s, "4 (DEBUG)"));
}
END_TEST

/* Walks the whole table: each parameter accepts its own default by name, and each
 * INT accepts both range edges and warns one step beyond each. */
START_TEST(test_whole_table)
{
	char env[256];
	for (int i = 0; i < P_COUNT; i++) {
		const struct param_desc *d = &param_table[i];
		char def[128];
		if (i == P_PARAMS_FILE || i == P_LOG_FILE)
			continue;	/* setting these changes where the test reads from */
		if (d->type == PT_STR)
			snprintf(def, sizeof(def), "%s", d->def_str);
		else
			snprintf(def, sizeof(def), "%ld", d->def);
		snprintf(env, sizeof(env), "SHIM_%s=%s", d->name, def);
		unlink(log_path);
		INIT(env);
		ck_assert_msg(warnings() == 0, "%s: %s", env, log_text());
		ck_assert_msg(param_is_default(i), "%s", env);
		ck_assert_int_eq(params_source(d->name), PARAM_SRC_ENV);
		if (d->type != PT_INT)
			continue;
		/* These two are also bounded by another parameter (test_fixups). */
		bool tied = i == P_TCP_TIMER_RESOLUTION_MSEC || i == P_MSS;
		long edges[] = { d->min, d->max };
		for (int e = 0; e < 2; e++) {
			snprintf(env, sizeof(env), "SHIM_%s=%ld", d->name, edges[e]);
			unlink(log_path);
			INIT(env);
			if (tied)
				continue;
			ck_assert_msg(warnings() == 0, "%s: %s", env, log_text());
			ck_assert_msg(*(long *)((char *)&shim_params + d->offset) == edges[e], "%s", env);
		}
		long beyond[] = { d->min - 1, d->max + 1 };
		for (int e = 0; e < 2; e++) {
			snprintf(env, sizeof(env), "SHIM_%s=%ld", d->name, beyond[e]);
			unlink(log_path);
			INIT(env);
			ck_assert_msg(warnings() == 1, "%s: %s", env, log_text());
			char quoted[128];
			snprintf(quoted, sizeof(quoted), "SHIM_%s='%ld'", d->name, beyond[e]);
			ck_assert_msg(strstr(log_text(), quoted), "%s: %s", env, log_text());
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("params");
	TCase *tc = tcase_create("params");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_int_values);
	tcase_add_test(tc, test_bad_value_message);
	tcase_add_test(tc, test_bool_values);
	tcase_add_test(tc, test_enum_values);
	tcase_add_test(tc, test_string_values);
	tcase_add_test(tc, test_tracelevel_names);
	tcase_add_test(tc, test_log_details_follow_level);
	tcase_add_test(tc, test_log_params_applied);
	tcase_add_test(tc, test_vma_alias);
	tcase_add_test(tc, test_unknown_shim_variable);
	tcase_add_test(tc, test_profiles);
	tcase_add_test(tc, test_params_file);
	tcase_add_test(tc, test_precedence);
	tcase_add_test(tc, test_params_file_errors);
	tcase_add_test(tc, test_pid_expansion);
	tcase_add_test(tc, test_log_file_param);
	tcase_add_test(tc, test_affinity);
	tcase_add_test(tc, test_fixups);
	tcase_add_test(tc, test_reinit_reuses_storage);
	tcase_add_test(tc, test_banner);
	tcase_add_test(tc, test_whole_table);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
