#include "tunnel/nl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <limits.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* One recvmsg() of a dump: the kernel fills up to 32 KiB per batch
 * (libmnl's MNL_SOCKET_DUMP_SIZE, which 1.0.4 lacks). */
#define NL_RX_SIZE 32768

struct nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	char rx[NL_RX_SIZE] __attribute__((aligned(8)));
};

enum nl_kind { NL_KIND_ADDR, NL_KIND_ROUTE, NL_KIND_RULE };

struct dump_ctx {
	enum nl_kind kind;
	union {
		nl_addr_cb addr;
		nl_route_cb route;
		nl_rule_cb rule;
	} cb;
	void *arg;
	int err; /* first error; after it the dump is only drained */
};

/* ---- helpers shared by build and parse ---- */

static size_t family_addr_len(int family)
{
	switch (family) {
	case AF_INET:
		return 4;
	case AF_INET6:
		return 16;
	default:
		return 0;
	}
}

/* Starts a request of @type with a zeroed family header of @hdrlen bytes. */
static struct nlmsghdr *msg_start(void *buf, size_t size, uint16_t type, uint16_t flags,
                                  size_t hdrlen, void **hdr)
{
	struct nlmsghdr *nlh;

	if (size < MNL_NLMSG_HDRLEN + MNL_ALIGN(hdrlen)) {
		errno = EMSGSIZE;
		return NULL;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	*hdr = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	return nlh;
}

/* NLM_F_* for an RTM_NEW* (@is_new) or RTM_DEL* request. */
static uint16_t req_flags(bool is_new)
{
	return NLM_F_ACK | (is_new ? NLM_F_CREATE | NLM_F_EXCL : 0);
}

/* Collects the attributes after a family header of @hdrlen bytes into @tb
 * (types above @max are skipped). -EINVAL if the header is short or an
 * attribute overruns nlmsg_len: libmnl's iterator would silently stop there,
 * and it rounds nlmsg_len up, trusting up to 3 bytes past the message. */
static int parse_attrs(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb,
                       uint16_t max)
{
	const char *tail = (const char *)nlh + nlh->nlmsg_len;
	const struct nlattr *attr;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(hdrlen))
		return -EINVAL;
	for (attr = mnl_nlmsg_get_payload_offset(nlh, hdrlen);
	     mnl_attr_ok(attr, (int)(tail - (const char *)attr)); attr = mnl_attr_next(attr)) {
		uint16_t type = mnl_attr_get_type(attr);

		if (type <= max)
			tb[type] = attr;
	}
	if ((const char *)attr < tail)
		return -EINVAL;
	return 0;
}

/* The attr_* readers leave *v alone when @a is absent. */
static int attr_u8(const struct nlattr *a, uint8_t *v)
{
	if (!a)
		return 0;
	if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
		return -EINVAL;
	*v = mnl_attr_get_u8(a);
	return 0;
}

static int attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a)
		return 0;
	if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return -EINVAL;
	*v = mnl_attr_get_u32(a);
	return 0;
}

/* An address of @family at the full length. */
static int attr_addr(const struct nlattr *a, int family, struct prefix *v)
{
	if (!a)
		return 0;
	if (mnl_attr_validate2(a, MNL_TYPE_BINARY, family_addr_len(family)) < 0)
		return -EINVAL;
	*v = prefix_from_bytes(family, mnl_attr_get_payload(a));
	return 0;
}

/* A gateway or prefsrc of route @r: absent (family 0) or of the route's family. */
static bool route_addr_ok(const struct nl_route *r, const struct prefix *a)
{
	return a->family == AF_UNSPEC || a->family == r->dst.family;
}

/* ---- addresses ---- */

struct nlmsghdr *nl_addr_build(void *buf, size_t size, uint16_t type, const struct nl_addr *a)
{
	size_t alen = family_addr_len(a->addr.family);
	uint32_t flags = a->flags;
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	void *hdr;
	bool ok;

	if ((type != RTM_NEWADDR && type != RTM_DELADDR) || !alen || a->addr.len > alen * 8 ||
	    a->ifindex == 0) {
		errno = EINVAL;
		return NULL;
	}
	/* DAD on a point-to-point tunnel only delays the address; it must work at once. */
	if (a->addr.family == AF_INET6)
		flags |= IFA_F_NODAD;

	nlh = msg_start(buf, size, type, req_flags(type == RTM_NEWADDR), sizeof(*ifa), &hdr);
	if (!nlh)
		return NULL;
	ifa = hdr;
	ifa->ifa_family = (uint8_t)a->addr.family;
	ifa->ifa_prefixlen = (uint8_t)a->addr.len;
	ifa->ifa_flags = flags & 0xff;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = a->ifindex;

	/* IFA_ADDRESS == IFA_LOCAL: no peer address. */
	ok = mnl_attr_put_check(nlh, size, IFA_LOCAL, alen, a->addr.bytes) &&
	     mnl_attr_put_check(nlh, size, IFA_ADDRESS, alen, a->addr.bytes);
	if (ok && flags > 0xff)
		ok = mnl_attr_put_u32_check(nlh, size, IFA_FLAGS, flags);
	if (!ok) {
		errno = EMSGSIZE;
		return NULL;
	}
	return nlh;
}

int nl_addr_parse(const struct nlmsghdr *nlh, struct nl_addr *out)
{
	const struct nlattr *tb[IFA_MAX + 1];
	const struct ifaddrmsg *ifa;
	struct prefix peer;
	size_t alen;
	int ret;

	if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR)
		return -EINVAL;
	ret = parse_attrs(nlh, sizeof(*ifa), tb, IFA_MAX);
	if (ret < 0)
		return ret;
	ifa = mnl_nlmsg_get_payload(nlh);
	alen = family_addr_len(ifa->ifa_family);
	if (!alen)
		return -EAFNOSUPPORT;
	if (ifa->ifa_prefixlen > alen * 8)
		return -EINVAL;

	memset(out, 0, sizeof(*out));
	out->addr.family = ifa->ifa_family;
	out->ifindex = ifa->ifa_index;
	out->flags = ifa->ifa_flags;
	/* IFA_LOCAL is the address itself, IFA_ADDRESS the peer; IPv6 sends
	 * only IFA_ADDRESS when there is no peer. The peer is not kept. */
	if ((ret = attr_addr(tb[IFA_ADDRESS], ifa->ifa_family, &peer)) < 0 ||
	    (ret = attr_addr(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS], ifa->ifa_family,
	                     &out->addr)) < 0 ||
	    (ret = attr_u32(tb[IFA_FLAGS], &out->flags)) < 0)
		return ret;
	out->addr.len = ifa->ifa_prefixlen;
	return 0;
}

/* ---- routes ---- */

struct nlmsghdr *nl_route_build(void *buf, size_t size, uint16_t type, const struct nl_route *r)
{
	size_t alen = family_addr_len(r->dst.family);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	void *hdr;
	bool ok = true;

	if ((type != RTM_NEWROUTE && type != RTM_DELROUTE) || !alen || r->dst.len > alen * 8 ||
	    !route_addr_ok(r, &r->gateway) || !route_addr_ok(r, &r->prefsrc)) {
		errno = EINVAL;
		return NULL;
	}
	nlh = msg_start(buf, size, type, req_flags(type == RTM_NEWROUTE), sizeof(*rtm), &hdr);
	if (!nlh)
		return NULL;
	rtm = hdr;
	rtm->rtm_family = (uint8_t)r->dst.family;
	rtm->rtm_dst_len = (uint8_t)r->dst.len;
	/* rtm_table is 8 bits; RTA_TABLE carries the full id. */
	rtm->rtm_table = r->table < 256 ? r->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = r->protocol;
	rtm->rtm_scope = r->scope;
	rtm->rtm_type = r->type ? r->type : RTN_UNICAST;

	if (r->table)
		ok = ok && mnl_attr_put_u32_check(nlh, size, RTA_TABLE, r->table);
	if (r->dst.len)
		ok = ok && mnl_attr_put_check(nlh, size, RTA_DST, alen, r->dst.bytes);
	if (r->oif)
		ok = ok && mnl_attr_put_u32_check(nlh, size, RTA_OIF, r->oif);
	if (r->gateway.family)
		ok = ok && mnl_attr_put_check(nlh, size, RTA_GATEWAY, alen, r->gateway.bytes);
	if (r->prefsrc.family)
		ok = ok && mnl_attr_put_check(nlh, size, RTA_PREFSRC, alen, r->prefsrc.bytes);
	if (r->priority)
		ok = ok && mnl_attr_put_u32_check(nlh, size, RTA_PRIORITY, r->priority);
	if (!ok) {
		errno = EMSGSIZE;
		return NULL;
	}
	return nlh;
}

int nl_route_parse(const struct nlmsghdr *nlh, struct nl_route *out)
{
	const struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm;
	size_t alen;
	int ret;

	if (nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE)
		return -EINVAL;
	ret = parse_attrs(nlh, sizeof(*rtm), tb, RTA_MAX);
	if (ret < 0)
		return ret;
	rtm = mnl_nlmsg_get_payload(nlh);
	alen = family_addr_len(rtm->rtm_family);
	if (!alen)
		return -EAFNOSUPPORT;
	if (rtm->rtm_dst_len > alen * 8)
		return -EINVAL;

	memset(out, 0, sizeof(*out));
	out->dst.family = rtm->rtm_family;
	out->protocol = rtm->rtm_protocol;
	out->scope = rtm->rtm_scope;
	out->type = rtm->rtm_type;
	out->table = rtm->rtm_table;
	if ((ret = attr_u32(tb[RTA_TABLE], &out->table)) < 0 ||
	    (ret = attr_u32(tb[RTA_OIF], &out->oif)) < 0 ||
	    (ret = attr_u32(tb[RTA_PRIORITY], &out->priority)) < 0 ||
	    (ret = attr_addr(tb[RTA_DST], rtm->rtm_family, &out->dst)) < 0 ||
	    (ret = attr_addr(tb[RTA_GATEWAY], rtm->rtm_family, &out->gateway)) < 0 ||
	    (ret = attr_addr(tb[RTA_PREFSRC], rtm->rtm_family, &out->prefsrc)) < 0)
		return ret;
	out->dst.len = rtm->rtm_dst_len;
	return 0;
}

/* ---- rules ---- */

struct nlmsghdr *nl_rule_build(void *buf, size_t size, uint16_t type, const struct nl_rule *r)
{
	struct fib_rule_hdr *frh;
	struct nlmsghdr *nlh;
	void *hdr;
	bool ok = true;

	if ((type != RTM_NEWRULE && type != RTM_DELRULE) || !family_addr_len(r->family) ||
	    (r->fwmark && !r->fwmask) || r->suppress_prefixlen < -1 ||
	    r->suppress_prefixlen > 128) {
		errno = EINVAL;
		return NULL;
	}
	nlh = msg_start(buf, size, type, req_flags(type == RTM_NEWRULE), sizeof(*frh), &hdr);
	if (!nlh)
		return NULL;
	frh = hdr;
	frh->family = r->family;
	frh->table = r->table < 256 ? r->table : RT_TABLE_UNSPEC;
	frh->action = r->action ? r->action : FR_ACT_TO_TBL;
	frh->flags = r->invert ? FIB_RULE_INVERT : 0;

	if (r->table)
		ok = ok && mnl_attr_put_u32_check(nlh, size, FRA_TABLE, r->table);
	if (r->priority)
		ok = ok && mnl_attr_put_u32_check(nlh, size, FRA_PRIORITY, r->priority);
	/* Always both: the kernel's default mask for a bare FRA_FWMARK depends on the mark. */
	if (r->fwmask)
		ok = ok && mnl_attr_put_u32_check(nlh, size, FRA_FWMARK, r->fwmark) &&
		     mnl_attr_put_u32_check(nlh, size, FRA_FWMASK, r->fwmask);
	if (r->suppress_prefixlen >= 0)
		ok = ok && mnl_attr_put_u32_check(nlh, size, FRA_SUPPRESS_PREFIXLEN,
		                                  (uint32_t)r->suppress_prefixlen);
	if (r->protocol)
		ok = ok && mnl_attr_put_u8_check(nlh, size, FRA_PROTOCOL, r->protocol);
	if (!ok) {
		errno = EMSGSIZE;
		return NULL;
	}
	return nlh;
}

int nl_rule_parse(const struct nlmsghdr *nlh, struct nl_rule *out)
{
	const struct nlattr *tb[FRA_MAX + 1];
	const struct fib_rule_hdr *frh;
	uint32_t suppress = UINT32_MAX;
	int ret;

	if (nlh->nlmsg_type != RTM_NEWRULE && nlh->nlmsg_type != RTM_DELRULE)
		return -EINVAL;
	ret = parse_attrs(nlh, sizeof(*frh), tb, FRA_MAX);
	if (ret < 0)
		return ret;
	frh = mnl_nlmsg_get_payload(nlh);
	if (!family_addr_len(frh->family))
		return -EAFNOSUPPORT;

	memset(out, 0, sizeof(*out));
	out->family = frh->family;
	out->action = frh->action;
	out->invert = frh->flags & FIB_RULE_INVERT;
	out->table = frh->table;
	/* The kernel leaves FRA_FWMASK out when it is all ones, and sends a
	 * zero FRA_FWMASK alone for a rule with no fwmark selector. */
	if (tb[FRA_FWMARK])
		out->fwmask = UINT32_MAX;
	if ((ret = attr_u32(tb[FRA_TABLE], &out->table)) < 0 ||
	    (ret = attr_u32(tb[FRA_PRIORITY], &out->priority)) < 0 ||
	    (ret = attr_u32(tb[FRA_FWMARK], &out->fwmark)) < 0 ||
	    (ret = attr_u32(tb[FRA_FWMASK], &out->fwmask)) < 0 ||
	    (ret = attr_u32(tb[FRA_SUPPRESS_PREFIXLEN], &suppress)) < 0 ||
	    (ret = attr_u8(tb[FRA_PROTOCOL], &out->protocol)) < 0)
		return ret;
	if (suppress != UINT32_MAX && suppress > 128)
		return -EINVAL;
	out->suppress_prefixlen = (int32_t)suppress;
	return 0;
}

/* ---- the socket ---- */

struct nl *nl_open(void)
{
	struct nl *nl;
	int one = 1, err;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return NULL;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		goto err;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err;
	/* Errors without a copy of our request; best effort, old kernels lack it. */
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);
	return nl;

err:
	err = errno;
	nl_close(nl);
	errno = err;
	return NULL;
}

void nl_close(struct nl *nl)
{
	if (!nl)
		return;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl);
}

/* Sends @nlh and reads replies until the ack, NLMSG_DONE or an error, giving
 * each data message to @cb (may be NULL). Returns 0 or -errno. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = ++nl->seq;
	ssize_t n;
	int ret;

	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, nl->rx, sizeof(nl->rx));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = mnl_cb_run(nl->rx, (size_t)n, seq, nl->portid, cb, data);
		if (ret == MNL_CB_ERROR)
			return -errno; /* the kernel's error from NLMSG_ERROR */
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static int nl_request(struct nl *nl, struct nlmsghdr *nlh)
{
	if (!nlh)
		return -errno;
	return nl_talk(nl, nlh, NULL, NULL);
}

static int link_change(struct nl *nl, uint32_t ifindex, uint32_t mtu, int up)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(4)));
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	void *hdr;

	if (ifindex == 0 || ifindex > INT_MAX)
		return -EINVAL;
	nlh = msg_start(buf, sizeof(buf), RTM_NEWLINK, NLM_F_ACK, sizeof(*ifi), &hdr);
	if (!nlh)
		return -errno;
	ifi = hdr;
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	if (up >= 0) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = up ? IFF_UP : 0;
	}
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_link_index(const char *name)
{
	unsigned int idx = if_nametoindex(name);

	if (idx == 0)
		return errno ? -errno : -ENODEV;
	if (idx > INT_MAX)
		return -ERANGE;
	return (int)idx;
}

int nl_link_set_mtu(struct nl *nl, uint32_t ifindex, uint32_t mtu)
{
	if (mtu == 0)
		return -EINVAL;
	return link_change(nl, ifindex, mtu, -1);
}

int nl_link_set_up(struct nl *nl, uint32_t ifindex, bool up)
{
	return link_change(nl, ifindex, 0, up);
}

int nl_addr_add(struct nl *nl, const struct nl_addr *a)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(4)));

	return nl_request(nl, nl_addr_build(buf, sizeof(buf), RTM_NEWADDR, a));
}

int nl_addr_del(struct nl *nl, const struct nl_addr *a)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(4)));

	return nl_request(nl, nl_addr_build(buf, sizeof(buf), RTM_DELADDR, a));
}

int nl_route_add(struct nl *nl, const struct nl_route *r)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(4)));

	return nl_request(nl, nl_route_build(buf, sizeof(buf), RTM_NEWROUTE, r));
}

int nl_route_del(struct nl *nl, const struct nl_route *r)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(4)));

	return nl_request(nl, nl_route_build(buf, sizeof(buf), RTM_DELROUTE, r));
}

int nl_rule_add(struct nl *nl, const struct nl_rule *r)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(4)));

	return nl_request(nl, nl_rule_build(buf, sizeof(buf), RTM_NEWRULE, r));
}

int nl_rule_del(struct nl *nl, const struct nl_rule *r)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(4)));

	return nl_request(nl, nl_rule_build(buf, sizeof(buf), RTM_DELRULE, r));
}

/* ---- dumps ---- */

static int dump_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	union {
		struct nl_addr addr;
		struct nl_route route;
		struct nl_rule rule;
	} obj;
	int ret;

	if (d->err)
		return MNL_CB_OK;
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
		d->err = -EINTR;
		return MNL_CB_OK;
	}
	switch (d->kind) {
	case NL_KIND_ADDR:
		ret = nl_addr_parse(nlh, &obj.addr);
		if (ret == 0)
			ret = d->cb.addr(&obj.addr, d->arg);
		break;
	case NL_KIND_ROUTE:
		ret = nl_route_parse(nlh, &obj.route);
		if (ret == 0)
			ret = d->cb.route(&obj.route, d->arg);
		break;
	case NL_KIND_RULE:
		ret = nl_rule_parse(nlh, &obj.rule);
		if (ret == 0)
			ret = d->cb.rule(&obj.rule, d->arg);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	/* Other families (multicast routes, MPLS, ...) come in AF_UNSPEC dumps. */
	if (ret < 0 && ret != -EAFNOSUPPORT)
		d->err = ret;
	return MNL_CB_OK;
}

static int nl_dump(struct nl *nl, uint16_t type, int family, struct dump_ctx *d)
{
	/* Every family header starts with its family byte, like struct rtgenmsg. */
	static const size_t hdrlen[] = {
	        [NL_KIND_ADDR] = sizeof(struct ifaddrmsg),
	        [NL_KIND_ROUTE] = sizeof(struct rtmsg),
	        [NL_KIND_RULE] = sizeof(struct fib_rule_hdr),
	};
	char buf[NL_MSG_SIZE] __attribute__((aligned(4)));
	struct nlmsghdr *nlh;
	void *hdr;
	int ret;

	if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
		return -EINVAL;
	nlh = msg_start(buf, sizeof(buf), type, NLM_F_DUMP, hdrlen[d->kind], &hdr);
	if (!nlh)
		return -errno;
	*(uint8_t *)hdr = (uint8_t)family;
	ret = nl_talk(nl, nlh, dump_data_cb, d);
	return ret < 0 ? ret : d->err;
}

int nl_addr_dump(struct nl *nl, int family, nl_addr_cb cb, void *arg)
{
	struct dump_ctx d = {.kind = NL_KIND_ADDR, .cb.addr = cb, .arg = arg};

	return nl_dump(nl, RTM_GETADDR, family, &d);
}

int nl_route_dump(struct nl *nl, int family, nl_route_cb cb, void *arg)
{
	struct dump_ctx d = {.kind = NL_KIND_ROUTE, .cb.route = cb, .arg = arg};

	return nl_dump(nl, RTM_GETROUTE, family, &d);
}

int nl_rule_dump(struct nl *nl, int family, nl_rule_cb cb, void *arg)
{
	struct dump_ctx d = {.kind = NL_KIND_RULE, .cb.rule = cb, .arg = arg};

	return nl_dump(nl, RTM_GETRULE, family, &d);
}
