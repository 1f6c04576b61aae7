/* ctkill TAG MASK [--dst CIDR] [--proto tcp|udp|icmp|icmpv6]: ct_kill() for
 * the netns tests, never installed. Deletes the conntrack entries of the
 * current namespace whose mark & MASK == TAG, to destinations inside CIDR and
 * of that protocol when given, and prints how many it deleted. Exit status 0,
 * 1 when ct_kill fails, 2 for bad arguments. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/ct.h"

struct want {
	bool has_dst;
	struct prefix dst;
	uint8_t proto; /* 0: any */
};

static const struct {
	const char *name;
	uint8_t proto;
} protos[] = {
        {"tcp", IPPROTO_TCP},
        {"udp", IPPROTO_UDP},
        {"icmp", IPPROTO_ICMP},
        {"icmpv6", IPPROTO_ICMPV6},
};

static bool select_flow(void *arg, const struct ct_flow *f)
{
	const struct want *w = arg;

	if (w->proto && f->proto != w->proto)
		return false;
	return !w->has_dst || prefix_contains(&w->dst, &f->dst);
}

static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool parse_proto(const char *s, uint8_t *out)
{
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (!strcmp(s, protos[i].name)) {
			*out = protos[i].proto;
			return true;
		}
	}
	return false;
}

static int usage(void)
{
	fprintf(stderr, "usage: ctkill TAG MASK [--dst CIDR] [--proto tcp|udp|icmp|icmpv6]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct want w = {0};
	uint32_t tag, mask;
	int i, n;

	if (argc < 3 || !parse_u32(argv[1], &tag) || !parse_u32(argv[2], &mask))
		return usage();
	for (i = 3; i < argc; i += 2) {
		if (i + 1 >= argc)
			return usage();
		if (!strcmp(argv[i], "--dst")) {
			if (prefix_parse(&w.dst, argv[i + 1], AF_UNSPEC) < 0) {
				fprintf(stderr, "ctkill: bad CIDR '%s'\n", argv[i + 1]);
				return 2;
			}
			w.has_dst = true;
		} else if (!strcmp(argv[i], "--proto")) {
			if (!parse_proto(argv[i + 1], &w.proto)) {
				fprintf(stderr, "ctkill: unknown protocol '%s'\n", argv[i + 1]);
				return 2;
			}
		} else {
			return usage();
		}
	}
	n = ct_kill(tag, mask, select_flow, &w);
	if (n < 0) {
		fprintf(stderr, "ctkill: %s\n", strerror(-n));
		return 1;
	}
	printf("%d\n", n);
	return 0;
}
