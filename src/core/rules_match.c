/* rules_match.c — which rule decides a socket. The first application-id section that
 * matches the program's short name (shell glob) and the application id applies; in it
 * the first rule of the socket's role whose addresses match decides; no rule means
 * offload. Also finds sections and rules that can never apply. Pure, no global state. */
#include <fnmatch.h>
#include <string.h>

#include "core/rules.h"

static uint32_t prefix_mask(uint8_t prefix)
{
	return prefix ? 0xffffffffu << (32 - prefix) : 0;
}

/* An unknown address (NULL) is 0.0.0.0 port 0, what an unbound socket reports. */
static bool ep_match(const struct rule_ep *ep, const struct sockaddr_in *sa)
{
	uint32_t addr = sa ? ntohl(sa->sin_addr.s_addr) : 0;
	uint16_t port = sa ? ntohs(sa->sin_port) : 0;

	return (addr & prefix_mask(ep->prefix)) == ep->addr && port >= ep->port_lo &&
	       port <= ep->port_hi;
}

/* Every endpoint y matches, x matches too. */
static bool ep_covers(const struct rule_ep *x, const struct rule_ep *y)
{
	return x->prefix <= y->prefix && (y->addr & prefix_mask(x->prefix)) == x->addr &&
	       x->port_lo <= y->port_lo && y->port_hi <= x->port_hi;
}

bool rule_matches(const struct shim_rule *rule, enum shim_role role,
		  const struct sockaddr_in *local, const struct sockaddr_in *remote)
{
	/* The side a role does not name is `*` in the rule, so both can be checked. */
	return rule->role == role && ep_match(&rule->local, local) &&
	       ep_match(&rule->remote, remote);
}

bool rule_covers(const struct shim_rule *a, const struct shim_rule *b)
{
	return a->role == b->role && ep_covers(&a->local, &b->local) &&
	       ep_covers(&a->remote, &b->remote);
}

const struct shim_rule *section_match(const struct rule_section *sec, enum shim_role role,
				      const struct sockaddr_in *local,
				      const struct sockaddr_in *remote)
{
	for (size_t i = 0; i < sec->nrules; i++)
		if (rule_matches(&sec->rules[i], role, local, remote))
			return &sec->rules[i];
	return NULL;
}

static bool section_applies(const struct rule_section *sec, const char *program,
			    const char *app_id)
{
	if (sec->broken || fnmatch(sec->program, program, 0) != 0)
		return false;
	/* SHIM_APPLICATION_ID=* takes any section, as VMA does. */
	return strcmp(sec->app_id, "*") == 0 || strcmp(app_id, "*") == 0 ||
	       strcmp(sec->app_id, app_id) == 0;
}

const struct rule_section *ruleset_section(const struct rule_set *set, const char *program,
					   const char *app_id)
{
	if (!program)
		program = "";
	if (!app_id || !app_id[0])
		app_id = RULES_DEFAULT_APP_ID;
	for (size_t i = 0; set && i < set->nsections; i++)
		if (section_applies(&set->sections[i], program, app_id))
			return &set->sections[i];
	return NULL;
}

void ruleset_decide(const struct rule_set *set, const char *program, const char *app_id,
		    enum shim_role role, const struct sockaddr_in *local,
		    const struct sockaddr_in *remote, struct rule_verdict *v)
{
	v->section = ruleset_section(set, program, app_id);
	v->rule = v->section ? section_match(v->section, role, local, remote) : NULL;
	v->offload = v->rule ? v->rule->offload : true;
}

/* Section a is chosen before b for every program and id b would match. */
static bool section_shadows(const struct rule_section *a, const struct rule_section *b)
{
	if (a->broken || b->broken)
		return false;
	return (strcmp(a->program, "*") == 0 || strcmp(a->program, b->program) == 0) &&
	       (strcmp(a->app_id, "*") == 0 || strcmp(a->app_id, b->app_id) == 0);
}

static void lint_sections(struct rule_set *set, rule_diag_fn *diag, void *ctx)
{
	for (size_t j = 1; j < set->nsections; j++) {
		const struct rule_section *b = &set->sections[j];

		for (size_t i = 0; i < j; i++) {
			const struct rule_section *a = &set->sections[i];

			if (!section_shadows(a, b))
				continue;
			if (a->line == 0)
				ruleset_report(set, diag, ctx, b->line, false,
					       "application-id %s %s never applies: the rules "
					       "before the first application-id (from line %u) "
					       "form a section for every program, and the first "
					       "matching section wins",
					       b->program, b->app_id,
					       a->nrules ? a->rules[0].line : 0);
			else
				ruleset_report(set, diag, ctx, b->line, false,
					       "application-id %s %s never applies: the section "
					       "at line %u (application-id %s %s) matches first",
					       b->program, b->app_id, a->line, a->program,
					       a->app_id);
			break;
		}
	}
}

/* Finding dead rules compares each rule with those before it; a budget keeps a huge
 * generated file from costing the application seconds at start-up. */
#define LINT_BUDGET (4ul << 20)

static void lint_rules(struct rule_set *set, const struct rule_section *sec,
		       rule_diag_fn *diag, void *ctx, unsigned long *budget)
{
	char text[128];

	for (size_t k = 1; k < sec->nrules; k++)
		for (size_t m = 0; m < k; m++) {
			if (!*budget) {
				ruleset_report(set, diag, ctx, sec->rules[k].line, false,
					       "too many rules to look for rules that never "
					       "match; not checked from here on");
				return;
			}
			--*budget;
			if (!rule_covers(&sec->rules[m], &sec->rules[k]))
				continue;
			rule_format(&sec->rules[m], text, sizeof(text));
			ruleset_report(set, diag, ctx, sec->rules[k].line, false,
				       "rule never matches: line %u (%s) comes first and "
				       "matches every socket this one does",
				       sec->rules[m].line, text);
			break;
		}
}

void ruleset_lint(struct rule_set *set, rule_diag_fn *diag, void *ctx)
{
	unsigned long budget = LINT_BUDGET;

	lint_sections(set, diag, ctx);
	for (size_t i = 0; i < set->nsections && budget; i++)
		if (!set->sections[i].broken)
			lint_rules(set, &set->sections[i], diag, ctx, &budget);
}
