/* policy_decide() over tables of flows: which rule (or the default, or the
 * gateway's own verdicts) decides, and why each earlier rule did not, as
 * `gatewayctl policy test` will print it. Covers `internet`, `gateway`,
 * except, IPv6, ICMP, offline evaluation and the built-in policy. */
#include <errno.h>

#include "check.h"
#include "policy_env.h"

struct flow_case {
	const char *client, *dst, *port;
	const char *verdict; /* "allow NAME" or "deny NAME", NAME as policy_decision.name */
	const char *misses;  /* "rule:why,..." with why client|dest|except|port|gateway */
	bool to_gateway;
};

static const char *short_why(enum policy_miss why)
{
	switch (why) {
	case POLICY_MISS_CLIENT:
		return "client";
	case POLICY_MISS_DEST:
		return "dest";
	case POLICY_MISS_EXCEPT:
		return "except";
	case POLICY_MISS_PORT:
		return "port";
	case POLICY_MISS_GATEWAY:
		return "gateway";
	}
	return "?";
}

struct misses {
	char buf[512];
	size_t next; /* the rule index explain() should see next */
	bool in_order;
};

static void explain(void *arg, size_t rule, const char *name, enum policy_miss why)
{
	struct misses *m = arg;
	size_t n = strlen(m->buf);

	if (rule != m->next++)
		m->in_order = false;
	snprintf(m->buf + n, sizeof(m->buf) - n, "%s%s:%s", n ? "," : "", name, short_why(why));
}

static void run(const struct policy *p, const struct flow_case *cases, size_t n, const char *what)
{
	struct policy_decision d;
	struct policy_flow f;
	char verdict[128];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct flow_case *c = &cases[i];
		struct misses m = {.in_order = true};

		CHECK_INT(policy_flow_parse(&f, c->client, c->dst, c->port), 0);
		CHECK_INT(policy_decide(p, &f, &d, explain, &m), 0);
		snprintf(verdict, sizeof(verdict), "%s %s", d.allow ? "allow" : "deny",
		         d.name ? d.name : "(null)");
		if (strcmp(verdict, c->verdict) || strcmp(m.buf, c->misses))
			fprintf(stderr, "%s[%zu]: %s to %s %s\n", what, i, c->client, c->dst,
			        c->port ? c->port : "");
		CHECK_STR(verdict, c->verdict);
		CHECK_STR(m.buf, c->misses);
		CHECK(m.in_order);
		CHECK_INT(d.to_gateway, c->to_gateway);
		/* the deciding rule is the one after the last miss */
		if (d.by == POLICY_BY_RULE)
			CHECK_INT(d.rule, m.next);
	}
}

static struct policy *load(const char *yaml, const struct policy_env *env)
{
	struct policy *p = NULL;
	char *buf = read_data(yaml), err[256];

	if (buf)
		CHECK_INT(policy_parse(&p, yaml, buf, strlen(buf), env, err, sizeof(err)), 0);
	CHECK(p != NULL);
	free(buf);
	return p;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Rules: no-metadata, eng-web (alice and bob), dns-on-gateway; default deny. */
static const struct flow_case example[] = {
        {"alice", "203.0.113.80", "tcp/443", "allow eng-web", "no-metadata:dest", false},
        {"alice", "169.254.169.254", "tcp/80", "deny no-metadata", "", false},
        {"carol", "203.0.113.80", "tcp/443", "deny default",
         "no-metadata:dest,eng-web:client,dns-on-gateway:dest", false},
        {"alice", "203.0.113.5", "tcp/443", "deny default",
         "no-metadata:dest,eng-web:except,dns-on-gateway:dest", false},
        {"alice", "203.0.113.80", "tcp/22", "deny default",
         "no-metadata:dest,eng-web:port,dns-on-gateway:dest", false},
        {"alice", "203.0.113.80", NULL, "deny default",
         "no-metadata:dest,eng-web:port,dns-on-gateway:dest", false},
        {"bob", "203.0.113.80", "icmp", "allow eng-web", "no-metadata:dest", false},
        /* not internet: private, CGNAT (another client), the uplink's network */
        {"alice", "10.1.2.3", "tcp/443", "deny default",
         "no-metadata:dest,eng-web:dest,dns-on-gateway:dest", false},
        {"carol", "100.64.0.2", "tcp/80", "deny default",
         "no-metadata:dest,eng-web:client,dns-on-gateway:dest", false},
        {"alice", "198.51.100.7", "tcp/443", "deny default",
         "no-metadata:dest,eng-web:dest,dns-on-gateway:dest", false},
        /* the gateway host: only rules naming gateway, then the echo, then deny */
        {"alice", "198.51.100.1", "udp/53", "allow dns-on-gateway",
         "no-metadata:gateway,eng-web:gateway", true},
        {"carol", "100.64.0.1", "tcp/53", "allow dns-on-gateway",
         "no-metadata:gateway,eng-web:client", true},
        {"alice", "198.51.100.1", "tcp/22", "deny gateway",
         "no-metadata:gateway,eng-web:gateway,dns-on-gateway:port", true},
        {"alice", "100.64.0.1", "icmp", "allow gateway-echo",
         "no-metadata:gateway,eng-web:gateway,dns-on-gateway:port", true},
        {"alice", "fd00:6567::1", "icmpv6", "allow gateway-echo",
         "no-metadata:gateway,eng-web:gateway,dns-on-gateway:port", true},
        {"alice", "198.51.100.1", "icmp", "deny gateway",
         "no-metadata:gateway,eng-web:gateway,dns-on-gateway:port", true},
        /* IPv6 */
        {"alice", "2001:db8:80::80", "tcp/443", "allow eng-web", "no-metadata:dest", false},
        {"bob", "2001:db8:80::80", "icmpv6", "allow eng-web", "no-metadata:dest", false},
        {"alice", "2001:db8:bad:1::1", "tcp/443", "deny default",
         "no-metadata:dest,eng-web:except,dns-on-gateway:dest", false},
        {"alice", "fd00::5", "udp/53", "deny default",
         "no-metadata:dest,eng-web:dest,dns-on-gateway:dest", false},
        {"alice", "2001:db8:100::9", "tcp/80", "deny default",
         "no-metadata:dest,eng-web:dest,dns-on-gateway:dest", false},
        {"alice", "ff02::1", "udp/53", "deny default",
         "no-metadata:dest,eng-web:dest,dns-on-gateway:dest", false},
};

/* Offline the uplink is not known: its network counts as internet and its
 * address as any other. */
static const struct flow_case example_offline[] = {
        {"alice", "198.51.100.7", "tcp/443", "allow eng-web", "no-metadata:dest", false},
        {"alice", "198.51.100.1", "tcp/443", "allow eng-web", "no-metadata:dest", false},
        {"alice", "100.64.0.1", "udp/53", "allow dns-on-gateway",
         "no-metadata:gateway,eng-web:gateway", true},
};

/* Rules: no-smtp, lab.v6 (alice, carol), lan_10 (bob), ssh-on-gateway
 * (carol); default allow. */
static const struct flow_case mixed[] = {
        {"alice", "192.0.2.1", "tcp/25", "deny no-smtp", "", false},
        {"alice", "2001:db8::25", "tcp/587", "deny no-smtp", "", false},
        {"alice", "192.0.2.1", "tcp/80", "allow default",
         "no-smtp:port,lab.v6:dest,lan_10:client,ssh-on-gateway:client", false},
        {"bob", "10.9.1.1", "tcp/80", "allow default",
         "no-smtp:port,lab.v6:client,lan_10:except,ssh-on-gateway:client", false},
        {"bob", "10.5.0.1", "udp/1", "deny lan_10", "no-smtp:port,lab.v6:client", false},
        {"bob", "192.0.2.9", NULL, "deny lan_10", "no-smtp:port,lab.v6:client", false},
        {"bob", "192.0.2.10", NULL, "allow default",
         "no-smtp:port,lab.v6:client,lan_10:dest,ssh-on-gateway:client", false},
        {"carol", "2001:db8:1::1", "udp/5353", "allow lab.v6", "no-smtp:port", false},
        {"carol", "2001:db8:ffff::1", "tcp/100", "allow lab.v6", "no-smtp:port", false},
        {"carol", "2001:db8:ffff::1", "tcp/101", "allow default",
         "no-smtp:port,lab.v6:port,lan_10:client,ssh-on-gateway:dest", false},
        {"carol", "192.0.2.1", "icmp", "allow default",
         "no-smtp:port,lab.v6:dest,lan_10:client,ssh-on-gateway:dest", false},
        {"carol", "198.51.100.50", "tcp/65535", "allow ssh-on-gateway",
         "no-smtp:port,lab.v6:dest,lan_10:client", false},
        /* default allow never opens the gateway; its except closes one address */
        {"alice", "100.64.0.1", "tcp/22", "deny gateway",
         "no-smtp:gateway,lab.v6:gateway,lan_10:client,ssh-on-gateway:client", true},
        {"carol", "100.64.0.1", "tcp/22", "allow ssh-on-gateway",
         "no-smtp:gateway,lab.v6:gateway,lan_10:client", true},
        {"carol", "198.51.100.1", "tcp/22", "deny gateway",
         "no-smtp:gateway,lab.v6:gateway,lan_10:client,ssh-on-gateway:except", true},
        {"carol", "fd00:6567::1", "tcp/22", "allow ssh-on-gateway",
         "no-smtp:gateway,lab.v6:gateway,lan_10:client", true},
};

/* Rules: internet, dns-on-gateway; default deny. */
static const struct flow_case builtin[] = {
        {"alice", "203.0.113.80", "tcp/443", "allow internet", "", false},
        {"bob", "2001:db8:80::80", "udp/443", "allow internet", "", false},
        {"alice", "169.254.169.254", "tcp/80", "deny default", "internet:dest,dns-on-gateway:dest",
         false},
        {"alice", "198.51.100.7", "tcp/80", "deny default", "internet:dest,dns-on-gateway:dest",
         false},
        {"alice", "192.168.1.1", "tcp/80", "deny default", "internet:dest,dns-on-gateway:dest",
         false},
        {"alice", "198.51.100.1", "tcp/22", "deny gateway", "internet:gateway,dns-on-gateway:port",
         true},
        {"alice", "100.64.0.1", "tcp/8080", "deny gateway", "internet:gateway,dns-on-gateway:port",
         true},
        {"carol", "fd00:6567::1", "udp/53", "allow dns-on-gateway", "internet:gateway", true},
        {"carol", "100.64.0.1", "icmp", "allow gateway-echo",
         "internet:gateway,dns-on-gateway:port", true},
};

static void test_tables(void)
{
	struct policy_env on = online(), off = offline();
	struct policy *p;

	p = load("policy_example.yaml", &on);
	if (p)
		run(p, example, N(example), "example");
	policy_free(p);
	p = load("policy_example.yaml", &off);
	if (p)
		run(p, example_offline, N(example_offline), "example_offline");
	policy_free(p);
	p = load("policy_mixed.yaml", &on);
	if (p)
		run(p, mixed, N(mixed), "mixed");
	policy_free(p);
	p = NULL;
	CHECK_INT(policy_builtin(&p, &on), 0);
	if (p)
		run(p, builtin, N(builtin), "builtin");
	policy_free(p);
}

static void test_decision_fields(void)
{
	struct policy_env on = online(), off = offline();
	struct policy_decision d;
	struct policy_flow f;
	struct policy *p = load("policy_example.yaml", &on), *q = load("policy_example.yaml", &off);

	if (!p || !q)
		goto out;
	CHECK_INT(policy_flow_parse(&f, "alice", "203.0.113.80", "tcp/443"), 0);
	CHECK_INT(policy_decide(p, &f, &d, NULL, NULL), 0);
	CHECK_INT(d.by, POLICY_BY_RULE);
	CHECK_INT(d.rule, 1);
	CHECK(d.ifaddrs_known);
	CHECK_INT(policy_decide(q, &f, &d, NULL, NULL), 0);
	CHECK(!d.ifaddrs_known);

	CHECK_INT(policy_flow_parse(&f, "carol", "203.0.113.80", "tcp/443"), 0);
	CHECK_INT(policy_decide(p, &f, &d, NULL, NULL), 0);
	CHECK_INT(d.by, POLICY_BY_DEFAULT);
	CHECK_INT(policy_flow_parse(&f, "carol", "100.64.0.1", "icmp"), 0);
	CHECK_INT(policy_decide(p, &f, &d, NULL, NULL), 0);
	CHECK_INT(d.by, POLICY_BY_GATEWAY_ECHO);
	CHECK_INT(policy_flow_parse(&f, "carol", "100.64.0.1", "tcp/1"), 0);
	CHECK_INT(policy_decide(p, &f, &d, NULL, NULL), 0);
	CHECK_INT(d.by, POLICY_BY_GATEWAY_DENY);

	/* what the caller can get wrong */
	CHECK_INT(policy_flow_parse(&f, "eve", "203.0.113.80", "tcp/443"), 0);
	CHECK_INT(policy_decide(p, &f, &d, NULL, NULL), -ENOENT);
	f.client = "alice";
	f.port = 0;
	CHECK_INT(policy_decide(p, &f, &d, NULL, NULL), -EINVAL);
	f.proto = IPPROTO_ICMPV6;
	CHECK_INT(policy_decide(p, &f, &d, NULL, NULL), -EINVAL); /* icmpv6 to IPv4 */
	f.proto = IPPROTO_SCTP;
	CHECK_INT(policy_decide(p, &f, &d, NULL, NULL), -EINVAL);
	f.proto = 0;
	f.client = NULL;
	CHECK_INT(policy_decide(p, &f, &d, NULL, NULL), -EINVAL);
out:
	policy_free(p);
	policy_free(q);
}

static void test_flow_parse(void)
{
	struct policy_flow f;

	CHECK_INT(policy_flow_parse(&f, "alice", "2001:db8::1", "udp/53"), 0);
	CHECK_INT(f.dst.family, AF_INET6);
	CHECK_INT(f.dst.len, 128);
	CHECK_INT(f.proto, IPPROTO_UDP);
	CHECK_INT(f.port, 53);
	CHECK_INT(policy_flow_parse(&f, "alice", "192.0.2.1", NULL), 0);
	CHECK_INT(f.proto, 0);
	CHECK_INT(policy_flow_parse(&f, "alice", "192.0.2.0/24", "tcp/80"), -EINVAL);
	CHECK_INT(policy_flow_parse(&f, "alice", "192.0.2.1", "tcp"), -EINVAL);
	CHECK_INT(policy_flow_parse(&f, "alice", "192.0.2.1", "tcp/1-2"), -EINVAL);
	CHECK_INT(policy_flow_parse(&f, "alice", "192.0.2.1", "icmpv6"), -EINVAL);
	CHECK_INT(policy_flow_parse(&f, "alice", "2001:db8::1", "icmp"), -EINVAL);
	CHECK_INT(policy_flow_parse(&f, "alice", "example.com", NULL), -EINVAL);
	CHECK_INT(policy_flow_parse(&f, NULL, "192.0.2.1", NULL), -EINVAL);
	CHECK_STR(policy_miss_str(POLICY_MISS_EXCEPT), "destination excepted");
	CHECK_STR(policy_miss_str(POLICY_MISS_CLIENT), "wrong client");
	CHECK_STR(policy_miss_str(POLICY_MISS_PORT), "port not listed");
}

int main(void)
{
	test_tables();
	test_decision_fields();
	test_flow_parse();
	return check_done("test_policy_eval");
}
