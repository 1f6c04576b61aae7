#include "edge/route.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>

#include "edge/config.h"
#include "tunnel/log.h"
#include "tunnel/sysctl.h"

#define SRC_VALID_MARK "net/ipv4/conf/all/src_valid_mark"

static int lowest_priority(const struct nl_rule *rule, void *arg)
{
	uint32_t *lowest = arg;

	if (rule->priority > 0 && rule->priority < *lowest)
		*lowest = rule->priority;
	return 0;
}

static int add_family(struct nl *nl, uint32_t ifindex, const struct edge_config *cfg, int family,
                      struct edge_routes *r)
{
	struct nl_route route = {
	        .dst = {.family = family}, /* the default route, length 0 */
	        .protocol = RTPROT_BOOT,
	        .scope = RT_SCOPE_LINK,
	        .table = cfg->table,
	        .oif = ifindex,
	};
	struct nl_rule to_table = {
	        .family = (uint8_t)family,
	        .invert = true,
	        .table = cfg->table,
	        .fwmark = cfg->fwmark,
	        .fwmask = 0xffffffff,
	        .suppress_prefixlen = -1,
	};
	struct nl_rule main_first = {
	        .family = (uint8_t)family,
	        .table = RT_TABLE_MAIN,
	        .suppress_prefixlen = 0,
	};
	uint32_t lowest;
	int err;

	/* Our rules go just before the first non-local one, as `ip rule add`
	 * would place them, but with their priority set so the removal on exit
	 * deletes exactly them (a delete without priority may match another). */
	/* -EINTR: the rules changed during the dump; it is safe to repeat. */
	for (int tries = 0; tries < 3; tries++) {
		lowest = 32766; /* the main table's rule */
		err = nl_rule_dump(nl, family, lowest_priority, &lowest);
		if (err != -EINTR)
			break;
	}
	if (err)
		return err;
	if (lowest < 3)
		return -ERANGE;
	to_table.priority = lowest - 1;
	main_first.priority = lowest - 2;
	if (family == AF_INET6)
		route.scope = RT_SCOPE_UNIVERSE;
	err = nl_route_add(nl, &route);
	if (err) {
		errno = -err;
		log_err("cannot add the default route to table %u", cfg->table);
		return err;
	}
	r->routes[r->n_routes++] = route;
	err = nl_rule_add(nl, &to_table);
	if (err) {
		errno = -err;
		log_err("cannot add rule \"not fwmark %u table %u\"", cfg->fwmark, cfg->table);
		return err;
	}
	r->rules[r->n_rules++] = to_table;
	err = nl_rule_add(nl, &main_first);
	if (err) {
		errno = -err;
		log_err("cannot add rule \"table main suppress_prefixlength 0\"");
		return err;
	}
	r->rules[r->n_rules++] = main_first;
	return 0;
}

int route_all_up(struct nl *nl, uint32_t ifindex, const struct edge_config *cfg,
                 struct edge_routes *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = add_family(nl, ifindex, cfg, AF_INET, r);
	/* Without address6 the tunnel carries no IPv6: the kill switch drops it
	 * at once (EPERM, so programs fall back to IPv4 fast); without the kill
	 * switch it is routed into the TUN all the same, where no peer takes
	 * it, rather than out of a physical interface. */
	if (!err && (cfg->has_addr6 || !cfg->kill_switch))
		err = add_family(nl, ifindex, cfg, AF_INET6, r);
	/* Replies to the marked tunnel socket must pass reverse-path filtering. */
	r->src_valid_mark = (struct sysctl_saved){.path = SRC_VALID_MARK};
	if (!err) {
		err = sysctl_set_saved(&r->src_valid_mark, "1");
		if (err) {
			errno = -err;
			log_err("cannot set %s to 1", SRC_VALID_MARK);
		}
	}
	if (err) {
		route_all_down(nl, r);
		return err;
	}
	return 0;
}

void route_all_down(struct nl *nl, struct edge_routes *r)
{
	int err;

	while (r->n_rules > 0) {
		err = nl_rule_del(nl, &r->rules[--r->n_rules]);
		if (err && err != -ENOENT)
			log_warnx("cannot remove a rule of ours: %s", strerror(-err));
	}
	while (r->n_routes > 0) {
		err = nl_route_del(nl, &r->routes[--r->n_routes]);
		if (err && err != -ESRCH)
			log_warnx("cannot remove the route of table %u: %s",
			          r->routes[r->n_routes].table, strerror(-err));
	}
	sysctl_restore(&r->src_valid_mark);
}

struct stale {
	const struct edge_config *cfg;
	struct nl_rule found[16];
	unsigned n;
};

/* Ours: "not fwmark F table T", and "table main suppress_prefixlength 0". */
static int collect(const struct nl_rule *r, void *arg)
{
	struct stale *s = arg;
	bool to_table = r->invert && r->table == s->cfg->table && r->fwmark == s->cfg->fwmark &&
	                r->fwmask == 0xffffffff;
	bool main_first = !r->invert && r->table == RT_TABLE_MAIN && r->suppress_prefixlen == 0;

	if ((to_table || main_first) && s->n < sizeof(s->found) / sizeof(s->found[0]))
		s->found[s->n++] = *r;
	return 0;
}

int route_all_stale(struct nl *nl, const struct edge_config *cfg)
{
	int removed = 0, err;

	for (int f = 0; f < 2; f++) {
		struct stale s = {.cfg = cfg};
		int family = f ? AF_INET6 : AF_INET;

		err = nl_rule_dump(nl, family, collect, &s);
		if (err)
			return err;
		for (unsigned i = 0; i < s.n; i++) {
			const struct nl_rule *r = &s.found[i];
			bool pair = false;

			/* a main rule only when it sits just before one of ours */
			for (unsigned j = 0; j < s.n && !pair; j++)
				pair = s.found[j].invert &&
				       (r->invert || s.found[j].priority == r->priority + 1);
			if (!pair)
				continue;
			struct nl_rule del = *r;

			del.family = (uint8_t)family;
			err = nl_rule_del(nl, &del);
			if (err && err != -ENOENT)
				return err;
			removed += !err;
		}
	}
	return removed;
}
