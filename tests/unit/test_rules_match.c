/* test_rules_match.c — the matcher, table-driven: which section applies to a program
 * and application id (shell globs, `*`, the implicit default section, first match),
 * which rule of the role decides (first match, prefixes at their edges, port ranges,
 * the second address of tcp_client/udp_connect, unknown addresses), and the default
 * of offloading when nothing matches. Then the library side: the file chosen by
 * SHIM_CONFIG_FILE, errors on the log, run-time rules at the head, and lookups racing
 * with additions. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/params.h"
#include "core/rules.h"

static const char conf_sections[] =
	"application-id tcp-lat B1\n"			/* 1 */
	"use vma tcp_client 192.168.1.0/24:*:*:*\n"	/* 2 */
	"use os tcp_server *:5001\n"			/* 3 */
	"use os tcp_client *:*\n"			/* 4 */
	"application-id db2* *\n"			/* 5 */
	"use os udp_receiver 239.1.1.0/24:*\n"		/* 6 */
	"use os udp_receiver *:5000-5010\n"		/* 7 */
	"use shim udp_sender 10.0.0.1:*\n"		/* 8 */
	"use os udp_sender 10.0.0.0/8:*\n"		/* 9 */
	"use os udp_connect *:53:127.0.0.1:*\n"		/* 10 */
	"use os udp_connect *:53\n"			/* 11 */
	"application-id t?cp *\n"			/* 12 */
	"use os tcp_client 1.2.3.4:80\n"		/* 13 */
	"application-id * B2\n"				/* 14 */
	"use os tcp_server *:*\n"			/* 15 */
	"application-id * *\n"				/* 16 */
	"use os tcp_client *:443\n";			/* 17 */

/* Rules before any application-id make a section for every program, found first. */
static const char conf_default[] =
	"use os udp_connect *:53\n"			/* 1 */
	"use os udp_sender *:53\n"			/* 2 */
	"application-id special *\n"			/* 3 */
	"use os tcp_client *:*\n";			/* 4 */

static const char conf_edges[] =
	"use os tcp_client 10.0.0.0/8:1000-2000\n"		/* 1 */
	"use os tcp_client 192.168.1.2/31:*\n"			/* 2 */
	"use os tcp_client 172.16.0.1:*:10.9.0.0/16:3000-3001\n" /* 3 */
	"use os tcp_server 1.2.3.4:1-1023\n"			/* 4 */
	"use os udp_receiver 0.0.0.0:7000\n"			/* 5 */
	"use os udp_sender *:*\n"				/* 6 */
	"use shim udp_sender 10.0.0.1:1\n";			/* 7: dead */

static const char conf_only_foo[] = "application-id foo *\nuse os tcp_client *:*\n";

#define TCP_SERVER SHIM_ROLE_TCP_SERVER
#define TCP_CLIENT SHIM_ROLE_TCP_CLIENT
#define UDP_SENDER SHIM_ROLE_UDP_SENDER
#define UDP_RECEIVER SHIM_ROLE_UDP_RECEIVER
#define UDP_CONNECT SHIM_ROLE_UDP_CONNECT
#define NONE (-1)

static const struct {
	const char *conf, *program, *app_id;
	enum shim_role role;
	const char *local, *remote;	/* "a.b.c.d:port" or NULL (unknown) */
	bool offload;
	int rule_line;			/* NONE: no rule matched */
	int section_line;		/* NONE: no section; 0: the default section */
} cases[] = {
	/* application-id: program glob and id */
	{ conf_sections, "tcp-lat", "B1", TCP_CLIENT, NULL, "192.168.1.7:80", true, 2, 1 },
	{ conf_sections, "tcp-lat", "B1", TCP_CLIENT, "10.0.0.1:4000", "192.168.1.7:80", true, 2, 1 },
	{ conf_sections, "tcp-lat", "B1", TCP_CLIENT, NULL, "192.168.2.7:80", false, 4, 1 },
	{ conf_sections, "tcp-lat", "B1", TCP_SERVER, "0.0.0.0:5001", NULL, false, 3, 1 },
	{ conf_sections, "tcp-lat", "B1", TCP_SERVER, "0.0.0.0:5002", NULL, true, NONE, 1 },
	{ conf_sections, "tcp-lat", "B1", UDP_SENDER, NULL, "1.1.1.1:1", true, NONE, 1 },
	{ conf_sections, "tcp-lat", NULL, TCP_CLIENT, NULL, "1.1.1.1:443", false, 17, 16 },
	{ conf_sections, "tcp-lat", "", TCP_CLIENT, NULL, "1.1.1.1:80", true, NONE, 16 },
	{ conf_sections, "tcp-lat", "B3", TCP_CLIENT, NULL, "1.1.1.1:443", false, 17, 16 },
	{ conf_sections, "tcp-lat", "B2", TCP_SERVER, "0.0.0.0:80", NULL, false, 15, 14 },
	{ conf_sections, "tcp-lat", "B2", TCP_CLIENT, NULL, "1.1.1.1:443", true, NONE, 14 },
	{ conf_sections, "db2sysc", NULL, UDP_RECEIVER, "239.1.1.5:1234", NULL, false, 6, 5 },
	{ conf_sections, "db2", "B2", UDP_RECEIVER, "239.1.2.5:1234", NULL, true, NONE, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_RECEIVER, "10.0.0.1:5005", NULL, false, 7, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_RECEIVER, "10.0.0.1:5011", NULL, true, NONE, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_RECEIVER, "0.0.0.0:5000", NULL, false, 7, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_RECEIVER, NULL, NULL, true, NONE, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_SENDER, NULL, "10.0.0.1:9", true, 8, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_SENDER, NULL, "10.2.3.4:9", false, 9, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_SENDER, NULL, "11.0.0.1:9", true, NONE, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_CONNECT, "127.0.0.1:40000", "8.8.8.8:53", false, 10, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_CONNECT, "10.0.0.5:40000", "8.8.8.8:53", false, 11, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_CONNECT, NULL, "8.8.8.8:53", false, 11, 5 },
	{ conf_sections, "db2sysc", NULL, UDP_CONNECT, NULL, "8.8.8.8:54", true, NONE, 5 },
	{ conf_sections, "tucp", NULL, TCP_CLIENT, NULL, "1.2.3.4:80", false, 13, 12 },
	/* ? is exactly one character, as in the shell ("t?cp" does not match "tcp") */
	{ conf_sections, "tcp", NULL, TCP_CLIENT, NULL, "1.2.3.4:80", true, NONE, 16 },
	{ conf_sections, "tacp", "B1", TCP_CLIENT, NULL, "1.2.3.4:80", false, 13, 12 },
	{ conf_sections, "tucp", NULL, TCP_CLIENT, NULL, "1.2.3.4:81", true, NONE, 12 },
	{ conf_sections, "tcpx", NULL, TCP_CLIENT, NULL, "1.2.3.4:80", true, NONE, 16 },
	{ conf_sections, "", NULL, TCP_CLIENT, NULL, "1.2.3.4:443", false, 17, 16 },
	{ conf_sections, NULL, "B2", TCP_SERVER, NULL, NULL, false, 15, 14 },
	/* SHIM_APPLICATION_ID=* takes the first section for the program, whatever its id */
	{ conf_sections, "tcp-lat", "*", TCP_SERVER, "0.0.0.0:5001", NULL, false, 3, 1 },
	{ conf_sections, "x", "*", TCP_SERVER, "0.0.0.0:5001", NULL, false, 15, 14 },

	/* the implicit default section wins for every program */
	{ conf_default, "anything", NULL, UDP_CONNECT, NULL, "8.8.8.8:53", false, 1, 0 },
	{ conf_default, "special", NULL, UDP_SENDER, NULL, "8.8.8.8:53", false, 2, 0 },
	{ conf_default, "special", NULL, TCP_CLIENT, NULL, "8.8.8.8:53", true, NONE, 0 },
	{ conf_default, "x", "B1", UDP_RECEIVER, "0.0.0.0:53", NULL, true, NONE, 0 },

	/* no section for the program: offload */
	{ conf_only_foo, "bar", NULL, TCP_CLIENT, NULL, "1.1.1.1:1", true, NONE, NONE },
	{ conf_only_foo, "foo", NULL, TCP_CLIENT, NULL, "1.1.1.1:1", false, 2, 1 },
	{ "", "foo", NULL, TCP_CLIENT, NULL, "1.1.1.1:1", true, NONE, NONE },

	/* prefixes and port ranges at their edges */
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "10.0.0.0:1000", false, 1, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "10.255.255.255:2000", false, 1, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "9.255.255.255:1500", true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "11.0.0.0:1500", true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "10.1.1.1:999", true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "10.1.1.1:2001", true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "192.168.1.2:1", false, 2, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "192.168.1.3:65535", false, 2, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "192.168.1.1:1", true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "192.168.1.4:1", true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, "10.9.200.1:3000", "172.16.0.1:80", false, 3, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, "10.9.0.0:3001", "172.16.0.1:80", false, 3, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, "10.9.1.1:3002", "172.16.0.1:80", true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, "10.10.1.1:3000", "172.16.0.1:80", true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, NULL, "172.16.0.1:80", true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_CLIENT, "10.9.1.1:3000", "172.16.0.2:80", true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_SERVER, "1.2.3.4:1", NULL, false, 4, 0 },
	{ conf_edges, "p", NULL, TCP_SERVER, "1.2.3.4:1023", "9.9.9.9:1", false, 4, 0 },
	{ conf_edges, "p", NULL, TCP_SERVER, "1.2.3.4:1024", NULL, true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_SERVER, "1.2.3.4:0", NULL, true, NONE, 0 },
	{ conf_edges, "p", NULL, TCP_SERVER, NULL, NULL, true, NONE, 0 },
	{ conf_edges, "p", NULL, UDP_RECEIVER, "0.0.0.0:7000", NULL, false, 5, 0 },
	{ conf_edges, "p", NULL, UDP_RECEIVER, "1.2.3.4:7000", NULL, true, NONE, 0 },
	{ conf_edges, "p", NULL, UDP_SENDER, NULL, "10.0.0.1:1", false, 6, 0 },
	{ conf_edges, "p", NULL, UDP_SENDER, NULL, NULL, false, 6, 0 },
	/* a rule of another role never decides */
	{ conf_edges, "p", NULL, UDP_CONNECT, NULL, "10.0.0.1:1500", true, NONE, 0 },
};

static struct sockaddr_in *addr(const char *s, struct sockaddr_in *sa)
{
	if (!s)
		return NULL;
	ck_assert_int_eq(rules_parse_sockaddr(s, sa), 0);
	return sa;
}

START_TEST(test_decide)
{
	struct rule_set *set;
	struct rule_verdict v;
	struct sockaddr_in l, r;

	ck_assert_int_eq(ruleset_new(&set, "t.conf"), 0);
	ck_assert_int_eq(ruleset_parse(set, cases[_i].conf, strlen(cases[_i].conf), NULL, NULL), 0);
	ck_assert_int_eq(set->errors, 0);
	ruleset_decide(set, cases[_i].program, cases[_i].app_id, cases[_i].role,
		       addr(cases[_i].local, &l), addr(cases[_i].remote, &r), &v);
	ck_assert_msg(v.offload == cases[_i].offload, "case %d: offload %d", _i, v.offload);
	if (cases[_i].section_line == NONE)
		ck_assert_ptr_null(v.section);
	else
		ck_assert_msg(v.section && (int)v.section->line == cases[_i].section_line,
			      "case %d: section line %d", _i, v.section ? (int)v.section->line : -1);
	if (cases[_i].rule_line == NONE)
		ck_assert_msg(!v.rule, "case %d: rule line %u matched", _i, v.rule ? v.rule->line : 0);
	else
		ck_assert_msg(v.rule && (int)v.rule->line == cases[_i].rule_line,
			      "case %d: rule line %d", _i, v.rule ? (int)v.rule->line : -1);
	ruleset_free(set);
}
END_TEST

/* rule_covers is what the dead-rule warning rests on: check it both ways. */
START_TEST(test_covers)
{
	static const struct {
		const char *a, *b;
		bool covers;
	} t[] = {
		{ "use os tcp_client *:*", "use shim tcp_client 1.2.3.4:80:5.6.7.8:9", true },
		{ "use os tcp_client 10.0.0.0/8:*", "use os tcp_client 10.1.0.0/16:80", true },
		{ "use os tcp_client 10.1.0.0/16:80", "use os tcp_client 10.0.0.0/8:*", false },
		{ "use os tcp_client 10.0.0.0/8:80-90", "use os tcp_client 10.0.0.0/8:85-91", false },
		{ "use os tcp_client 10.0.0.0/8:80-90", "use os tcp_client 10.0.0.0/8:80-90", true },
		{ "use os tcp_client *:*:1.0.0.0/8:*", "use os tcp_client *:*", false },
		{ "use os tcp_client *:*", "use os udp_connect *:*", false },
		{ "use os udp_sender *:*", "use os udp_sender 1.1.1.1:1", true },
	};
	struct shim_rule a, b;
	char err[128];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_int_eq(rule_parse_line(t[i].a, 1, &a, err, sizeof(err)), 0);
		ck_assert_int_eq(rule_parse_line(t[i].b, 2, &b, err, sizeof(err)), 0);
		ck_assert_msg(rule_covers(&a, &b) == t[i].covers, "%s / %s", t[i].a, t[i].b);
	}
}
END_TEST

/* Exhaustive check of one prefix against a plain reference computation. */
START_TEST(test_prefix_exhaustive)
{
	struct shim_rule r;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(1) };
	char line[80], err[128];

	for (unsigned len = 0; len <= 32; len++) {
		snprintf(line, sizeof(line), "use os udp_sender 172.31.255.255/%u:*", len);
		ck_assert_int_eq(rule_parse_line(line, 1, &r, err, sizeof(err)), 0);
		for (unsigned k = 0; k < 4096; k++) {
			uint32_t a = 0xac1fffffu ^ (k * 2654435761u);
			uint32_t mask = len ? 0xffffffffu << (32 - len) : 0;

			sa.sin_addr.s_addr = htonl(a);
			ck_assert(rule_matches(&r, UDP_SENDER, NULL, &sa) ==
				  ((a & mask) == (0xac1fffffu & mask)));
		}
	}
}
END_TEST


/* ---- the library side: rules_init, rules_offload, rules_add_line ---- */

static const char *test_program = "tcp-lat";

/* The program name the library would take from argv[0]. */
const char *shim_program_name(void)
{
	return test_program;
}

static char conf_path[64], log_path[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Everything logged since setup. */
static const char *logged(void)
{
	static char buf[8192];
	FILE *f = fopen(log_path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = 0;
	return buf;
}

static void lib_setup(void)
{
	snprintf(conf_path, sizeof(conf_path), "/tmp/shim-rules-lib.%d.conf", (int)getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/shim-rules-lib.%d.log", (int)getpid());
	unlink(log_path);
	params_defaults();
	ck_assert_int_eq(log_set_file(log_path), 0);
	log_set_level(SHIM_LOG_INFO);
	test_program = "tcp-lat";
}

static void lib_teardown(void)
{
	log_set_file(NULL);
	unlink(log_path);
	unlink(conf_path);
}

static bool offload(enum shim_role role, const char *local, const char *remote)
{
	struct sockaddr_in l, r;

	return rules_offload(role, addr(local, &l), addr(remote, &r));
}

START_TEST(test_lib_file)
{
	write_file(conf_path, conf_sections);
	shim_params.config_file = conf_path;
	shim_params.application_id = "B1";
	ck_assert_int_eq(rules_init(), 0);
	ck_assert_str_eq(logged(), "");
	ck_assert(offload(TCP_CLIENT, NULL, "192.168.1.7:80"));
	ck_assert(!offload(TCP_CLIENT, NULL, "192.168.2.7:80"));
	ck_assert(!offload(TCP_SERVER, "0.0.0.0:5001", NULL));
	ck_assert(offload(TCP_SERVER, "0.0.0.0:5002", NULL));

	/* Another program, no application id: the catch-all section. */
	test_program = "db2sysc";
	shim_params.application_id = "";
	ck_assert_int_eq(rules_init(), 0);
	ck_assert(!offload(UDP_CONNECT, NULL, "8.8.8.8:53"));
	ck_assert(offload(UDP_CONNECT, NULL, "8.8.8.8:54"));
}
END_TEST

START_TEST(test_lib_errors_logged)
{
	write_file(conf_path, "use os udp_connect *:53\nuse os tcp_clinet *:80\n"
			      "use os udp_connect 1.1.1.1:53\n");
	shim_params.config_file = conf_path;
	ck_assert_int_eq(rules_init(), 0);
	ck_assert_msg(strstr(logged(), conf_path), "%s", logged());
	ck_assert(strstr(logged(), ":2: unknown role 'tcp_clinet'"));
	ck_assert(strstr(logged(), ":3: rule never matches: line 1"));
	/* The rest of the file is in force. */
	ck_assert(!offload(UDP_CONNECT, NULL, "8.8.8.8:53"));
	ck_assert(offload(TCP_CLIENT, NULL, "8.8.8.8:80"));
}
END_TEST

START_TEST(test_lib_missing_files)
{
	/* A file the user named: one warning, everything offloaded. */
	shim_params.config_file = "/nonexistent/shim.conf";
	ck_assert_int_eq(rules_init(), -ENOENT);
	ck_assert(strstr(logged(), "cannot read the rules file /nonexistent/shim.conf"));
	ck_assert(offload(UDP_CONNECT, NULL, "8.8.8.8:53"));
	ck_assert(offload(TCP_SERVER, "0.0.0.0:1", NULL));

	/* The default file, absent: silent. */
	if (access("/etc/shim.conf", F_OK) != 0) {
		log_set_file(NULL);
		unlink(log_path);
		ck_assert_int_eq(log_set_file(log_path), 0);
		params_defaults();
		ck_assert_str_eq(shim_params.config_file, "/etc/shim.conf");
		ck_assert_int_eq(rules_init(), 0);
		ck_assert_str_eq(logged(), "");
		ck_assert(offload(UDP_CONNECT, NULL, "8.8.8.8:53"));

		/* The same path named in the environment: the user asked for it. */
		char logvar[96];
		char *env[] = { "SHIM_CONFIG_FILE=/etc/shim.conf", logvar, NULL };

		snprintf(logvar, sizeof(logvar), "SHIM_LOG_FILE=%s", log_path);
		ck_assert_int_eq(params_init_env(env), 0);
		ck_assert_int_eq(rules_init(), -ENOENT);
		ck_assert(strstr(logged(), "cannot read the rules file /etc/shim.conf"));
	}
	/* No file at all. */
	shim_params.config_file = "";
	ck_assert_int_eq(rules_init(), 0);
	ck_assert(offload(UDP_CONNECT, NULL, "8.8.8.8:53"));
}
END_TEST

START_TEST(test_lib_add_line)
{
	write_file(conf_path, "use os udp_connect *:53\n");
	shim_params.config_file = conf_path;
	ck_assert_int_eq(rules_init(), 0);
	ck_assert(!offload(UDP_CONNECT, NULL, "8.8.8.8:53"));
	ck_assert(offload(UDP_CONNECT, NULL, "8.8.8.8:5353"));
	/* Added rules come before the file's, newest first. */
	ck_assert_int_eq(rules_add_line("use shim udp_connect 8.8.8.8:53"), 0);
	ck_assert(offload(UDP_CONNECT, NULL, "8.8.8.8:53"));
	ck_assert(!offload(UDP_CONNECT, NULL, "8.8.4.4:53"));
	ck_assert_int_eq(rules_add_line("use os udp_connect 8.8.0.0/16:*"), 0);
	ck_assert(!offload(UDP_CONNECT, NULL, "8.8.8.8:53"));
	ck_assert(!offload(UDP_CONNECT, NULL, "8.8.8.8:5353"));
	ck_assert(offload(UDP_CONNECT, NULL, "8.9.8.8:5353"));
	/* They survive a reload of the file. */
	ck_assert_int_eq(rules_init(), 0);
	ck_assert(!offload(UDP_CONNECT, NULL, "8.8.8.8:5353"));

	ck_assert_int_eq(rules_add_line(""), 0);
	ck_assert_int_eq(rules_add_line("# nothing"), 0);
	ck_assert_int_eq(rules_add_line(NULL), -EINVAL);
	ck_assert_int_eq(rules_add_line("use os udp_connect *:0"), -EINVAL);
	ck_assert(strstr(logged(), "add_conf_rule: port '0' out of range"));
	ck_assert_int_eq(rules_add_line("application-id x *"), -EINVAL);
	ck_assert(strstr(logged(), "application-id cannot be added at run time"));

	/* At debug level every decision says what decided it. */
	log_set_level(SHIM_LOG_DEBUG);
	ck_assert(!offload(UDP_CONNECT, "10.0.0.1:4000", "8.8.8.8:53"));
	ck_assert_msg(strstr(logged(), "rules: udp_connect local 10.0.0.1:4000 remote 8.8.8.8:53: "
				       "not offloaded by run-time rule 2: use os udp_connect "
				       "8.8.0.0/16:*"), "%s", logged());
	ck_assert(!offload(UDP_CONNECT, NULL, "1.1.1.1:53"));
	ck_assert(strstr(logged(), "rules: udp_connect local 0.0.0.0:0 remote 1.1.1.1:53: "
				   "not offloaded by "));
	ck_assert(strstr(logged(), ":1: use os udp_connect *:53"));
	ck_assert(offload(TCP_SERVER, "0.0.0.0:80", NULL));
	ck_assert(strstr(logged(), "rules: tcp_server local 0.0.0.0:80 remote 0.0.0.0:0: "
				   "offloaded (no rule matched)"));
}
END_TEST

/* Readers never lock and never see a half-made rule: while one thread adds rules,
 * others look up; a port once seen as "os" must stay so, and at the end every
 * added rule is in force. */
#define RACE_RULES 2000
#define RACE_READERS 3

static int race_done, race_started;

static void *race_reader(void *arg)
{
	static __thread bool seen[RACE_RULES];
	unsigned long lookups = 0;
	struct sockaddr_in r = { .sin_family = AF_INET };

	while (!__atomic_load_n(&race_done, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < RACE_RULES; i += 97) {
			bool os;

			r.sin_port = htons((uint16_t)(10000 + i));
			os = !rules_offload(UDP_SENDER, NULL, &r);
			if (seen[i] && !os)
				return (void *)1;
			seen[i] |= os;
			lookups++;
		}
		if (lookups == (RACE_RULES + 96) / 97)
			__atomic_add_fetch(&race_started, 1, __ATOMIC_RELEASE);
	}
	return lookups ? NULL : (void *)2;
}

START_TEST(test_lib_concurrent)
{
	pthread_t th[RACE_READERS];
	char line[64];
	void *res;

	shim_params.config_file = "";
	ck_assert_int_eq(rules_init(), 0);
	race_done = 0;
	for (int i = 0; i < RACE_READERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, race_reader, NULL), 0);
	while (__atomic_load_n(&race_started, __ATOMIC_ACQUIRE) < RACE_READERS)
		sched_yield();
	for (int i = 0; i < RACE_RULES; i++) {
		if (i % 16 == 0)
			sched_yield();
		snprintf(line, sizeof(line), "use os udp_sender *:%d", 10000 + i);
		ck_assert_int_eq(rules_add_line(line), 0);
		if (i % 500 == 0)
			ck_assert_int_eq(rules_init(), 0);
	}
	__atomic_store_n(&race_done, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < RACE_READERS; i++) {
		ck_assert_int_eq(pthread_join(th[i], &res), 0);
		ck_assert_ptr_null(res);
	}
	for (int i = 0; i < RACE_RULES; i++) {
		struct sockaddr_in r = { .sin_family = AF_INET, .sin_port = htons(10000 + i) };

		ck_assert(!rules_offload(UDP_SENDER, NULL, &r));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rules_match");
	TCase *tc = tcase_create("match");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_decide, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_covers);
	tcase_add_test(tc, test_prefix_exhaustive);
	suite_add_tcase(s, tc);

	/* Each test in its own forked process, so the library's global rules start empty. */
	tc = tcase_create("library");
	tcase_add_checked_fixture(tc, lib_setup, lib_teardown);
	tcase_add_test(tc, test_lib_file);
	tcase_add_test(tc, test_lib_errors_logged);
	tcase_add_test(tc, test_lib_missing_files);
	tcase_add_test(tc, test_lib_add_line);
	tcase_add_test(tc, test_lib_concurrent);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
