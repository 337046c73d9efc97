/* view_prom.c — Prometheus text exposition (version 0.0.4) of a snapshot: one metric
 * family per stat, shim_<kind>_<name> (counters end in _total), labelled with pid,
 * program and the slot (fd, ring, cq, ...). Attributes (addresses, ports, states)
 * are not numbers to graph: sockets get one shim_socket_info series carrying them. */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "shim_stats.h"

static void metric_name(char *buf, size_t sz, const char *stat, bool counter)
{
	size_t n = (size_t)snprintf(buf, sz, "shim_%s", stat);

	for (char *p = buf; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			*p = '_';
	if (counter && n + 7 < sz)
		strcat(buf, "_total");
}

static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* HELP text escapes only backslash and newline. */
static void help_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static bool is_attribute(const char *unit)
{
	static const char *const attrs[] = { "ipv4", "port", "fd", "tid", "tcp_state", "proto", "inode", "index", NULL };

	for (const char *const *a = attrs; *a; a++)
		if (strcmp(unit, *a) == 0)
			return true;
	return false;
}

static void labels(const struct view_ctx *c, unsigned k, const struct snap_slot *sl, int elem)
{
	const char *kn = c->cur->kinds[k].name;

	fprintf(c->out, "{pid=\"%d\",program=\"", c->cur->pid);
	label_value(c->out, c->cur->program);
	fputc('"', c->out);
	if (strcmp(kn, "socket") == 0) {
		if (sl->id < 0)
			fprintf(c->out, ",fd=\"other\"");
		else
			fprintf(c->out, ",fd=\"%" PRId64 "\"", sl->id);
	} else if (strcmp(kn, "global") && strcmp(kn, "custom")) {
		fprintf(c->out, ",%s=\"%u\"", kn, sl->index);
		if (sl->label[0]) {
			fprintf(c->out, ",label=\"");
			label_value(c->out, sl->label);
			fputc('"', c->out);
		}
		if (strcmp(kn, "iomux") == 0 && sl->id >= 0)
			fprintf(c->out, ",fd=\"%" PRId64 "\"", sl->id);
	}
	if (elem >= 0)
		fprintf(c->out, ",index=\"%d\"", elem);
	fputc('}', c->out);
}

static void socket_info(const struct view_ctx *c)
{
	int k = stats_snap_kind(c->cur, "socket");

	if (k < 0 || stats_snap_find(c->cur, "socket.protocol") < 0)
		return;
	fprintf(c->out, "# HELP shim_socket_info socket attributes (value is always 1)\n"
			"# TYPE shim_socket_info gauge\n");
	for (unsigned i = 0; i < c->cur->kinds[k].nslots; i++) {
		const struct snap_slot *sl = &c->cur->kinds[k].slots[i];
		char la[48], ra[48];
		uint64_t proto = view_raw(c, sl, "socket.protocol");
		if (sl->id < 0 || !view_fd_selected(c->o, (long)sl->id))
			continue;
		fmt_addr_port(la, sizeof(la), view_raw(c, sl, "socket.bound_addr"),
			      view_raw(c, sl, "socket.bound_port"));
		fmt_addr_port(ra, sizeof(ra), view_raw(c, sl, "socket.connected_addr"),
			      view_raw(c, sl, "socket.connected_port"));
		fprintf(c->out, "shim_socket_info{pid=\"%d\",program=\"", c->cur->pid);
		label_value(c->out, c->cur->program);
		fprintf(c->out, "\",fd=\"%" PRId64 "\",proto=\"%s\",local=\"%s\",remote=\"%s\",state=\"%s\",offloaded=\"%s\"} 1\n",
			sl->id, proto_name(proto), la, ra,
			proto == 6 ? tcp_state_name(view_raw(c, sl, "socket.tcp_state")) : "",
			view_raw(c, sl, "socket.offloaded") ? "yes" : "no");
	}
}

void view_prometheus(const struct view_ctx *c)
{
	const struct stats_snap *s = c->cur;

	fprintf(c->out, "# HELP shim_process_start_time_seconds when the process created its stats segment\n"
			"# TYPE shim_process_start_time_seconds gauge\n"
			"shim_process_start_time_seconds{pid=\"%d\",program=\"", s->pid);
	label_value(c->out, s->program);
	fprintf(c->out, "\"} %.3f\n", (double)s->start_time_ns / 1e9);
	socket_info(c);
	for (unsigned i = 0; i < s->nstats; i++) {
		const struct snap_stat *st = &s->stats[i];
		const struct snap_kind *sk = &s->kinds[st->kind];
		bool counter = st->mode == SHIM_STAT_COUNTER, sockets = strcmp(sk->name, "socket") == 0;
		char name[96];

		if (is_attribute(st->unit) || sk->nslots == 0)
			continue;
		metric_name(name, sizeof(name), st->name, counter);
		fprintf(c->out, "# HELP %s ", name);
		help_text(c->out, st->doc[0] ? st->doc : st->name);
		fprintf(c->out, " (%s)\n# TYPE %s %s\n", st->unit, name, counter ? "counter" : "gauge");
		for (unsigned j = 0; j < sk->nslots; j++) {
			const struct snap_slot *sl = &sk->slots[j];
			if (sockets && !view_fd_selected(c->o, (long)sl->id))
				continue;
			for (unsigned e = 0; e < st->count; e++) {
				fputs(name, c->out);
				labels(c, st->kind, sl, st->count > 1 ? (int)e : -1);
				fprintf(c->out, " %" PRIu64 "\n", stats_snap_get(s, sl, (int)i, e));
			}
		}
	}
	fflush(c->out);
}
