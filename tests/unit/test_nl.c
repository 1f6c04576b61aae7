/* rtnetlink messages: build -> parse round trips for addresses, routes and
 * FIB rules, the kernel's own encodings, and rejection of malformed input.
 * Also the argument checks of tun and sysctl that need no privilege. */
#include "tests/unit/check.h"
#include "tunnel/nl.h"
#include "tunnel/sysctl.h"
#include "tunnel/tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdint.h>

static char buf[NL_MSG_SIZE] __attribute__((aligned(8)));

static void check_route(const struct nl_route *got, const struct nl_route *want)
{
	CHECK_INT(got->dst.family, want->dst.family);
	CHECK_INT(got->dst.len, want->dst.len);
	CHECK_INT(got->protocol, want->protocol);
	CHECK_INT(got->scope, want->scope);
	CHECK_INT(got->type, want->type ? want->type : RTN_UNICAST);
	CHECK_INT(got->table, want->table);
	CHECK_INT(got->oif, want->oif);
	CHECK_INT(got->priority, want->priority);
	CHECK_MEM(&got->dst, &want->dst, sizeof(got->dst));
	CHECK_MEM(&got->gateway, &want->gateway, sizeof(got->gateway));
	CHECK_MEM(&got->prefsrc, &want->prefsrc, sizeof(got->prefsrc));
}

static void check_rule(const struct nl_rule *got, const struct nl_rule *want)
{
	CHECK_INT(got->family, want->family);
	CHECK_INT(got->action, want->action ? want->action : FR_ACT_TO_TBL);
	CHECK_INT(got->protocol, want->protocol);
	CHECK_INT(got->invert, want->invert);
	CHECK_INT(got->priority, want->priority);
	CHECK_INT(got->table, want->table);
	CHECK_INT(got->fwmark, want->fwmark);
	CHECK_INT(got->fwmask, want->fwmask);
	CHECK_INT(got->suppress_prefixlen, want->suppress_prefixlen);
}

static void check_addr(const struct nl_addr *got, const struct nl_addr *want)
{
	CHECK_INT(got->addr.family, want->addr.family);
	CHECK_INT(got->addr.len, want->addr.len);
	CHECK_INT(got->ifindex, want->ifindex);
	CHECK_INT(got->flags, want->flags);
	CHECK_MEM(&got->addr, &want->addr, sizeof(got->addr));
}

/* Every nlmsg_len shorter than the message must parse as a valid shorter
 * message when it ends after a whole attribute (its padding may be cut),
 * and fail otherwise. */
typedef int (*parse_fn)(const struct nlmsghdr *nlh, void *out);

static int parse_addr(const struct nlmsghdr *nlh, void *out)
{
	return nl_addr_parse(nlh, out);
}

static int parse_route(const struct nlmsghdr *nlh, void *out)
{
	return nl_route_parse(nlh, out);
}

static int parse_rule(const struct nlmsghdr *nlh, void *out)
{
	return nl_rule_parse(nlh, out);
}

static void check_truncations(struct nlmsghdr *nlh, size_t hdrlen, parse_fn parse)
{
	uint32_t full = nlh->nlmsg_len, len;
	bool boundary[NL_MSG_SIZE] = {false};
	const struct nlattr *attr;
	union {
		struct nl_addr a;
		struct nl_route r;
		struct nl_rule ru;
	} out;

	boundary[MNL_NLMSG_HDRLEN + MNL_ALIGN(hdrlen)] = true;
	mnl_attr_for_each(attr, nlh, hdrlen)
	{
		size_t start = (size_t)((const char *)attr - (const char *)nlh), i;

		for (i = start + attr->nla_len; i <= start + MNL_ALIGN(attr->nla_len); i++)
			boundary[i] = true;
	}
	for (len = 0; len < full; len++) {
		int ret;

		nlh->nlmsg_len = len;
		ret = parse(nlh, &out);
		if (ret != (boundary[len] ? 0 : -EINVAL))
			fprintf(stderr, "  nlmsg_len %u of %u:\n", len, full);
		CHECK_INT(ret, boundary[len] ? 0 : -EINVAL);
	}
	nlh->nlmsg_len = full;
}

static void test_route_v4(void)
{
	struct nl_route r = {
	        .dst = check_prefix("100.64.0.0/24"),
	        .protocol = RTPROT_BOOT,
	        .scope = RT_SCOPE_LINK,
	        .table = RT_TABLE_MAIN,
	        .oif = 7,
	};
	struct nl_route got;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	nlh = nl_route_build(buf, sizeof(buf), RTM_NEWROUTE, &r);
	CHECK(nlh != NULL);
	CHECK_INT(nlh->nlmsg_type, RTM_NEWROUTE);
	CHECK_INT(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	rtm = mnl_nlmsg_get_payload(nlh);
	CHECK_INT(rtm->rtm_table, RT_TABLE_MAIN);
	CHECK_INT(rtm->rtm_type, RTN_UNICAST);
	CHECK_INT(nl_route_parse(nlh, &got), 0);
	check_route(&got, &r);
	check_truncations(nlh, sizeof(struct rtmsg), parse_route);

	nlh = nl_route_build(buf, sizeof(buf), RTM_DELROUTE, &r);
	CHECK(nlh != NULL);
	CHECK_INT(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_INT(nl_route_parse(nlh, &got), 0);
	check_route(&got, &r);
}

/* "default dev egress0 table 51820": the table does not fit rtm_table. */
static void test_route_big_table(void)
{
	struct nl_route r = {
	        .dst = {.family = AF_INET},
	        .protocol = RTPROT_STATIC,
	        .scope = RT_SCOPE_LINK,
	        .type = RTN_UNICAST,
	        .table = 51820,
	        .oif = 3,
	};
	struct nl_route got;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	nlh = nl_route_build(buf, sizeof(buf), RTM_NEWROUTE, &r);
	CHECK(nlh != NULL);
	rtm = mnl_nlmsg_get_payload(nlh);
	CHECK_INT(rtm->rtm_table, RT_TABLE_UNSPEC);
	CHECK_INT(rtm->rtm_dst_len, 0);
	CHECK_INT(nl_route_parse(nlh, &got), 0);
	check_route(&got, &r);

	/* As the kernel dumps it: rtm_table RT_TABLE_COMPAT, the id in RTA_TABLE. */
	rtm->rtm_table = RT_TABLE_COMPAT;
	CHECK_INT(nl_route_parse(nlh, &got), 0);
	CHECK_INT(got.table, 51820);
}

static void test_route_v6(void)
{
	struct nl_route r = {
	        .dst = check_prefix("2001:db8:1::/48"),
	        .protocol = RTPROT_STATIC,
	        .table = 1000,
	        .oif = 12,
	        .priority = 1024,
	        .gateway = check_prefix("fe80::1"),
	        .prefsrc = check_prefix("fd00:64::2"),
	};
	struct nl_route got;
	struct nlmsghdr *nlh;

	nlh = nl_route_build(buf, sizeof(buf), RTM_NEWROUTE, &r);
	CHECK(nlh != NULL);
	CHECK_INT(nl_route_parse(nlh, &got), 0);
	check_route(&got, &r);
	check_truncations(nlh, sizeof(struct rtmsg), parse_route);

	/* IPv4 with a gateway: "198.51.100.0/24 via 192.0.2.1 dev 2". */
	r = (struct nl_route){
	        .dst = check_prefix("198.51.100.0/24"),
	        .protocol = RTPROT_BOOT,
	        .table = RT_TABLE_MAIN,
	        .oif = 2,
	        .gateway = check_prefix("192.0.2.1"),
	};
	nlh = nl_route_build(buf, sizeof(buf), RTM_NEWROUTE, &r);
	CHECK(nlh != NULL);
	CHECK_INT(nl_route_parse(nlh, &got), 0);
	check_route(&got, &r);
}

static void test_rule_wg_quick(void)
{
	/* ip rule add not fwmark 51820 table 51820 */
	struct nl_rule not_mark = {
	        .family = AF_INET,
	        .invert = true,
	        .table = 51820,
	        .fwmark = 51820,
	        .fwmask = UINT32_MAX,
	        .suppress_prefixlen = -1,
	};
	/* ip rule add table main suppress_prefixlength 0 */
	struct nl_rule suppress = {
	        .family = AF_INET,
	        .table = RT_TABLE_MAIN,
	        .suppress_prefixlen = 0,
	};
	struct fib_rule_hdr *frh;
	struct nlmsghdr *nlh;
	struct nl_rule got;

	nlh = nl_rule_build(buf, sizeof(buf), RTM_NEWRULE, &not_mark);
	CHECK(nlh != NULL);
	CHECK_INT(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
	frh = mnl_nlmsg_get_payload(nlh);
	CHECK_INT(frh->flags, FIB_RULE_INVERT);
	CHECK_INT(frh->action, FR_ACT_TO_TBL);
	CHECK_INT(frh->table, RT_TABLE_UNSPEC);
	CHECK_INT(nl_rule_parse(nlh, &got), 0);
	check_rule(&got, &not_mark);
	check_truncations(nlh, sizeof(struct fib_rule_hdr), parse_rule);

	nlh = nl_rule_build(buf, sizeof(buf), RTM_NEWRULE, &suppress);
	CHECK(nlh != NULL);
	frh = mnl_nlmsg_get_payload(nlh);
	CHECK_INT(frh->table, RT_TABLE_MAIN);
	CHECK_INT(frh->flags, 0);
	CHECK_INT(nl_rule_parse(nlh, &got), 0);
	check_rule(&got, &suppress);

	nlh = nl_rule_build(buf, sizeof(buf), RTM_DELRULE, &suppress);
	CHECK(nlh != NULL);
	CHECK_INT(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_INT(nl_rule_parse(nlh, &got), 0);
	check_rule(&got, &suppress);
}

static void test_rule_v6_mask(void)
{
	struct nl_rule r = {
	        .family = AF_INET6,
	        .protocol = RTPROT_STATIC,
	        .priority = 31000,
	        .table = 300,
	        .fwmark = 0x1200,
	        .fwmask = 0xff00,
	        .suppress_prefixlen = 64,
	};
	struct nl_rule got;
	struct nlmsghdr *nlh;

	nlh = nl_rule_build(buf, sizeof(buf), RTM_NEWRULE, &r);
	CHECK(nlh != NULL);
	CHECK_INT(nl_rule_parse(nlh, &got), 0);
	check_rule(&got, &r);
	check_truncations(nlh, sizeof(struct fib_rule_hdr), parse_rule);

	/* "fwmark 0/0xffffffff" (mark must be zero) is not "no fwmark". */
	r = (struct nl_rule){
	        .family = AF_INET6, .table = 7, .fwmask = UINT32_MAX, .suppress_prefixlen = -1};
	nlh = nl_rule_build(buf, sizeof(buf), RTM_NEWRULE, &r);
	CHECK(nlh != NULL);
	CHECK(mnl_nlmsg_get_payload_len(nlh) == sizeof(struct fib_rule_hdr) + 3 * 8);
	CHECK_INT(nl_rule_parse(nlh, &got), 0);
	check_rule(&got, &r);
}

/* A rule as the kernel sends it in a dump, with @mark/@mask attributes
 * present only when non-negative. */
static struct nlmsghdr *kernel_rule(long long mark, long long mask)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = RTM_NEWRULE;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = AF_INET;
	frh->table = RT_TABLE_MAIN;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_TABLE, RT_TABLE_MAIN);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, 32766);
	if (mark >= 0)
		mnl_attr_put_u32(nlh, FRA_FWMARK, (uint32_t)mark);
	if (mask >= 0)
		mnl_attr_put_u32(nlh, FRA_FWMASK, (uint32_t)mask);
	mnl_attr_put_u8(nlh, FRA_PROTOCOL, RTPROT_KERNEL);
	return nlh;
}

static void test_rule_kernel_encoding(void)
{
	struct nl_rule got;

	/* "32766: from all lookup main": a zero mask and no mark. */
	CHECK_INT(nl_rule_parse(kernel_rule(-1, 0), &got), 0);
	CHECK_INT(got.fwmark, 0);
	CHECK_INT(got.fwmask, 0);
	CHECK_INT(got.priority, 32766);
	CHECK_INT(got.protocol, RTPROT_KERNEL);
	CHECK_INT(got.suppress_prefixlen, -1);
	CHECK_INT(got.invert, false);
	/* An all-ones mask is left out. */
	CHECK_INT(nl_rule_parse(kernel_rule(51820, -1), &got), 0);
	CHECK_INT(got.fwmark, 51820);
	CHECK_INT(got.fwmask, UINT32_MAX);
	CHECK_INT(nl_rule_parse(kernel_rule(0x10, 0xf0), &got), 0);
	CHECK_INT(got.fwmark, 0x10);
	CHECK_INT(got.fwmask, 0xf0);
	/* The kernel's rule 0 has no FRA_PRIORITY at all. */
	CHECK_INT(nl_rule_parse(kernel_rule(-1, 0), &got), 0);
}

static void test_addr(void)
{
	struct nl_addr v4 = {
	        .addr = check_prefix("100.64.0.2/32"),
	        .ifindex = 3,
	};
	struct nl_addr v6 = {
	        .addr = check_prefix("fd00:64::2/128"),
	        .ifindex = 3,
	        .flags = IFA_F_NODAD,
	};
	struct nl_addr got, want;
	struct ifaddrmsg *ifa;
	struct nlmsghdr *nlh;
	struct nlattr *attr;

	nlh = nl_addr_build(buf, sizeof(buf), RTM_NEWADDR, &v4);
	CHECK(nlh != NULL);
	mnl_attr_for_each(attr, nlh, sizeof(*ifa))
	{
		CHECK(mnl_attr_get_type(attr) == IFA_LOCAL ||
		      mnl_attr_get_type(attr) == IFA_ADDRESS);
		CHECK_INT(mnl_attr_get_payload_len(attr), 4);
	}
	CHECK_INT(nl_addr_parse(nlh, &got), 0);
	check_addr(&got, &v4);
	check_truncations(nlh, sizeof(struct ifaddrmsg), parse_addr);

	/* IPv6 gets IFA_F_NODAD even when the caller did not ask. */
	want = v6;
	v6.flags = 0;
	nlh = nl_addr_build(buf, sizeof(buf), RTM_NEWADDR, &v6);
	CHECK(nlh != NULL);
	ifa = mnl_nlmsg_get_payload(nlh);
	CHECK_INT(ifa->ifa_flags, IFA_F_NODAD);
	CHECK_INT(nl_addr_parse(nlh, &got), 0);
	check_addr(&got, &want);
	check_truncations(nlh, sizeof(struct ifaddrmsg), parse_addr);

	/* Flags above 8 bits travel in IFA_FLAGS. */
	v6.flags = IFA_F_NOPREFIXROUTE | IFA_F_NODAD;
	nlh = nl_addr_build(buf, sizeof(buf), RTM_DELADDR, &v6);
	CHECK(nlh != NULL);
	CHECK_INT(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_INT(nl_addr_parse(nlh, &got), 0);
	check_addr(&got, &v6);

	/* The kernel sends an IPv6 address with no peer as IFA_ADDRESS only. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = 128;
	ifa->ifa_index = 3;
	mnl_attr_put(nlh, IFA_ADDRESS, 16, want.addr.bytes);
	mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	CHECK_INT(nl_addr_parse(nlh, &got), 0);
	check_addr(&got, &want);
}

static void test_build_errors(void)
{
	struct nl_route r = {.dst = {.family = AF_INET, .len = 33}, .table = 254};
	struct nl_rule ru = {.family = AF_INET, .table = 51820, .suppress_prefixlen = -1};
	struct nl_addr a = {.addr = {.family = AF_INET, .len = 24}, .ifindex = 1};

	errno = 0;
	CHECK(nl_route_build(buf, sizeof(buf), RTM_NEWROUTE, &r) == NULL && errno == EINVAL);
	r.dst.len = 24;
	r.dst.family = AF_PACKET;
	errno = 0;
	CHECK(nl_route_build(buf, sizeof(buf), RTM_NEWROUTE, &r) == NULL && errno == EINVAL);
	r.dst.family = AF_INET;
	/* A gateway or prefsrc of the other family. */
	r.gateway = check_prefix("fe80::1");
	errno = 0;
	CHECK(nl_route_build(buf, sizeof(buf), RTM_NEWROUTE, &r) == NULL && errno == EINVAL);
	r.gateway = (struct prefix){.family = AF_UNSPEC};
	r.prefsrc = check_prefix("fd00:64::2");
	errno = 0;
	CHECK(nl_route_build(buf, sizeof(buf), RTM_NEWROUTE, &r) == NULL && errno == EINVAL);
	r.prefsrc = (struct prefix){.family = AF_UNSPEC};
	errno = 0;
	CHECK(nl_route_build(buf, sizeof(buf), RTM_NEWRULE, &r) == NULL && errno == EINVAL);
	errno = 0;
	CHECK(nl_route_build(buf, 20, RTM_NEWROUTE, &r) == NULL && errno == EMSGSIZE);
	errno = 0;
	CHECK(nl_route_build(buf, 16 + 12 + 4, RTM_NEWROUTE, &r) == NULL && errno == EMSGSIZE);
	CHECK(nl_route_build(buf, 16 + 12 + 16, RTM_NEWROUTE, &r) != NULL);

	ru.fwmark = 1; /* a mark with no mask is ambiguous */
	errno = 0;
	CHECK(nl_rule_build(buf, sizeof(buf), RTM_NEWRULE, &ru) == NULL && errno == EINVAL);
	ru.fwmark = 0;
	ru.suppress_prefixlen = 129;
	errno = 0;
	CHECK(nl_rule_build(buf, sizeof(buf), RTM_NEWRULE, &ru) == NULL && errno == EINVAL);
	ru.suppress_prefixlen = -2;
	CHECK(nl_rule_build(buf, sizeof(buf), RTM_NEWRULE, &ru) == NULL);
	ru.suppress_prefixlen = -1;
	CHECK(nl_rule_build(buf, sizeof(buf), RTM_NEWRULE, &ru) != NULL);

	a.ifindex = 0;
	errno = 0;
	CHECK(nl_addr_build(buf, sizeof(buf), RTM_NEWADDR, &a) == NULL && errno == EINVAL);
	a.ifindex = 1;
	a.addr.len = 33;
	CHECK(nl_addr_build(buf, sizeof(buf), RTM_NEWADDR, &a) == NULL);
}

/* A valid route message to corrupt. */
static struct nlmsghdr *good_route(void)
{
	struct nl_route r = {
	        .dst = check_prefix("2001:db8::/64"),
	        .table = 51820,
	        .oif = 4,
	};

	return nl_route_build(buf, sizeof(buf), RTM_NEWROUTE, &r);
}

static void test_parse_rejects(void)
{
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct nlattr *attr;
	struct nl_route r;
	struct nl_rule ru;
	struct nl_addr a;

	nlh = good_route();
	CHECK_INT(nl_route_parse(nlh, &r), 0);
	CHECK_INT(nl_rule_parse(nlh, &ru), -EINVAL); /* wrong message type */
	CHECK_INT(nl_addr_parse(nlh, &a), -EINVAL);

	rtm = mnl_nlmsg_get_payload(nlh);
	rtm->rtm_family = AF_PACKET;
	CHECK_INT(nl_route_parse(nlh, &r), -EAFNOSUPPORT);
	rtm->rtm_family = AF_INET6;
	rtm->rtm_dst_len = 129;
	CHECK_INT(nl_route_parse(nlh, &r), -EINVAL);

	/* An IPv6 route with a 4-byte RTA_DST. */
	nlh = good_route();
	mnl_attr_for_each(attr, nlh, sizeof(*rtm))
	{
		if (mnl_attr_get_type(attr) == RTA_DST)
			attr->nla_len = MNL_ATTR_HDRLEN + 4;
	}
	CHECK_INT(nl_route_parse(nlh, &r), -EINVAL);

	/* A 2-byte RTA_OIF, padded so the message still walks. */
	nlh = good_route();
	mnl_attr_for_each(attr, nlh, sizeof(*rtm))
	{
		if (mnl_attr_get_type(attr) == RTA_OIF)
			attr->nla_len = MNL_ATTR_HDRLEN + 2;
	}
	CHECK_INT(nl_route_parse(nlh, &r), -EINVAL);

	/* An 8-byte RTA_TABLE. */
	nlh = good_route();
	mnl_attr_put_u64(nlh, RTA_TABLE, 51820);
	CHECK_INT(nl_route_parse(nlh, &r), -EINVAL);

	/* An attribute claiming more than the message holds. */
	nlh = good_route();
	attr = mnl_nlmsg_get_payload_offset(nlh, sizeof(*rtm));
	attr->nla_len = 200;
	CHECK_INT(nl_route_parse(nlh, &r), -EINVAL);

	/* An attribute shorter than its own header. */
	nlh = good_route();
	attr = mnl_nlmsg_get_payload_offset(nlh, sizeof(*rtm));
	attr->nla_len = 2;
	CHECK_INT(nl_route_parse(nlh, &r), -EINVAL);

	/* Trailing bytes that are not a whole attribute. */
	nlh = good_route();
	nlh->nlmsg_len += 4;
	memset((char *)nlh + nlh->nlmsg_len - 4, 0, 4);
	CHECK_INT(nl_route_parse(nlh, &r), -EINVAL);

	/* Unknown attributes, newer than this code, are skipped. */
	nlh = good_route();
	mnl_attr_put_u32(nlh, 200, 1);
	mnl_attr_put_u32(nlh, RTA_MAX + 1, 1);
	CHECK_INT(nl_route_parse(nlh, &r), 0);
	CHECK_INT(r.table, 51820);

	/* A suppress_prefixlen no family has. */
	nlh = kernel_rule(-1, 0);
	mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN, 200);
	CHECK_INT(nl_rule_parse(nlh, &ru), -EINVAL);
	nlh = kernel_rule(-1, 0);
	mnl_attr_put_u16(nlh, FRA_PRIORITY, 5);
	CHECK_INT(nl_rule_parse(nlh, &ru), -EINVAL);
	nlh = kernel_rule(-1, 0);
	mnl_attr_put_u32(nlh, FRA_PROTOCOL, 5);
	CHECK_INT(nl_rule_parse(nlh, &ru), -EINVAL);
}

static void test_tun_sysctl_args(void)
{
	char val[64];

	CHECK_INT(tun_open("a-name-much-too-long-for-ifnamsiz", NULL), -EINVAL);
	CHECK_INT(tun_close(-1), 0);
	CHECK_INT(nl_link_index("no-such-if-xyz") < 0, 1);
	CHECK_INT(nl_link_index("lo"), 1);

	CHECK_INT(sysctl_read("", val, sizeof(val)), -EINVAL);
	CHECK_INT(sysctl_read("/proc/sys/net/ipv4/ip_forward", val, sizeof(val)), -EINVAL);
	CHECK_INT(sysctl_read("../../etc/passwd", val, sizeof(val)), -EINVAL);
	CHECK_INT(sysctl_read("net/../../etc/passwd", val, sizeof(val)), -EINVAL);
	CHECK_INT(sysctl_read("net/ipv4/..", val, sizeof(val)), -EINVAL);
	CHECK_INT(sysctl_write("net/../../tmp/x", "1"), -EINVAL);
	CHECK_INT(sysctl_read("net/ipv4/no_such_knob", val, sizeof(val)), -ENOENT);
	/* Readable by anyone: one digit, newline stripped. */
	CHECK_INT(sysctl_read("net/ipv4/ip_forward", val, sizeof(val)), 1);
	CHECK(val[0] == '0' || val[0] == '1');
	CHECK_INT(sysctl_read("net/ipv4/ip_forward", val, 1), -ENOBUFS);
}

int main(void)
{
	test_route_v4();
	test_route_big_table();
	test_route_v6();
	test_rule_wg_quick();
	test_rule_v6_mask();
	test_rule_kernel_encoding();
	test_addr();
	test_build_errors();
	test_parse_rejects();
	test_tun_sysctl_args();
	return check_done("test_nl");
}
