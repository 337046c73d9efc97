/* view_json.c — one JSON document per report, on one line (JSON Lines when cycling):
 * process identity, the schema, then every open slot of every kind with its stats
 * by short name. Counters are per-second rates with -d 2. Driven by the schema only. */
#include <inttypes.h>
#include <string.h>

#include "shim_stats.h"

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void json_num(const struct view_ctx *c, unsigned k, const struct snap_slot *sl, int s,
		     unsigned e)
{
	const struct snap_stat *st = &c->cur->stats[s];

	if (c->o->deltas && c->prev && st->mode == SHIM_STAT_COUNTER)
		fprintf(c->out, "%.3f", view_val(c, k, sl, s, e));
	else
		fprintf(c->out, "%" PRIu64, stats_snap_get(c->cur, sl, s, e));
}

static void json_slot(const struct view_ctx *c, unsigned k, const struct snap_slot *sl)
{
	bool first = true;

	fprintf(c->out, "{\"slot\":%u,\"id\":%" PRId64 ",\"label\":", sl->index, sl->id);
	json_str(c->out, sl->label);
	fprintf(c->out, ",\"stats\":{");
	for (unsigned s = 0; s < c->cur->nstats; s++) {
		const struct snap_stat *st = &c->cur->stats[s];
		if (st->kind != k)
			continue;
		if (!first)
			fputc(',', c->out);
		first = false;
		json_str(c->out, st->short_name);
		fputc(':', c->out);
		if (st->count > 1)
			fputc('[', c->out);
		for (unsigned e = 0; e < st->count; e++) {
			if (e)
				fputc(',', c->out);
			json_num(c, k, sl, (int)s, e);
		}
		if (st->count > 1)
			fputc(']', c->out);
	}
	fprintf(c->out, "}}");
}

void view_json(const struct view_ctx *c)
{
	const struct stats_snap *s = c->cur;

	fprintf(c->out, "{\"pid\":%d,\"program\":", s->pid);
	json_str(c->out, s->program);
	fprintf(c->out, ",\"cmdline\":");
	json_str(c->out, s->cmdline);
	fprintf(c->out, ",\"lib_version\":");
	json_str(c->out, s->lib_version);
	fprintf(c->out, ",\"layout_version\":%u,\"start_time_ns\":%" PRIu64 ",\"time_ns\":%" PRIu64
			",\"mode\":\"%s\",\"interval_s\":%.3f,\"log_level\":%d,\"log_details\":%d",
		s->layout_version, s->start_time_ns, s->taken_real_ns,
		c->o->deltas && c->prev ? "deltas" : "totals", c->prev ? c->secs : 0.0, s->log_level,
		s->log_details);
	fprintf(c->out, ",\"schema\":[");
	for (unsigned i = 0; i < s->nstats; i++) {
		const struct snap_stat *st = &s->stats[i];
		fprintf(c->out, "%s{\"name\":", i ? "," : "");
		json_str(c->out, st->name);
		fprintf(c->out, ",\"kind\":");
		json_str(c->out, s->kinds[st->kind].name);
		fprintf(c->out, ",\"unit\":");
		json_str(c->out, st->unit);
		fprintf(c->out, ",\"mode\":\"%s\",\"count\":%u,\"doc\":", mode_name(st->mode), st->count);
		json_str(c->out, st->doc);
		fputc('}', c->out);
	}
	fprintf(c->out, "],\"kinds\":{");
	for (unsigned k = 0; k < s->nkinds; k++) {
		const struct snap_kind *sk = &s->kinds[k];
		bool sockets = strcmp(sk->name, "socket") == 0, first = true;
		fprintf(c->out, "%s", k ? "," : "");
		json_str(c->out, sk->name);
		fprintf(c->out, ":[");
		for (unsigned i = 0; i < sk->nslots; i++) {
			if (sockets && !view_fd_selected(c->o, (long)sk->slots[i].id))
				continue;
			if (!first)
				fputc(',', c->out);
			first = false;
			json_slot(c, k, &sk->slots[i]);
		}
		fputc(']', c->out);
	}
	fprintf(c->out, "}}\n");
	fflush(c->out);
}
