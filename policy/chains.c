/* Which chain a client's new flows go to: shared by the clients whose rules
 * are the same, so the table grows by chains with the kinds of client, not
 * with the clients.
 *
 * A client's forward and input chains hold the rules that name it, in order,
 * and nothing of its own but a max_flows check, whose counter flows_over_NAME
 * is per client (gatewayctl clients and the metrics read it by name). So:
 *   - a client with max_flows has chains of its own, fwd_NAME and in_NAME;
 *   - the others that only rules for `any` take (with the built-in policy,
 *     all of them) share policy_fwd_any and policy_in_any, which the base
 *     chains fall through to, with no element per client anywhere;
 *   - the rest share policy_fwd_N and policy_in_N, one pair per set of rules
 *     naming them, numbered from 1 in the order of their first client.
 * bandwidth needs no chain of the client's rules: its limits are chosen by
 * ct mark, before them. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "policy/internal.h"

static bool has_max_flows(const struct policy *p, size_t ci)
{
	int l = p->clients[ci].limit;

	return l >= 0 && p->limits[l].max_flows;
}

static bool only_any(const struct policy *p, size_t ci)
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (p->rules[i].from[ci] != p->rules[i].from_any)
			return false;
	return true;
}

static bool same_rules(const struct policy *p, size_t a, size_t b)
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (p->rules[i].from[a] != p->rules[i].from[b])
			return false;
	return true;
}

/* FNV-1a over which rules name the client. */
static uint64_t rules_hash(const struct policy *p, size_t ci)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < p->n_rules; i++)
		h = (h ^ (p->rules[i].from[ci] ? 1u : 2u)) * 0x100000001b3ull;
	return h;
}

int policy_find_chains(struct policy *p)
{
	size_t size = 16, *slot = NULL, ci;
	int ret = -ENOMEM;

	while (size < 2 * p->n_clients)
		size *= 2;
	p->chain_of = calloc(p->n_clients + 1, sizeof(*p->chain_of));
	p->chain_first = calloc(p->n_clients + 1, sizeof(*p->chain_first));
	/* an open-addressed table of the shared chains by their first client,
	 * SIZE_MAX for a free slot: one pass however many kinds there are */
	slot = malloc(size * sizeof(*slot));
	if (!p->chain_of || !p->chain_first || !slot)
		goto out;
	for (size_t k = 0; k < size; k++)
		slot[k] = SIZE_MAX;
	p->n_chains = 0;
	for (ci = 0; ci < p->n_clients; ci++) {
		size_t k;

		if (has_max_flows(p, ci)) {
			p->chain_of[ci] = CHAIN_OWN;
			continue;
		}
		if (only_any(p, ci)) {
			p->chain_of[ci] = CHAIN_ANY;
			continue;
		}
		k = rules_hash(p, ci) & (size - 1);
		while (slot[k] != SIZE_MAX && !same_rules(p, p->chain_first[slot[k]], ci))
			k = (k + 1) & (size - 1);
		if (slot[k] == SIZE_MAX) {
			slot[k] = p->n_chains;
			p->chain_first[p->n_chains++] = ci;
		}
		p->chain_of[ci] = (int)slot[k];
	}
	ret = 0;
out:
	free(slot);
	return ret;
}
