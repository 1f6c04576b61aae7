/* The policy compiler against golden files: tests/data/policy_NAME.nft is
 * what policy_render_objects() and policy_render_rules() give for
 * policy_NAME.yaml (or the built-in policy), objects first. The netns test
 * t_policy_nft.sh loads each into a kernel. With EGRESS_GOLDEN_UPDATE=1 the
 * files are written instead of compared, to review with git diff. */
#include <errno.h>

#include "check.h"
#include "policy_env.h"

static bool update;

static void check_golden(const char *got, const char *name)
{
	char *want, path[512];
	size_t i, line = 1;
	FILE *f;

	if (update) {
		snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
		f = fopen(path, "w");
		CHECK(f != NULL);
		if (f) {
			fputs(got, f);
			fclose(f);
		}
		return;
	}
	want = read_data(name);
	CHECK(want != NULL);
	if (want) {
		/* a whole ruleset in one line of output is unreadable: say where */
		for (i = 0; want[i] && want[i] == got[i]; i++)
			if (want[i] == '\n')
				line++;
		if (want[i] != got[i])
			fprintf(stderr, "%s: differs at line %zu:\n--- got:\n%s\n", name, line,
			        got);
		CHECK_STR(got, want);
	}
	free(want);
}

static char *render(const struct policy *p)
{
	char *objects = NULL, *rules = NULL, *all = NULL;

	CHECK_INT(policy_render_objects(p, &objects), 0);
	CHECK_INT(policy_render_rules(p, "egress0", &rules), 0);
	if (objects && rules && asprintf(&all, "%s%s", objects, rules) < 0)
		all = NULL;
	free(objects);
	free(rules);
	return all;
}

/* By content, named without the directory, which the text repeats. */
static struct policy *load(const char *yaml, const struct policy_env *env)
{
	struct policy *p = NULL;
	char *buf = read_data(yaml), err[256];

	CHECK(buf != NULL);
	if (!buf)
		return NULL;
	CHECK_INT(policy_parse(&p, yaml, buf, strlen(buf), env, err, sizeof(err)), 0);
	if (!p)
		fprintf(stderr, "%s\n", err);
	free(buf);
	return p;
}

static void golden(const char *yaml, const struct policy_env *env, const char *nft)
{
	struct policy *p = load(yaml, env);
	char *text = p ? render(p) : NULL;

	if (text)
		check_golden(text, nft);
	free(text);
	policy_free(p);
}

static void test_goldens(void)
{
	struct policy_env on = online(), off = offline();
	struct policy *p = NULL;
	char *text;

	golden("policy_example.yaml", &on, "policy_example.nft");
	golden("policy_example.yaml", &off, "policy_offline.nft");
	golden("policy_mixed.yaml", &on, "policy_mixed.nft");
	golden("policy_runs.yaml", &on, "policy_runs.nft");

	CHECK_INT(policy_builtin(&p, &on), 0);
	text = p ? render(p) : NULL;
	if (text)
		check_golden(text, "policy_builtin.nft");
	free(text);
	policy_free(p);
}

/* The transaction that replaces policy a by b, as the gateway sends it. */
static char *transaction(const struct policy *a, const struct policy *b)
{
	char *all = NULL;

	CHECK_INT(policy_render_replace(a, b, "egress0", &all), 0);
	return all;
}

static void test_reapply(void)
{
	struct policy_env on = online();
	struct policy *a = load("policy_example.yaml", &on), *b = load("policy_mixed.yaml", &on);
	char *text = NULL, *stale = NULL;

	if (!a || !b)
		goto out;
	text = transaction(a, b);
	CHECK(text != NULL);
	if (text)
		check_golden(text, "policy_reapply.nft");
	free(text);
	text = transaction(a, a);
	CHECK(text != NULL);
	if (text)
		check_golden(text, "policy_reapply_same.nft");

	CHECK_INT(policy_render_stale(a, b, &stale), 0);
	CHECK(stale && strstr(stale, "delete counter inet egress rule_eng-web\n"));
	CHECK(stale && strstr(stale, "delete set inet egress flows_bob_500\n"));
	CHECK(stale && strstr(stale, "delete limit inet egress bw_up_alice_6250000\n"));
	CHECK(stale && !strstr(stale, "policy_default"));
	free(stale);
	/* The same policy again leaves no stale object. */
	stale = NULL;
	CHECK_INT(policy_render_stale(b, b, &stale), 0);
	CHECK_STR(stale, "");
out:
	free(text);
	free(stale);
	policy_free(a);
	policy_free(b);
}

/* Clients named by the same rules share one pair of chains, the first of
 * them named in a comment; a client only rules for any name has no element,
 * and a max_flows makes a client's own. */
static void test_shared_chains(void)
{
	static const char yaml[] = "version: 1\n"
	                           "default: deny\n"
	                           "rules:\n"
	                           "  - {name: web, from: [alice, carol], to: [internet], "
	                           "action: allow}\n"
	                           "  - {name: dns, from: [any], to: [gateway], ports: [udp/53], "
	                           "action: allow}\n";
	static const char with_limit[] = "limits:\n  - {for: [carol], max_flows: 10}\n";
	struct policy_env on = online();
	struct policy *p = NULL;
	char *text = NULL, *buf = NULL, err[256];

	CHECK_INT(policy_parse(&p, "shared", yaml, sizeof(yaml) - 1, &on, err, sizeof(err)), 0);
	if (p)
		CHECK_INT(policy_render_rules(p, "egress0", &text), 0);
	CHECK(text && strstr(text, "\t\t\t0x45670002 : goto policy_fwd_1,\n"
	                           "\t\t\t0x45670004 : goto policy_fwd_1\n"));
	CHECK(text && strstr(text, "\t\t\t0x45670002 : goto policy_in_1,\n"
	                           "\t\t\t0x45670004 : goto policy_in_1\n"));
	CHECK(text && strstr(text, "\t# The chains of alice and of every client named by the "
	                           "same rules.\n\tchain policy_fwd_1 {\n"));
	CHECK(text && !strstr(text, "0x45670003 :"));
	CHECK(text && !strstr(text, "policy_fwd_2"));
	CHECK(text && strstr(text, "\tchain policy_in_any {\n\t\tudp dport 53 counter name "
	                           "\"rule_dns\""));
	free(text);
	text = NULL;
	policy_free(p);
	p = NULL;

	CHECK(asprintf(&buf, "%s%s", yaml, with_limit) > 0);
	if (buf)
		CHECK_INT(policy_parse(&p, "shared", buf, strlen(buf), &on, err, sizeof(err)), 0);
	if (p)
		CHECK_INT(policy_render_rules(p, "egress0", &text), 0);
	CHECK(text && strstr(text, "\t\t\t0x45670002 : goto policy_fwd_1,\n"
	                           "\t\t\t0x45670004 : goto fwd_carol\n"));
	CHECK(text && strstr(text, "\tchain in_carol {\n\t\tadd @flows_carol_10 "));
	free(text);
	free(buf);
	policy_free(p);
}

/* A TUN name is quoted in the text: nothing that could leave the quotes. */
static void test_bad_tun(void)
{
	struct policy_env on = online();
	struct policy *p = NULL;
	char *text = (char *)"x";

	CHECK_INT(policy_builtin(&p, &on), 0);
	if (!p)
		return;
	CHECK_INT(policy_render_rules(p, "egr\"ess", &text), -EINVAL);
	CHECK(text == NULL);
	CHECK_INT(policy_render_rules(p, "", &text), -EINVAL);
	CHECK_INT(policy_render_rules(p, "a-very-long-name0", &text), -EINVAL);
	CHECK_INT(policy_render_rules(p, NULL, &text), -EINVAL);
	policy_free(p);
}

int main(void)
{
	const char *u = getenv("EGRESS_GOLDEN_UPDATE");

	update = u && !strcmp(u, "1");
	test_goldens();
	test_reapply();
	test_shared_chains();
	test_bad_tun();
	return check_done("test_policy_nft");
}
