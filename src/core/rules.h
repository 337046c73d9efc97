/* rules.h — offload rules (libvma.conf grammar, /etc/shim.conf). The socket layer
 * asks rules_offload() once per role decision; the first application-id section that
 * matches the program applies, the first rule of the role in it that matches decides,
 * and no match means offload. */
#ifndef SHIM_RULES_H
#define SHIM_RULES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum shim_role {
	SHIM_ROLE_TCP_SERVER,
	SHIM_ROLE_TCP_CLIENT,
	SHIM_ROLE_UDP_SENDER,
	SHIM_ROLE_UDP_RECEIVER,
	SHIM_ROLE_UDP_CONNECT,
};
#define SHIM_ROLE_COUNT 5

/* Load SHIM_CONFIG_FILE (params must be ready). Errors are logged, never fatal. */
int rules_init(void);
/* Decide one socket role. local/remote may be NULL when unknown; for
 * udp_receiver and tcp_server the local address is the one that matters.
 * An unknown or unbound address is 0.0.0.0 port 0: only `*` (or 0.0.0.0)
 * matches it. Safe from any thread, concurrently with rules_add_line(). */
bool rules_offload(enum shim_role role, const struct sockaddr_in *local,
		   const struct sockaddr_in *remote);
/* Extra API add_conf_rule(): parse one `use` line and put it at the head, before
 * every rule of the file, for decisions taken from now on. 0 (also for a blank or
 * comment line), -EINVAL (logged) or -ENOMEM. */
int rules_add_line(const char *line);

/* ---- pure core: no global state, used by the library, shim_rules and the tests ---- */

/* Value of SHIM_APPLICATION_ID when the user sets none: only sections whose
 * application id is `*` match it. */
#define RULES_DEFAULT_APP_ID "SHIM_DEFAULT_APPLICATION_ID"
/* Files bigger than this are refused (a rules file is a few lines). */
#define RULES_FILE_MAX (4u << 20)

/* One side of a rule: an IPv4 prefix and a port range, host byte order.
 * `*` is prefix 0 and ports 0..65535. */
struct rule_ep {
	uint32_t addr;
	uint8_t prefix;
	uint16_t port_lo, port_hi;
};

struct shim_rule {
	enum shim_role role;
	bool offload;		/* use shim (or vma) rather than os */
	bool two_eps;		/* written with the second (local) address:port */
	struct rule_ep local, remote;
	unsigned line;		/* line in its file; run-time rules count from 1 */
};

struct rule_section {
	char *program;		/* shell glob on the program's short name; "*" default */
	char *app_id;		/* SHIM_APPLICATION_ID value or "*" */
	unsigned line;		/* its application-id line; 0 for the default section */
	bool broken;		/* its application-id line was invalid: never applies */
	struct shim_rule *rules;
	size_t nrules, cap;
};

struct rule_set {
	char *source;		/* file name used in messages */
	struct rule_section *sections;
	size_t nsections, cap;
	unsigned errors, warnings;
};

/* A diagnostic: "source:line: msg". Errors skip the line; warnings do not. */
struct rule_diag {
	const char *source;
	unsigned line;
	bool error;
	const char *msg;
};
typedef void rule_diag_fn(void *ctx, const struct rule_diag *d);

/* The verdict of one lookup, with what decided it. */
struct rule_verdict {
	bool offload;
	const struct rule_section *section;	/* NULL: no section applies */
	const struct shim_rule *rule;		/* NULL: no rule matched */
};

/* Empty set; source names it in messages (copied). 0 or -ENOMEM. */
int ruleset_new(struct rule_set **out, const char *source);
void ruleset_free(struct rule_set *set);
/* Parse a whole buffer (any bytes, need not end in NUL or newline); bad lines are
 * reported through diag (may be NULL) and skipped. Then warns about sections and
 * rules that can never apply. 0, or -ENOMEM (the set keeps what was parsed). */
int ruleset_parse(struct rule_set *set, const char *buf, size_t len,
		  rule_diag_fn *diag, void *ctx);
/* Read and parse a file. -errno when it cannot be read (nothing reported for
 * that: the caller decides whether a missing file deserves a word), -EFBIG over
 * RULES_FILE_MAX; 0 otherwise, errors in it going through diag. */
int ruleset_load(struct rule_set **out, const char *path, rule_diag_fn *diag, void *ctx);
/* Parse one `use` line on its own (run-time rules). Blank and comment lines give
 * 1 (nothing to add); 0 fills *rule; -EINVAL with the reason in err. */
int rule_parse_line(const char *line, unsigned lineno, struct shim_rule *rule,
		    char *err, size_t errlen);

/* The section that applies to a program (short name) and application id (NULL or
 * "" mean RULES_DEFAULT_APP_ID); NULL when none does. */
const struct rule_section *ruleset_section(const struct rule_set *set, const char *program,
					   const char *app_id);
bool rule_matches(const struct shim_rule *rule, enum shim_role role,
		  const struct sockaddr_in *local, const struct sockaddr_in *remote);
/* First rule of the role in the section that matches, or NULL. */
const struct shim_rule *section_match(const struct rule_section *sec, enum shim_role role,
				      const struct sockaddr_in *local,
				      const struct sockaddr_in *remote);
/* Section choice plus rule match, in one call. */
void ruleset_decide(const struct rule_set *set, const char *program, const char *app_id,
		    enum shim_role role, const struct sockaddr_in *local,
		    const struct sockaddr_in *remote, struct rule_verdict *v);
/* Does a cover every socket b matches (same role)? Used to find dead rules. */
bool rule_covers(const struct shim_rule *a, const struct shim_rule *b);

/* Names and formatting. */
const char *shim_role_name(enum shim_role role);
/* 0 and *role set, or -EINVAL. Case-insensitive. */
int shim_role_parse(const char *s, size_t len, enum shim_role *role);
/* True for tcp_server and udp_receiver, decided by the local address. */
bool shim_role_is_local(enum shim_role role);
/* "a.b.c.d/len:lo-hi", with `*` for any; returns snprintf's count. */
int rule_ep_format(const struct rule_ep *ep, char *buf, size_t len);
/* The rule as a canonical `use` line (no newline). */
int rule_format(const struct shim_rule *rule, char *buf, size_t len);
/* Inside the core: count and pass on one diagnostic; warn about sections and
 * rules that can never apply (ruleset_parse runs it). */
void ruleset_report(struct rule_set *set, rule_diag_fn *diag, void *ctx, unsigned line,
		    bool error, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void ruleset_lint(struct rule_set *set, rule_diag_fn *diag, void *ctx);
/* Strict "a.b.c.d:port" or "*:port" (port 0..65535) into *sa. 0 or -EINVAL. */
int rules_parse_sockaddr(const char *s, struct sockaddr_in *sa);

#endif
