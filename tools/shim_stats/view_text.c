/* view_text.c — shim_stats text views in the shape of vma_stats (VMA manual examples
 * 1–4): 1 basic per-socket table and iomux lines, 2 plus rings, CQs, pools, process
 * and custom stats, 3 full per-socket/CQ/ring blocks, 4 multicast membership,
 * 5 netstat-like. Stats without a dedicated line are printed by name from the
 * schema (view 2: those that are not zero), so stats added by newer libraries
 * still show. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "shim_stats.h"

#define SEP "======================================================"
#define DASH "---------------------------------------------------------------------------------"

/* Open slots of kind k in fd/index order, filtered by -s for sockets. */
static unsigned sorted_slots(const struct view_ctx *c, int k, const struct snap_slot ***out)
{
	const struct snap_kind *sk;
	unsigned n = 0;

	*out = NULL;
	if (k < 0)
		return 0;
	sk = &c->cur->kinds[k];
	*out = calloc(sk->nslots ? sk->nslots : 1, sizeof(**out));
	if (!*out)
		return 0;
	bool sockets = strcmp(sk->name, "socket") == 0;
	for (unsigned i = 0; i < sk->nslots; i++)
		if (!sockets || view_fd_selected(c->o, (long)sk->slots[i].id))
			(*out)[n++] = &sk->slots[i];
	/* insertion sort: a few hundred slots at most */
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && (*out)[j - 1]->id > (*out)[j]->id; j--) {
			const struct snap_slot *t = (*out)[j];
			(*out)[j] = (*out)[j - 1];
			(*out)[j - 1] = t;
		}
	return n;
}

static double pct(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0.0;
}

/* --- generic lines ----------------------------------------------------------------- */
/* Every stat of kind k in slot sl whose name is not in `skip` (NULL-terminated short
 * names), one per line ("  name: value"), or wrapped name=value pairs when compact. */
static void generic_stats(const struct view_ctx *c, unsigned k, const struct snap_slot *sl,
			  const char *const *skip, bool compact, const char *indent)
{
	/* the block shared by the sockets beyond the slots has no attributes of its own */
	bool shared = sl->id < 0 && strcmp(c->cur->kinds[k].name, "socket") == 0;
	int col = 0;

	for (unsigned i = 0; i < c->cur->nstats; i++) {
		const struct snap_stat *st = &c->cur->stats[i];
		bool skipped = false;

		if (st->kind != k)
			continue;
		for (const char *const *s = skip; s && *s; s++)
			skipped |= strcmp(*s, st->short_name) == 0;
		if (skipped || (shared && st->mode == SHIM_STAT_VALUE))
			continue;
		for (unsigned e = 0; e < st->count; e++) {
			char val[64], name[80];
			/* the compact paragraphs of view 2 show what is not zero */
			if (compact && view_val(c, k, sl, (int)i, e) == 0)
				continue;
			fmt_value(val, sizeof(val), c, k, sl, (int)i, e);
			if (st->count > 1) {
				/* arrays: only the used elements after the first */
				if (e > 0 && !stats_snap_get(c->cur, sl, (int)i, e))
					continue;
				snprintf(name, sizeof(name), "%s[%u]", st->short_name, e);
			} else {
				snprintf(name, sizeof(name), "%s", st->short_name);
			}
			if (compact) {
				int len = (int)strlen(name) + (int)strlen(val) + 3;
				if (col && col + len > 100) {
					fprintf(c->out, "\n%s", indent);
					col = 0;
				}
				col += fprintf(c->out, "%s%s %s", col ? ", " : "", name, val);
			} else {
				fprintf(c->out, "%s%-26s %s\n", indent, name, val);
			}
		}
	}
	if (compact && col)
		fputc('\n', c->out);
}

static void slot_title(const struct view_ctx *c, unsigned k, const struct snap_slot *sl,
		       char *buf, size_t sz)
{
	const char *kn = c->cur->kinds[k].name;

	if (sl->label[0])
		snprintf(buf, sz, "%s[%u] %s", kn, sl->index, sl->label);
	else
		snprintf(buf, sz, "%s[%u]", kn, sl->index);
}

/* One compact paragraph per slot of every kind but sockets and iomux. */
static void other_kinds_compact(const struct view_ctx *c)
{
	for (unsigned k = 0; k < c->cur->nkinds; k++) {
		const char *kn = c->cur->kinds[k].name;
		const struct snap_slot **sl;
		unsigned n;

		if (strcmp(kn, "socket") == 0 || strcmp(kn, "iomux") == 0)
			continue;
		n = sorted_slots(c, (int)k, &sl);
		for (unsigned i = 0; i < n; i++) {
			char title[80];
			bool any = false;
			for (unsigned s = 0; s < c->cur->nstats; s++)
				any |= c->cur->stats[s].kind == k;
			if (!any)
				continue;
			slot_title(c, k, sl[i], title, sizeof(title));
			fprintf(c->out, "%s: ", title);
			generic_stats(c, k, sl[i], NULL, true, "    ");
		}
		free(sl);
	}
}

/* --- iomux lines (example 2) ---------------------------------------------------------- */
static void iomux_lines(const struct view_ctx *c)
{
	int k = stats_snap_kind(c->cur, "iomux");
	const struct snap_slot **sl;
	unsigned n = sorted_slots(c, k, &sl);

	for (unsigned i = 0; i < n; i++) {
		double hit = view_val_name(c, (unsigned)k, sl[i], "iomux.poll_hit");
		double miss = view_val_name(c, (unsigned)k, sl[i], "iomux.poll_miss");
		double tmo = view_val_name(c, (unsigned)k, sl[i], "iomux.timeouts");
		double err = view_val_name(c, (unsigned)k, sl[i], "iomux.errors");
		double os = view_val_name(c, (unsigned)k, sl[i], "iomux.rx_ready_os");
		double off = view_val_name(c, (unsigned)k, sl[i], "iomux.rx_ready_offloaded");
		double poll_ns = view_val_name(c, (unsigned)k, sl[i], "iomux.poll_ns");
		double span = c->o->deltas && c->prev ? 1e9 :
			(double)(c->cur->taken_real_ns - c->cur->start_time_ns);
		char name[64];

		if (hit + miss + tmo + err + os + off == 0)
			continue;
		const char *lbl = sl[i]->label[0] ? sl[i]->label : "iomux";
		if (strcmp(lbl, "epoll") == 0)
			snprintf(name, sizeof(name), "epoll_wait()");
		else
			snprintf(name, sizeof(name), "%s()", lbl);
		if (sl[i]->id >= 0)
			snprintf(name + strlen(name), sizeof(name) - strlen(name), " epfd=%" PRId64,
				 sl[i]->id);
		fprintf(c->out, "%s Rx Ready:%.0f/%.0f [os/offload]\n", name, os, off);
		fprintf(c->out, "Timeouts:%.0f Errors:%.0f Poll:%.2f%% Polling CPU:%.0f%%\n", tmo, err,
			pct(hit, hit + miss), span > 0 ? pct(poll_ns, span) : 0.0);
	}
	free(sl);
}

/* --- view 1/2: the per-socket table (examples 1 and 2) ---------------------------------- */
static void view_table(const struct view_ctx *c)
{
	int k = stats_snap_kind(c->cur, "socket");
	const struct snap_slot **sl;
	unsigned n = sorted_slots(c, k, &sl);
	bool d = c->o->deltas;

	fprintf(c->out, "%s\n", d ? "fd     --------------- offloaded ---------------   ------------- os -------------"
				      : "fd     ------------ total offloaded ------------   ---------- total os ----------");
	fprintf(c->out, "%s\n", d ? "          pkt/s  Kbyte/s eagain/s  error/s  poll%      pkt/s  Kbyte/s  error/s"
				      : "            pkt    Kbyte   eagain    error  poll%        pkt    Kbyte    error");
	bool others = false;
	for (unsigned i = 0; i < n; i++) {
		unsigned ku = (unsigned)k;
		char fd[24];
#define V(name) view_val_name(c, ku, sl[i], "socket." name)
		double hit = V("rx_poll_hit"), miss = V("rx_poll_miss");
		if (sl[i]->id < 0)
			others = snprintf(fd, sizeof(fd), "*") > 0;
		else
			snprintf(fd, sizeof(fd), "%" PRId64, sl[i]->id);
		fprintf(c->out, "%-4s Rx: %10.0f %8.0f %8.0f %8.0f %6.1f %10.0f %8.0f %8.0f\n",
			fd, V("rx_offload_packets"), V("rx_offload_bytes") / 1024,
			V("rx_offload_eagain"), V("rx_offload_errors"), pct(hit, hit + miss),
			V("rx_os_packets"), V("rx_os_bytes") / 1024, V("rx_os_errors"));
		fprintf(c->out, "     Tx: %10.0f %8.0f %8.0f %8.0f %6s %10.0f %8.0f %8.0f\n",
			V("tx_offload_packets"), V("tx_offload_bytes") / 1024, V("tx_offload_eagain"),
			V("tx_offload_errors"), "", V("tx_os_packets"), V("tx_os_bytes") / 1024,
			V("tx_os_errors"));
#undef V
	}
	fprintf(c->out, "%s\n", DASH);
	if (others)
		fprintf(c->out, "* other sockets: those beyond SHIM_STATS_FD_NUM, counted together\n");
	free(sl);
	iomux_lines(c);
	if (c->o->view == 2)
		other_kinds_compact(c);
}

/* --- view 3: full detail (example 3) --------------------------------------------------- */
static void sock_block(const struct view_ctx *c, unsigned k, const struct snap_slot *sl)
{
	static const char *const shown[] = {
		"fd", "protocol", "tcp_state", "offloaded", "blocking", "mc_loop", "bound_addr",
		"bound_port", "connected_addr", "connected_port", "mc_group_count", "mc_groups",
		"rx_offload_packets", "rx_offload_bytes", "rx_offload_eagain", "rx_offload_errors",
		"tx_offload_packets", "tx_offload_bytes", "tx_offload_eagain", "tx_offload_errors",
		"rx_os_packets", "rx_os_bytes", "rx_os_eagain", "rx_os_errors",
		"tx_os_packets", "tx_os_bytes", "tx_os_eagain", "tx_os_errors",
		"rx_bytes_cur", "rx_bytes_max", "rx_bytes_dropped", "rx_bytes_limit",
		"rx_packets_cur", "rx_packets_max", "rx_packets_dropped", "rx_poll_miss",
		"rx_poll_hit", NULL,
	};
	const char *ps = c->o->deltas ? "/s" : "";
	char a[64];
	uint64_t proto = view_raw(c, sl, "socket.protocol");
	uint64_t state = view_raw(c, sl, "socket.tcp_state");

#define V(name) view_val_name(c, k, sl, "socket." name)
#define R(name) view_raw(c, sl, "socket." name)
	if (sl->id < 0) {
		fprintf(c->out, "%s\nFd=[*] other sockets: those beyond SHIM_STATS_FD_NUM, counted together\n", SEP);
		goto counters;
	}
	fprintf(c->out, "%s\nFd=[%" PRId64 "]\n", SEP, sl->id);
	fprintf(c->out, "- %s%s%s, %s, %s, MC Loop %s\n", proto == 6 ? "TCP" : proto == 17 ? "UDP" : "IP",
		proto == 6 && state ? " " : "", proto == 6 && state ? tcp_state_name(state) : "",
		R("offloaded") ? "Offloaded" : "Not offloaded", R("blocking") ? "Blocked" : "Non-blocked",
		R("mc_loop") ? "Enabled" : "Disabled");
	fmt_addr_port(a, sizeof(a), R("bound_addr"), R("bound_port"));
	fprintf(c->out, "- Bound IF = [%s]\n", a);
	if (R("connected_addr") || R("connected_port")) {
		fmt_addr_port(a, sizeof(a), R("connected_addr"), R("connected_port"));
		fprintf(c->out, "- Connected = [%s]\n", a);
	}
	int g = stats_snap_find(c->cur, "socket.mc_groups");
	for (unsigned e = 0; g >= 0 && e < c->cur->stats[g].count; e++) {
		uint64_t grp = stats_snap_get(c->cur, sl, g, e);
		if (!grp)
			continue;
		fmt_ipv4(a, sizeof(a), grp);
		fprintf(c->out, "- Member of = [%s]\n", a);
	}
counters:;
	static const struct { const char *title, *pfx; bool eagain; } io[] = {
		{ "Rx Offload", "rx_offload_", true }, { "Tx Offload", "tx_offload_", true },
		{ "Rx OS info", "rx_os_", true }, { "Tx OS info", "tx_os_", true },
	};
	for (unsigned i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
		char n[4][64];
		static const char *const f[] = { "bytes", "packets", "eagain", "errors" };
		double v[4];
		for (int j = 0; j < 4; j++) {
			snprintf(n[j], sizeof(n[j]), "socket.%s%s", io[i].pfx, f[j]);
			v[j] = view_val_name(c, k, sl, n[j]);
		}
		if (v[0] + v[1] + v[2] + v[3] == 0)
			continue;
		fprintf(c->out, "%s: %.0f KB / %.0f / %.0f / %.0f [bytes/packets/eagains/errors]%s\n",
			io[i].title, v[0] / 1024, v[1], v[2], v[3], ps);
	}
	fprintf(c->out, "Rx byte: cur %.0f / max %.0f / dropped%s %.0f / limit %.0f\n", V("rx_bytes_cur"),
		V("rx_bytes_max"), ps, V("rx_bytes_dropped"), V("rx_bytes_limit"));
	fprintf(c->out, "Rx pkt : cur %.0f / max %.0f / dropped%s %.0f\n", V("rx_packets_cur"),
		V("rx_packets_max"), ps, V("rx_packets_dropped"));
	double miss = V("rx_poll_miss"), hit = V("rx_poll_hit");
	fprintf(c->out, "Rx poll: %.0f / %.0f (%.2f%%) [miss/hit]\n", miss, hit, pct(hit, hit + miss));
#undef V
#undef R
	generic_stats(c, k, sl, shown, false, "");
}

struct block_line {
	const char *title, *name;
};

static void kind_blocks(const struct view_ctx *c, const char *kind, const char *title,
			const struct block_line *lines, const char *const *shown)
{
	int k = stats_snap_kind(c->cur, kind);
	const struct snap_slot **sl;
	unsigned n = sorted_slots(c, k, &sl);

	for (unsigned i = 0; i < n; i++) {
		fprintf(c->out, "%s\n%s=[%u]%s%s\n", SEP, title, sl[i]->index, sl[i]->label[0] ? " " : "",
			sl[i]->label);
		for (const struct block_line *l = lines; l && l->title; l++) {
			char full[80];
			snprintf(full, sizeof(full), "%s.%s", kind, l->name);
			int s = stats_snap_find(c->cur, full);
			if (s < 0)
				continue;
			bool rate = c->o->deltas && c->cur->stats[s].mode == SHIM_STAT_COUNTER;
			fprintf(c->out, "%-24s %.0f%s\n", l->title, view_val(c, (unsigned)k, sl[i], s, 0),
				rate ? " /s" : "");
		}
		generic_stats(c, (unsigned)k, sl[i], shown, false, "");
	}
	free(sl);
}

static void view_full(const struct view_ctx *c)
{
	static const struct block_line cq_lines[] = {
		{ "Packets dropped:", "rx_drops" }, { "Packets queue len:", "queue_len" },
		{ "Drained max:", "drained_max" }, { "Buffer pool size:", "bpool_size" }, { NULL, NULL },
	};
	static const char *const cq_shown[] = { "rx_drops", "queue_len", "drained_max", "bpool_size", NULL };
	static const struct block_line ring_lines[] = {
		{ "Packets count:", "rx_packets" }, { "Packets bytes:", "rx_bytes" },
		{ "Tx packets count:", "tx_packets" }, { "Tx packets bytes:", "tx_bytes" },
		{ "Interrupt requests:", "wakeups_requested" }, { "Interrupt received:", "wakeups_received" },
		{ "Moderation frame count:", "moderation_frames" },
		{ "Moderation usec period:", "moderation_usec" }, { NULL, NULL },
	};
	static const char *const ring_shown[] = {
		"rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "wakeups_requested",
		"wakeups_received", "moderation_frames", "moderation_usec", NULL,
	};
	int k = stats_snap_kind(c->cur, "socket");
	const struct snap_slot **sl;
	unsigned n = sorted_slots(c, k, &sl);

	for (unsigned i = 0; i < n; i++)
		sock_block(c, (unsigned)k, sl[i]);
	free(sl);
	kind_blocks(c, "cq", "CQ", cq_lines, cq_shown);
	kind_blocks(c, "ring", "RING", ring_lines, ring_shown);
	kind_blocks(c, "bpool", "BPOOL", NULL, NULL);
	/* everything else (iomux, process, custom, kinds this tool does not know) */
	for (unsigned kk = 0; kk < c->cur->nkinds; kk++) {
		const char *kn = c->cur->kinds[kk].name;
		if (!strcmp(kn, "socket") || !strcmp(kn, "cq") || !strcmp(kn, "ring") || !strcmp(kn, "bpool"))
			continue;
		const struct snap_slot **o;
		unsigned m = sorted_slots(c, (int)kk, &o);
		for (unsigned i = 0; i < m; i++) {
			char title[80];
			slot_title(c, kk, o[i], title, sizeof(title));
			fprintf(c->out, "%s\n%s\n", SEP, title);
			generic_stats(c, kk, o[i], NULL, false, "");
		}
		free(o);
	}
	fprintf(c->out, "%s\n", SEP);
}

/* --- view 4: multicast membership (example 4) ------------------------------------------- */
static void view_groups(const struct view_ctx *c)
{
	int k = stats_snap_kind(c->cur, "socket");
	int g = stats_snap_find(c->cur, "socket.mc_groups");
	const struct snap_slot **sl;
	unsigned n = sorted_slots(c, k, &sl);

	fprintf(c->out, "Group Membership Information\n%-18s fd number\n%s\n", "Group", DASH);
	for (unsigned i = 0; g >= 0 && i < n; i++)
		for (unsigned e = 0; e < c->cur->stats[g].count; e++) {
			uint64_t grp = stats_snap_get(c->cur, sl[i], g, e);
			char a[32], b[40];
			if (!grp)
				continue;
			fmt_ipv4(a, sizeof(a), grp);
			snprintf(b, sizeof(b), "[%s]", a);
			fprintf(c->out, "%-18s %" PRId64 "\n", b, sl[i]->id);
		}
	free(sl);
}

/* --- view 5: netstat-like --------------------------------------------------------------- */
static void view_netstat(const struct view_ctx *c)
{
	int k = stats_snap_kind(c->cur, "socket");
	const struct snap_slot **sl;
	unsigned n = sorted_slots(c, k, &sl);
	char prog[96];

	snprintf(prog, sizeof(prog), "%d/%s", c->cur->pid, c->cur->program);
	fprintf(c->out, "%-5s %-9s %6s %6s %-23s %-23s %-11s %-5s %s\n", "Proto", "Offloaded", "Recv-Q",
		"Send-Q", "Local Address", "Foreign Address", "State", "Fd", "PID/Program name");
	for (unsigned i = 0; i < n; i++) {
		char la[48], fa[48];
		uint64_t proto = view_raw(c, sl[i], "socket.protocol");
		if (sl[i]->id < 0)
			continue;	/* "other sockets": no address to show */
		fmt_addr_port(la, sizeof(la), view_raw(c, sl[i], "socket.bound_addr"),
			      view_raw(c, sl[i], "socket.bound_port"));
		fmt_addr_port(fa, sizeof(fa), view_raw(c, sl[i], "socket.connected_addr"),
			      view_raw(c, sl[i], "socket.connected_port"));
		fprintf(c->out, "%-5s %-9s %6" PRIu64 " %6" PRIu64 " %-23s %-23s %-11s %-5" PRId64 " %s\n",
			proto_name(proto), view_raw(c, sl[i], "socket.offloaded") ? "Yes" : "No",
			view_raw(c, sl[i], "socket.rx_bytes_cur"), view_raw(c, sl[i], "socket.tx_bytes_cur"),
			la, fa, proto == 6 ? tcp_state_name(view_raw(c, sl[i], "socket.tcp_state")) : "",
			sl[i]->id, prog);
	}
	free(sl);
}

void view_text(const struct view_ctx *c)
{
	switch (c->o->view) {
	case 3: view_full(c); break;
	case 4: view_groups(c); break;
	case 5: view_netstat(c); break;
	default: view_table(c); break;
	}
	fflush(c->out);
}
