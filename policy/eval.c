/* Which rule decides a flow, as the compiled chains would, and why each
 * earlier rule did not; and the file's tests:, which are such decisions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/internal.h"

const char *policy_miss_str(enum policy_miss why)
{
	switch (why) {
	case POLICY_MISS_CLIENT:
		return "wrong client";
	case POLICY_MISS_DEST:
		return "destination not listed";
	case POLICY_MISS_EXCEPT:
		return "destination excepted";
	case POLICY_MISS_PORT:
		return "port not listed";
	case POLICY_MISS_GATEWAY:
		return "destination is the gateway, which the rule does not name";
	}
	return "?";
}

int policy_flow_parse(struct policy_flow *f, const char *client, const char *dst, const char *port)
{
	struct policy_flow r;

	memset(&r, 0, sizeof(r));
	r.client = client;
	if (!client || !dst || strchr(dst, '/') || prefix_parse(&r.dst, dst, AF_UNSPEC) < 0)
		return -EINVAL;
	if (port && policy_port_word(port, &r.proto, &r.port) < 0)
		return -EINVAL;
	if ((r.proto == IPPROTO_ICMP && r.dst.family != AF_INET) ||
	    (r.proto == IPPROTO_ICMPV6 && r.dst.family != AF_INET6))
		return -EINVAL;
	*f = r;
	return 0;
}

static bool same_addr(const struct prefix *a, const struct prefix *b)
{
	return a->family == b->family && !memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
}

static bool in_list(const struct prefix *list, size_t n, const struct prefix *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (same_addr(&list[i], a))
			return true;
	return false;
}

/* Where f's first packet lands in the PS_* space. */
static uint32_t port_point(const struct policy_flow *f)
{
	switch (f->proto) {
	case IPPROTO_TCP:
		return PS_TCP + f->port;
	case IPPROTO_UDP:
		return PS_UDP + f->port;
	case IPPROTO_ICMP:
		return PS_ICMP;
	case IPPROTO_ICMPV6:
		return PS_ICMPV6;
	default:
		return PS_OTHER;
	}
}

static bool flow_ok(const struct policy_flow *f)
{
	if (!f->client || (f->dst.family != AF_INET && f->dst.family != AF_INET6))
		return false;
	switch (f->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		return f->port != 0;
	case 0:
		return f->port == 0;
	case IPPROTO_ICMP: /* each family's own */
		return f->port == 0 && f->dst.family == AF_INET;
	case IPPROTO_ICMPV6:
		return f->port == 0 && f->dst.family == AF_INET6;
	}
	return false;
}

int policy_decide(const struct policy *p, const struct policy_flow *f, struct policy_decision *d,
                  policy_explain_fn *explain, void *arg)
{
	struct u128 a, pt;
	int ci, fi;
	size_t i;

	if (!flow_ok(f))
		return -EINVAL;
	ci = policy_client_index(p, f->client);
	if (ci < 0)
		return -ENOENT;
	memset(d, 0, sizeof(*d));
	d->ifaddrs_known = p->ifaddrs_known;
	/* Traffic to the gateway host takes the input hook, where only rules
	 * naming gateway apply. */
	d->to_gateway = in_list(p->tunnel, p->n_tunnel, &f->dst) ||
	                in_list(p->ifaddrs, p->n_ifaddrs, &f->dst);
	fi = f->dst.family == AF_INET ? F4 : F6;
	a = u128_from_prefix(&f->dst);
	pt = u128_of(port_point(f));

	for (i = 0; i < p->n_rules; i++) {
		const struct prule *r = &p->rules[i];
		enum policy_miss why = 0;

		if (!r->from[ci])
			why = POLICY_MISS_CLIENT;
		else if (d->to_gateway && !r->to_gateway)
			why = POLICY_MISS_GATEWAY;
		else if (!d->to_gateway && !ranges_has(&r->to[fi], a))
			why = POLICY_MISS_DEST;
		else if (ranges_has(&r->except[fi], a))
			why = POLICY_MISS_EXCEPT;
		else if (!ranges_has(&r->ports, pt))
			why = POLICY_MISS_PORT;
		if (!why) {
			d->allow = r->allow;
			d->by = POLICY_BY_RULE;
			d->rule = i;
			d->name = r->name;
			return 0;
		}
		if (explain)
			explain(arg, i, r->name, why);
	}
	if (!d->to_gateway) {
		d->allow = p->default_allow;
		d->by = POLICY_BY_DEFAULT;
		d->name = "default";
	} else if (in_list(p->tunnel, p->n_tunnel, &f->dst) &&
	           f->proto == (fi == F4 ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
		d->allow = true;
		d->by = POLICY_BY_GATEWAY_ECHO;
		d->name = "gateway-echo";
	} else {
		d->allow = false;
		d->by = POLICY_BY_GATEWAY_DENY;
		d->name = "gateway";
	}
	return 0;
}

static void describe(char *buf, size_t size, const struct policy_decision *d)
{
	snprintf(buf, size, "by nothing (an invalid flow)");
	switch (d->by) {
	case POLICY_BY_RULE:
		snprintf(buf, size, "by rule \"%s\"", d->name);
		break;
	case POLICY_BY_DEFAULT:
		snprintf(buf, size, "by the default");
		break;
	case POLICY_BY_GATEWAY_ECHO:
		snprintf(buf, size, "by the built-in ICMP echo to the gateway");
		break;
	case POLICY_BY_GATEWAY_DENY:
		snprintf(buf, size, "as traffic to the gateway that no rule naming gateway allows");
		break;
	}
}

size_t policy_run_tests(const struct policy *p, void (*fail)(void *arg, const char *msg), void *arg)
{
	struct policy_decision d;
	char how[128], msg[512];
	size_t i, failed = 0;

	for (i = 0; i < p->n_tests; i++) {
		const struct ptest *t = &p->tests[i];

		memset(&d, 0, sizeof(d));
		/* The parser checked client, address and port: this cannot fail. */
		if (policy_decide(p, &t->flow, &d, NULL, NULL) < 0 || d.allow != t->expect_allow) {
			failed++;
			if (!fail)
				continue;
			describe(how, sizeof(how), &d);
			snprintf(msg, sizeof(msg),
			         "%s:%u:%u: test failed: %s to %s%s%s: expected %s, got %s %s%s",
			         p->name, t->line, t->col, t->flow.client, t->dst,
			         t->port[0] ? " " : "", t->port, t->expect_allow ? "allow" : "deny",
			         d.allow ? "allow" : "deny", how,
			         p->ifaddrs_known
			                 ? ""
			                 : " (offline: without the gateway's interface addresses)");
			fail(arg, msg);
		}
	}
	return failed;
}
