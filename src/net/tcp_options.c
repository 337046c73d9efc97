/* tcp_options.c — TCP options: building MSS, window scale, SACK-permitted and
 * timestamps on SYNs, timestamps and SACK blocks on other segments (RFC 7323, 2018),
 * parsing them from incoming segments, and settling what a handshake negotiated. */
#include <string.h>
#include <arpa/inet.h>

#include "net/tcp_priv.h"

uint32_t tcp_ts_now(const struct tcp_conn *c)
{
	return (uint32_t)(c->st->now / 1000) + c->ts_offset;
}

static uint8_t *put_ts(struct tcp_conn *c, uint8_t *p, bool nops)
{
	uint32_t v = htonl(tcp_ts_now(c)), e = htonl(c->ts_ok ? c->ts_recent : 0);

	if (nops) {
		*p++ = TCPOPT_NOP;
		*p++ = TCPOPT_NOP;
	}
	*p++ = TCPOPT_TIMESTAMP;
	*p++ = TCPOLEN_TIMESTAMP;
	memcpy(p, &v, 4);
	memcpy(p + 4, &e, 4);
	return p + 8;
}

/* Writes the options for a segment with these flags; returns their length (a
 * multiple of 4). */
size_t tcp_write_options(struct tcp_conn *c, uint8_t *opt, uint8_t flags)
{
	uint8_t *p = opt;
	const struct tcp_config *cfg = &c->st->cfg;

	if (flags & TCP_SYN) {
		bool active = !(flags & TCP_ACK);
		bool ts = active ? cfg->timestamps : c->ts_ok;
		bool sack = active ? cfg->sack : c->sack_ok;
		bool ws = active ? cfg->window_scaling : c->ws_ok;
		uint16_t mss = htons(c->mss_clamp);

		*p++ = TCPOPT_MSS;
		*p++ = TCPOLEN_MSS;
		memcpy(p, &mss, 2);
		p += 2;
		if (sack && ts) {
			*p++ = TCPOPT_SACK_PERM;
			*p++ = TCPOLEN_SACK_PERM;
			p = put_ts(c, p, false);
		} else if (ts) {
			p = put_ts(c, p, true);
		} else if (sack) {
			*p++ = TCPOPT_NOP;
			*p++ = TCPOPT_NOP;
			*p++ = TCPOPT_SACK_PERM;
			*p++ = TCPOLEN_SACK_PERM;
		}
		if (ws) {
			*p++ = TCPOPT_NOP;
			*p++ = TCPOPT_WSCALE;
			*p++ = TCPOLEN_WSCALE;
			*p++ = c->rcv_wscale;
		}
		return (size_t)(p - opt);
	}
	if (c->ts_ok)
		p = put_ts(c, p, true);
	if (c->sack_ok && (c->oooq.head || c->dsack_pending) && !(flags & TCP_RST)) {
		uint32_t blocks[4][2];
		size_t max = c->ts_ok ? 3 : 4, n = 0;

		/* A D-SACK block (RFC 2883) goes first and is reported once. */
		if (c->dsack_pending) {
			blocks[0][0] = c->dsack[0];
			blocks[0][1] = c->dsack[1];
			c->dsack_pending = false;
			n = 1;
		}
		n += tcp_sack_blocks(c, blocks + n, max - n);

		if (n) {
			*p++ = TCPOPT_NOP;
			*p++ = TCPOPT_NOP;
			*p++ = TCPOPT_SACK;
			*p++ = (uint8_t)(2 + 8 * n);
			for (size_t i = 0; i < n; i++) {
				uint32_t l = htonl(blocks[i][0]), r = htonl(blocks[i][1]);

				memcpy(p, &l, 4);
				memcpy(p + 4, &r, 4);
				p += 8;
			}
		}
	}
	return (size_t)(p - opt);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

void tcp_parse_options(const uint8_t *opt, size_t len, bool syn, struct tcp_parsed *p)
{
	size_t i = 0;

	while (i < len) {
		uint8_t kind = opt[i], olen;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			break;
		olen = opt[i + 1];
		if (olen < 2 || i + olen > len)
			break;	/* malformed: ignore the rest, as Linux does */
		switch (kind) {
		case TCPOPT_MSS:
			if (olen == TCPOLEN_MSS && syn) {
				p->has_mss = true;
				p->mss = (uint16_t)(opt[i + 2] << 8 | opt[i + 3]);
			}
			break;
		case TCPOPT_WSCALE:
			if (olen == TCPOLEN_WSCALE && syn) {
				p->has_ws = true;
				p->ws = opt[i + 2] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : opt[i + 2];
			}
			break;
		case TCPOPT_SACK_PERM:
			if (olen == TCPOLEN_SACK_PERM && syn)
				p->sack_ok = true;
			break;
		case TCPOPT_TIMESTAMP:
			if (olen == TCPOLEN_TIMESTAMP) {
				p->has_ts = true;
				p->tsval = get32(opt + i + 2);
				p->tsecr = get32(opt + i + 6);
			}
			break;
		case TCPOPT_SACK:
			if (!syn && (olen - 2) % 8 == 0) {
				size_t n = (olen - 2) / 8;

				for (size_t b = 0; b < n && p->nsack < 4; b++) {
					p->sack[p->nsack][0] = get32(opt + i + 2 + 8 * b);
					p->sack[p->nsack][1] = get32(opt + i + 6 + 8 * b);
					p->nsack++;
				}
			}
			break;
		default:
			break;
		}
		i += olen;
	}
}

/* Settles options from the peer's SYN or SYN-ACK. */
void tcp_negotiate_syn_options(struct tcp_conn *c, const struct tcp_parsed *p)
{
	const struct tcp_config *cfg = &c->st->cfg;
	uint16_t mss;

	c->peer_mss = p->has_mss ? p->mss : 536;
	c->ws_ok = cfg->window_scaling && p->has_ws;
	c->snd_wscale = c->ws_ok ? p->ws : 0;
	if (!c->ws_ok)
		c->rcv_wscale = 0;
	c->ts_ok = cfg->timestamps && p->has_ts;
	if (c->ts_ok) {
		c->ts_recent = p->tsval;
		c->ts_recent_us = c->st->now;
	}
	c->sack_ok = cfg->sack && p->sack_ok;
	mss = c->peer_mss < c->mss_clamp ? c->peer_mss : c->mss_clamp;
	if (c->ts_ok)
		mss -= TCPOLEN_TS_ALIGNED;
	if (mss < 64)
		mss = 64;	/* a silly peer MSS must not stall us (Linux floors at 48+) */
	c->mss = mss;
}
