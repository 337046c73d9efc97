/* rules_parse.c — the libvma.conf grammar: turns a rules file (or one run-time line)
 * into a rule set of application-id sections holding `use` rules. Pure: no global
 * state and no logging of its own; every problem goes to the caller's diagnostic
 * callback as "file:line: what is wrong", and the bad line is skipped. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/rules.h"

/* Longest quoted piece of input inside a message. */
#define QUOTE_MAX 48
#define MSG_MAX 320
/* A valid statement has at most four words; one more tells "too many". */
#define WORDS_MAX 5

struct word {
	const char *p;
	size_t n;
};

static const char *const role_names[SHIM_ROLE_COUNT] = {
	[SHIM_ROLE_TCP_SERVER] = "tcp_server",
	[SHIM_ROLE_TCP_CLIENT] = "tcp_client",
	[SHIM_ROLE_UDP_SENDER] = "udp_sender",
	[SHIM_ROLE_UDP_RECEIVER] = "udp_receiver",
	[SHIM_ROLE_UDP_CONNECT] = "udp_connect",
};
#define ROLE_LIST "tcp_server, tcp_client, udp_sender, udp_receiver or udp_connect"

const char *shim_role_name(enum shim_role role)
{
	return (unsigned)role < SHIM_ROLE_COUNT ? role_names[role] : "?";
}

static bool word_is(struct word w, const char *kw)
{
	return w.n == strlen(kw) && strncasecmp(w.p, kw, w.n) == 0;
}

int shim_role_parse(const char *s, size_t len, enum shim_role *role)
{
	struct word w = { s, len };

	for (int r = 0; r < SHIM_ROLE_COUNT; r++)
		if (word_is(w, role_names[r])) {
			*role = r;
			return 0;
		}
	return -EINVAL;
}

bool shim_role_is_local(enum shim_role role)
{
	return role == SHIM_ROLE_TCP_SERVER || role == SHIM_ROLE_UDP_RECEIVER;
}

/* Copy input into a message safely: control and non-ASCII bytes become \xNN and
 * anything past QUOTE_MAX characters becomes "...". */
static const char *quote(char *dst, size_t cap, const char *p, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 8 < cap; i++) {
		unsigned char c = p[i];

		if (o >= QUOTE_MAX) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f)
			dst[o++] = c;
		else
			o += snprintf(dst + o, cap - o, "\\x%02x", c);
	}
	dst[o] = 0;
	return dst;
}

#define Q(buf, w) quote((buf), sizeof(buf), (w).p, (w).n)

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Decimal digits only. The value stops growing past a million, so an overlong
 * number still reads as too large for a port, an octet or a prefix. */
static bool parse_uint(const char *p, size_t n, unsigned long *v)
{
	if (n == 0)
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		if (*v < 1000000)
			*v = *v * 10 + (unsigned)(p[i] - '0');
	}
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Strip the comment and split on blanks. Returns the word count, capped at
 * WORDS_MAX (more words than that are not told apart). */
static int split_words(const char *p, size_t n, struct word *w)
{
	int nw = 0;
	size_t i = 0;

	for (size_t k = 0; k < n; k++)
		if (p[k] == '#') {
			n = k;
			break;
		}
	while (i < n && nw < WORDS_MAX) {
		while (i < n && is_blank(p[i]))
			i++;
		if (i == n)
			break;
		w[nw].p = p + i;
		while (i < n && !is_blank(p[i]))
			i++;
		w[nw].n = (size_t)(p + i - w[nw].p);
		nw++;
	}
	return nw;
}

/* <a.b.c.d[/prefix]|*>. A host part under the prefix is cleared, with a warning. */
static int parse_addr(struct word w, struct rule_ep *ep, char *err, size_t errlen,
		      char *warn, size_t warnlen)
{
	char q[QUOTE_MAX + 16];
	const char *p = w.p, *end = w.p + w.n, *slash;
	unsigned long octet, prefix = 32;
	uint32_t addr = 0;

	if (w.n == 0)
		return fail(err, errlen, "missing address before ':' (use * for any)");
	if (w.n == 1 && p[0] == '*') {
		ep->addr = 0;
		ep->prefix = 0;
		return 0;
	}
	slash = memchr(p, '/', w.n);
	for (int i = 0; i < 4; i++) {
		const char *s = p;
		const char *stop = slash ? slash : end;

		while (p < stop && *p != '.')
			p++;
		if (!parse_uint(s, (size_t)(p - s), &octet) || p - s > 3 || (i < 3 && p == stop) ||
		    (i == 3 && p != stop))
			return fail(err, errlen,
				    "bad address '%s' (expected a.b.c.d, a.b.c.d/prefix or *)",
				    Q(q, w));
		if (octet > 255)
			return fail(err, errlen, "address '%s' has a number over 255", Q(q, w));
		addr = addr << 8 | (uint32_t)octet;
		if (i < 3)
			p++;
	}
	if (slash && (!parse_uint(slash + 1, (size_t)(end - slash - 1), &prefix) || prefix > 32))
		return fail(err, errlen, "bad prefix length in '%s' (expected /0 to /32)",
			    Q(q, w));
	ep->prefix = (uint8_t)prefix;
	ep->addr = prefix ? addr & (0xffffffffu << (32 - prefix)) : 0;
	if (ep->addr != addr && warn && !warn[0]) {
		char norm[40];

		rule_ep_format(&(struct rule_ep){ ep->addr, ep->prefix, 1, 1 }, norm, sizeof(norm));
		*strrchr(norm, ':') = 0;
		snprintf(warn, warnlen, "address '%s' has bits set past its prefix; it matches %s",
			 Q(q, w), norm);
	}
	return 0;
}

/* <port|port-port|*>, ports 1..65535. */
static int parse_ports(struct word w, struct rule_ep *ep, char *err, size_t errlen)
{
	char q[QUOTE_MAX + 16];
	const char *dash;
	unsigned long lo, hi;

	if (w.n == 0)
		return fail(err, errlen, "missing port after ':' (use * for any)");
	if (w.n == 1 && w.p[0] == '*') {
		ep->port_lo = 0;
		ep->port_hi = 65535;
		return 0;
	}
	dash = memchr(w.p, '-', w.n);
	if (!dash) {
		if (!parse_uint(w.p, w.n, &lo))
			goto bad;
		hi = lo;
	} else if (!parse_uint(w.p, (size_t)(dash - w.p), &lo) ||
		   !parse_uint(dash + 1, (size_t)(w.p + w.n - dash - 1), &hi)) {
		goto bad;
	}
	if (lo < 1 || lo > 65535 || hi < 1 || hi > 65535)
		return fail(err, errlen, "port '%s' out of range (ports are 1 to 65535)", Q(q, w));
	if (lo > hi)
		return fail(err, errlen, "port range '%s' runs backwards", Q(q, w));
	ep->port_lo = (uint16_t)lo;
	ep->port_hi = (uint16_t)hi;
	return 0;
bad:
	return fail(err, errlen, "bad port '%s' (expected a port, a range like 5000-5010, or *)",
		    Q(q, w));
}

static int parse_ep(struct word addr, struct word port, struct rule_ep *ep, char *err,
		    size_t errlen, char *warn, size_t warnlen)
{
	int rc = parse_addr(addr, ep, err, errlen, warn, warnlen);

	return rc ? rc : parse_ports(port, ep, err, errlen);
}

/* <addr>:<ports>[:<addr>:<ports>]; which side is local depends on the role, as in
 * VMA: servers and receivers name their local side, the others the remote side
 * first and, optionally, their local side second. */
static int parse_tuple(struct word w, struct shim_rule *r, char *err, size_t errlen,
		       char *warn, size_t warnlen)
{
	char q[QUOTE_MAX + 16];
	const char *c[4];
	int nc = 0;
	struct rule_ep *first = shim_role_is_local(r->role) ? &r->local : &r->remote;
	int rc;

	for (size_t i = 0; i < w.n; i++) {
		if (w.p[i] == '[' || (i == 1 && w.p[0] == ':' && w.p[1] == ':'))
			return fail(err, errlen, "IPv6 addresses are not supported ('%s')",
				    Q(q, w));
		if (w.p[i] == ':' && nc++ < 4)
			c[nc - 1] = w.p + i;
	}
	if (nc == 0)
		return fail(err, errlen, "expected address:port, got '%s'", Q(q, w));
	if (nc == 2)
		return fail(err, errlen,
			    "'%s' has three parts (expected address:port or "
			    "address:port:address:port)", Q(q, w));
	if (nc > 3)
		return fail(err, errlen, "too many ':' in '%s' (IPv6 addresses are not supported)",
			    Q(q, w));
	rc = parse_ep((struct word){ w.p, (size_t)(c[0] - w.p) },
		      (struct word){ c[0] + 1, (size_t)((nc == 3 ? c[1] : w.p + w.n) - c[0] - 1) },
		      first, err, errlen, warn, warnlen);
	if (rc || nc == 1)
		return rc;
	if (shim_role_is_local(r->role) || r->role == SHIM_ROLE_UDP_SENDER) {
		/* VMA accepts and ignores it; say so, but still check its syntax. */
		struct rule_ep unused;

		rc = parse_ep((struct word){ c[1] + 1, (size_t)(c[2] - c[1] - 1) },
			      (struct word){ c[2] + 1, (size_t)(w.p + w.n - c[2] - 1) },
			      &unused, err, errlen, NULL, 0);
		if (!rc && warn && !warn[0])
			snprintf(warn, warnlen, "the second address:port is ignored: %s rules "
				 "look at the %s side only", shim_role_name(r->role),
				 shim_role_is_local(r->role) ? "local" : "remote");
		return rc;
	}
	r->two_eps = true;
	return parse_ep((struct word){ c[1] + 1, (size_t)(c[2] - c[1] - 1) },
			(struct word){ c[2] + 1, (size_t)(w.p + w.n - c[2] - 1) },
			&r->local, err, errlen, warn, warnlen);
}

/* use <shim|vma|os> <role> <tuple> */
static int parse_use(const struct word *w, int nw, struct shim_rule *r, char *err,
		     size_t errlen, char *warn, size_t warnlen)
{
	char q[QUOTE_MAX + 16];
	enum shim_role role;

	*r = (struct shim_rule){
		.local = { 0, 0, 0, 65535 },
		.remote = { 0, 0, 0, 65535 },
	};
	if (nw < 2)
		return fail(err, errlen,
			    "use needs a transport, a role and an address: "
			    "use <shim|os> <role> <address>:<port>");
	if (word_is(w[1], "shim") || word_is(w[1], "vma")) {
		r->offload = true;
	} else if (word_is(w[1], "os")) {
		r->offload = false;
	} else if (shim_role_parse(w[1].p, w[1].n, &role) == 0) {
		return fail(err, errlen, "missing transport before '%s' (expected shim, vma or os)",
			    Q(q, w[1]));
	} else {
		return fail(err, errlen, "unknown transport '%s' (expected shim, vma or os)",
			    Q(q, w[1]));
	}
	if (nw < 3)
		return fail(err, errlen, "missing role after '%s' (expected " ROLE_LIST ")",
			    Q(q, w[1]));
	if (shim_role_parse(w[2].p, w[2].n, &r->role))
		return fail(err, errlen, "unknown role '%s' (expected " ROLE_LIST ")", Q(q, w[2]));
	if (nw < 4)
		return fail(err, errlen, "missing address:port after '%s' (use *:* for any)",
			    role_names[r->role]);
	if (nw > 4)
		return fail(err, errlen,
			    "unexpected '%s' after the address (no blanks inside address:port)",
			    Q(q, w[4]));
	return parse_tuple(w[3], r, err, errlen, warn, warnlen);
}

int rule_parse_line(const char *line, unsigned lineno, struct shim_rule *rule, char *err,
		    size_t errlen)
{
	char q[QUOTE_MAX + 16];
	struct word w[WORDS_MAX];
	size_t n = strlen(line);
	int nw = split_words(line, n, w);

	if (nw == 0)
		return 1;
	if (word_is(w[0], "application-id"))
		return fail(err, errlen,
			    "application-id cannot be added at run time: a run-time rule "
			    "applies to this process already");
	if (!word_is(w[0], "use"))
		return fail(err, errlen, "expected a 'use' rule, got '%s'", Q(q, w[0]));
	if (memchr(line, '\n', n))
		return fail(err, errlen, "a run-time rule is a single line");
	if (parse_use(w, nw, rule, err, errlen, NULL, 0))
		return -EINVAL;
	rule->line = lineno;
	return 0;
}

/* ---- rule sets ---- */

void ruleset_report(struct rule_set *set, rule_diag_fn *diag, void *ctx, unsigned line,
		    bool error, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	if (error)
		set->errors++;
	else
		set->warnings++;
	if (!diag)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag(ctx, &(struct rule_diag){ set->source, line, error, msg });
}

int ruleset_new(struct rule_set **out, const char *source)
{
	struct rule_set *set = calloc(1, sizeof(*set));

	if (!set || !(set->source = strdup(source ? source : "(rules)"))) {
		free(set);
		return -ENOMEM;
	}
	*out = set;
	return 0;
}

void ruleset_free(struct rule_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->nsections; i++) {
		free(set->sections[i].program);
		free(set->sections[i].app_id);
		free(set->sections[i].rules);
	}
	free(set->sections);
	free(set->source);
	free(set);
}

static char *dup_word(struct word w)
{
	return strndup(w.p ? w.p : "", w.p ? w.n : 0);
}

/* Open a section, or return to the earlier one with the same program and id (VMA
 * keeps one instance per pair). -ENOMEM or the section's index. */
static long open_section(struct rule_set *set, struct word prog, struct word id,
			 unsigned line, bool broken)
{
	struct rule_section *s;

	for (size_t i = 0; i < set->nsections && !broken; i++) {
		s = &set->sections[i];
		if (!s->broken && strlen(s->program) == prog.n && !memcmp(s->program, prog.p, prog.n) &&
		    strlen(s->app_id) == id.n && !memcmp(s->app_id, id.p, id.n))
			return (long)i;
	}
	if (set->nsections == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 4;
		void *p = realloc(set->sections, cap * sizeof(*s));

		if (!p)
			return -ENOMEM;
		set->sections = p;
		set->cap = cap;
	}
	s = &set->sections[set->nsections];
	*s = (struct rule_section){ .line = line, .broken = broken };
	s->program = dup_word(prog);
	s->app_id = dup_word(id);
	if (!s->program || !s->app_id) {
		free(s->program);
		free(s->app_id);
		return -ENOMEM;
	}
	return (long)set->nsections++;
}

static int add_rule(struct rule_section *s, const struct shim_rule *r)
{
	if (s->nrules == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		void *p = realloc(s->rules, cap * sizeof(*r));

		if (!p)
			return -ENOMEM;
		s->rules = p;
		s->cap = cap;
	}
	s->rules[s->nrules++] = *r;
	return 0;
}

static int parse_app_id(struct rule_set *set, const struct word *w, int nw, unsigned line,
			long *cur, rule_diag_fn *diag, void *ctx)
{
	char q[QUOTE_MAX + 16], q1[QUOTE_MAX + 16], q2[QUOTE_MAX + 16], err[MSG_MAX] = "";
	struct word none = { NULL, 0 };
	long idx;

	if (nw < 3)
		snprintf(err, sizeof(err), "application-id needs a program name and an "
			 "application id: application-id <program|*> <id|*>");
	else if (nw > 3)
		snprintf(err, sizeof(err), "unexpected '%s' after application-id %s %s",
			 Q(q, w[3]), Q(q1, w[1]), Q(q2, w[2]));
	for (int i = 1; i < 3 && i < nw && !err[0]; i++)
		for (size_t k = 0; k < w[i].n; k++)
			if ((unsigned char)w[i].p[k] < 0x20 || (unsigned char)w[i].p[k] >= 0x7f) {
				snprintf(err, sizeof(err), "application-id: '%s' has a "
					 "non-printable character", Q(q, w[i]));
				break;
			}
	if (err[0]) {
		/* Its rules must not fall into the previous section: keep them apart. */
		ruleset_report(set, diag, ctx, line, true,
			       "%s; the rules up to the next application-id are ignored", err);
		idx = open_section(set, none, none, line, true);
	} else {
		if (memchr(w[1].p, '/', w[1].n))
			ruleset_report(set, diag, ctx, line, false,
				       "program '%s' contains '/': it is matched against the "
				       "program's short name, which never does", Q(q, w[1]));
		idx = open_section(set, w[1], w[2], line, false);
	}
	if (idx < 0)
		return (int)idx;
	*cur = idx;
	return 0;
}

static int parse_one(struct rule_set *set, const char *p, size_t n, unsigned line,
		     long *cur, rule_diag_fn *diag, void *ctx)
{
	char q[QUOTE_MAX + 16], err[MSG_MAX], warn[MSG_MAX] = "";
	struct word w[WORDS_MAX];
	struct shim_rule r;
	int nw;

	if (memchr(p, 0, n)) {
		ruleset_report(set, diag, ctx, line, true, "line contains a NUL byte");
		return 0;
	}
	nw = split_words(p, n, w);
	if (nw == 0)
		return 0;
	if (word_is(w[0], "application-id"))
		return parse_app_id(set, w, nw, line, cur, diag, ctx);
	if (word_is(w[0], "log")) {
		ruleset_report(set, diag, ctx, line, false,
			       "'log' statements are ignored: use SHIM_LOG_FILE and "
			       "SHIM_TRACELEVEL");
		return 0;
	}
	if (!word_is(w[0], "use")) {
		ruleset_report(set, diag, ctx, line, true,
			       "unknown statement '%s' (expected application-id or use)",
			       Q(q, w[0]));
		return 0;
	}
	if (parse_use(w, nw, &r, err, sizeof(err), warn, sizeof(warn))) {
		ruleset_report(set, diag, ctx, line, true, "%s", err);
		return 0;
	}
	if (warn[0])
		ruleset_report(set, diag, ctx, line, false, "%s", warn);
	r.line = line;
	if (*cur < 0) {
		/* Rules before any application-id: VMA's implicit "application-id * *". */
		struct word star = { "*", 1 };
		long idx = open_section(set, star, star, 0, false);

		if (idx < 0)
			return (int)idx;
		*cur = idx;
	}
	return add_rule(&set->sections[*cur], &r);
}

int ruleset_parse(struct rule_set *set, const char *buf, size_t len, rule_diag_fn *diag,
		  void *ctx)
{
	long cur = -1;
	unsigned line = 0;
	size_t i = 0;
	int rc;

	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - buf - i) : len - i;

		line++;
		rc = parse_one(set, buf + i, n, line, &cur, diag, ctx);
		if (rc)
			return rc;
		i += n + 1;
	}
	ruleset_lint(set, diag, ctx);
	return 0;
}

/* Whole file into memory, at most RULES_FILE_MAX bytes. stdio rather than read():
 * inside the library, read() and close() are our own interposed wrappers, while
 * stdio reaches the kernel through libc's internal calls. */
static int read_file(const char *path, char **out, size_t *outlen)
{
	struct stat st;
	size_t cap, len = 0, n;
	char *buf, *p;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto out_close;
	}
	cap = st.st_size > 0 && (size_t)st.st_size < RULES_FILE_MAX ? (size_t)st.st_size + 1 : 4096;
	buf = malloc(cap);
	if (!buf) {
		rc = -ENOMEM;
		goto out_close;
	}
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len > RULES_FILE_MAX) {
			rc = -EFBIG;
			goto out_free;
		}
		if (len < cap)
			continue;
		cap = cap * 2 > RULES_FILE_MAX + 1 ? RULES_FILE_MAX + 1 : cap * 2;
		p = realloc(buf, cap);
		if (!p) {
			rc = -ENOMEM;
			goto out_free;
		}
		buf = p;
	}
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		goto out_free;
	}
	*out = buf;
	*outlen = len;
	goto out_close;
out_free:
	free(buf);
out_close:
	fclose(f);
	return rc;
}

int ruleset_load(struct rule_set **out, const char *path, rule_diag_fn *diag, void *ctx)
{
	struct rule_set *set;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_file(path, &buf, &len);
	if (rc)
		return rc;
	rc = ruleset_new(&set, path);
	if (rc)
		goto out_free;
	rc = ruleset_parse(set, buf, len, diag, ctx);
	if (rc) {
		ruleset_free(set);
		goto out_free;
	}
	*out = set;
out_free:
	free(buf);
	return rc;
}

/* ---- formatting ---- */

int rule_ep_format(const struct rule_ep *ep, char *buf, size_t len)
{
	char a[24], p[16];
	uint32_t x = ep->addr;

	if (ep->prefix == 0)
		snprintf(a, sizeof(a), "*");
	else if (ep->prefix == 32)
		snprintf(a, sizeof(a), "%u.%u.%u.%u", x >> 24, x >> 16 & 255, x >> 8 & 255, x & 255);
	else
		snprintf(a, sizeof(a), "%u.%u.%u.%u/%u", x >> 24, x >> 16 & 255, x >> 8 & 255,
			 x & 255, ep->prefix);
	if (ep->port_lo == 0 && ep->port_hi == 65535)
		snprintf(p, sizeof(p), "*");
	else if (ep->port_lo == ep->port_hi)
		snprintf(p, sizeof(p), "%u", ep->port_lo);
	else
		snprintf(p, sizeof(p), "%u-%u", ep->port_lo, ep->port_hi);
	return snprintf(buf, len, "%s:%s", a, p);
}

int rule_format(const struct shim_rule *r, char *buf, size_t len)
{
	char first[48], second[48] = "";
	bool local = shim_role_is_local(r->role);

	rule_ep_format(local ? &r->local : &r->remote, first, sizeof(first));
	if (!local && r->two_eps) {
		second[0] = ':';
		rule_ep_format(&r->local, second + 1, sizeof(second) - 1);
	}
	return snprintf(buf, len, "use %s %s %s%s", r->offload ? "shim" : "os",
			shim_role_name(r->role), first, second);
}

int rules_parse_sockaddr(const char *s, struct sockaddr_in *sa)
{
	const char *colon = strrchr(s, ':');
	struct rule_ep ep;
	unsigned long port;
	char err[8];

	if (!colon || parse_addr((struct word){ s, (size_t)(colon - s) }, &ep, err, sizeof(err),
				 NULL, 0))
		return -EINVAL;
	if (ep.prefix != 32 && !(colon - s == 1 && s[0] == '*'))
		return -EINVAL;
	if (!parse_uint(colon + 1, strlen(colon + 1), &port) || port > 65535)
		return -EINVAL;
	*sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				    .sin_addr.s_addr = htonl(ep.addr) };
	return 0;
}
