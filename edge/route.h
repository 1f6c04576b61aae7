/* route_all the way wg-quick does it: the default route of a routing table of
 * our own points at the TUN, a rule sends everything not carrying our fwmark
 * to that table, and a second rule lets the main table win for all but its
 * default route (suppress_prefixlength 0). The tunnel's own UDP socket carries
 * the fwmark, so it keeps leaving through the physical route. */
#ifndef EGRESS_EDGE_ROUTE_H
#define EGRESS_EDGE_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "tunnel/nl.h"
#include "tunnel/sysctl.h"

struct edge_config;

/* What route_all_up() added, so route_all_down() removes exactly that. */
struct edge_routes {
	struct nl_route routes[2];
	unsigned n_routes;
	struct nl_rule rules[4];
	unsigned n_rules;
	struct sysctl_saved src_valid_mark;
};

/* Adds the routes and rules for IPv4, and for IPv6 when the config has
 * address6 or no kill switch (IPv6 then goes into the TUN and no further).
 * On failure what was added is removed again. 0 or -errno. */
int route_all_up(struct nl *nl, uint32_t ifindex, const struct edge_config *cfg,
                 struct edge_routes *r);
/* Removes them in reverse order and puts src_valid_mark back. */
void route_all_down(struct nl *nl, struct edge_routes *r);
/* After a crash: removes the rules an edged of cfg's table and fwmark left
 * ("not fwmark F table T" and the "table main suppress_prefixlength 0"
 * just before it); the route goes with the TUN. The number removed, or
 * -errno. */
int route_all_stale(struct nl *nl, const struct edge_config *cfg);

#endif
