/* test_rules.c — the rules parser: every grammar form (table of lines and the rule
 * they normalise to), every error (table of lines and the message they must give),
 * sections (default, repeated, broken), warnings for dead sections and rules, file
 * loading, run-time lines, and a little fuzzing with random bytes and long lines. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rules.h"

#define DIAG_MAX 64

struct diags {
	int n;
	struct {
		unsigned line;
		bool error;
		char msg[400];
		char source[64];
	} d[DIAG_MAX];
};

static void collect(void *ctx, const struct rule_diag *d)
{
	struct diags *c = ctx;

	if (c->n < DIAG_MAX) {
		c->d[c->n].line = d->line;
		c->d[c->n].error = d->error;
		snprintf(c->d[c->n].msg, sizeof(c->d[c->n].msg), "%s", d->msg);
		snprintf(c->d[c->n].source, sizeof(c->d[c->n].source), "%s", d->source);
	}
	c->n++;
}

static struct rule_set *parse(const char *text, struct diags *c)
{
	struct rule_set *set;

	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(ruleset_new(&set, "test.conf"), 0);
	ck_assert_int_eq(ruleset_parse(set, text, strlen(text), collect, c), 0);
	return set;
}

/* ---- every grammar form: input line -> canonical rule ---- */

static const struct {
	const char *in, *out;
	enum shim_role role;
	bool offload;
	int warnings;
} good[] = {
	{ "use shim tcp_client 192.168.1.0/24:*", "use shim tcp_client 192.168.1.0/24:*",
	  SHIM_ROLE_TCP_CLIENT, true, 0 },
	{ "use vma tcp_client 192.168.1.0/24:*:*:*", "use shim tcp_client 192.168.1.0/24:*:*:*",
	  SHIM_ROLE_TCP_CLIENT, true, 0 },
	{ "use os tcp_server *:5001", "use os tcp_server *:5001", SHIM_ROLE_TCP_SERVER, false, 0 },
	{ "use os udp_connect *:53", "use os udp_connect *:53", SHIM_ROLE_UDP_CONNECT, false, 0 },
	{ "use os udp_sender 10.0.0.1:1000-2000", "use os udp_sender 10.0.0.1:1000-2000",
	  SHIM_ROLE_UDP_SENDER, false, 0 },
	{ "use shim udp_receiver 239.1.1.0/24:*", "use shim udp_receiver 239.1.1.0/24:*",
	  SHIM_ROLE_UDP_RECEIVER, true, 0 },
	{ "use os udp_connect 1.2.3.4:80:5.6.7.0/24:1024-65535",
	  "use os udp_connect 1.2.3.4:80:5.6.7.0/24:1024-65535", SHIM_ROLE_UDP_CONNECT, false, 0 },
	{ "  \t use os tcp_client 1.2.3.4:80:5.6.7.8:9   # trailing comment",
	  "use os tcp_client 1.2.3.4:80:5.6.7.8:9", SHIM_ROLE_TCP_CLIENT, false, 0 },
	{ "USE OS TCP_CLIENT *:*", "use os tcp_client *:*", SHIM_ROLE_TCP_CLIENT, false, 0 },
	{ "Use Vma Udp_Sender *:*", "use shim udp_sender *:*", SHIM_ROLE_UDP_SENDER, true, 0 },
	{ "use os tcp_client 1.2.3.4/32:80", "use os tcp_client 1.2.3.4:80",
	  SHIM_ROLE_TCP_CLIENT, false, 0 },
	{ "use os tcp_client 0.0.0.0/0:80", "use os tcp_client *:80", SHIM_ROLE_TCP_CLIENT, false, 0 },
	{ "use os tcp_server 0.0.0.0:80", "use os tcp_server 0.0.0.0:80",
	  SHIM_ROLE_TCP_SERVER, false, 0 },
	{ "use os tcp_client 10.1.2.3/8:80", "use os tcp_client 10.0.0.0/8:80",
	  SHIM_ROLE_TCP_CLIENT, false, 1 },
	{ "use os udp_connect *:53\r", "use os udp_connect *:53", SHIM_ROLE_UDP_CONNECT, false, 0 },
	{ "use os udp_connect *:1-65535", "use os udp_connect *:1-65535",
	  SHIM_ROLE_UDP_CONNECT, false, 0 },
	{ "use os udp_connect *:007", "use os udp_connect *:7", SHIM_ROLE_UDP_CONNECT, false, 0 },
	{ "use os udp_connect *:65535-65535", "use os udp_connect *:65535",
	  SHIM_ROLE_UDP_CONNECT, false, 0 },
	{ "use os tcp_client 255.255.255.255:1", "use os tcp_client 255.255.255.255:1",
	  SHIM_ROLE_TCP_CLIENT, false, 0 },
	{ "use os tcp_client *:*#comment right after", "use os tcp_client *:*",
	  SHIM_ROLE_TCP_CLIENT, false, 0 },
	/* VMA accepts a second address:port for every role; where the role has no
	 * second side it is ignored, with a warning here. */
	{ "use os tcp_server 1.2.3.4:80:5.6.7.8:90", "use os tcp_server 1.2.3.4:80",
	  SHIM_ROLE_TCP_SERVER, false, 1 },
	{ "use os udp_receiver *:80:*:*", "use os udp_receiver *:80", SHIM_ROLE_UDP_RECEIVER, false, 1 },
	{ "use os udp_sender 1.2.3.4:80:*:*", "use os udp_sender 1.2.3.4:80", SHIM_ROLE_UDP_SENDER,
	  false, 1 },
};

START_TEST(test_good_forms)
{
	struct diags c;
	struct rule_set *set = parse(good[_i].in, &c);
	char out[160];

	ck_assert_msg(set->errors == 0, "%s: %s", good[_i].in, c.d[0].msg);
	ck_assert_int_eq(set->warnings, good[_i].warnings);
	ck_assert_uint_eq(set->nsections, 1);
	ck_assert_uint_eq(set->sections[0].nrules, 1);
	rule_format(&set->sections[0].rules[0], out, sizeof(out));
	ck_assert_str_eq(out, good[_i].out);
	ck_assert_int_eq(set->sections[0].rules[0].role, good[_i].role);
	ck_assert_int_eq(set->sections[0].rules[0].offload, good[_i].offload);
	ck_assert_uint_eq(set->sections[0].rules[0].line, 1);
	ruleset_free(set);

	/* The canonical form parses back to itself. */
	set = parse(out, &c);
	ck_assert_int_eq(set->errors + set->warnings, 0);
	char again[160];
	rule_format(&set->sections[0].rules[0], again, sizeof(again));
	ck_assert_str_eq(again, out);
	ruleset_free(set);
}
END_TEST

/* Which side of the rule is local follows VMA: servers and receivers name the local
 * side; clients, senders and connected UDP name the remote side, then the local one. */
START_TEST(test_sides)
{
	struct diags c;
	struct rule_set *set = parse("use os tcp_server 1.1.1.1:1\n"
				     "use os udp_receiver 2.2.2.2:2\n"
				     "use os udp_sender 3.3.3.3:3\n"
				     "use os tcp_client 4.4.4.4:4:5.5.5.5:5\n"
				     "use os udp_connect 6.6.6.6:6\n", &c);
	const struct shim_rule *r = set->sections[0].rules;

	ck_assert_int_eq(set->errors, 0);
	ck_assert_uint_eq(r[0].local.addr, 0x01010101);
	ck_assert_uint_eq(r[0].local.port_lo, 1);
	ck_assert_uint_eq(r[0].remote.prefix, 0);
	ck_assert_uint_eq(r[1].local.addr, 0x02020202);
	ck_assert_uint_eq(r[1].remote.prefix, 0);
	ck_assert_uint_eq(r[2].remote.addr, 0x03030303);
	ck_assert_uint_eq(r[2].local.prefix, 0);
	ck_assert_uint_eq(r[3].remote.addr, 0x04040404);
	ck_assert_uint_eq(r[3].remote.port_lo, 4);
	ck_assert_uint_eq(r[3].local.addr, 0x05050505);
	ck_assert_uint_eq(r[3].local.port_hi, 5);
	ck_assert(r[3].two_eps);
	ck_assert_uint_eq(r[4].remote.addr, 0x06060606);
	ck_assert_uint_eq(r[4].local.prefix, 0);
	ck_assert_uint_eq(r[4].local.port_lo, 0);
	ck_assert_uint_eq(r[4].local.port_hi, 65535);
	ruleset_free(set);
}
END_TEST

/* ---- every error: input line -> message (substring) ---- */

static const struct {
	const char *in, *msg;
} bad[] = {
	{ "use", "use needs a transport, a role and an address" },
	{ "use fast tcp_client *:*", "unknown transport 'fast' (expected shim, vma or os)" },
	{ "use sdp tcp_client *:*", "unknown transport 'sdp'" },
	{ "use tcp_client *:*", "missing transport before 'tcp_client'" },
	{ "use os", "missing role after 'os'" },
	{ "use os tcp *:*", "unknown role 'tcp' (expected tcp_server, tcp_client" },
	{ "use os tcp_client", "missing address:port after 'tcp_client'" },
	{ "use os tcp_client *:* extra", "unexpected 'extra' after the address" },
	{ "use os tcp_client 1.2.3.4 :80", "unexpected ':80' after the address (no blanks" },
	{ "use os tcp_client 1.2.3.4", "expected address:port, got '1.2.3.4'" },
	{ "use os tcp_client *", "expected address:port, got '*'" },
	{ "use os tcp_client 1.2.3.4:80:5.6.7.8", "'1.2.3.4:80:5.6.7.8' has three parts" },
	{ "use os tcp_client 1.2.3.4::80", "has three parts" },
	{ "use os tcp_client 1:2:3:4:5", "too many ':' in '1:2:3:4:5'" },
	{ "use os tcp_client [::1]:80", "IPv6 addresses are not supported" },
	{ "use os tcp_client ::1:80", "IPv6 addresses are not supported" },
	{ "use os tcp_server *:80:1.2.3:*", "bad address '1.2.3'" },
	{ "use os udp_sender *:80:*:0", "port '0' out of range" },
	{ "use os tcp_client :80", "missing address before ':' (use * for any)" },
	{ "use os tcp_client 1.2.3.4:80::80", "missing address before ':'" },
	{ "use os tcp_client 1.2.3:80", "bad address '1.2.3' (expected a.b.c.d" },
	{ "use os tcp_client 1.2.3.4.5:80", "bad address '1.2.3.4.5'" },
	{ "use os tcp_client 1..3.4:80", "bad address '1..3.4'" },
	{ "use os tcp_client 0001.2.3.4:80", "bad address" },
	{ "use os tcp_client -1.2.3.4:80", "bad address" },
	{ "use os tcp_client host.example:80", "bad address 'host.example'" },
	{ "use os tcp_client */8:80", "bad address '*/8'" },
	{ "use os tcp_client **:80", "bad address '**'" },
	{ "use os tcp_client 1.2.3.256:80", "address '1.2.3.256' has a number over 255" },
	{ "use os tcp_client 1.2.3.4/33:80", "bad prefix length in '1.2.3.4/33'" },
	{ "use os tcp_client 1.2.3.4/:80", "bad prefix length" },
	{ "use os tcp_client 1.2.3.4/x:80", "bad prefix length" },
	{ "use os tcp_client 1.2.3.4/24/8:80", "bad prefix length" },
	{ "use os tcp_client 1.2.3.4:", "missing port after ':' (use * for any)" },
	{ "use os tcp_client *:*:1.2.3.4:", "missing port after ':'" },
	{ "use os tcp_client *:0", "port '0' out of range (ports are 1 to 65535)" },
	{ "use os tcp_client *:65536", "port '65536' out of range" },
	{ "use os tcp_client *:0-80", "port '0-80' out of range" },
	{ "use os tcp_client *:99999999999999999999", "out of range" },
	{ "use os tcp_client *:80-", "bad port '80-'" },
	{ "use os tcp_client *:-80", "bad port '-80'" },
	{ "use os tcp_client *:80-90-100", "bad port '80-90-100'" },
	{ "use os tcp_client *:http", "bad port 'http' (expected a port, a range" },
	{ "use os tcp_client *:**", "bad port '**'" },
	{ "use os tcp_client *:90-80", "port range '90-80' runs backwards" },
	{ "use os tcp_client 1.2.3.4:80\x01", "bad port '80\\x01'" },
	{ "use os tcp_client *:*:bad:*", "bad address 'bad'" },
	{ "application-id", "application-id needs a program name and an application id" },
	{ "application-id foo", "application-id needs a program name and an application id" },
	{ "application-id foo B1 extra", "unexpected 'extra' after application-id foo B1" },
	{ "application-id fo\x7fo B1", "'fo\\x7fo' has a non-printable character" },
	{ "application-id foo \x80", "'\\x80' has a non-printable character" },
	{ "frobnicate", "unknown statement 'frobnicate' (expected application-id or use)" },
	{ "application_id foo *", "unknown statement 'application_id'" },
	{ "uses os tcp_client *:*", "unknown statement 'uses'" },
	{ "\x01\x02", "unknown statement '\\x01\\x02'" },
	{ "use os tcp_client *:*\0 hidden", "line contains a NUL byte" },
};

START_TEST(test_errors)
{
	struct diags c;
	struct rule_set *set;
	const char *in = bad[_i].in;
	/* The NUL case: the text goes on past the first NUL. */
	size_t len = strlen(in) + (strstr(bad[_i].msg, "NUL") ? 1 + strlen(in + strlen(in) + 1) : 0);

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(ruleset_new(&set, "test.conf"), 0);
	ck_assert_int_eq(ruleset_parse(set, in, len, collect, &c), 0);
	ck_assert_msg(set->errors == 1, "'%s': %u errors", in, set->errors);
	ck_assert_int_ge(c.n, 1);
	ck_assert(c.d[0].error);
	ck_assert_uint_eq(c.d[0].line, 1);
	ck_assert_str_eq(c.d[0].source, "test.conf");
	ck_assert_msg(strstr(c.d[0].msg, bad[_i].msg), "'%s': got \"%s\", want \"%s\"", in,
		      c.d[0].msg, bad[_i].msg);
	/* The bad line is skipped: no rule came of it. */
	for (size_t i = 0; i < set->nsections; i++)
		if (!set->sections[i].broken)
			ck_assert_uint_eq(set->sections[i].nrules, 0);
	ruleset_free(set);

	/* The same line through the run-time path is refused too. */
	if ((strncmp(in, "use ", 4) == 0 || !strcmp(in, "use")) && !strstr(bad[_i].msg, "NUL")) {
		struct shim_rule r;
		char err[256];

		ck_assert_int_eq(rule_parse_line(in, 1, &r, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, bad[_i].msg), "run-time '%s': got \"%s\"", in, err);
	}
}
END_TEST

/* Messages quote input safely: cut to a bounded length and never raw bytes. */
START_TEST(test_error_quoting)
{
	struct diags c;
	char *line = malloc(20001);
	struct rule_set *set;

	memset(line, 'a', 20000);
	line[20000] = 0;
	set = parse(line, &c);
	ck_assert_int_eq(set->errors, 1);
	ck_assert(strstr(c.d[0].msg, "unknown statement 'aaaa"));
	ck_assert(strstr(c.d[0].msg, "...'"));
	ck_assert_uint_lt(strlen(c.d[0].msg), 160);
	ruleset_free(set);
	free(line);
}
END_TEST

/* ---- files: comments, blank lines, line numbers, sections ---- */

START_TEST(test_line_numbers)
{
	struct diags c;
	struct rule_set *set = parse("# comment\n"
				     "\n"
				     "   \t\n"
				     "   # indented comment\n"
				     "use os tcp_client *:80\n"
				     "bogus\n"
				     "\tuse os tcp_client *:81", &c);

	ck_assert_int_eq(set->errors, 1);
	ck_assert_uint_eq(c.d[0].line, 6);
	ck_assert_uint_eq(set->nsections, 1);
	ck_assert_uint_eq(set->sections[0].nrules, 2);
	ck_assert_uint_eq(set->sections[0].rules[0].line, 5);
	ck_assert_uint_eq(set->sections[0].rules[1].line, 7);
	ruleset_free(set);
}
END_TEST

START_TEST(test_empty_inputs)
{
	static const char *const texts[] = { "", "\n", "# only a comment", "\n\n  \n#x\n\t\n",
					     "\r\n" };
	struct diags c;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct rule_set *set = parse(texts[i], &c);

		ck_assert_int_eq(set->errors + set->warnings, 0);
		ck_assert_uint_eq(set->nsections, 0);
		ruleset_free(set);
	}
}
END_TEST

START_TEST(test_sections)
{
	struct diags c;
	struct rule_set *set = parse("use os udp_connect *:53\n"		/* 1: default */
				     "application-id tcp-lat B1\n"	/* 2 */
				     "use vma tcp_client 192.168.1.0/24:*:*:*\n"
				     "use os tcp_server *:5001\n"
				     "application-id db2* *\n"		/* 5 */
				     "application-id tcp-lat B1\n"	/* 6: back to line 2 */
				     "use os udp_sender *:*\n", &c);
	const struct rule_section *s = set->sections;

	ck_assert_int_eq(set->errors, 0);
	ck_assert_uint_eq(set->nsections, 3);
	ck_assert_str_eq(s[0].program, "*");
	ck_assert_str_eq(s[0].app_id, "*");
	ck_assert_uint_eq(s[0].line, 0);
	ck_assert_uint_eq(s[0].nrules, 1);
	ck_assert_str_eq(s[1].program, "tcp-lat");
	ck_assert_str_eq(s[1].app_id, "B1");
	ck_assert_uint_eq(s[1].line, 2);
	ck_assert_uint_eq(s[1].nrules, 3);
	ck_assert_uint_eq(s[1].rules[2].line, 7);
	ck_assert_str_eq(s[2].program, "db2*");
	ck_assert_uint_eq(s[2].nrules, 0);
	/* The default section matches every program first: later sections are dead. */
	ck_assert_int_eq(set->warnings, 2);
	ck_assert_uint_eq(c.d[0].line, 2);
	ck_assert(strstr(c.d[0].msg, "application-id tcp-lat B1 never applies: the rules "
				     "before the first application-id (from line 1)"));
	ck_assert_uint_eq(c.d[1].line, 5);
	ruleset_free(set);
}
END_TEST

/* A bad application-id line must not let its rules fall into the section above. */
START_TEST(test_broken_section)
{
	struct diags c;
	struct rule_set *set = parse("application-id a *\n"
				     "use os tcp_client *:1\n"
				     "application-id b\n"
				     "use os tcp_client *:2\n"
				     "use os tcp_client *:3\n"
				     "application-id c *\n"
				     "use os tcp_client *:4\n", &c);

	ck_assert_int_eq(set->errors, 1);
	ck_assert(strstr(c.d[0].msg, "the rules up to the next application-id are ignored"));
	ck_assert_uint_eq(set->nsections, 3);
	ck_assert_uint_eq(set->sections[0].nrules, 1);
	ck_assert(set->sections[1].broken);
	ck_assert_uint_eq(set->sections[1].nrules, 2);
	ck_assert_uint_eq(set->sections[2].nrules, 1);
	ck_assert_ptr_null(ruleset_section(set, "b", NULL));
	ck_assert_ptr_eq(ruleset_section(set, "c", NULL), &set->sections[2]);
	ruleset_free(set);
}
END_TEST

START_TEST(test_warnings)
{
	struct diags c;
	struct rule_set *set = parse("application-id * *\n"
				     "use os tcp_client 10.0.0.0/8:*\n"
				     "use os tcp_client 10.1.0.0/16:80\n"	/* dead: line 2 */
				     "use os tcp_server 10.1.0.0/16:80\n"	/* other role: fine */
				     "use shim tcp_client 11.0.0.0/8:80-90\n"
				     "use os tcp_client 11.0.0.1:85:1.2.3.4:*\n" /* dead: line 5 */
				     "use os tcp_client 11.0.0.1:95\n"		/* fine */
				     "log min-level 3\n"
				     "application-id nginx *\n"			/* dead: line 1 */
				     "application-id /usr/bin/redis *\n", &c);

	ck_assert_int_eq(set->errors, 0);
	ck_assert_int_eq(set->warnings, 6);
	ck_assert_uint_eq(c.d[0].line, 8);
	ck_assert(strstr(c.d[0].msg, "'log' statements are ignored"));
	ck_assert_uint_eq(c.d[1].line, 10);
	ck_assert(strstr(c.d[1].msg, "contains '/'"));
	ck_assert_uint_eq(c.d[2].line, 9);
	ck_assert(strstr(c.d[2].msg, "application-id nginx * never applies: the section at "
				     "line 1 (application-id * *) matches first"));
	ck_assert_uint_eq(c.d[3].line, 10);
	ck_assert_uint_eq(c.d[4].line, 3);
	ck_assert(strstr(c.d[4].msg, "rule never matches: line 2 (use os tcp_client "
				     "10.0.0.0/8:*) comes first"));
	ck_assert_uint_eq(c.d[5].line, 6);
	ck_assert(!c.d[5].error);
	ruleset_free(set);
}
END_TEST

/* A huge generated file is parsed whole, but the search for dead rules stops at a
 * budget (one warning) so start-up stays quick. */
START_TEST(test_many_rules)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	struct rule_set *set;
	struct diags c;

	for (int i = 0; i < 5000; i++)
		len += (size_t)snprintf(buf + len, cap - len, "use os tcp_client 10.%d.%d.0/24:%d\n",
					i / 256, i % 256, 1 + i);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(ruleset_new(&set, "big"), 0);
	ck_assert_int_eq(ruleset_parse(set, buf, len, collect, &c), 0);
	ck_assert_int_eq(set->errors, 0);
	ck_assert_uint_eq(set->sections[0].nrules, 5000);
	ck_assert_int_eq(set->warnings, 1);
	ck_assert(strstr(c.d[0].msg, "too many rules to look for rules that never match"));
	ruleset_free(set);
	free(buf);
}
END_TEST

/* ---- loading files ---- */

static char tmp_path[64];

static void write_tmp(const char *text, size_t len)
{
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/shim-rules-test.%d", (int)getpid());
	fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

START_TEST(test_load)
{
	struct diags c = { 0 };
	struct rule_set *set = NULL;
	const char *text = "use os udp_connect *:53\nnonsense\n";

	write_tmp(text, strlen(text));
	ck_assert_int_eq(ruleset_load(&set, tmp_path, collect, &c), 0);
	ck_assert_str_eq(set->source, tmp_path);
	ck_assert_int_eq(set->errors, 1);
	ck_assert_str_eq(c.d[0].source, tmp_path);
	ck_assert_uint_eq(c.d[0].line, 2);
	ck_assert_uint_eq(set->sections[0].nrules, 1);
	ruleset_free(set);

	ck_assert_int_eq(truncate(tmp_path, RULES_FILE_MAX + 1), 0);
	ck_assert_int_eq(ruleset_load(&set, tmp_path, collect, &c), -EFBIG);
	unlink(tmp_path);
	ck_assert_int_eq(ruleset_load(&set, tmp_path, collect, &c), -ENOENT);
	ck_assert_int_eq(ruleset_load(&set, "/tmp", collect, &c), -EISDIR);
}
END_TEST

/* ---- run-time lines ---- */

START_TEST(test_parse_line)
{
	struct shim_rule r;
	char err[256], out[128];

	ck_assert_int_eq(rule_parse_line("", 1, &r, err, sizeof(err)), 1);
	ck_assert_int_eq(rule_parse_line("   # just a comment", 1, &r, err, sizeof(err)), 1);
	ck_assert_int_eq(rule_parse_line("use os udp_connect *:53", 7, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.line, 7);
	rule_format(&r, out, sizeof(out));
	ck_assert_str_eq(out, "use os udp_connect *:53");
	ck_assert_int_eq(rule_parse_line("application-id foo *", 1, &r, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "application-id cannot be added at run time"));
	ck_assert_int_eq(rule_parse_line("log min-level 3", 1, &r, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "expected a 'use' rule"));
	ck_assert_int_eq(rule_parse_line("use os udp_connect *:53\nuse os udp_connect *:54", 1, &r,
					 err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "single line"));
}
END_TEST

START_TEST(test_sockaddr)
{
	struct sockaddr_in sa;

	ck_assert_int_eq(rules_parse_sockaddr("198.18.0.2:80", &sa), 0);
	ck_assert_uint_eq(ntohl(sa.sin_addr.s_addr), 0xc6120002);
	ck_assert_uint_eq(ntohs(sa.sin_port), 80);
	ck_assert_int_eq(rules_parse_sockaddr("*:0", &sa), 0);
	ck_assert_uint_eq(sa.sin_addr.s_addr, 0);
	ck_assert_int_eq(rules_parse_sockaddr("0.0.0.0:5000", &sa), 0);
	ck_assert_int_eq(rules_parse_sockaddr("198.18.0.2", &sa), -EINVAL);
	ck_assert_int_eq(rules_parse_sockaddr("198.18.0.0/24:80", &sa), -EINVAL);
	ck_assert_int_eq(rules_parse_sockaddr("198.18.0.2:65536", &sa), -EINVAL);
	ck_assert_int_eq(rules_parse_sockaddr("198.18.0.2:", &sa), -EINVAL);
	ck_assert_int_eq(rules_parse_sockaddr("198.18.0.2:x", &sa), -EINVAL);
	ck_assert_int_eq(rules_parse_sockaddr("host:80", &sa), -EINVAL);
	ck_assert_int_eq(rules_parse_sockaddr(":80", &sa), -EINVAL);
}
END_TEST

START_TEST(test_role_names)
{
	enum shim_role r;

	for (int i = 0; i < SHIM_ROLE_COUNT; i++) {
		const char *n = shim_role_name(i);

		ck_assert_int_eq(shim_role_parse(n, strlen(n), &r), 0);
		ck_assert_int_eq(r, i);
	}
	ck_assert_int_eq(shim_role_parse("tcp", 3, &r), -EINVAL);
	ck_assert_int_eq(shim_role_parse("tcp_clientx", 11, &r), -EINVAL);
	ck_assert_str_eq(shim_role_name(99), "?");
}
END_TEST

/* ---- fuzz: random bytes, random grammar fragments, huge lines ---- */

static unsigned rnd_state = 12345;

static unsigned rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void null_diag(void *ctx, const struct rule_diag *d)
{
	/* Every message must be printable and bounded. */
	for (const char *p = d->msg; *p; p++)
		ck_assert((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	ck_assert_uint_lt(strlen(d->msg), 400);
	(*(unsigned *)ctx)++;
}

START_TEST(test_fuzz)
{
	static const char *const frags[] = {
		"use", "os", "shim", "vma", "tcp_client", "tcp_server", "udp_sender",
		"udp_receiver", "udp_connect", "application-id", "*", ":", "*:*", "1.2.3.4",
		"/24", "/", "-", "80", "65535", "0", "#", "\n", " ", "\t", "\r", ":*:*",
		"255.255.255.255", "1.2.3.4:80:5.6.7.8:90", "\x00", "\xff", "log",
	};
	size_t len = 1 << 16;
	char *buf = malloc(len);
	unsigned n = 0;

	for (int round = 0; round < 40; round++) {
		struct rule_set *set;
		size_t o = 0;

		if (round % 2) {
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)(rnd() & 0xff);
		} else {
			while (o < len) {
				const char *f = frags[rnd() % (sizeof(frags) / sizeof(frags[0]))];
				size_t fl = f[0] ? strlen(f) : 1;

				if (o + fl > len)
					break;
				memcpy(buf + o, f, fl);
				o += fl;
				if (rnd() % 3 == 0 && o < len)
					buf[o++] = ' ';
			}
			len = o ? o : len;
		}
		ck_assert_int_eq(ruleset_new(&set, "fuzz"), 0);
		ck_assert_int_eq(ruleset_parse(set, buf, len, null_diag, &n), 0);
		/* Whatever it kept must be usable. */
		for (int role = 0; role < SHIM_ROLE_COUNT; role++) {
			struct rule_verdict v;

			ruleset_decide(set, "prog", NULL, role, NULL, NULL, &v);
		}
		ruleset_free(set);
		len = 1 << 16;
	}
	ck_assert_uint_gt(n, 0);

	/* One line of a megabyte, valid prefix and endless address. */
	len = 1 << 20;
	buf = realloc(buf, len);
	memset(buf, '1', len);
	memcpy(buf, "use os tcp_client ", 18);
	{
		struct rule_set *set;
		struct diags c;

		memset(&c, 0, sizeof(c));
		ck_assert_int_eq(ruleset_new(&set, "long"), 0);
		ck_assert_int_eq(ruleset_parse(set, buf, len, collect, &c), 0);
		ck_assert_int_eq(set->errors, 1);
		ck_assert(strstr(c.d[0].msg, "expected address:port"));
		ruleset_free(set);
	}
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rules_parse");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_good_forms, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_test(tc, test_sides);
	tcase_add_loop_test(tc, test_errors, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_error_quoting);
	tcase_add_test(tc, test_line_numbers);
	tcase_add_test(tc, test_empty_inputs);
	tcase_add_test(tc, test_sections);
	tcase_add_test(tc, test_broken_section);
	tcase_add_test(tc, test_warnings);
	tcase_add_test(tc, test_many_rules);
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_parse_line);
	tcase_add_test(tc, test_sockaddr);
	tcase_add_test(tc, test_role_names);
	tcase_add_test(tc, test_fuzz);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
