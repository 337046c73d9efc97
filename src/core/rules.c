/* rules.c — the library's offload rules: loads SHIM_CONFIG_FILE at start-up, picks
 * the section for this process once, and answers rules_offload() for the socket layer.
 * Rules added at run time (extra API add_conf_rule) go to the head of an immutable
 * list whose head is published atomically, so lookups from any number of threads
 * never lock and never see a half-built rule. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/init.h"
#include "core/log.h"
#include "core/params.h"
#include "core/rules.h"

#define DEFAULT_CONFIG_FILE "/etc/shim.conf"

/* Weak, so the rules and their tests link without the start-up code; the library
 * always has it. */
extern const char *shim_program_name(void) __attribute__((weak));

static const char *program_name(void)
{
	return shim_program_name ? shim_program_name() : program_invocation_short_name;
}

/* What the file says for this process. Replaced as a whole, never modified. */
struct rules_state {
	struct rule_set *set;			/* NULL: no file */
	const struct rule_section *sec;		/* NULL: no section applies */
	struct rules_state *retired;		/* states this one replaced */
};

struct rt_rule {
	const struct rt_rule *next;
	struct shim_rule rule;
};

static struct rules_state *rules_state;		/* acquire/release */
static const struct rt_rule *rt_head;		/* newest first; acquire/release */
static unsigned rt_count;			/* numbers run-time rules in messages */

static void log_diag(void *ctx, const struct rule_diag *d)
{
	if (d->error)
		log_err("%s:%u: %s", d->source, d->line, d->msg);
	else
		log_warn("%s:%u: %s", d->source, d->line, d->msg);
}

/* The file was asked for by name (environment or params file), not by default. */
static bool config_file_named(const char *path)
{
	return strcmp(path, DEFAULT_CONFIG_FILE) != 0 ||
	       params_source("CONFIG_FILE") != PARAM_SRC_DEFAULT;
}

static void log_section(const struct rules_state *st)
{
	const char *app = shim_params.application_id;

	if (!st->set)
		return;
	if (!st->sec)
		log_dbg("rules: no section of %s applies to %s (application id '%s'): every "
			"socket is offloaded", st->set->source, program_name(),
			app && *app ? app : RULES_DEFAULT_APP_ID);
	else if (st->sec->line == 0)
		log_dbg("rules: %s: the rules before the first application-id apply (%zu rules)",
			st->set->source, st->sec->nrules);
	else
		log_dbg("rules: %s:%u: application-id %s %s applies (%zu rules)", st->set->source,
			st->sec->line, st->sec->program, st->sec->app_id, st->sec->nrules);
}

int rules_init(void)
{
	const char *path = shim_params.config_file;
	struct rules_state *st, *old;
	struct rule_set *set = NULL;
	int rc = 0;

	st = calloc(1, sizeof(*st));
	if (!st) {
		log_err("rules: out of memory: every socket is offloaded");
		return -ENOMEM;
	}
	if (path && *path) {
		rc = ruleset_load(&set, path, log_diag, NULL);
		if (rc == -ENOENT && !config_file_named(path)) {
			log_dbg("rules: no %s: every socket is offloaded", path);
			rc = 0;
		} else if (rc) {
			log_warn("cannot read the rules file %s (SHIM_CONFIG_FILE): %s; every "
				 "socket is offloaded", path,
				 rc == -EFBIG ? "file too large" : strerror(-rc));
		}
	}
	st->set = set;
	st->sec = ruleset_section(set, program_name(), shim_params.application_id);
	log_section(st);
	/* A lookup may still be walking the old state: keep it, reachable. */
	old = __atomic_load_n(&rules_state, __ATOMIC_ACQUIRE);
	st->retired = old;
	__atomic_store_n(&rules_state, st, __ATOMIC_RELEASE);
	return rc;
}

static void format_sa(const struct sockaddr_in *sa, char *buf, size_t len)
{
	uint32_t a = sa ? ntohl(sa->sin_addr.s_addr) : 0;

	snprintf(buf, len, "%u.%u.%u.%u:%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255,
		 sa ? ntohs(sa->sin_port) : 0);
}

/* Debug level only: the answer to "why is (or isn't) my socket offloaded". */
static void log_decision(enum shim_role role, const struct sockaddr_in *local,
			 const struct sockaddr_in *remote, const struct shim_rule *rule,
			 const char *where)
{
	char text[128], l[24], r[24];

	format_sa(local, l, sizeof(l));
	format_sa(remote, r, sizeof(r));
	if (!rule) {
		log_dbg("rules: %s local %s remote %s: offloaded (no rule matched)",
			shim_role_name(role), l, r);
		return;
	}
	rule_format(rule, text, sizeof(text));
	log_dbg("rules: %s local %s remote %s: %s by %s%s%u: %s", shim_role_name(role), l, r,
		rule->offload ? "offloaded" : "not offloaded", where ? where : "run-time rule",
		where ? ":" : " ", rule->line, text);
}

bool rules_offload(enum shim_role role, const struct sockaddr_in *local,
		   const struct sockaddr_in *remote)
{
	const struct rt_rule *rt = __atomic_load_n(&rt_head, __ATOMIC_ACQUIRE);
	const struct rules_state *st = __atomic_load_n(&rules_state, __ATOMIC_ACQUIRE);
	const struct shim_rule *rule = NULL;
	const char *where = NULL;	/* file of the deciding rule; NULL: run time */

	for (; rt && !rule; rt = rt->next)
		if (rule_matches(&rt->rule, role, local, remote))
			rule = &rt->rule;
	if (!rule && st && st->sec) {
		rule = section_match(st->sec, role, local, remote);
		where = st->set->source;
	}
	if (__builtin_expect(shim_log_level >= SHIM_LOG_DEBUG, 0))
		log_decision(role, local, remote, rule, where);
	return rule ? rule->offload : true;
}

int rules_add_line(const char *line)
{
	struct rt_rule *node;
	char err[320];
	int rc;

	if (!line)
		return -EINVAL;
	node = calloc(1, sizeof(*node));
	if (!node)
		return -ENOMEM;
	rc = rule_parse_line(line, __atomic_load_n(&rt_count, __ATOMIC_RELAXED) + 1, &node->rule,
			     err, sizeof(err));
	if (rc) {
		free(node);
		if (rc < 0)
			log_err("add_conf_rule: %s", err);
		return rc < 0 ? rc : 0;
	}
	node->rule.line = __atomic_add_fetch(&rt_count, 1, __ATOMIC_RELAXED);
	/* Push on the head: the node is complete before the release makes it visible. */
	node->next = __atomic_load_n(&rt_head, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&rt_head, &node->next, node, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED))
		;
	if (shim_log_level >= SHIM_LOG_DEBUG) {
		char text[128];

		rule_format(&node->rule, text, sizeof(text));
		log_dbg("rules: run-time rule %u added first: %s", node->rule.line, text);
	}
	return 0;
}
