/* Warnings for rules no flow can reach, because for every client they apply
 * to, the rules before them already decide every destination and port they
 * name; and for limits whose clients all take an earlier limit.
 *
 * Clients that the same rules name behave alike, so each such class is
 * checked once, with its real clients only. Per class, four axes (forwarded
 * IPv4 and IPv6, the gateway's IPv4 and IPv6) each keep the region of
 * (address, protocol/port) that earlier rules decide. The gateway's own
 * addresses are only known to the running daemon, so for `gateway` every
 * address stands in: what covers all of them covers the gateway's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

#define AXES 4 /* F4, F6 forwarded; 2 + F4, 2 + F6 to the gateway */

/* What rule r matches on each axis: its destinations less its excepts. */
static int rule_space(const struct prule *r, struct ranges space[AXES])
{
	struct ranges all;
	int f, ret = 0;

	for (f = F4; ret == 0 && f <= F6; f++) {
		ret = ranges_subtract(&space[f], &r->to[f], &r->except[f]);
		if (ret == 0 && r->to_gateway) {
			ranges_init(&all);
			ret = ranges_add(&all, u128_of(0), u128_max(fam_of(f)));
			if (ret == 0)
				ret = ranges_subtract(&space[2 + f], &all, &r->except[f]);
			ranges_free(&all);
		}
	}
	return ret;
}

static uint64_t class_hash(const struct policy *p, size_t ci)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < p->n_rules; i++)
		h = (h ^ p->rules[i].from[ci]) * 1099511628211ull;
	return h;
}

static bool same_class(const struct policy *p, size_t a, size_t b)
{
	size_t i;

	for (i = 0; i < p->n_rules; i++)
		if (p->rules[i].from[a] != p->rules[i].from[b])
			return false;
	return true;
}

/* The ports a rule matches on axis x: icmp is IPv4's, icmpv6 IPv6's. */
static int axis_ports(const struct prule *r, int x, struct ranges *out)
{
	struct ranges other;
	uint32_t pt = (x & 1) == F4 ? PS_ICMPV6 : PS_ICMP;
	int ret;

	ranges_init(&other);
	ret = ranges_add(&other, u128_of(pt), u128_of(pt));
	if (ret == 0)
		ret = ranges_subtract(out, &r->ports, &other);
	ranges_free(&other);
	return ret;
}

/* Marks in reachable[] the rules that some flow of client ci's class reaches. */
static int check_class(const struct policy *p, size_t ci, struct ranges (*space)[AXES],
                       struct ranges (*ports)[AXES], bool *reachable)
{
	struct region seen[AXES];
	size_t i;
	int x, ret = 0;

	for (x = 0; x < AXES; x++)
		region_init(&seen[x]);
	for (i = 0; ret == 0 && i < p->n_rules; i++) {
		const struct prule *r = &p->rules[i];

		if (!r->from[ci])
			continue;
		for (x = 0; !reachable[i] && x < AXES; x++)
			if (ports[i][x].n && !region_covers(&seen[x], &space[i][x], &ports[i][x]))
				reachable[i] = true;
		for (x = 0; ret == 0 && x < AXES; x++)
			ret = region_add(&seen[x], &space[i][x], &ports[i][x]);
	}
	for (x = 0; x < AXES; x++)
		region_free(&seen[x]);
	return ret;
}

static bool space_empty(const struct ranges s[AXES])
{
	int x;

	for (x = 0; x < AXES; x++)
		if (s[x].n)
			return false;
	return true;
}

static int check_rules(struct policy *p)
{
	struct ranges(*space)[AXES] = NULL, (*ports)[AXES] = NULL;
	uint64_t *hash = NULL;
	bool *reachable = NULL, *applies = NULL;
	size_t i, j;
	int x, ret = 0;

	if (!p->n_rules || !p->n_clients)
		return 0;
	space = calloc(p->n_rules, sizeof(*space));
	ports = calloc(p->n_rules, sizeof(*ports));
	reachable = calloc(p->n_rules, sizeof(bool));
	applies = calloc(p->n_rules, sizeof(bool));
	hash = calloc(p->n_clients, sizeof(*hash));
	if (!space || !ports || !reachable || !applies || !hash) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; ret == 0 && i < p->n_rules; i++) {
		ret = rule_space(&p->rules[i], space[i]);
		for (x = 0; ret == 0 && x < AXES; x++) {
			ret = axis_ports(&p->rules[i], x, &ports[i][x]);
			if (!ports[i][x].n)
				ranges_free(&space[i][x]); /* ports: [icmp] to IPv6: nothing */
		}
	}
	for (i = 0; ret == 0 && i < p->n_clients; i++) {
		hash[i] = class_hash(p, i);
		for (j = 0; j < i; j++)
			if (hash[j] == hash[i] && same_class(p, i, j))
				break;
		if (j < i)
			continue; /* its class is done */
		ret = check_class(p, i, space, ports, reachable);
		for (j = 0; j < p->n_rules; j++)
			applies[j] |= p->rules[j].from[i];
	}
	for (i = 0; ret == 0 && i < p->n_rules; i++) {
		const struct prule *r = &p->rules[i];

		if (!applies[i] || reachable[i])
			continue;
		if (space_empty(space[i]))
			ret = policy_warn(
			        p, r->line, r->col,
			        "rule \"%s\" can never match: its except or ports leave nothing",
			        r->name);
		else
			ret = policy_warn(
			        p, r->line, r->col,
			        "rule \"%s\" can never match: earlier rules decide all of its "
			        "traffic",
			        r->name);
	}
out:
	for (i = 0; space && ports && i < p->n_rules; i++) {
		for (x = 0; x < AXES; x++) {
			ranges_free(&space[i][x]);
			ranges_free(&ports[i][x]);
		}
	}
	free(space);
	free(ports);
	free(reachable);
	free(applies);
	free(hash);
	return ret;
}

static int check_limits(struct policy *p)
{
	size_t i, k;
	int ret = 0;

	if (!p->n_clients)
		return 0;
	for (k = 0; ret == 0 && k < p->n_limits; k++) {
		for (i = 0; i < p->n_clients; i++)
			if (p->clients[i].limit == (int)k)
				break;
		if (i == p->n_clients)
			ret = policy_warn(
			        p, p->limits[k].line, p->limits[k].col,
			        "limit applies to no client: each of its clients takes an "
			        "earlier limit");
	}
	return ret;
}

int policy_check_reach(struct policy *p)
{
	int ret = check_rules(p);

	return ret ? ret : check_limits(p);
}
