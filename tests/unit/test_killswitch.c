/* edge/killswitch.c's pure parts: the table against golden files
 * (tests/data/ks_edge.nft, and ks_edge_dns.nft with dns; t_kill_switch.sh
 * loads the real thing), what it refuses, and the state file's parser.
 * EGRESS_GOLDEN_UPDATE=1 rewrites the golden files from what ks_render()
 * gives. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "edge/killswitch.h"

static void check_golden(const struct ks_params *p, const char *name)
{
	char path[512], *want, *got = NULL;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
	CHECK_INT(ks_render(p, &got), 0);
	if (got && getenv("EGRESS_GOLDEN_UPDATE")) {
		FILE *f = fopen(path, "w");

		if (f) {
			fputs(got, f);
			fclose(f);
		}
	}
	want = check_read_data(name);
	CHECK(want != NULL && got != NULL);
	if (want && got && strcmp(want, got))
		fprintf(stderr, "%s differs; got:\n%s\n", name, got);
	if (want && got)
		CHECK_STR(got, want);
	free(want);
	free(got);
}

static struct edge_gateway gateway(int family, const char *addr, uint16_t port)
{
	struct edge_gateway g = {.endpoint.ss_family = (sa_family_t)family};
	struct sockaddr_storage *ss = &g.endpoint;

	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		inet_pton(AF_INET, addr, &sin->sin_addr);
		sin->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		sin6->sin6_port = htons(port);
	}
	return g;
}

static void test_render(void)
{
	struct edge_gateway gws[2] = {gateway(AF_INET, "198.51.100.1", 51820),
	                              gateway(AF_INET6, "2001:db8:51::1", 51821)};
	struct edge_allow allow[2] = {{.dst = check_prefix("192.0.2.10/32"), .port = 22},
	                              {.dst = check_prefix("2001:db8:7::/48")}};
	struct prefix lan[2] = {check_prefix("192.168.1.0/24"), check_prefix("fd00:2::/64")};
	struct ks_params p = {.ifname = "egress0",
	                      .fwmark = 51820,
	                      .gateways = gws,
	                      .n_gateways = 2,
	                      .allow = allow,
	                      .n_allow = 2,
	                      .lan = lan,
	                      .n_lan = 2};
	struct edge_gateway bad = {.endpoint.ss_family = AF_UNIX};
	char *text = (char *)1;

	check_golden(&p, "ks_edge.nft");
	/* dns: DNS through the tunnel only to those resolvers */
	struct prefix dns[2] = {check_prefix("100.64.0.1"), check_prefix("fd00:64::1")};
	struct ks_params q = {.ifname = "egress0",
	                      .fwmark = 51820,
	                      .gateways = gws,
	                      .n_gateways = 1,
	                      .dns = dns,
	                      .n_dns = 2};
	check_golden(&q, "ks_edge_dns.nft");

	p.ifname = "egress\"0";
	CHECK_INT(ks_render(&p, &text), -EINVAL);
	CHECK(text == NULL);
	p.ifname = "egress0";
	p.fwmark = 0;
	CHECK_INT(ks_render(&p, &text), -EINVAL);
	p.fwmark = 51820;
	p.gateways = &bad;
	p.n_gateways = 1;
	CHECK_INT(ks_render(&p, &text), -EINVAL);
	CHECK(text == NULL);
}

static void test_state(void)
{
	static const char *const bad[] = {
	        "",
	        "pid 12\nsrc_valid_mark -\n",                            /* no header */
	        "egress-edge killswitch\nsrc_valid_mark 0\n",            /* no pid */
	        "egress-edge killswitch\npid 0\nsrc_valid_mark 0\n",     /* pid 0 */
	        "egress-edge killswitch\npid -4\nsrc_valid_mark 0\n",    /* negative */
	        "egress-edge killswitch\npid 12x\nsrc_valid_mark 0\n",   /* junk */
	        "egress-edge killswitch\npid 12\nsrc_valid_mark 7\n",    /* not 0 or 1 */
	        "egress-edge killswitch\npid 12\nsrc_valid_mark 0\nx\n", /* an unknown line */
	        "egress-edge killswitch\npid 99999999999\nsrc_valid_mark 0\n",
	};
	struct ks_state s;
	char dir[] = "/tmp/test_killswitch.XXXXXX", sub[64];

	CHECK_INT(ks_state_parse("egress-edge killswitch\npid 42\nsrc_valid_mark 0\n", 47, &s), 0);
	CHECK_INT(s.pid, 42);
	CHECK_STR(s.src_valid_mark, "0");
	CHECK_INT(ks_state_parse("egress-edge killswitch\npid 42\nsrc_valid_mark -\n", 47, &s), 0);
	CHECK_STR(s.src_valid_mark, "");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(ks_state_parse(bad[i], strlen(bad[i]), &s), -EINVAL);
	CHECK_INT(ks_state_parse("egress-edge killswitch\0pid 1\n", 29, &s), -EINVAL);

	/* written (its directories made), read back, removed */
	if (!mkdtemp(dir))
		return;
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	CHECK_INT(ks_state_read(sub, &s), -ENOENT);
	CHECK_INT(ks_state_write(sub, &(struct ks_state){.pid = 7, .src_valid_mark = "1"}), 0);
	CHECK_INT(ks_state_read(sub, &s), 0);
	CHECK_INT(s.pid, 7);
	CHECK_STR(s.src_valid_mark, "1");
	CHECK(!ks_state_owner_running(&s)); /* pid 7 is no edged */
	s.pid = getpid();
	CHECK(!ks_state_owner_running(&s)); /* this process is never "another edged" */
	CHECK_INT(ks_state_remove(sub), 0);
	CHECK_INT(ks_state_remove(sub), 0);
	CHECK_INT(ks_state_read(sub, &s), -ENOENT);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	rmdir(sub);
	rmdir(dir);
}

/* allow_lan's ranges: RFC 1918, IPv4 link-local, ULA and IPv6 link-local,
 * and nothing public, not even a range that holds a private one. */
static void test_private(void)
{
	static const char *const yes[] = {"10.0.0.0/8",      "10.1.2.0/24",    "172.16.0.0/12",
	                                  "172.31.255.0/24", "192.168.1.0/24", "169.254.0.0/16",
	                                  "fd00:2::/64",     "fc00::/7",       "fe80::/64"};
	static const char *const no[] = {"192.0.2.0/24", "203.0.113.0/24", "172.32.0.0/16",
	                                 "8.0.0.0/7",    "0.0.0.0/0",      "2001:db8::/32",
	                                 "fe00::/7",     "::/0",           "192.168.0.0/15"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct prefix p = check_prefix(yes[i]);

		if (!ks_private(&p))
			fprintf(stderr, "%s is private\n", yes[i]);
		CHECK(ks_private(&p));
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct prefix p = check_prefix(no[i]);

		if (ks_private(&p))
			fprintf(stderr, "%s is not private\n", no[i]);
		CHECK(!ks_private(&p));
	}
}

int main(void)
{
	test_private();
	test_render();
	test_state();
	return check_done("test_killswitch");
}
