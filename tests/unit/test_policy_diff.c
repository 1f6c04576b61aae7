/* policy_diff(): what applying one policy over another would change, as
 * `gatewayctl policy diff` prints it, line by line: the default, rules added,
 * removed, changed and moved, and each client's limit; and the changes of
 * spelling or of the tests: block that are none. */
#include <errno.h>

#include "check.h"
#include "policy_env.h"

#define H                    "version: 1\ndefault: deny\n"
#define RULE(name, from, to) "  - name: " name "\n    from: " from "\n    to: " to "\n"
#define ALLOW                "    action: allow\n"
#define DENY                 "    action: deny\n"
#define ALICE_BW(rate)       "limits:\n  - for: [alice]\n    bandwidth: " rate "\n"

struct diff_case {
	const char *old, *now;
	const char *lines; /* the expected lines, each ending in \n; "" for none */
};

static const struct diff_case cases[] = {
        /* identical */
        {H "rules:\n" RULE("a", "[alice]",
                           "[any]") "    ports: [tcp/443]\n" ALLOW
                                    "limits:\n  - for: [any]\n    bandwidth: 50mbit\n",
         H "rules:\n" RULE("a", "[alice]",
                           "[any]") "    ports: [tcp/443]\n" ALLOW
                                    "limits:\n  - for: [any]\n    bandwidth: 50mbit\n",
         ""},
        {H, H, ""},
        /* the same meaning, written differently */
        {H "rules:\n" RULE("a", "[alice, bob]",
                           "[10.0.0.0/8]") "    ports: [tcp/80-81]\n" ALLOW ALICE_BW("1mbit"),
         H "groups:\n  two: [bob, alice]\nrules:\n" RULE(
                 "a", "[group:two]",
                 "[10.0.0.0/9, 10.128.0.0/9]") "    ports: [tcp/81, tcp/80]\n" ALLOW
                 ALICE_BW("1000kbit"),
         ""},
        /* the tests: block is not reported */
        {H "rules:\n" RULE("a", "[any]", "[any]") ALLOW,
         H "rules:\n" RULE("a", "[any]", "[any]") ALLOW
         "tests:\n  - {client: alice, to: 192.0.2.1, expect: allow}\n",
         ""},
        {H, "version: 1\ndefault: allow\n", "default: deny -> allow\n"},
        {H "rules:\n" RULE("a", "[any]", "[any]") ALLOW,
         H "rules:\n" RULE("a", "[any]", "[any]") ALLOW RULE("b", "[bob]", "[gateway]") DENY,
         "+ rule \"b\" (deny, position 2)\n"},
        /* a rule added in front moves none of the others */
        {H "rules:\n" RULE("a", "[any]", "[any]") ALLOW,
         H "rules:\n" RULE("x", "[any]", "[gateway]") ALLOW RULE("a", "[any]", "[any]") ALLOW,
         "+ rule \"x\" (allow, position 1)\n"},
        {H "rules:\n" RULE("a", "[any]", "[any]") ALLOW RULE("b", "[bob]", "[gateway]") DENY,
         H "rules:\n" RULE("b", "[bob]", "[gateway]") DENY, "- rule \"a\"\n"},
        {H "rules:\n" RULE("a", "[any]", "[any]") ALLOW,
         H "rules:\n" RULE("a", "[any]", "[any]") DENY, "~ rule \"a\": action allow -> deny\n"},
        {H "rules:\n" RULE("a", "[alice]", "[any]") ALLOW,
         H "rules:\n" RULE("a", "[alice, bob]", "[any]") ALLOW, "~ rule \"a\": from changed\n"},
        /* every client named is not any */
        {H "rules:\n" RULE("a", "[alice, bob, carol]", "[any]") ALLOW,
         H "rules:\n" RULE("a", "[any]", "[any]") ALLOW, "~ rule \"a\": from changed\n"},
        {H "rules:\n" RULE("a", "[any]", "[10.0.0.0/8]") ALLOW,
         H "rules:\n" RULE("a", "[any]", "[10.0.0.0/8, gateway]") ALLOW,
         "~ rule \"a\": to changed\n"},
        {H "rules:\n" RULE("a", "[any]", "[any]") ALLOW,
         H "rules:\n" RULE("a", "[any]", "[any]") "    except: [\"fd00::/8\"]\n" ALLOW,
         "~ rule \"a\": except changed\n"},
        /* no ports: every protocol, more than tcp and udp */
        {H "rules:\n" RULE("a", "[any]", "[any]") ALLOW,
         H "rules:\n" RULE("a", "[any]", "[any]") "    ports: [tcp, udp, icmp, icmpv6]\n" ALLOW,
         "~ rule \"a\": ports changed\n"},
        /* several aspects of one rule, in a fixed order */
        {H "rules:\n" RULE("a", "[alice]", "[10.0.0.0/8]") "    ports: [tcp/80]\n" ALLOW,
         H "rules:\n" RULE("a", "[bob]", "[10.0.0.0/16]") "    except: [10.0.1.0/24]\n"
                                                          "    ports: [tcp/81]\n" DENY,
         "~ rule \"a\": action allow -> deny\n"
         "~ rule \"a\": from changed\n"
         "~ rule \"a\": to changed\n"
         "~ rule \"a\": except changed\n"
         "~ rule \"a\": ports changed\n"},
        {H "rules:\n" RULE("a", "[any]", "[any]") ALLOW RULE("b", "[bob]", "[gateway]") DENY,
         H "rules:\n" RULE("b", "[bob]", "[gateway]") DENY RULE("a", "[any]", "[any]") ALLOW,
         "~ rule \"b\": moved from position 2 to 1\n"
         "~ rule \"a\": moved from position 1 to 2\n"},
        /* everything at once: the order of the lines */
        {H "rules:\n" RULE("a", "[any]", "[any]") ALLOW RULE("b", "[bob]", "[gateway]")
                 DENY RULE("c", "[carol]", "[gateway]") DENY,
         "version: 1\ndefault: allow\nrules:\n" RULE("c", "[carol]", "[gateway]")
                 ALLOW RULE("n", "[any]", "[gateway]") DENY RULE("a", "[any]", "[any]") ALLOW
         "limits:\n  - for: [bob]\n    max_flows: 5\n",
         "default: deny -> allow\n"
         "~ rule \"c\": action deny -> allow\n"
         "~ rule \"c\": moved from position 3 to 1\n"
         "+ rule \"n\" (deny, position 2)\n"
         "~ rule \"a\": moved from position 1 to 3\n"
         "- rule \"b\"\n"
         "+ limit for bob: max_flows 5\n"},
        /* limits, client by client in the env's order */
        {H,
         H "limits:\n  - for: [carol]\n    bandwidth: 1gbit\n"
           "  - for: [any]\n    bandwidth: 50mbit\n    max_flows: 500\n",
         "+ limit for alice: bandwidth 50mbit, max_flows 500\n"
         "+ limit for bob: bandwidth 50mbit, max_flows 500\n"
         "+ limit for carol: bandwidth 1gbit\n"},
        {H "limits:\n  - for: [alice, carol]\n    max_flows: 5\n",
         H "limits:\n  - for: [carol]\n    max_flows: 5\n", "- limit for alice\n"},
        {H "limits:\n  - for: [alice]\n    bandwidth: 50mbit\n    max_flows: 500\n"
           "  - for: [bob]\n    bandwidth: 50mbit\n",
         H "limits:\n  - for: [alice]\n    bandwidth: 10mbit\n"
           "  - for: [bob]\n    max_flows: 100\n",
         "~ limit for alice: bandwidth 50mbit -> 10mbit\n"
         "~ limit for alice: max_flows 500 -> none\n"
         "~ limit for bob: bandwidth 50mbit -> none\n"
         "~ limit for bob: max_flows none -> 100\n"},
        /* another limit object with the same values is no change */
        {H "limits:\n  - for: [any]\n    max_flows: 7\n",
         H "limits:\n  - for: [alice]\n    max_flows: 7\n  - for: [bob, carol]\n    max_flows: 7\n",
         ""},
};

static struct policy *parse(const char *yaml, const struct policy_env *env)
{
	struct policy *p = NULL;
	char err[256] = "";

	CHECK_INT(policy_parse(&p, "p.yaml", yaml, strlen(yaml), env, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	return p;
}

/* The diff of the two files, its lines joined, each ending in \n. */
static void diff(const char *old, const struct policy_env *old_env, const char *now,
                 const struct policy_env *now_env, char *out, size_t len)
{
	struct policy *a = parse(old, old_env), *b = parse(now, now_env);
	char **lines = NULL;
	size_t i, n = 0, used = 0;

	out[0] = '\0';
	if (a && b)
		CHECK_INT(policy_diff(a, b, &lines, &n), 0);
	for (i = 0; i < n; i++) {
		CHECK(lines[i] != NULL);
		used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s\n", lines[i]);
	}
	CHECK(used < len);
	CHECK((n == 0) == (lines == NULL));
	policy_diff_free(lines, n);
	policy_free(a);
	policy_free(b);
}

static void test_cases(void)
{
	struct policy_env on = online();
	char got[2048];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		diff(cases[i].old, &on, cases[i].now, &on, got, sizeof(got));
		if (strcmp(got, cases[i].lines))
			fprintf(stderr, "cases[%zu]:\n--- old\n%s--- now\n%s", i, cases[i].old,
			        cases[i].now);
		CHECK_STR(got, cases[i].lines);
	}
}

/* Clients are matched by name: the env may list them in another order, or
 * have gained or lost one, between the two policies. */
static void test_clients_change(void)
{
	static const char limited[] = H "rules:\n" RULE("a", "[alice, bob]", "[any]") ALLOW
	        "limits:\n  - for: [carol]\n    max_flows: 5\n";
	static const char unlimited[] = H "rules:\n" RULE("a", "[alice, bob]", "[any]") ALLOW;
	struct policy_env on = online(), two = online(), turned = online();
	struct policy_client rev[3];
	char got[1024];

	two.n_clients = 2; /* alice and bob, no carol */
	rev[0] = env_clients[2];
	rev[1] = env_clients[1];
	rev[2] = env_clients[0];
	turned.clients = rev;

	diff(limited, &on, limited, &turned, got, sizeof(got));
	CHECK_STR(got, "");
	diff(unlimited, &two, limited, &turned, got, sizeof(got));
	CHECK_STR(got, "+ limit for carol: max_flows 5\n");
	/* carol is gone: her limit is, and the rule that named only the others is the same */
	diff(limited, &turned, unlimited, &two, got, sizeof(got));
	CHECK_STR(got, "- limit for carol\n");
	diff(H "rules:\n" RULE("a", "[alice, carol]", "[any]") ALLOW, &on,
	     H "rules:\n" RULE("a", "[alice]", "[any]") ALLOW, &two, got, sizeof(got));
	CHECK_STR(got, "~ rule \"a\": from changed\n");
	/* any stays any */
	diff(H "rules:\n" RULE("a", "[any]", "[any]") ALLOW, &on,
	     H "rules:\n" RULE("a", "[any]", "[any]") ALLOW, &two, got, sizeof(got));
	CHECK_STR(got, "");
}

int main(void)
{
	test_cases();
	test_clients_change();
	return check_done("test_policy_diff");
}
