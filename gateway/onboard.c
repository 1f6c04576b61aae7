/* Onboarding, the addresses and the wg-quick configuration: see onboard.h.
 * The YAML texts are in onboard_yaml.c. */
#include "gateway/onboard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
#include "tunnel/crypto.h"
#include "tunnel/key.h"

/* ---- addresses */

static uint32_t host_mask(unsigned len)
{
	return len ? ~(~0u << (32 - len)) : ~0u;
}

/* The low 32 bits of a's host part in the prefix of length len, or
 * UINT64_MAX when its host part has bits above those. */
static uint64_t host6(const struct prefix *a, unsigned len)
{
	uint64_t id = 0;

	for (unsigned bit = len; bit < 128; bit++) {
		unsigned b = (a->bytes[bit / 8] >> (7 - bit % 8)) & 1;

		if (b && 127 - bit >= 32)
			return UINT64_MAX;
		id |= (uint64_t)b << (127 - bit);
	}
	return id;
}

int onboard_address6_of(const struct gw_config *cfg, const struct prefix *addr,
                        struct prefix *addr6)
{
	uint32_t id = ntohl(addr->v4.s_addr) & host_mask(cfg->addr.len);
	unsigned bits = 128 - cfg->addr6.len;
	struct prefix p = cfg->addr6;

	if (!cfg->has_addr6)
		return -ENODATA;
	if (bits < 32 && id >> bits)
		return -ERANGE;
	prefix_mask(&p);
	for (unsigned i = 0; i < 4; i++)
		p.bytes[12 + i] |= (uint8_t)(id >> (24 - 8 * i));
	p.len = 128;
	*addr6 = p;
	return 0;
}

static void mark(uint64_t *used, uint64_t n, uint64_t id)
{
	if (id < n)
		used[id / 64] |= 1ull << (id % 64);
}

int onboard_next_address(const struct gw_config *cfg, struct prefix *addr, bool *has_addr6,
                         struct prefix *addr6)
{
	uint32_t hm = host_mask(cfg->addr.len), net = ntohl(cfg->addr.v4.s_addr) & ~hm;
	/* ids 1 .. n - 1: no network (0) nor broadcast (hm), within the mark */
	uint64_t n = (uint64_t)(hm < cfg->mark_id_mask ? hm - 1 : cfg->mark_id_mask) + 1;
	unsigned bits6 = 128 - cfg->addr6.len;
	uint64_t *used, id;
	size_t i;

	if (cfg->has_addr6 && bits6 < 32 && n > (1ull << bits6))
		n = 1ull << bits6; /* ids beyond the IPv6 subnet's host bits have no pair */
	used = calloc((size_t)(n / 64 + 1), sizeof(*used));
	if (!used)
		return -ENOMEM;
	mark(used, n, 0);
	mark(used, n, ntohl(cfg->addr.v4.s_addr) & hm);
	for (i = 0; i < cfg->n_clients; i++)
		mark(used, n, cfg->clients[i].id);
	/* An IPv6 address another client or the gateway holds takes its id's
	 * pair, even when they were not written as pairs. */
	if (cfg->has_addr6) {
		mark(used, n, host6(&cfg->addr6, cfg->addr6.len));
		for (i = 0; i < cfg->n_clients; i++)
			if (cfg->clients[i].has_addr6)
				mark(used, n, host6(&cfg->clients[i].addr6, cfg->addr6.len));
	}
	for (i = 0; i < n / 64 + 1 && used[i] == UINT64_MAX; i++)
		;
	id = i * 64;
	while (id < n && (used[id / 64] >> (id % 64)) & 1)
		id++;
	free(used);
	if (id >= n)
		return -ENOSPC;
	memset(addr, 0, sizeof(*addr));
	addr->family = AF_INET;
	addr->v4.s_addr = htonl(net | (uint32_t)id);
	addr->len = 32;
	*has_addr6 = cfg->has_addr6;
	if (cfg->has_addr6)
		return onboard_address6_of(cfg, addr, addr6);
	return 0;
}

/* ---- what a stock WireGuard client is given */

int onboard_wg_quick_conf(const struct onboard_edge *e, char *buf, size_t size)
{
	char a[PREFIX_STRLEN], a6[PREFIX_STRLEN] = "", priv[KEY_B64_LEN + 1], pub[KEY_B64_LEN + 1],
	                       psk[KEY_B64_LEN + 1] = "";
	int n;

	key_to_base64(priv, e->priv);
	key_to_base64(pub, e->gw_pub);
	if (e->has_psk)
		key_to_base64(psk, e->psk);
	prefix_format(&e->addr, a, sizeof(a));
	if (e->has_addr6)
		prefix_format(&e->addr6, a6, sizeof(a6));
	n = snprintf(buf, size,
	             "[Interface]\n"
	             "PrivateKey = %s\n"
	             "Address = %s%s%s\n"
	             "MTU = %u\n"
	             "\n"
	             "[Peer]\n"
	             "PublicKey = %s\n"
	             "%s%s%s"
	             "Endpoint = %s\n"
	             "AllowedIPs = 0.0.0.0/0%s\n"
	             "PersistentKeepalive = 25\n",
	             priv, a, e->has_addr6 ? ", " : "", a6, e->mtu, pub,
	             e->has_psk ? "PresharedKey = " : "", psk, e->has_psk ? "\n" : "", e->endpoint,
	             e->has_addr6 ? ", ::/0" : "");
	crypto_wipe(priv, sizeof(priv));
	crypto_wipe(psk, sizeof(psk));
	if (n < 0 || (size_t)n >= size) {
		if (size)
			crypto_wipe(buf, size); /* no half of a key left in it */
		return -ENOSPC;
	}
	return n;
}
