/* view_common.c — value access and formatting shared by the shim_stats views: rates
 * for -d 2, the -s socket filter, and unit-aware printing of stats a view knows
 * nothing special about (addresses, ports, TCP states, arrays). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "shim_stats.h"

double view_val(const struct view_ctx *c, unsigned k, const struct snap_slot *sl, int stat,
		unsigned elem)
{
	uint64_t v = stats_snap_get(c->cur, sl, stat, elem);

	if (stat < 0 || !c->o->deltas || !c->prev || c->cur->stats[stat].mode != SHIM_STAT_COUNTER)
		return (double)v;
	/* same stat index in the previous snapshot: schema indices are stable in a run */
	const struct snap_slot *p = stats_snap_twin(c->prev, k, sl);
	uint64_t pv = p ? stats_snap_get(c->prev, p, stat, elem) : 0;
	/* below the previous value: -z in between, count from 0 */
	double d = v >= pv ? (double)(v - pv) : (double)v;
	return c->secs > 0 ? d / c->secs : d;
}

double view_val_name(const struct view_ctx *c, unsigned k, const struct snap_slot *sl,
		     const char *name)
{
	return view_val(c, k, sl, stats_snap_find(c->cur, name), 0);
}

uint64_t view_raw(const struct view_ctx *c, const struct snap_slot *sl, const char *name)
{
	return stats_snap_get_name(c->cur, sl, name);
}

bool view_fd_selected(const struct view_opts *o, long fd)
{
	if (!o->fds)
		return true;
	for (unsigned i = 0; i < o->nfds; i++)
		if (fd >= o->fds[i].lo && fd <= o->fds[i].hi)
			return true;
	return false;
}

/* "4-16,1,9" */
int parse_fd_list(const char *s, struct view_opts *o)
{
	const char *p = s;

	free(o->fds);
	o->fds = NULL;
	o->nfds = 0;
	while (*p) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;
		if (end == p || lo < 0)
			return -EINVAL;
		p = end;
		if (*p == '-') {
			hi = strtol(p + 1, &end, 10);
			if (end == p + 1 || hi < lo)
				return -EINVAL;
			p = end;
		}
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
		struct fd_range *n = realloc(o->fds, (o->nfds + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		o->fds = n;
		o->fds[o->nfds++] = (struct fd_range){ lo, hi };
	}
	return o->nfds ? 0 : -EINVAL;
}

const char *tcp_state_name(uint64_t st)
{
	static const char *const names[] = {
		"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
		"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
	};
	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

const char *proto_name(uint64_t proto)
{
	return proto == 6 ? "tcp" : proto == 17 ? "udp" : "ip";
}

void fmt_ipv4(char *buf, size_t sz, uint64_t v)
{
	struct in_addr a = { .s_addr = (uint32_t)v };

	if (!inet_ntop(AF_INET, &a, buf, (socklen_t)sz))
		snprintf(buf, sz, "?");
}

void fmt_addr_port(char *buf, size_t sz, uint64_t addr, uint64_t port)
{
	char ip[INET_ADDRSTRLEN];

	fmt_ipv4(ip, sizeof(ip), addr);
	if (port)
		snprintf(buf, sz, "%s:%" PRIu64, ip, port);
	else
		snprintf(buf, sz, "%s:*", ip);
}

const char *mode_name(unsigned mode)
{
	switch (mode) {
	case SHIM_STAT_COUNTER: return "counter";
	case SHIM_STAT_MAXIMUM: return "maximum";
	case SHIM_STAT_VALUE: return "value";
	default: return "unknown";
	}
}

/* Units worth printing after a number; the others are implied by the name. */
static bool show_unit(const char *unit)
{
	static const char *const implied[] = {
		"count", "index", "bool", "ipv4", "port", "fd", "tid", "inode", "proto", "tcp_state", "", NULL,
	};
	for (const char *const *u = implied; *u; u++)
		if (strcmp(unit, *u) == 0)
			return false;
	return true;
}

void fmt_value(char *buf, size_t sz, const struct view_ctx *c, unsigned k,
	       const struct snap_slot *sl, int stat, unsigned elem)
{
	const struct snap_stat *st = &c->cur->stats[stat];
	uint64_t raw = stats_snap_get(c->cur, sl, stat, elem);

	if (strcmp(st->unit, "ipv4") == 0)
		fmt_ipv4(buf, sz, raw);
	else if (strcmp(st->unit, "tcp_state") == 0)
		snprintf(buf, sz, "%s", raw ? tcp_state_name(raw) : "-");
	else if (strcmp(st->unit, "proto") == 0)
		snprintf(buf, sz, "%s", proto_name(raw));
	else if (strcmp(st->unit, "bool") == 0)
		snprintf(buf, sz, "%s", raw ? "yes" : "no");
	else if (strcmp(st->unit, "index") == 0 && raw == UINT64_MAX)
		snprintf(buf, sz, "-");
	else if (st->mode == SHIM_STAT_COUNTER && c->o->deltas && c->prev)
		snprintf(buf, sz, "%.0f%s%s /s", view_val(c, k, sl, stat, elem),
			 show_unit(st->unit) ? " " : "", show_unit(st->unit) ? st->unit : "");
	else
		snprintf(buf, sz, "%" PRIu64 "%s%s", raw, show_unit(st->unit) ? " " : "",
			 show_unit(st->unit) ? st->unit : "");
}
