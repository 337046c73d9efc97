/* shim_rules — lint a rules file (/etc/shim.conf, libvma.conf grammar) and explain
 * which rule decides whether a given socket is offloaded. It uses the library's own
 * parser and matcher (src/core/rules_*.c), so its answers are the library's answers.
 *   shim_rules check FILE
 *   shim_rules explain --role ROLE --remote ADDR:PORT [--local ADDR:PORT] ... [FILE] */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rules.h"

#define DEFAULT_FILE "/etc/shim.conf"
#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: shim_rules check FILE\n"
	"       shim_rules explain --role ROLE [--remote ADDR:PORT] [--local ADDR:PORT]\n"
	"                          [--program NAME] [--app-id ID] [FILE]\n"
	"       shim_rules -h | --help | -V | --version\n"
	"\n"
	"check    parse FILE; print each error as FILE:LINE: message and each warning as\n"
	"         FILE:LINE: warning: message (on stderr), then the rules as understood\n"
	"         (on stdout). Exits 1 if there is any error, 0 otherwise.\n"
	"explain  say whether libshim offloads a socket (shim) or leaves it to the kernel\n"
	"         (os), and which section and rule of FILE decide it.\n"
	"         ROLE is tcp_server, tcp_client, udp_sender, udp_receiver or udp_connect.\n"
	"         tcp_server and udp_receiver are decided by --local (the bound address);\n"
	"         the others by --remote, and tcp_client and udp_connect also by --local\n"
	"         (unbound when not given). ADDR is a.b.c.d or *, PORT a number.\n"
	"         --program is the program's short name (default: none, so only sections\n"
	"         for every program apply); --app-id defaults to $SHIM_APPLICATION_ID.\n"
	"         FILE defaults to $SHIM_CONFIG_FILE, else " DEFAULT_FILE ".\n"
	"\n"
	"Exit status: 0 success, 1 errors in FILE or FILE unreadable, 2 bad arguments.\n";

static const char *prog = "shim_rules";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s -h' for help.\n", prog);
	return EXIT_USAGE;
}

static void print_diag(void *ctx, const struct rule_diag *d)
{
	bool *quiet_warnings = ctx;

	if (d->error)
		fprintf(stderr, "%s:%u: %s\n", d->source, d->line, d->msg);
	else if (!*quiet_warnings)
		fprintf(stderr, "%s:%u: warning: %s\n", d->source, d->line, d->msg);
}

/* ---- check ---- */

static void describe_ep(const struct rule_ep *ep, char *buf, size_t len)
{
	char a[40], p[24];

	rule_ep_format(&(struct rule_ep){ ep->addr, ep->prefix, 1, 1 }, a, sizeof(a));
	*strrchr(a, ':') = 0;
	if (ep->port_lo == 0 && ep->port_hi == 65535)
		snprintf(p, sizeof(p), "any port");
	else if (ep->port_lo == ep->port_hi)
		snprintf(p, sizeof(p), "port %u", ep->port_lo);
	else
		snprintf(p, sizeof(p), "ports %u-%u", ep->port_lo, ep->port_hi);
	snprintf(buf, len, "%s %s", ep->prefix ? a : "any address", p);
}

/* "tcp_client to 10.0.0.0/8 any port, from any address any port" */
static void describe_rule(const struct shim_rule *r, char *buf, size_t len)
{
	char first[64], second[64];

	switch (r->role) {
	case SHIM_ROLE_TCP_SERVER:
	case SHIM_ROLE_UDP_RECEIVER:
		describe_ep(&r->local, first, sizeof(first));
		snprintf(buf, len, "%s on %s", shim_role_name(r->role), first);
		break;
	case SHIM_ROLE_UDP_SENDER:
		describe_ep(&r->remote, first, sizeof(first));
		snprintf(buf, len, "%s to %s", shim_role_name(r->role), first);
		break;
	default:
		describe_ep(&r->remote, first, sizeof(first));
		describe_ep(&r->local, second, sizeof(second));
		snprintf(buf, len, "%s to %s%s%s", shim_role_name(r->role), first,
			 r->two_eps ? ", from " : "", r->two_eps ? second : "");
		break;
	}
}

static void print_rule(const struct shim_rule *r, bool ignored)
{
	char text[128], what[192];

	rule_format(r, text, sizeof(text));
	describe_rule(r, what, sizeof(what));
	printf("%s%-*s # line %u: %s: %s\n", ignored ? "#   " : "", ignored ? 40 : 44, text,
	       r->line, what,
	       ignored ? "ignored" : r->offload ? "offloaded" : "kernel");
}

static void print_set(const struct rule_set *set)
{
	size_t nrules = 0;

	for (size_t i = 0; i < set->nsections; i++)
		nrules += set->sections[i].nrules;
	printf("# %s: %zu section%s, %zu rule%s; %u error%s, %u warning%s\n", set->source,
	       set->nsections, set->nsections == 1 ? "" : "s", nrules, nrules == 1 ? "" : "s",
	       set->errors, set->errors == 1 ? "" : "s", set->warnings,
	       set->warnings == 1 ? "" : "s");
	if (!set->nsections)
		printf("# no rules: every socket is offloaded\n");
	for (size_t i = 0; i < set->nsections; i++) {
		const struct rule_section *s = &set->sections[i];

		if (s->broken)
			printf("# application-id at line %u is invalid: its rules are ignored\n",
			       s->line);
		else if (s->line == 0)
			printf("# rules before the first application-id: a section for every "
			       "program and application id\n");
		else {
			char head[160];

			snprintf(head, sizeof(head), "application-id %s %s", s->program, s->app_id);
			printf("%-44s # line %u\n", head, s->line);
		}
		if (!s->nrules && !s->broken)
			printf("# (no rules: every socket of these programs is offloaded)\n");
		for (size_t k = 0; k < s->nrules; k++)
			print_rule(&s->rules[k], s->broken);
	}
}

static int cmd_check(int argc, char **argv)
{
	struct rule_set *set;
	bool quiet = false;
	int rc;

	if (argc < 2)
		return usage_error("check needs a FILE");
	if (argc > 2)
		return usage_error("check takes one FILE, got '%s' too", argv[2]);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	rc = ruleset_load(&set, argv[1], print_diag, &quiet);
	if (rc) {
		fprintf(stderr, "%s: cannot read %s: %s\n", prog, argv[1],
			rc == -EFBIG ? "file too large" : strerror(-rc));
		return 1;
	}
	print_set(set);
	rc = set->errors ? 1 : 0;
	ruleset_free(set);
	return rc;
}

/* ---- explain ---- */

struct explain_args {
	enum shim_role role;
	bool have_role, have_local, have_remote;
	struct sockaddr_in local, remote;
	const char *program, *app_id, *file;
	bool file_named;	/* FILE or $SHIM_CONFIG_FILE: a missing one is an error */
};

static int parse_endpoint(const char *opt, const char *s, struct sockaddr_in *sa)
{
	if (rules_parse_sockaddr(s, sa))
		return usage_error("%s: bad address '%s' (expected a.b.c.d:port or *:port)", opt, s);
	return 0;
}

static int explain_options(int argc, char **argv, struct explain_args *a)
{
	static const struct option opts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "remote", required_argument, NULL, 'R' },
		{ "local", required_argument, NULL, 'L' },
		{ "program", required_argument, NULL, 'p' },
		{ "app-id", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (shim_role_parse(optarg, strlen(optarg), &a->role))
				return usage_error("unknown role '%s' (expected tcp_server, "
						   "tcp_client, udp_sender, udp_receiver or "
						   "udp_connect)", optarg);
			a->have_role = true;
			break;
		case 'R':
			if ((rc = parse_endpoint("--remote", optarg, &a->remote)))
				return rc;
			a->have_remote = true;
			break;
		case 'L':
			if ((rc = parse_endpoint("--local", optarg, &a->local)))
				return rc;
			a->have_local = true;
			break;
		case 'p':
			a->program = optarg;
			break;
		case 'a':
			a->app_id = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s' for explain", argv[optind - 1]);
		}
	}
	if (optind < argc)
		a->file = argv[optind++], a->file_named = true;
	if (optind < argc)
		return usage_error("explain takes one FILE, got '%s' too", argv[optind]);
	if (!a->have_role)
		return usage_error("explain needs --role (tcp_server, tcp_client, udp_sender, "
				   "udp_receiver or udp_connect)");
	if (shim_role_is_local(a->role) && !a->have_local)
		return usage_error("%s is decided by the local address: give --local ADDR:PORT",
				   shim_role_name(a->role));
	if (!shim_role_is_local(a->role) && !a->have_remote)
		return usage_error("%s is decided by the remote address: give --remote ADDR:PORT",
				   shim_role_name(a->role));
	if (shim_role_is_local(a->role) && a->have_remote)
		fprintf(stderr, "%s: note: %s rules look at the local address only; --remote "
			"is not used\n", prog, shim_role_name(a->role));
	if (a->role == SHIM_ROLE_UDP_SENDER && a->have_local)
		fprintf(stderr, "%s: note: udp_sender rules look at the remote address only; "
			"--local is not used\n", prog);
	return 0;
}

static void explain_defaults(struct explain_args *a)
{
	const char *env;

	if (!a->app_id) {
		env = getenv("SHIM_APPLICATION_ID");
		if (!env || !*env)
			env = getenv("VMA_APPLICATION_ID");
		a->app_id = env && *env ? env : RULES_DEFAULT_APP_ID;
	}
	if (!a->file) {
		env = getenv("SHIM_CONFIG_FILE");
		if (!env || !*env)
			env = getenv("VMA_CONFIG_FILE");
		a->file_named = env && *env;
		a->file = a->file_named ? env : DEFAULT_FILE;
	}
}

static void print_sockaddr(const struct sockaddr_in *sa, bool given, char *buf, size_t len)
{
	uint32_t x = ntohl(sa->sin_addr.s_addr);

	if (!given)
		snprintf(buf, len, "unbound");
	else
		snprintf(buf, len, "%u.%u.%u.%u:%u", x >> 24, x >> 16 & 255, x >> 8 & 255, x & 255,
			 ntohs(sa->sin_port));
}

static int cmd_explain(int argc, char **argv)
{
	struct explain_args a = { .program = NULL };
	struct rule_set *set = NULL;
	struct rule_verdict v;
	char text[128], l[32], r[32];
	bool quiet = true;
	const char *why = "";
	int rc;

	rc = explain_options(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	explain_defaults(&a);

	rc = ruleset_load(&set, a.file, print_diag, &quiet);
	if (rc == -ENOENT && !a.file_named) {
		why = " (no rules file: " DEFAULT_FILE " does not exist)";
	} else if (rc) {
		fprintf(stderr, "%s: cannot read %s: %s\n", prog, a.file,
			rc == -EFBIG ? "file too large" : strerror(-rc));
		return 1;
	} else if (set->errors) {
		fprintf(stderr, "%s: %s has %u error%s; the library skips those lines too "
			"(see: %s check %s)\n", prog, a.file, set->errors,
			set->errors == 1 ? "" : "s", prog, a.file);
	}

	ruleset_decide(set, a.program, a.app_id, a.role, a.have_local ? &a.local : NULL,
		       a.have_remote ? &a.remote : NULL, &v);

	printf("decision: %s\n", v.offload ? "shim (offloaded)" : "os (not offloaded: the "
	       "kernel serves this socket)");
	if (v.rule) {
		rule_format(v.rule, text, sizeof(text));
		printf("rule:     %s:%u: %s\n", a.file, v.rule->line, text);
	} else {
		printf("rule:     no rule matched: offloaded by default%s\n", why);
	}
	if (!v.section)
		printf("section:  none applies to program '%s' with application id '%s'\n",
		       a.program ? a.program : "", a.app_id);
	else if (v.section->line == 0)
		printf("section:  %s: the rules before the first application-id (every "
		       "program)\n", a.file);
	else
		printf("section:  %s:%u: application-id %s %s\n", a.file, v.section->line,
		       v.section->program, v.section->app_id);
	print_sockaddr(&a.local, a.have_local, l, sizeof(l));
	print_sockaddr(&a.remote, a.have_remote, r, sizeof(r));
	if (shim_role_is_local(a.role))
		printf("socket:   %s on %s", shim_role_name(a.role), l);
	else if (a.role == SHIM_ROLE_UDP_SENDER)
		printf("socket:   %s to %s", shim_role_name(a.role), r);
	else
		printf("socket:   %s to %s from %s", shim_role_name(a.role), r, l);
	printf(", program '%s', application id '%s'\n", a.program ? a.program : "(any)",
	       a.app_id);
	ruleset_free(set);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("shim_rules %s\n", SHIM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "explain"))
		return cmd_explain(argc - 1, argv + 1);
	return usage_error("unknown command '%s' (expected check or explain)", argv[1]);
}
