/* nft_render against hand-written golden files, and the inputs it must refuse.
 * Loading the text into a kernel is root-only and lives in the netns tests. */
#include <errno.h>
#include <stdlib.h>

#include "gateway/nft.h"
#include "check.h"

/* On a mismatch, say where: a whole ruleset in one line of output is unreadable. */
static void check_golden(const struct nft_params *p, const char *name)
{
	char *want = check_read_data(name), *got = NULL;
	size_t i, line = 1;

	CHECK_INT(nft_render(p, &got), 0);
	CHECK(want != NULL && got != NULL);
	if (want && got) {
		for (i = 0; want[i] && want[i] == got[i]; i++)
			if (want[i] == '\n')
				line++;
		if (want[i] != got[i])
			fprintf(stderr, "%s: differs at line %zu:\n--- got:\n%s\n", name, line,
			        got);
		CHECK_STR(got, want);
	}
	free(want);
	free(got);
}

static struct nft_params base(void)
{
	struct nft_params p = {
	        .ifname = "egress0",
	        .uplink = "eth0",
	        .net = check_prefix("100.64.0.1/24"),
	        .mtu = 1420,
	        .mark_tag = 0x45670000,
	        .mark_id_mask = 0x0000ffff,
	};
	return p;
}

static void test_v4_uplink(void)
{
	struct nft_client c[] = {
	        {.name = "alice", .addr = check_prefix("100.64.0.2"), .id = 2},
	        {.name = "bob", .addr = check_prefix("100.64.0.3"), .id = 3},
	};
	struct nft_params p = base();

	p.clients = c;
	p.n_clients = 2;
	check_golden(&p, "nft_v4_uplink.nft");
}

static void test_dual_any(void)
{
	struct nft_client c[] = {
	        {.name = "alice",
	         .addr = check_prefix("100.64.0.2"),
	         .has_addr6 = true,
	         .addr6 = check_prefix("fd00:6567::2"),
	         .id = 2},
	        {.name = "bob", .addr = check_prefix("100.64.0.3"), .id = 3},
	        {.name = "carol.x-1",
	         .addr = check_prefix("100.64.0.10"),
	         .has_addr6 = true,
	         .addr6 = check_prefix("fd00:6567::a"),
	         .id = 10},
	};
	struct nft_params p = base();

	p.uplink = "";
	p.has_net6 = true;
	p.net6 = check_prefix("fd00:6567::1/64");
	p.clients = c;
	p.n_clients = 3;
	check_golden(&p, "nft_dual_any.nft");

	p.uplink = NULL; /* same as "" */
	check_golden(&p, "nft_dual_any.nft");
}

static void test_no_clients(void)
{
	struct nft_params p = base();

	p.ifname = "gw-tun.1";
	p.uplink = "uplink_0";
	p.net = check_prefix("198.51.100.77/25"); /* host bits are masked off */
	p.has_net6 = true;
	p.net6 = check_prefix("2001:db8:e:1::1/48");
	p.mtu = 1280;
	check_golden(&p, "nft_no_clients.nft");
}

/* Each variant must be refused, and leave *text NULL. */
static void expect_einval(const struct nft_params *p, int line)
{
	char *text = (char *)"untouched";
	int ret = nft_render(p, &text);

	if (ret != -EINVAL || text != NULL)
		fprintf(stderr, "expect_einval from line %d: ret %d\n", line, ret);
	CHECK_INT(ret, -EINVAL);
	CHECK(text == NULL);
	if (ret == 0)
		free(text);
}

static void test_refused(void)
{
	/* everything that could end a quoted string or a '#' comment, or be a wildcard */
	static const char *const bad_names[] = {
	        "",
	        "a\"; flush ruleset; \"",
	        "eth0\" accept",
	        "eth*",
	        "a b",
	        "a\nflush ruleset",
	        "a\\",
	        "a#b",
	        "a}",
	        "a;b",
	        "$var",
	};
	struct nft_client c = {.name = "alice", .addr = check_prefix("100.64.0.2"), .id = 2};
	struct nft_params p;
	size_t i;

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		p = base();
		p.ifname = bad_names[i];
		expect_einval(&p, __LINE__);

		p = base();
		if (bad_names[i][0]) { /* "" is a valid uplink: any */
			p.uplink = bad_names[i];
			expect_einval(&p, __LINE__);
		}

		p = base();
		c.name = bad_names[i];
		p.clients = &c;
		p.n_clients = 1;
		expect_einval(&p, __LINE__);
		c.name = "alice";
	}

	p = base();
	p.ifname = NULL;
	expect_einval(&p, __LINE__);

	p = base();
	p.ifname = "abcdefghijklmnop"; /* 16: longer than IFNAMSIZ - 1 */
	expect_einval(&p, __LINE__);

	p = base();
	p.uplink = "egress0"; /* out of the tunnel into the tunnel */
	expect_einval(&p, __LINE__);

	p = base();
	c.name = "abcdefghijklmnopqrstuvwxyz01234567"; /* 32 characters */
	p.clients = &c;
	p.n_clients = 1;
	expect_einval(&p, __LINE__);
	c.name = "alice";

	p = base();
	p.mtu = 1279;
	expect_einval(&p, __LINE__);
	p.mtu = 9001;
	expect_einval(&p, __LINE__);

	p = base();
	p.net.len = 33;
	expect_einval(&p, __LINE__);
	p.net = check_prefix("fd00:6567::/64"); /* net is the IPv4 subnet */
	expect_einval(&p, __LINE__);

	p = base();
	p.has_net6 = true;
	p.net6 = check_prefix("100.64.0.0/24"); /* and net6 the IPv6 one */
	expect_einval(&p, __LINE__);

	p = base();
	p.mark_tag = 0x45670001; /* a tag bit inside the id mask */
	expect_einval(&p, __LINE__);

	p = base();
	p.mark_id_mask = 0x00ff00ff; /* not contiguous low bits */
	expect_einval(&p, __LINE__);

	p = base();
	p.mark_id_mask = 0;
	expect_einval(&p, __LINE__);

	p = base();
	c.id = 0x10002; /* outside the mask: would clobber the tag */
	p.clients = &c;
	p.n_clients = 1;
	expect_einval(&p, __LINE__);
	c.id = 2;

	p = base();
	c.addr = check_prefix("100.64.1.2"); /* outside the subnet */
	p.clients = &c;
	p.n_clients = 1;
	expect_einval(&p, __LINE__);
	c.addr = check_prefix("100.64.0.2");

	p = base();
	c.has_addr6 = true; /* no v6 subnet */
	c.addr6 = check_prefix("fd00:6567::2");
	p.clients = &c;
	p.n_clients = 1;
	expect_einval(&p, __LINE__);

	p.has_net6 = true;
	p.net6 = check_prefix("fd00:6568::/64");
	expect_einval(&p, __LINE__); /* outside the v6 subnet */

	p.net6 = check_prefix("fd00:6567::/64");
	{
		char *text = NULL;

		CHECK_INT(nft_render(&p, &text), 0); /* and now it fits */
		CHECK(text && strstr(text, "fd00:6567::2 comment \"alice\" : 0x45670002"));
		free(text);
	}

	p = base();
	p.n_clients = 1; /* clients NULL */
	expect_einval(&p, __LINE__);

	CHECK_INT(nft_render(NULL, NULL), -EINVAL);
}

static void test_deterministic(void)
{
	struct nft_client c[] = {{.name = "alice", .addr = check_prefix("100.64.0.2"), .id = 2}};
	struct nft_params p = base();
	char *t1 = NULL, *t2 = NULL;

	p.clients = c;
	p.n_clients = 1;
	CHECK_INT(nft_render(&p, &t1), 0);
	CHECK_INT(nft_render(&p, &t2), 0);
	CHECK_STR(t1, t2);
	free(t1);
	free(t2);
}

/* A change of clients: every delete (gone, or changed) before every add
 * (new, or changed); an unchanged client is not mentioned. */
static void test_client_change(void)
{
	struct nft_client was[] = {
	        {.name = "alice", .addr = check_prefix("100.64.0.2"), .id = 2},
	        {.name = "bob", .addr = check_prefix("100.64.0.3"), .id = 3},
	        {.name = "carol", .addr = check_prefix("100.64.0.4"), .id = 4},
	};
	struct nft_client now[] = {
	        {.name = "dave", .addr = check_prefix("100.64.0.4"), .id = 4},
	        {.name = "alice", .addr = check_prefix("100.64.0.2"), .id = 2},
	        {.name = "bob", .addr = check_prefix("100.64.0.9"), .id = 9},
	};
	struct nft_params o = base(), n = base();
	char *t = NULL;

	o.clients = was;
	o.n_clients = 3;
	n.clients = now;
	n.n_clients = 3;
	CHECK_INT(nft_render_client_change(&o, &n, &t), 0);
	CHECK_STR(
	        t,
	        "delete element inet egress client_mark { 100.64.0.3 }\n"
	        "delete element inet egress client_mark { 100.64.0.4 }\n"
	        "add element inet egress client_mark { 100.64.0.9 comment \"bob\" : 0x45670009 }\n"
	        "add element inet egress client_mark { 100.64.0.4 comment \"dave\" : 0x45670004 }\n");
	free(t);
	CHECK_INT(nft_render_client_change(&o, &o, &t), 0);
	CHECK_STR(t, "");
	free(t);
	n.mark_tag = 0x12340000;
	CHECK_INT(nft_render_client_change(&o, &n, &t), -EINVAL);
	CHECK(t == NULL);
}

int main(void)
{
	CHECK_INT(nft_client_mark(0x45670000, 0x0002), 0x45670002);
	CHECK_INT(nft_client_mark(0x45670000, 0xffff), 0x4567ffff);

	test_v4_uplink();
	test_dual_any();
	test_no_clients();
	test_refused();
	test_deterministic();
	test_client_change();
	return check_done("test_nft");
}
