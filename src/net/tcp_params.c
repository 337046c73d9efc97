/* tcp_params.c — turns the library's SHIM_* parameters into a TCP engine configuration.
 * The engine itself never reads globals (so stacks with different settings can coexist
 * in one process or test); the socket layer calls this once per stack it creates. */
#include <stdio.h>

#include "core/params.h"
#include "net/tcp.h"

/* SHIM_WINDOW_SCALING=-2: the shift Linux would use for its largest receive buffer. */
static int wscale_from_kernel(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_rmem", "r");
	unsigned long lo, def, max = 0;
	int ws = 0;

	if (!f)
		return -1;
	if (fscanf(f, "%lu %lu %lu", &lo, &def, &max) != 3)
		max = 0;
	fclose(f);
	if (!max)
		return -1;
	while (ws < 14 && (65535ul << ws) < max)
		ws++;
	return ws;
}

void tcp_config_from_params(struct tcp_config *cfg, const struct shim_params *p)
{
	tcp_config_default(cfg);
	if (p->mtu > 0)
		cfg->mtu = (uint32_t)p->mtu;
	cfg->mss = p->mss > 0 ? (uint32_t)p->mss : 0;
	if (p->window_scaling == -1) {
		cfg->window_scaling = false;
	} else {
		cfg->window_scaling = true;
		int ws = p->window_scaling == -2 ? wscale_from_kernel() : (int)p->window_scaling;

		if (ws >= 0) {
			cfg->wscale_fixed = true;
			cfg->wscale = (uint8_t)(ws > 14 ? 14 : ws);
		}
	}
	switch (p->tcp_cc_algo) {
	case SHIM_TCP_CC_CUBIC:
		cfg->cc_algo = TCP_CC_CUBIC;
		break;
	case SHIM_TCP_CC_NONE:
		cfg->cc_algo = TCP_CC_NONE;
		break;
	default:
		cfg->cc_algo = TCP_CC_NEWRENO;
		break;
	}
	cfg->nodelay = p->tcp_nodelay;
	cfg->quickack = p->tcp_quickack;
	cfg->max_syn_rate = p->tcp_max_syn_rate > 0 ? (uint32_t)p->tcp_max_syn_rate : 0;
	if (p->tx_segs_tcp > 0 && (uint64_t)p->tx_segs_tcp < cfg->max_tx_segs)
		cfg->max_tx_segs = (uint32_t)p->tx_segs_tcp;
}
