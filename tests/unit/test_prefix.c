/* tunnel/prefix: parse, mask, contains, compare, format. Linked against
 * egress_conf only. */
#include <arpa/inet.h>
#include <errno.h>

#include "tunnel/prefix.h"
#include "check.h"

static const char *fmt(const struct prefix *p)
{
	static char buf[PREFIX_STRLEN];

	return prefix_format(p, buf, sizeof(buf));
}

static void test_parse(void)
{
	static const struct {
		const char *in;
		int family;
		const char *out; /* NULL: refused */
	} cases[] = {
	        {"192.0.2.1", AF_UNSPEC, "192.0.2.1/32"},
	        {"192.0.2.1/24", AF_UNSPEC, "192.0.2.1/24"}, /* host bits kept */
	        {"0.0.0.0/0", AF_INET, "0.0.0.0/0"},
	        {"2001:db8::1", AF_UNSPEC, "2001:db8::1/128"},
	        {"2001:db8::/32", AF_INET6, "2001:db8::/32"},
	        {"::/0", AF_UNSPEC, "::/0"},
	        {"192.0.2.1/33", AF_UNSPEC, NULL},
	        {"2001:db8::/129", AF_UNSPEC, NULL},
	        {"192.0.2.1/", AF_UNSPEC, NULL},
	        {"192.0.2.1/08", AF_UNSPEC, NULL},
	        {"192.0.2.1/+8", AF_UNSPEC, NULL},
	        {"192.0.2.1/ 8", AF_UNSPEC, NULL},
	        {"192.0.2.1/8/8", AF_UNSPEC, NULL},
	        {"192.0.2.1/0x8", AF_UNSPEC, NULL},
	        {"192.0.2.1/0008", AF_UNSPEC, NULL},
	        {"192.0.2", AF_UNSPEC, NULL},
	        {"192.0.2.256", AF_UNSPEC, NULL},
	        {" 192.0.2.1", AF_UNSPEC, NULL},
	        {"", AF_UNSPEC, NULL},
	        {"/8", AF_UNSPEC, NULL},
	        {"example.com", AF_UNSPEC, NULL},
	        {"192.0.2.1", AF_INET6, NULL},
	        {"2001:db8::1", AF_INET, NULL},
	        {"2001:db8::1/64", AF_INET6, "2001:db8::1/64"},
	};
	struct prefix p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = prefix_parse(&p, cases[i].in, cases[i].family);

		if (!cases[i].out) {
			if (ret != -EINVAL)
				fprintf(stderr, "case %zu: \"%s\" parsed\n", i, cases[i].in);
			CHECK_INT(ret, -EINVAL);
			continue;
		}
		CHECK_INT(ret, 0);
		if (ret == 0)
			CHECK_STR(fmt(&p), cases[i].out);
	}
}

static void test_mask(void)
{
	struct prefix p = check_prefix("10.1.2.3/8");

	CHECK(!prefix_is_network(&p));
	prefix_mask(&p);
	CHECK_STR(fmt(&p), "10.0.0.0/8");
	CHECK(prefix_is_network(&p));

	p = check_prefix("192.0.2.255/25");
	prefix_mask(&p);
	CHECK_STR(fmt(&p), "192.0.2.128/25");
	p = check_prefix("192.0.2.7/0");
	prefix_mask(&p);
	CHECK_STR(fmt(&p), "0.0.0.0/0");
	p = check_prefix("2001:db8:ffff:ffff::1/35");
	CHECK(!prefix_is_network(&p));
	prefix_mask(&p);
	CHECK_STR(fmt(&p), "2001:db8:e000::/35");
	p = check_prefix("2001:db8::1/128");
	CHECK(prefix_is_network(&p));
	prefix_mask(&p);
	CHECK_STR(fmt(&p), "2001:db8::1/128");
}

static void test_contains(void)
{
	struct prefix net = check_prefix("198.51.100.0/24"), a = check_prefix("198.51.100.77"),
	              b = check_prefix("198.51.101.1");
	struct prefix net6 = check_prefix("2001:db8:bad::/48"),
	              a6 = check_prefix("2001:db8:bad:1::1");
	struct prefix host_bits = check_prefix("198.51.100.9/24"), all = check_prefix("0.0.0.0/0"),
	              all6 = check_prefix("::/0");
	struct prefix mapped = check_prefix("::ffff:198.51.100.77");

	CHECK(prefix_contains(&net, &a));
	CHECK(!prefix_contains(&net, &b));
	CHECK(prefix_contains(&net, &net));
	CHECK(prefix_contains(&host_bits, &a)); /* the outer host bits do not count */
	CHECK(!prefix_contains(&a, &net));      /* shorter is never inside longer */
	CHECK(prefix_contains(&all, &b));
	CHECK(!prefix_contains(&all, &a6)); /* families never mix */
	CHECK(!prefix_contains(&all6, &a));
	CHECK(!prefix_contains(&net, &mapped));
	CHECK(prefix_contains(&net6, &a6));
	CHECK(prefix_contains(&all6, &a6));
	CHECK(!prefix_contains(&a6, &net6));
}

static void test_cmp(void)
{
	struct prefix a = check_prefix("192.0.2.0/24"), b = check_prefix("192.0.2.0/25"),
	              c = check_prefix("192.0.2.1"), d = check_prefix("::/0"),
	              e = check_prefix("2001:db8::/32");

	CHECK_INT(prefix_cmp(&a, &a), 0);
	CHECK_INT(prefix_cmp(&a, &b), -1);
	CHECK_INT(prefix_cmp(&b, &a), 1);
	CHECK_INT(prefix_cmp(&b, &c), -1);
	CHECK_INT(prefix_cmp(&c, &d), -1); /* IPv4 before IPv6 */
	CHECK_INT(prefix_cmp(&d, &c), 1);
	CHECK_INT(prefix_cmp(&d, &e), -1);
}

static void test_format(void)
{
	uint8_t v4[4] = {203, 0, 113, 80};
	struct prefix p = prefix_from_bytes(AF_INET, v4), bad;
	char small[8], addr[PREFIX_STRLEN];

	CHECK_STR(fmt(&p), "203.0.113.80/32");
	CHECK_STR(prefix_format_addr(&p, addr, sizeof(addr)), "203.0.113.80");
	/* Too small a buffer gives a terminated string, never an overrun. */
	prefix_format(&p, small, sizeof(small));
	CHECK(memchr(small, '\0', sizeof(small)) != NULL);
	memset(&bad, 0, sizeof(bad));
	CHECK_STR(fmt(&bad), "?");
	CHECK_INT(prefix_max_len(AF_INET), 32);
	CHECK_INT(prefix_max_len(AF_INET6), 128);
	CHECK_INT(prefix_max_len(AF_UNIX), 0);
}

int main(void)
{
	test_parse();
	test_mask();
	test_contains();
	test_cmp();
	test_format();
	return check_done("test_prefix");
}
