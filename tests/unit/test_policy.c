/* The policy parser and validator: good files, and bad ones with the exact
 * message each gets (file:line:column, the value quoted); the warnings for
 * rules that can never match; the tests: block; the built-in policy.
 * Linked against egress_policy only (see tests/CMakeLists.txt). */
#include <errno.h>

#include "check.h"
#include "policy_env.h"

#define H                    "version: 1\ndefault: deny\n"
#define RULE(name, from, to) "  - name: " name "\n    from: " from "\n    to: " to "\n"

static struct policy *parse(const char *yaml, const struct policy_env *env, char *err,
                            size_t errlen, int want)
{
	struct policy *p = NULL;

	CHECK_INT(policy_parse(&p, "p.yaml", yaml, strlen(yaml), env, err, errlen), want);
	return p;
}

static void test_example(void)
{
	struct policy_env on = online();
	char *yaml = read_data("policy_example.yaml"), err[256] = "";
	struct policy *p;

	CHECK(yaml != NULL);
	if (!yaml)
		return;
	p = parse(yaml, &on, err, sizeof(err), 0);
	CHECK_STR(err, "");
	if (p) {
		CHECK_INT(policy_warning_count(p), 0);
		CHECK_INT(policy_test_count(p), 2);
		CHECK_INT(policy_run_tests(p, NULL, NULL), 0);
		CHECK(policy_ifaddrs_known(p));
	}
	policy_free(p);
	free(yaml);
}

struct bad {
	const char *yaml;
	const char *err;
};

static const struct bad bad_files[] = {
        /* the document */
        {"- a\n", "p.yaml:1:1: expected a mapping, found a sequence"},
        {"rules: [\n", "p.yaml:2:1: did not find expected node content (while parsing a flow "
                       "node at 2:1)"},
        {"", "p.yaml:1:1: no YAML document in the file"},
        {H "rulez: []\n", "p.yaml:3:1: unknown key \"rulez\""},
        {H "default: allow\n", "p.yaml:3:1: duplicate key \"default\" (first at line 2)"},
        {"default: deny\n", "p.yaml:1:1: missing required key \"version\""},
        {"version: 2\ndefault: deny\n", "p.yaml:1:10: version: \"2\" is not a version this reads "
                                        "(1)"},
        {"version: [1]\n", "p.yaml:1:10: version: expected a scalar, found a sequence"},
        {"version: 1\n", "p.yaml:1:1: missing required key \"default\""},
        {"version: 1\ndefault: maybe\n", "p.yaml:2:10: default: \"maybe\" is not allow or deny"},
        /* groups */
        {H "groups: [alice]\n", "p.yaml:3:9: groups: expected a mapping, found a sequence"},
        {H "groups: {}\n", "p.yaml:3:9: groups: the mapping is empty"},
        {H "groups:\n  eng: [alice, mallory]\n",
         "p.yaml:4:16: eng: \"mallory\" is not a known client"},
        {H "groups:\n  \"e g\": [alice]\n",
         "p.yaml:4:3: groups: \"e g\" is not a group name (1-31 of A-Z a-z 0-9 _ . -)"},
        {H "groups:\n  eng: [alice]\n  eng: [bob]\n",
         "p.yaml:5:3: groups: \"eng\" is already defined at line 4"},
        {H "groups:\n  eng: []\n", "p.yaml:4:8: eng: the list is empty"},
        {H "groups:\n  eng: alice\n", "p.yaml:4:8: eng: expected a sequence, found a scalar"},
        {H "groups:\n  [a]: [alice]\n", "p.yaml:4:3: groups: expected a scalar, found a sequence"},
        /* rules */
        {H "rules: {}\n", "p.yaml:3:8: rules: expected a sequence, found a mapping"},
        {H "rules: []\n", "p.yaml:3:8: rules: the list is empty"},
        {H "rules:\n  - allow\n", "p.yaml:4:5: rules: expected a mapping, found a scalar"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    form: [any]\n    action: allow\n",
         "p.yaml:7:5: unknown key \"form\""},
        {H "rules:\n  - from: [any]\n    to: [any]\n    action: allow\n",
         "p.yaml:4:5: missing required key \"name\""},
        {H "rules:\n" RULE("a b", "[any]", "[any]") "    action: allow\n",
         "p.yaml:4:11: name: \"a b\" is not a rule name (1-64 of A-Z a-z 0-9 _ . -)"},
        {H "rules:\n" RULE("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                           "[any]", "[any]") "    action: allow\n",
         "p.yaml:4:11: name: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is "
         "too long (at most 64 bytes)"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    action: allow\n" RULE(
                 "a", "[any]", "[any]") "    action: deny\n",
         "p.yaml:8:11: name: \"a\" is already used at line 4"},
        {H "rules:\n  - name: a\n    to: [any]\n    action: allow\n",
         "p.yaml:4:5: missing required key \"from\""},
        {H "rules:\n" RULE("a", "any", "[any]") "    action: allow\n",
         "p.yaml:5:11: from: expected a sequence, found a scalar"},
        {H "rules:\n" RULE("a", "[]", "[any]") "    action: allow\n",
         "p.yaml:5:11: from: the list is empty"},
        {H "rules:\n" RULE("a", "[alice, mallory]", "[any]") "    action: allow\n",
         "p.yaml:5:19: from: \"mallory\" is not a known client, group:NAME or any"},
        {H "rules:\n" RULE("a", "[group:ops]", "[any]") "    action: allow\n",
         "p.yaml:5:12: from: \"group:ops\" is not a group of this policy"},
        {H "rules:\n" RULE("a", "[[alice]]", "[any]") "    action: allow\n",
         "p.yaml:5:12: from: expected a scalar, found a sequence"},
        {H "rules:\n" RULE("a", "[any]", "[10.0.0.0/33]") "    action: allow\n",
         "p.yaml:6:10: to: \"10.0.0.0/33\" is not an address, a CIDR, any, internet or gateway"},
        {H "rules:\n" RULE("a", "[any]", "[intranet]") "    action: allow\n",
         "p.yaml:6:10: to: \"intranet\" is not an address, a CIDR, any, internet or gateway"},
        {H "rules:\n" RULE("a", "[any]", "[192.0.2.0/24, 10.0.0.1/8]") "    action: allow\n",
         "p.yaml:6:24: to: \"10.0.0.1/8\" has host bits set: the network is 10.0.0.0/8"},
        {H "rules:\n" RULE("a", "[any]", "[\"2001:db8::1/32\"]") "    action: allow\n",
         "p.yaml:6:10: to: \"2001:db8::1/32\" has host bits set: the network is 2001:db8::/32"},
        {H "rules:\n" RULE("a", "[any]", "[]") "    action: allow\n",
         "p.yaml:6:9: to: the list is empty"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    except: [internet]\n    action: allow\n",
         "p.yaml:7:14: except: \"internet\" is not an address or a CIDR"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    except: []\n    action: allow\n",
         "p.yaml:7:13: except: the list is empty"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    ports: [tcp/0]\n    action: allow\n",
         "p.yaml:7:13: ports: \"tcp/0\" is not tcp, udp, tcp/PORT, udp/LOW-HIGH, icmp or icmpv6"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    ports: [tcp/90-80]\n    action: allow\n",
         "p.yaml:7:13: ports: \"tcp/90-80\" is a range from high to low"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    ports: [udp/53, sctp/1]\n"
                                                  "    action: allow\n",
         "p.yaml:7:21: ports: \"sctp/1\" is not tcp, udp, tcp/PORT, udp/LOW-HIGH, icmp or icmpv6"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    ports: [tcp/80-]\n    action: allow\n",
         "p.yaml:7:13: ports: \"tcp/80-\" is not tcp, udp, tcp/PORT, udp/LOW-HIGH, icmp or icmpv6"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    ports: [icmp/8]\n    action: allow\n",
         "p.yaml:7:13: ports: \"icmp/8\" is not tcp, udp, tcp/PORT, udp/LOW-HIGH, icmp or icmpv6"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    ports: [tcp/65536]\n    action: allow\n",
         "p.yaml:7:13: ports: \"tcp/65536\" is not tcp, udp, tcp/PORT, udp/LOW-HIGH, icmp or "
         "icmpv6"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    ports: [tcp/080]\n    action: allow\n",
         "p.yaml:7:13: ports: \"tcp/080\" is not tcp, udp, tcp/PORT, udp/LOW-HIGH, icmp or "
         "icmpv6"},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    action: permit\n",
         "p.yaml:7:13: action: \"permit\" is not allow or deny"},
        {H "rules:\n" RULE("a", "[any]", "[any]"), "p.yaml:4:5: missing required key \"action\""},
        /* limits */
        {H "limits:\n  - max_flows: 5\n", "p.yaml:4:5: missing required key \"for\""},
        {H "limits:\n  - for: [alice]\n", "p.yaml:4:5: a limit needs bandwidth, max_flows or both"},
        {H "limits:\n  - for: [alice]\n    bandwidth: 50mb\n",
         "p.yaml:5:16: bandwidth: \"50mb\" is not a rate (1-999999 and kbit, mbit or gbit: 50mbit)"},
        {H "limits:\n  - for: [alice]\n    bandwidth: 0mbit\n",
         "p.yaml:5:16: bandwidth: \"0mbit\" is not a rate (1-999999 and kbit, mbit or gbit: "
         "50mbit)"},
        {H "limits:\n  - for: [alice]\n    max_flows: 0\n",
         "p.yaml:5:16: max_flows: \"0\" is not a number in 1..10000000"},
        {H "limits:\n  - for: [bob, eve]\n    max_flows: 1\n",
         "p.yaml:4:16: for: \"eve\" is not a known client, group:NAME or any"},
        {H "limits:\n  - for: [alice]\n    max_flow: 1\n", "p.yaml:5:5: unknown key \"max_flow\""},
        /* tests */
        {H "tests:\n  - {client: eve, to: 192.0.2.1, expect: deny}\n",
         "p.yaml:4:14: client: \"eve\" is not a known client"},
        {H "tests:\n  - {client: alice, to: 192.0.2.0/24, expect: deny}\n",
         "p.yaml:4:25: to: \"192.0.2.0/24\" is not an address"},
        {H "tests:\n  - {client: alice, to: 192.0.2.1, port: tcp/80-90, expect: deny}\n",
         "p.yaml:4:42: port: \"tcp/80-90\" is not tcp/PORT, udp/PORT, icmp or icmpv6"},
        {H "tests:\n  - {client: alice, to: \"2001:db8::1\", port: icmp, expect: deny}\n",
         "p.yaml:4:46: port: \"icmp\" is IPv4's: the address is IPv6"},
        {H "tests:\n  - {client: alice, to: 192.0.2.1, expect: yes}\n",
         "p.yaml:4:44: expect: \"yes\" is not allow or deny"},
        {H "tests:\n  - {client: alice, to: 192.0.2.1}\n",
         "p.yaml:4:5: missing required key \"expect\""},
};

static void test_bad(void)
{
	struct policy_env on = online();
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		struct policy *p = parse(bad_files[i].yaml, &on, err, sizeof(err), -EINVAL);

		if (strcmp(err, bad_files[i].err))
			fprintf(stderr, "bad_files[%zu]:\n%s\n", i, bad_files[i].yaml);
		CHECK_STR(err, bad_files[i].err);
		CHECK(p == NULL);
		policy_free(p);
	}
}

/* The environment is the caller's: a broken one is refused, not trusted. */
static void test_bad_env(void)
{
	struct policy_env on = online();
	struct policy_client two[2] = {env_clients[0], env_clients[0]};
	struct prefix bad;
	char err[256];
	struct policy *p;

	on.clients = two;
	on.n_clients = 2;
	p = parse(H, &on, err, sizeof(err), -EINVAL);
	CHECK_STR(err, "p.yaml: invalid client list or gateway addresses");
	policy_free(p);

	/* A name or a mark twice, among others (found as neighbours in sort
	 * order, wherever they sit in the list). */
	struct policy_client four[4] = {env_clients[0], env_clients[1], env_clients[2],
	                                env_clients[1]};
	four[3].mark = 0x45670009;
	on.clients = four;
	on.n_clients = 4;
	p = parse(H, &on, err, sizeof(err), -EINVAL);
	CHECK_STR(err, "p.yaml: invalid client list or gateway addresses");
	policy_free(p);
	four[3] = env_clients[1];
	four[3].name = "dave";
	four[1].mark = 0x45670009;
	four[3].mark = 0x45670009;
	p = parse(H, &on, err, sizeof(err), -EINVAL);
	CHECK_STR(err, "p.yaml: invalid client list or gateway addresses");
	policy_free(p);
	four[3].mark = 0x4567000a;
	p = parse(H "rules:\n" RULE("r", "[dave, bob, alice]", "[any]") "    action: allow\n", &on,
	          err, sizeof(err), 0);
	CHECK(p != NULL);
	CHECK_STR(policy_client_by_mark(p, 0x4567000a), "dave");
	CHECK_STR(policy_client_by_mark(p, 0x45670009), "bob");
	CHECK(policy_client_by_mark(p, 0x45670003) == NULL);
	policy_free(p);
	p = parse(H "rules:\n" RULE("r", "[dave, zed]", "[any]") "    action: allow\n", &on, err,
	          sizeof(err), -EINVAL);
	CHECK_STR(err, "p.yaml:5:18: from: \"zed\" is not a known client, group:NAME or any");
	policy_free(p);

	on = online();
	two[0].name = "no spaces";
	on.clients = two;
	on.n_clients = 1;
	policy_free(parse(H, &on, err, sizeof(err), -EINVAL));

	on = online();
	memset(&bad, 0, sizeof(bad));
	on.ifaddrs = &bad;
	on.n_ifaddrs = 1;
	policy_free(parse(H, &on, err, sizeof(err), -EINVAL));
}

struct warned {
	const char *yaml;
	const char *warning; /* NULL: none */
};

static const struct warned warned[] = {
        {H "rules:\n" RULE("all", "[any]", "[any]") "    action: allow\n" RULE(
                 "ten", "[any]", "[10.0.0.0/8]") "    action: deny\n",
         "p.yaml:8:11: warning: rule \"ten\" can never match: earlier rules decide all of its "
         "traffic"},
        /* a wider port range is not covered by a narrower one */
        {H "rules:\n" RULE("web", "[any]", "[any]") "    ports: [tcp/80]\n    action: allow\n" RULE(
                 "web2", "[any]", "[any]") "    ports: [tcp/80-81]\n    action: deny\n",
         NULL},
        /* two halves cover the whole */
        {H "rules:\n" RULE("lo", "[any]", "[10.0.0.0/9]") "    action: allow\n" RULE(
                 "hi", "[any]",
                 "[10.128.0.0/9]") "    action: allow\n" RULE("all", "[any]",
                                                              "[10.0.0.0/8]") "    action: deny\n",
         "p.yaml:12:11: warning: rule \"all\" can never match: earlier rules decide all of its "
         "traffic"},
        /* bob still reaches it */
        {H "rules:\n" RULE("a", "[alice]", "[any]") "    action: allow\n" RULE(
                 "ab", "[alice, bob]", "[10.0.0.0/8]") "    action: deny\n",
         NULL},
        {H "groups:\n  eng: [alice]\nrules:\n" RULE(
                 "a", "[alice]",
                 "[any]") "    action: allow\n" RULE("eng", "[group:eng]",
                                                     "[10.0.0.0/8]") "    action: deny\n",
         "p.yaml:10:11: warning: rule \"eng\" can never match: earlier rules decide all of its "
         "traffic"},
        /* the except leaves a hole the next rule fills */
        {H "rules:\n" RULE("a", "[any]", "[any]") "    except: [10.1.0.0/16]\n    action: "
                                                  "allow\n" RULE("ten", "[any]",
                                                                 "[10.0.0.0/8]") "    action: "
                                                                                 "deny\n",
         NULL},
        {H "rules:\n" RULE("a", "[any]", "[any]") "    except: [10.1.0.0/16]\n    action: "
                                                  "allow\n" RULE("b", "[any]",
                                                                 "[10.2.0.0/16]") "    action: "
                                                                                  "deny\n",
         "p.yaml:9:11: warning: rule \"b\" can never match: earlier rules decide all of its "
         "traffic"},
        /* `any` never covers the gateway; a gateway rule covers a narrower one */
        {H "rules:\n" RULE("a", "[any]", "[any]") "    action: allow\n" RULE(
                 "gw", "[any]", "[gateway]") "    action: deny\n",
         NULL},
        {H "rules:\n" RULE("gw", "[any]", "[gateway]") "    action: allow\n" RULE(
                 "dns", "[any]", "[gateway]") "    ports: [udp/53]\n    action: deny\n",
         "p.yaml:8:11: warning: rule \"dns\" can never match: earlier rules decide all of its "
         "traffic"},
        /* icmp is IPv4's, icmpv6 IPv6's */
        {H "rules:\n" RULE("ping", "[any]", "[any]") "    ports: [icmp]\n    action: allow\n" RULE(
                 "ping6", "[any]", "[\"2001:db8::/32\"]") "    ports: [icmpv6]\n    action: deny\n",
         NULL},
        {H "rules:\n" RULE("ping", "[any]", "[\"2001:db8::/32\"]") "    ports: [icmp]\n    "
                                                                   "action: allow\n",
         "p.yaml:4:11: warning: rule \"ping\" can never match: its except or ports leave "
         "nothing"},
        {H "rules:\n" RULE("none", "[any]", "[10.0.0.0/8]") "    except: [10.0.0.0/7]\n    "
                                                            "action: allow\n",
         "p.yaml:4:11: warning: rule \"none\" can never match: its except or ports leave "
         "nothing"},
        /* internet covers documentation ranges: our tests depend on it */
        {H "rules:\n" RULE("inet", "[any]", "[internet]") "    action: allow\n" RULE(
                 "doc", "[any]", "[203.0.113.0/24, \"2001:db8::/48\"]") "    action: deny\n",
         "p.yaml:8:11: warning: rule \"doc\" can never match: earlier rules decide all of its "
         "traffic"},
        /* ... but not the gateway's uplink network */
        {H "rules:\n" RULE("inet", "[any]", "[internet]") "    action: allow\n" RULE(
                 "lan", "[any]", "[198.51.100.0/24]") "    action: deny\n",
         NULL},
        {H "limits:\n  - for: [any]\n    max_flows: 5\n  - for: [alice]\n    bandwidth: 1mbit\n",
         "p.yaml:6:5: warning: limit applies to no client: each of its clients takes an earlier "
         "limit"},
};

static void test_warnings(void)
{
	struct policy_env on = online();
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(warned) / sizeof(warned[0]); i++) {
		struct policy *p = parse(warned[i].yaml, &on, err, sizeof(err), 0);

		if (!p) {
			fprintf(stderr, "warned[%zu]: %s\n", i, err);
			continue;
		}
		CHECK_INT(policy_warning_count(p), warned[i].warning ? 1 : 0);
		if (warned[i].warning)
			CHECK_STR(policy_warning(p, 0), warned[i].warning);
		else if (policy_warning_count(p))
			fprintf(stderr, "warned[%zu]: %s\n", i, policy_warning(p, 0));
		CHECK(policy_warning(p, policy_warning_count(p)) == NULL);
		policy_free(p);
	}
}

/* Offline, the uplink is unknown: 198.51.100.0/24 counts as internet. */
static void test_offline(void)
{
	struct policy_env off = offline();
	char err[256];
	struct policy *p = parse(warned[13].yaml, &off, err, sizeof(err), 0); /* inet, lan */

	if (!p)
		return;
	CHECK(!policy_ifaddrs_known(p));
	CHECK_INT(policy_warning_count(p), 1);
	policy_free(p);

	/* No clients at all: no rule applies to anyone, and nothing is said. */
	off.n_clients = 0;
	p = parse(warned[0].yaml, &off, err, sizeof(err), 0);
	if (p)
		CHECK_INT(policy_warning_count(p), 0);
	policy_free(p);
}

struct fails {
	size_t n;
	char last[512];
};

static void on_fail(void *arg, const char *msg)
{
	struct fails *f = arg;

	f->n++;
	snprintf(f->last, sizeof(f->last), "%s", msg);
}

static void test_tests_block(void)
{
	static const char yaml[] = H "rules:\n" RULE(
	        "web", "[alice]",
	        "[internet]") "    ports: [tcp/443]\n"
	                      "    action: allow\n"
	                      "tests:\n"
	                      "  - {client: alice, to: 203.0.113.80, port: tcp/443, expect: allow}\n"
	                      "  - {client: bob, to: 203.0.113.80, port: tcp/443, expect: allow}\n"
	                      "  - {client: alice, to: 198.51.100.1, port: udp/53, expect: allow}\n"
	                      "  - {client: alice, to: 100.64.0.1, port: icmp, expect: allow}\n"
	                      "  - {client: alice, to: 198.51.100.1, port: icmp, expect: allow}\n";
	struct policy_env on = online(), off = offline();
	struct fails f = {0};
	char err[256];
	struct policy *p = parse(yaml, &on, err, sizeof(err), 0);

	if (!p)
		return;
	CHECK_INT(policy_test_count(p), 5);
	CHECK_INT(policy_run_tests(p, on_fail, &f), 3);
	CHECK_INT(f.n, 3);
	CHECK_STR(f.last, "p.yaml:14:5: test failed: alice to 198.51.100.1 icmp: expected allow, "
	                  "got deny as traffic to the gateway that no rule naming gateway allows");
	policy_free(p);

	/* Offline, 198.51.100.1 is not known as the gateway's: */
	memset(&f, 0, sizeof(f));
	p = parse(yaml, &off, err, sizeof(err), 0);
	if (!p)
		return;
	CHECK_INT(policy_run_tests(p, on_fail, &f), 3);
	CHECK_STR(f.last, "p.yaml:14:5: test failed: alice to 198.51.100.1 icmp: expected allow, "
	                  "got deny by the default (offline: without the gateway's interface "
	                  "addresses)");
	policy_free(p);
}

static void test_builtin(void)
{
	struct policy_env on = online();
	struct policy *p = NULL, *q = NULL;
	char err[256];
	const char *t = policy_builtin_text();

	CHECK_INT(policy_builtin(&p, &on), 0);
	if (p) {
		CHECK_INT(policy_warning_count(p), 0);
		CHECK_INT(policy_test_count(p), 0);
	}
	/* Its text is a policy file like any other. */
	CHECK(strstr(t, "version: 1\n") == t);
	q = parse(t, &on, err, sizeof(err), 0);
	CHECK(q != NULL);
	policy_free(p);
	policy_free(q);
}

/* Rule ids: a function of the name, the same in every policy; never the
 * reserved ones; two names that hash alike still get two ids. */
static void test_rule_ids(void)
{
#define ALLOW(name) RULE(name, "[any]", "[any]") "    action: allow\n"
	struct policy_env on = online();
	struct policy *p, *q;
	char err[256];

	/* FNV-1a gives these two names the same 32 bits (0x6fbed7e2). */
	p = parse(H "rules:\n" ALLOW("web") ALLOW("r66999") ALLOW("r916676"), &on, err, sizeof(err),
	          0);
	q = parse(H "rules:\n" ALLOW("r916676") ALLOW("mail") ALLOW("web"), &on, err, sizeof(err),
	          0);
	CHECK(p && q);
	if (!p || !q)
		goto out;
	CHECK_INT(policy_rule_id(p, 0), policy_rule_id(q, 2));
	CHECK_INT(policy_rule_id(p, 1), 0x6fbed7e2);
	CHECK_INT(policy_rule_id(p, 2), 0x6fbed7e3); /* the later one probes on */
	CHECK_INT(policy_rule_id(q, 0), 0x6fbed7e2); /* alone, it has its hash */
	for (size_t i = 0; i < 3; i++) {
		CHECK(policy_rule_id(q, i) != POLICY_ID_NONE);
		CHECK(policy_rule_id(q, i) != POLICY_ID_DEFAULT);
		CHECK(policy_rule_id(q, i) != policy_rule_id(q, (i + 1) % 3));
	}
	CHECK_INT(policy_rule_id(p, 3), POLICY_ID_NONE);
out:
	policy_free(p);
	policy_free(q);
#undef ALLOW
}

int main(void)
{
	test_example();
	test_bad();
	test_bad_env();
	test_warnings();
	test_offline();
	test_tests_block();
	test_builtin();
	test_rule_ids();
	return check_done("test_policy");
}
