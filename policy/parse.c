/* The policy file: YAML through tunnel/conf into struct policy, every value
 * checked where it is read, so each error names its own line and column. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"
#include "tunnel/conf.h"

static const char *const top_keys[] = {"version", "default", "groups", "rules",
                                       "limits",  "tests",   NULL};
static const char *const rule_keys[] = {"name", "from", "to", "except", "ports", "action", NULL};
static const char *const limit_keys[] = {"for", "bandwidth", "max_flows", NULL};
static const char *const test_keys[] = {"client", "to", "port", "expect", NULL};

#define MAX_FLOWS_MAX 10000000u /* far above any conntrack table */

struct group {
	char name[CLIENT_NAME_MAX + 1];
	unsigned line;
	bool *members; /* one per client */
};

struct parser {
	struct conf *c;
	struct policy *p;
	struct group *groups;
	size_t n_groups;
};

static bool name_ok(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return i > 0 && i <= max;
}

/* A sequence with at least one item. */
static int need_list(struct conf *c, int node, const char *key, size_t *n)
{
	int ret = conf_expect(c, node, key, CONF_SEQUENCE);

	if (ret < 0)
		return ret;
	*n = conf_seq_len(c, node);
	if (!*n)
		return conf_error(c, node, "%s: the list is empty", key);
	return 0;
}

static int get_action(struct conf *c, int node, const char *key, bool *allow)
{
	const char *v;
	int ret = conf_get_scalar(c, node, key, &v);

	if (ret < 0)
		return ret;
	if (!strcmp(v, "allow"))
		*allow = true;
	else if (!strcmp(v, "deny"))
		*allow = false;
	else
		return conf_bad_value(c, node, key, "is not allow or deny");
	return 0;
}

/* Plain decimal 1..65535, no sign, no leading zero; n characters of s. */
static bool port_num(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;
	size_t i;

	if (!n || n > 5 || s[0] == '0')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* "tcp", "udp", "tcp/80", "udp/8000-8100", "icmp", "icmpv6": the PS_* range.
 * -EINVAL, or -ERANGE for a range from high to low. */
static int port_spec(const char *s, uint32_t *lo, uint32_t *hi)
{
	const char *slash = strchr(s, '/'), *dash;
	uint16_t a, b;
	uint32_t base;

	if (!strcmp(s, "icmp") || !strcmp(s, "icmpv6")) {
		*lo = *hi = s[4] ? PS_ICMPV6 : PS_ICMP;
		return 0;
	}
	if (!strncmp(s, "tcp", 3))
		base = PS_TCP;
	else if (!strncmp(s, "udp", 3))
		base = PS_UDP;
	else
		return -EINVAL;
	if (!s[3]) {
		*lo = base;
		*hi = base + 65535;
		return 0;
	}
	if (slash != s + 3)
		return -EINVAL;
	dash = strchr(slash + 1, '-');
	if (!dash) {
		if (!port_num(slash + 1, strlen(slash + 1), &a))
			return -EINVAL;
		b = a;
	} else if (!port_num(slash + 1, (size_t)(dash - slash - 1), &a) ||
	           !port_num(dash + 1, strlen(dash + 1), &b)) {
		return -EINVAL;
	}
	if (a > b)
		return -ERANGE;
	*lo = base + a;
	*hi = base + b;
	return 0;
}

int policy_port_word(const char *s, uint8_t *proto, uint16_t *port)
{
	uint32_t lo, hi;

	if (port_spec(s, &lo, &hi) < 0 || lo != hi)
		return -EINVAL;
	if (lo == PS_ICMP || lo == PS_ICMPV6) {
		*proto = lo == PS_ICMP ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		*port = 0;
	} else {
		*proto = lo >= PS_UDP ? IPPROTO_UDP : IPPROTO_TCP;
		*port = (uint16_t)(lo - (lo >= PS_UDP ? PS_UDP : PS_TCP));
	}
	return 0;
}

static int version(struct parser *ps, int root)
{
	const char *v;
	int node, ret;

	ret = conf_map_need(ps->c, root, "version", &node);
	if (ret == 0)
		ret = conf_get_scalar(ps->c, node, "version", &v);
	if (ret < 0)
		return ret;
	if (strcmp(v, "1"))
		return conf_bad_value(ps->c, node, "version", "is not a version this reads (1)");
	return 0;
}

static int groups(struct parser *ps, int node)
{
	struct conf *c = ps->c;
	struct policy *p = ps->p;
	size_t i, j, k, n;
	int key, val, ret, idx;
	const char *v;

	if (!node)
		return 0;
	ret = conf_expect(c, node, "groups", CONF_MAPPING);
	if (ret < 0)
		return ret;
	n = conf_map_len(c, node);
	if (!n)
		return conf_error(c, node, "groups: the mapping is empty");
	ps->groups = calloc(n, sizeof(*ps->groups));
	if (!ps->groups)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct group *g = &ps->groups[i];

		conf_map_pair(c, node, i, &key, &val);
		ret = conf_get_scalar(c, key, "groups", &v);
		if (ret < 0)
			return ret;
		if (!name_ok(v, CLIENT_NAME_MAX))
			return conf_bad_value(c, key, "groups",
			                      "is not a group name (1-31 of A-Z a-z 0-9 _ . -)");
		for (j = 0; j < i; j++)
			if (!strcmp(ps->groups[j].name, v))
				return conf_bad_value(c, key, "groups",
				                      "is already defined at line %u",
				                      ps->groups[j].line);
		strcpy(g->name, v);
		g->line = conf_line(c, key);
		ps->n_groups = i + 1;
		g->members = calloc(p->n_clients + 1, sizeof(bool));
		if (!g->members)
			return -ENOMEM;
		ret = need_list(c, val, g->name, &k);
		for (j = 0; ret == 0 && j < k; j++) {
			int item = conf_seq_item(c, val, j);

			ret = conf_get_scalar(c, item, g->name, &v);
			if (ret < 0)
				break;
			idx = policy_client_index(p, v);
			if (idx < 0)
				return conf_bad_value(c, item, g->name, "is not a known client");
			g->members[idx] = true;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* from: and for:, into one flag per client. */
static int selectors(struct parser *ps, int node, const char *key, bool *members, bool *any)
{
	struct conf *c = ps->c;
	size_t i, j, n;
	const char *v;
	int ret, idx;

	ret = need_list(c, node, key, &n);
	for (i = 0; ret == 0 && i < n; i++) {
		int item = conf_seq_item(c, node, i);

		ret = conf_get_scalar(c, item, key, &v);
		if (ret < 0)
			break;
		if (!strcmp(v, "any")) {
			*any = true;
			for (j = 0; j < ps->p->n_clients; j++)
				members[j] = true;
		} else if (!strncmp(v, "group:", 6)) {
			for (j = 0; j < ps->n_groups; j++)
				if (!strcmp(ps->groups[j].name, v + 6))
					break;
			if (j == ps->n_groups)
				return conf_bad_value(c, item, key,
				                      "is not a group of this policy");
			for (idx = 0; (size_t)idx < ps->p->n_clients; idx++)
				members[idx] |= ps->groups[j].members[idx];
		} else {
			idx = policy_client_index(ps->p, v);
			if (idx < 0)
				return conf_bad_value(c, item, key,
				                      "is not a known client, group:NAME or any");
			members[idx] = true;
		}
	}
	return ret;
}

/* An address or a CIDR with no host bits, added to r[family]. */
static int cidr(struct conf *c, int node, const char *key, const char *v, struct ranges r[2],
                bool *bad)
{
	char net[PREFIX_STRLEN];
	struct prefix a;

	*bad = prefix_parse(&a, v, AF_UNSPEC) < 0;
	if (*bad)
		return 0;
	if (!prefix_is_network(&a)) {
		prefix_mask(&a);
		return conf_bad_value(c, node, key, "has host bits set: the network is %s",
		                      prefix_format(&a, net, sizeof(net)));
	}
	return ranges_add_prefix(&r[a.family == AF_INET ? F4 : F6], &a);
}

static int add_all(struct ranges *r, const struct ranges *src)
{
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < src->n; i++)
		ret = ranges_add(r, src->v[i].lo, src->v[i].hi);
	return ret;
}

static int destinations(struct parser *ps, int node, struct prule *r)
{
	struct conf *c = ps->c;
	size_t i, n;
	const char *v;
	bool bad;
	int ret, f;

	ret = need_list(c, node, "to", &n);
	for (i = 0; ret == 0 && i < n; i++) {
		int item = conf_seq_item(c, node, i);

		ret = conf_get_scalar(c, item, "to", &v);
		if (ret < 0)
			break;
		if (!strcmp(v, "gateway")) {
			r->to_gateway = true;
		} else if (!strcmp(v, "any")) {
			for (f = F4; f <= F6; f++)
				ret = ret ?: ranges_add(&r->to[f], u128_of(0), u128_max(fam_of(f)));
		} else if (!strcmp(v, "internet")) {
			for (f = F4; f <= F6; f++)
				ret = ret ?: add_all(&r->to[f], &ps->p->internet[f]);
		} else {
			ret = cidr(c, item, "to", v, r->to, &bad);
			if (ret == 0 && bad)
				ret = conf_bad_value(
				        c, item, "to",
				        "is not an address, a CIDR, any, internet or gateway");
		}
	}
	return ret;
}

static int excepts(struct parser *ps, int node, struct prule *r)
{
	struct conf *c = ps->c;
	size_t i, n;
	const char *v;
	bool bad;
	int ret;

	ret = need_list(c, node, "except", &n);
	for (i = 0; ret == 0 && i < n; i++) {
		int item = conf_seq_item(c, node, i);

		ret = conf_get_scalar(c, item, "except", &v);
		if (ret == 0)
			ret = cidr(c, item, "except", v, r->except, &bad);
		if (ret == 0 && bad)
			ret = conf_bad_value(c, item, "except", "is not an address or a CIDR");
	}
	return ret;
}

static int ports(struct parser *ps, int node, struct prule *r)
{
	struct conf *c = ps->c;
	uint32_t lo, hi;
	size_t i, n;
	const char *v;
	int ret;

	ret = need_list(c, node, "ports", &n);
	for (i = 0; ret == 0 && i < n; i++) {
		int item = conf_seq_item(c, node, i);

		ret = conf_get_scalar(c, item, "ports", &v);
		if (ret < 0)
			break;
		ret = port_spec(v, &lo, &hi);
		if (ret == -ERANGE)
			return conf_bad_value(c, item, "ports", "is a range from high to low");
		if (ret < 0)
			return conf_bad_value(
			        c, item, "ports",
			        "is not tcp, udp, tcp/PORT, udp/LOW-HIGH, icmp or icmpv6");
		ret = ranges_add(&r->ports, u128_of(lo), u128_of(hi));
	}
	return ret;
}

static int rule(struct parser *ps, int node, size_t idx)
{
	struct conf *c = ps->c;
	struct prule *r = &ps->p->rules[idx];
	int n, ret, f;
	size_t j;

	ret = conf_expect(c, node, "rules", CONF_MAPPING);
	if (ret == 0)
		ret = conf_map_check(c, node, rule_keys);
	if (ret == 0)
		ret = conf_map_need(c, node, "name", &n);
	if (ret == 0)
		ret = conf_get_str(c, n, "name", r->name, sizeof(r->name));
	if (ret < 0)
		return ret;
	if (!name_ok(r->name, POLICY_NAME_MAX))
		return conf_bad_value(c, n, "name",
		                      "is not a rule name (1-%d of A-Z a-z 0-9 _ . -)",
		                      POLICY_NAME_MAX);
	r->line = conf_line(c, n);
	r->col = conf_column(c, n);
	for (j = 0; j < idx; j++)
		if (!strcmp(ps->p->rules[j].name, r->name))
			return conf_bad_value(c, n, "name", "is already used at line %u",
			                      ps->p->rules[j].line);

	r->from = calloc(ps->p->n_clients + 1, sizeof(bool));
	if (!r->from)
		return -ENOMEM;
	ret = conf_map_need(c, node, "from", &n);
	if (ret == 0)
		ret = selectors(ps, n, "from", r->from, &r->from_any);
	if (ret == 0)
		ret = conf_map_need(c, node, "to", &n);
	if (ret == 0)
		ret = destinations(ps, n, r);
	if (ret == 0 && (n = conf_map_find(c, node, "except")))
		ret = excepts(ps, n, r);
	if (ret == 0 && (n = conf_map_find(c, node, "ports")))
		ret = ports(ps, n, r);
	if (ret == 0 && !n) {
		r->all_ports = true;
		ret = ranges_add(&r->ports, u128_of(0), u128_of(PS_MAX));
	}
	if (ret == 0)
		ret = conf_map_need(c, node, "action", &n);
	if (ret == 0)
		ret = get_action(c, n, "action", &r->allow);
	if (ret < 0)
		return ret;
	for (f = F4; f <= F6; f++) {
		ranges_normalize(&r->to[f]);
		ranges_normalize(&r->except[f]);
	}
	ranges_normalize(&r->ports);
	return 0;
}

static int rules(struct parser *ps, int node)
{
	size_t i, n;
	int ret;

	if (!node)
		return 0;
	ret = need_list(ps->c, node, "rules", &n);
	if (ret < 0)
		return ret;
	ps->p->rules = calloc(n, sizeof(*ps->p->rules));
	if (!ps->p->rules)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ps->p->n_rules = i + 1; /* so policy_free() sees what it must free */
		ret = rule(ps, conf_seq_item(ps->c, node, i), i);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* "50mbit": bits per second in SI units, into bytes per second. */
static int bandwidth(struct conf *c, int node, struct plimit *l)
{
	static const struct {
		const char *unit;
		uint64_t bytes;
	} units[] = {{"kbit", 125}, {"mbit", 125000}, {"gbit", 125000000}};
	const char *v;
	uint64_t x = 0;
	size_t i, d;
	int ret;

	ret = conf_get_scalar(c, node, "bandwidth", &v);
	if (ret < 0)
		return ret;
	for (d = 0; v[d] >= '0' && v[d] <= '9'; d++)
		x = x * 10 + (uint64_t)(v[d] - '0');
	for (i = 0; d && d <= 6 && v[0] != '0' && i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(v + d, units[i].unit))
			break;
	if (!d || d > 6 || v[0] == '0' || i == sizeof(units) / sizeof(units[0]))
		return conf_bad_value(c, node, "bandwidth",
		                      "is not a rate (1-999999 and kbit, mbit or gbit: 50mbit)");
	l->bytes = x * units[i].bytes;
	snprintf(l->rate, sizeof(l->rate), "%s", v);
	return 0;
}

static int limit(struct parser *ps, int node, size_t idx)
{
	struct conf *c = ps->c;
	struct plimit *l = &ps->p->limits[idx];
	bool *members = NULL, any = false;
	uint64_t flows;
	size_t i;
	int n, ret;

	ret = conf_expect(c, node, "limits", CONF_MAPPING);
	if (ret == 0)
		ret = conf_map_check(c, node, limit_keys);
	if (ret < 0)
		return ret;
	l->line = conf_line(c, node);
	l->col = conf_column(c, node);
	members = calloc(ps->p->n_clients + 1, sizeof(bool));
	if (!members)
		return -ENOMEM;
	ret = conf_map_need(c, node, "for", &n);
	if (ret == 0)
		ret = selectors(ps, n, "for", members, &any);
	if (ret == 0 && (n = conf_map_find(c, node, "bandwidth")))
		ret = bandwidth(c, n, l);
	if (ret == 0 && (n = conf_map_find(c, node, "max_flows"))) {
		ret = conf_get_uint(c, n, "max_flows", 1, MAX_FLOWS_MAX, &flows);
		l->max_flows = (uint32_t)flows;
	}
	if (ret == 0 && !l->bytes && !l->max_flows)
		ret = conf_error(c, node, "a limit needs bandwidth, max_flows or both");
	/* first match wins, as for rules */
	for (i = 0; ret == 0 && i < ps->p->n_clients; i++)
		if (members[i] && ps->p->clients[i].limit < 0)
			ps->p->clients[i].limit = (int)idx;
	free(members);
	return ret;
}

static int limits(struct parser *ps, int node)
{
	size_t i, n;
	int ret;

	if (!node)
		return 0;
	ret = need_list(ps->c, node, "limits", &n);
	if (ret < 0)
		return ret;
	ps->p->limits = calloc(n, sizeof(*ps->p->limits));
	if (!ps->p->limits)
		return -ENOMEM;
	ps->p->n_limits = n;
	for (i = 0; i < n && ret == 0; i++)
		ret = limit(ps, conf_seq_item(ps->c, node, i), i);
	return ret;
}

static int test(struct parser *ps, int node, struct ptest *t)
{
	struct conf *c = ps->c;
	const char *v;
	int n, ret, idx;

	ret = conf_expect(c, node, "tests", CONF_MAPPING);
	if (ret == 0)
		ret = conf_map_check(c, node, test_keys);
	if (ret < 0)
		return ret;
	t->line = conf_line(c, node);
	t->col = conf_column(c, node);

	ret = conf_map_need(c, node, "client", &n);
	if (ret == 0)
		ret = conf_get_scalar(c, n, "client", &v);
	if (ret < 0)
		return ret;
	idx = policy_client_index(ps->p, v);
	if (idx < 0)
		return conf_bad_value(c, n, "client", "is not a known client");
	t->flow.client = ps->p->clients[idx].name;

	ret = conf_map_need(c, node, "to", &n);
	if (ret == 0)
		ret = conf_get_str(c, n, "to", t->dst, sizeof(t->dst));
	if (ret < 0)
		return ret;
	if (strchr(t->dst, '/') || prefix_parse(&t->flow.dst, t->dst, AF_UNSPEC) < 0)
		return conf_bad_value(c, n, "to", "is not an address");

	n = conf_map_find(c, node, "port");
	if (n) {
		ret = conf_get_str(c, n, "port", t->port, sizeof(t->port));
		if (ret == 0 && policy_port_word(t->port, &t->flow.proto, &t->flow.port) < 0)
			ret = conf_bad_value(c, n, "port",
			                     "is not tcp/PORT, udp/PORT, icmp or icmpv6");
		if (ret == 0 && t->flow.proto == IPPROTO_ICMP && t->flow.dst.family != AF_INET)
			ret = conf_bad_value(c, n, "port", "is IPv4's: the address is IPv6");
		if (ret == 0 && t->flow.proto == IPPROTO_ICMPV6 && t->flow.dst.family != AF_INET6)
			ret = conf_bad_value(c, n, "port", "is IPv6's: the address is IPv4");
		if (ret < 0)
			return ret;
	}

	ret = conf_map_need(c, node, "expect", &n);
	if (ret == 0)
		ret = get_action(c, n, "expect", &t->expect_allow);
	return ret;
}

static int tests(struct parser *ps, int node)
{
	size_t i, n;
	int ret;

	if (!node)
		return 0;
	ret = need_list(ps->c, node, "tests", &n);
	if (ret < 0)
		return ret;
	ps->p->tests = calloc(n, sizeof(*ps->p->tests));
	if (!ps->p->tests)
		return -ENOMEM;
	ps->p->n_tests = n;
	for (i = 0; i < n && ret == 0; i++)
		ret = test(ps, conf_seq_item(ps->c, node, i), &ps->p->tests[i]);
	return ret;
}

int policy_parse_conf(struct policy *p, struct conf *c)
{
	struct parser ps = {.c = c, .p = p};
	int root = conf_root(c), n, ret;
	size_t i;

	ret = conf_map_check(c, root, top_keys);
	if (ret == 0)
		ret = version(&ps, root);
	if (ret == 0)
		ret = conf_map_need(c, root, "default", &n);
	if (ret == 0)
		ret = get_action(c, n, "default", &p->default_allow);
	if (ret == 0)
		ret = groups(&ps, conf_map_find(c, root, "groups"));
	if (ret == 0)
		ret = rules(&ps, conf_map_find(c, root, "rules"));
	if (ret == 0)
		ret = limits(&ps, conf_map_find(c, root, "limits"));
	if (ret == 0)
		ret = tests(&ps, conf_map_find(c, root, "tests"));
	for (i = 0; i < ps.n_groups; i++)
		free(ps.groups[i].members);
	free(ps.groups);
	return ret;
}
