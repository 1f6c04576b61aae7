/* Conntrack entries by ct mark, over libnetfilter_conntrack.
 *
 * Two passes on two ctnetlink sockets: a dump that the kernel filters by
 * mark/mask and that keeps the entries select() wants, then a delete of
 * each. Deleting from inside the dump callback would change the table the
 * kernel is walking (it may skip or repeat entries) and would interleave
 * delete acks with dump messages on one socket. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_compat.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/ct.h"

struct dump {
	uint32_t tag, mask;
	ct_select_fn *select;
	ct_list_fn *list; /* instead of select: every entry to it, none kept */
	void *arg;
	struct nf_conntrack **cts; /* the chosen entries, owned here */
	size_t n, cap;
	int err; /* set by the callback, which cannot return one */
};

const char *ct_proto_name(uint8_t p)
{
	switch (p) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	return NULL;
}

/* The library sets the port attributes only for protocols with ports; ICMP's
 * identifier shares their storage but not their flag. */
static uint16_t port_of(const struct nf_conntrack *ct, enum nf_conntrack_attr attr)
{
	return nfct_attr_is_set(ct, attr) ? ntohs(nfct_get_attr_u16(ct, attr)) : 0;
}

static const char *state_of(const struct nf_conntrack *ct, uint8_t proto)
{
	static const char *const tcp[] = {
	        [TCP_CONNTRACK_NONE] = "NONE",         [TCP_CONNTRACK_SYN_SENT] = "SYN_SENT",
	        [TCP_CONNTRACK_SYN_RECV] = "SYN_RECV", [TCP_CONNTRACK_ESTABLISHED] = "ESTABLISHED",
	        [TCP_CONNTRACK_FIN_WAIT] = "FIN_WAIT", [TCP_CONNTRACK_CLOSE_WAIT] = "CLOSE_WAIT",
	        [TCP_CONNTRACK_LAST_ACK] = "LAST_ACK", [TCP_CONNTRACK_TIME_WAIT] = "TIME_WAIT",
	        [TCP_CONNTRACK_CLOSE] = "CLOSE",       [TCP_CONNTRACK_SYN_SENT2] = "SYN_SENT2",
	};
	uint32_t status = nfct_get_attr_u32(ct, ATTR_STATUS);

	if (proto == IPPROTO_TCP && nfct_attr_is_set(ct, ATTR_TCP_STATE)) {
		uint8_t st = nfct_get_attr_u8(ct, ATTR_TCP_STATE);

		return st < sizeof(tcp) / sizeof(tcp[0]) && tcp[st] ? tcp[st] : "?";
	}
	if (!(status & IPS_SEEN_REPLY))
		return "UNREPLIED";
	return status & IPS_ASSURED ? "ASSURED" : "REPLIED";
}

/* Fills f from ct's original tuple; false for an entry that is not IPv4 or
 * IPv6 or lacks its addresses, which nothing here could select by. */
static bool flow_of(const struct nf_conntrack *ct, struct ct_flow *f)
{
	int family = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
	enum nf_conntrack_attr src = ATTR_ORIG_IPV4_SRC, dst = ATTR_ORIG_IPV4_DST;

	if (family == AF_INET6) {
		src = ATTR_ORIG_IPV6_SRC;
		dst = ATTR_ORIG_IPV6_DST;
	} else if (family != AF_INET) {
		return false;
	}
	if (!nfct_attr_is_set(ct, src) || !nfct_attr_is_set(ct, dst))
		return false;
	f->mark = nfct_get_attr_u32(ct, ATTR_MARK);
	f->proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	f->src = prefix_from_bytes(family, nfct_get_attr(ct, src));
	f->dst = prefix_from_bytes(family, nfct_get_attr(ct, dst));
	f->sport = port_of(ct, ATTR_ORIG_PORT_SRC);
	f->dport = port_of(ct, ATTR_ORIG_PORT_DST);
	f->state = state_of(ct, f->proto);
	return true;
}

static uint64_t u64_of(const struct nf_conntrack *ct, enum nf_conntrack_attr attr)
{
	return nfct_attr_is_set(ct, attr) ? nfct_get_attr_u64(ct, attr) : 0;
}

/* Label bits 0..31 as a number; bits the bitmask does not have are 0. */
static uint32_t rule_id_of(const struct nf_conntrack *ct)
{
	const struct nfct_bitmask *b;
	uint32_t id = 0;
	unsigned max;

	if (!nfct_attr_is_set(ct, ATTR_CONNLABELS))
		return 0;
	b = nfct_get_attr(ct, ATTR_CONNLABELS);
	if (!b)
		return 0;
	max = nfct_bitmask_maxbit(b);
	for (unsigned i = 0; i < 32 && i <= max; i++)
		if (nfct_bitmask_test_bit(b, i))
			id |= 1u << i;
	return id;
}

/* The whole entry: its flow, the reply's destination (our NAT'd source),
 * state, counters and start. */
static bool entry_of(const struct nf_conntrack *ct, struct ct_entry *e)
{
	int family;
	enum nf_conntrack_attr rdst;

	memset(e, 0, sizeof(*e));
	if (!flow_of(ct, &e->flow))
		return false;
	family = e->flow.src.family;
	rdst = family == AF_INET6 ? ATTR_REPL_IPV6_DST : ATTR_REPL_IPV4_DST;
	if (nfct_attr_is_set(ct, rdst))
		e->nat_src = prefix_from_bytes(family, nfct_get_attr(ct, rdst));
	e->nat_sport = port_of(ct, ATTR_REPL_PORT_DST);
	e->packets_out = u64_of(ct, ATTR_ORIG_COUNTER_PACKETS);
	e->bytes_out = u64_of(ct, ATTR_ORIG_COUNTER_BYTES);
	e->packets_in = u64_of(ct, ATTR_REPL_COUNTER_PACKETS);
	e->bytes_in = u64_of(ct, ATTR_REPL_COUNTER_BYTES);
	e->start_ns = u64_of(ct, ATTR_TIMESTAMP_START);
	e->stop_ns = u64_of(ct, ATTR_TIMESTAMP_STOP);
	e->id = nfct_attr_is_set(ct, ATTR_ID) ? nfct_get_attr_u32(ct, ATTR_ID) : 0;
	e->rule_id = rule_id_of(ct);
	return true;
}

static int dump_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct dump *d = data;
	struct ct_flow f;

	/* The kernel filtered by mark already; checked again so that a kernel
	 * which ignored the filter could not make us delete entries of others. */
	if ((nfct_get_attr_u32(ct, ATTR_MARK) & d->mask) != d->tag)
		return NFCT_CB_CONTINUE;
	if (d->list) {
		struct ct_entry e;

		if (!entry_of(ct, &e))
			return NFCT_CB_CONTINUE;
		d->err = d->list(d->arg, &e);
		return d->err ? NFCT_CB_STOP : NFCT_CB_CONTINUE;
	}
	if (!flow_of(ct, &f) || !d->select(d->arg, &f))
		return NFCT_CB_CONTINUE;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;
		struct nf_conntrack **cts = reallocarray(d->cts, cap, sizeof(*cts));

		if (!cts) {
			d->err = -ENOMEM;
			return NFCT_CB_STOP;
		}
		d->cts = cts;
		d->cap = cap;
	}
	/* STOLEN: the library leaves ct alone and we own it. */
	d->cts[d->n++] = ct;
	return NFCT_CB_STOLEN;
}

/* Dumps the entries of d->tag/d->mask into d->cts. 0 or -errno. */
static int dump(struct dump *d)
{
	struct nfct_handle *h = NULL;
	struct nfct_filter_dump *filter = NULL;
	struct nfct_filter_dump_mark mark = {.val = d->tag, .mask = d->mask};
	int ret = 0;

	h = nfct_open(CONNTRACK, 0);
	if (!h) {
		ret = -errno;
		goto out;
	}
	filter = nfct_filter_dump_create();
	if (!filter) {
		ret = -ENOMEM;
		goto out;
	}
	/* No NFCT_FILTER_DUMP_L3NUM: the dump request goes out as AF_UNSPEC,
	 * which is both families. */
	nfct_filter_dump_set_attr(filter, NFCT_FILTER_DUMP_MARK, &mark);
	if (nfct_callback_register(h, NFCT_T_ALL, dump_cb, d) < 0) {
		ret = -errno;
		goto out;
	}
	if (nfct_query(h, NFCT_Q_DUMP_FILTER, filter) < 0 && !d->err)
		ret = -errno;
	if (d->err)
		ret = d->err;
out:
	if (filter) /* the library asserts on NULL */
		nfct_filter_dump_destroy(filter);
	if (h)
		nfct_close(h);
	return ret;
}

int ct_kill(uint32_t tag, uint32_t mask, ct_select_fn *select, void *arg)
{
	struct dump d = {.tag = tag, .mask = mask, .select = select, .arg = arg};
	struct nfct_handle *h = NULL;
	int ret, killed = 0;
	size_t i;

	ret = dump(&d);
	if (ret < 0 || !d.n)
		goto out;
	h = nfct_open(CONNTRACK, 0);
	if (!h) {
		ret = -errno;
		goto out;
	}
	/* The kernel finds the entry by its tuple and zone: the library sends
	 * no id, and an id would not tell a replacement apart anyway (it is a
	 * hash of the entry's address and tuple, and a new entry of the same
	 * tuple often gets the same memory). ENOENT: the entry closed or timed
	 * out since the dump, neither an error nor a kill. */
	for (i = 0; i < d.n; i++) {
		if (nfct_query(h, NFCT_Q_DESTROY, d.cts[i]) == 0) {
			killed++;
		} else if (errno != ENOENT) {
			ret = -errno;
			goto out;
		}
	}
	ret = killed;
out:
	for (i = 0; i < d.n; i++)
		nfct_destroy(d.cts[i]);
	free(d.cts);
	if (h)
		nfct_close(h);
	return ret;
}

int ct_list(uint32_t tag, uint32_t mask, ct_list_fn *fn, void *arg)
{
	struct dump d = {.tag = tag, .mask = mask, .list = fn, .arg = arg};

	return dump(&d);
}

/* ---- events */

int ct_events_open(uint32_t tag, uint32_t mask, int rcvbuf, bool *filtered)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
	                         .nl_groups =
	                                 NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY};
	struct nfct_filter_dump_mark mark = {.val = tag, .mask = mask};
	struct nfct_filter *filter;
	int fd, one = 1, ret;

	*filtered = false;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	/* FORCE goes past rmem_max, which is the point: a burst of new flows
	 * must not overrun us. Without CAP_NET_ADMIN, as much as rmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* What makes the events reliable: a delivery that fails is an error
	 * for ctnetlink, which then keeps a destroyed entry until it can
	 * deliver its DESTROY. */
	if (setsockopt(fd, SOL_NETLINK, NETLINK_BROADCAST_ERROR, &one, sizeof(one)) < 0)
		goto fail;
	filter = nfct_filter_create();
	if (filter) {
		nfct_filter_add_attr(filter, NFCT_FILTER_MARK, &mark);
		*filtered = nfct_filter_attach(fd, filter) == 0;
		nfct_filter_destroy(filter);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int ct_events_read(int fd, void *buf, size_t len)
{
	struct sockaddr_nl from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	do
		n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&from, &fl);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* Only the kernel multicasts to these groups; anything else (another
	 * process's unicast to our port id) is not an event. */
	if (fl != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
		return 0;
	return n > 0 ? (int)n : 0;
}

/* ---- what libnetfilter_conntrack's parser insists on
 *
 * nfct_nlmsg_parse() checks the size of each attribute it reads, and on one
 * of the wrong size it does not fail: it prints "ctnetlink kernel ABI is
 * broken" and exits the process. The kernel never sends such a message;
 * anything else that reaches the parser (a fuzzer, a bug) must not stop
 * gatewayd, so each message is checked here first, against the same
 * sizes, and refused. */

enum attr_kind { A_U8, A_U16, A_U32, A_U64, A_NESTED, A_STRING, A_IN6, A_TCP_FLAGS };

struct attr_rule {
	uint16_t type;
	uint8_t kind;
	const struct attr_rules *nested; /* A_NESTED: what is inside; NULL: not read */
};

struct attr_rules {
	const struct attr_rule *rule;
	size_t n;
};

#define RULES(a)                            \
	{                                   \
		a, sizeof(a) / sizeof(a[0]) \
	}

static const struct attr_rule ip_rule[] = {
        {CTA_IP_V4_SRC, A_U32, NULL},
        {CTA_IP_V4_DST, A_U32, NULL},
        {CTA_IP_V6_SRC, A_IN6, NULL},
        {CTA_IP_V6_DST, A_IN6, NULL},
};
static const struct attr_rule proto_rule[] = {
        {CTA_PROTO_NUM, A_U8, NULL},         {CTA_PROTO_SRC_PORT, A_U16, NULL},
        {CTA_PROTO_DST_PORT, A_U16, NULL},   {CTA_PROTO_ICMP_ID, A_U16, NULL},
        {CTA_PROTO_ICMP_TYPE, A_U8, NULL},   {CTA_PROTO_ICMP_CODE, A_U8, NULL},
        {CTA_PROTO_ICMPV6_ID, A_U16, NULL},  {CTA_PROTO_ICMPV6_TYPE, A_U8, NULL},
        {CTA_PROTO_ICMPV6_CODE, A_U8, NULL},
};
static const struct attr_rules ip_rules = RULES(ip_rule), proto_rules = RULES(proto_rule);
static const struct attr_rule tuple_rule[] = {
        {CTA_TUPLE_IP, A_NESTED, &ip_rules},
        {CTA_TUPLE_PROTO, A_NESTED, &proto_rules},
        {CTA_TUPLE_ZONE, A_U16, NULL},
};
static const struct attr_rule tcp_rule[] = {
        {CTA_PROTOINFO_TCP_STATE, A_U8, NULL},
        {CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, A_U8, NULL},
        {CTA_PROTOINFO_TCP_WSCALE_REPLY, A_U8, NULL},
        {CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, A_TCP_FLAGS, NULL},
        {CTA_PROTOINFO_TCP_FLAGS_REPLY, A_TCP_FLAGS, NULL},
};
static const struct attr_rule sctp_rule[] = {
        {CTA_PROTOINFO_SCTP_STATE, A_U8, NULL},
        {CTA_PROTOINFO_SCTP_VTAG_ORIGINAL, A_U32, NULL},
        {CTA_PROTOINFO_SCTP_VTAG_REPLY, A_U32, NULL},
};
static const struct attr_rule dccp_rule[] = {
        {CTA_PROTOINFO_DCCP_STATE, A_U8, NULL},
        {CTA_PROTOINFO_DCCP_ROLE, A_U8, NULL},
        {CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ, A_U64, NULL},
};
static const struct attr_rules tcp_rules = RULES(tcp_rule), sctp_rules = RULES(sctp_rule),
                               dccp_rules = RULES(dccp_rule);
static const struct attr_rule protoinfo_rule[] = {
        {CTA_PROTOINFO_TCP, A_NESTED, &tcp_rules},
        {CTA_PROTOINFO_SCTP, A_NESTED, &sctp_rules},
        {CTA_PROTOINFO_DCCP, A_NESTED, &dccp_rules},
};
static const struct attr_rule counters_rule[] = {
        {CTA_COUNTERS_PACKETS, A_U64, NULL},
        {CTA_COUNTERS_BYTES, A_U64, NULL},
        {CTA_COUNTERS32_PACKETS, A_U32, NULL},
        {CTA_COUNTERS32_BYTES, A_U32, NULL},
};
static const struct attr_rule nat_seq_rule[] = {
        {CTA_NAT_SEQ_CORRECTION_POS, A_U32, NULL},
        {CTA_NAT_SEQ_OFFSET_BEFORE, A_U32, NULL},
        {CTA_NAT_SEQ_OFFSET_AFTER, A_U32, NULL},
};
static const struct attr_rule help_rule[] = {{CTA_HELP_NAME, A_STRING, NULL}};
static const struct attr_rule secctx_rule[] = {{CTA_SECCTX_NAME, A_STRING, NULL}};
static const struct attr_rule timestamp_rule[] = {
        {CTA_TIMESTAMP_START, A_U64, NULL},
        {CTA_TIMESTAMP_STOP, A_U64, NULL},
};
static const struct attr_rule synproxy_rule[] = {
        {CTA_SYNPROXY_ISN, A_U32, NULL},
        {CTA_SYNPROXY_ITS, A_U32, NULL},
        {CTA_SYNPROXY_TSOFF, A_U32, NULL},
};
static const struct attr_rules tuple_rules = RULES(tuple_rule),
                               protoinfo_rules = RULES(protoinfo_rule),
                               counters_rules = RULES(counters_rule),
                               nat_seq_rules = RULES(nat_seq_rule), help_rules = RULES(help_rule),
                               secctx_rules = RULES(secctx_rule),
                               timestamp_rules = RULES(timestamp_rule),
                               synproxy_rules = RULES(synproxy_rule);
static const struct attr_rule entry_rule[] = {
        {CTA_TUPLE_ORIG, A_NESTED, &tuple_rules},
        {CTA_TUPLE_REPLY, A_NESTED, &tuple_rules},
        {CTA_TUPLE_MASTER, A_NESTED, &tuple_rules},
        {CTA_NAT_SEQ_ADJ_ORIG, A_NESTED, &nat_seq_rules},
        {CTA_NAT_SEQ_ADJ_REPLY, A_NESTED, &nat_seq_rules},
        {CTA_PROTOINFO, A_NESTED, &protoinfo_rules},
        {CTA_COUNTERS_ORIG, A_NESTED, &counters_rules},
        {CTA_COUNTERS_REPLY, A_NESTED, &counters_rules},
        {CTA_HELP, A_NESTED, &help_rules},
        {CTA_SECCTX, A_NESTED, &secctx_rules},
        {CTA_TIMESTAMP, A_NESTED, &timestamp_rules},
        {CTA_SYNPROXY, A_NESTED, &synproxy_rules},
        {CTA_STATUS, A_U32, NULL},
        {CTA_TIMEOUT, A_U32, NULL},
        {CTA_MARK, A_U32, NULL},
        {CTA_SECMARK, A_U32, NULL},
        {CTA_USE, A_U32, NULL},
        {CTA_ID, A_U32, NULL},
        {CTA_ZONE, A_U16, NULL},
};
static const struct attr_rules entry_rules = RULES(entry_rule);

static bool attr_ok(const struct nlattr *a, const struct attr_rule *r)
{
	static const enum mnl_attr_data_type mnl_type[] = {
	        [A_U8] = MNL_TYPE_U8,   [A_U16] = MNL_TYPE_U16,       [A_U32] = MNL_TYPE_U32,
	        [A_U64] = MNL_TYPE_U64, [A_NESTED] = MNL_TYPE_NESTED, [A_STRING] = MNL_TYPE_STRING,
	};

	if (r->kind == A_IN6)
		return mnl_attr_validate2(a, MNL_TYPE_UNSPEC, 16) == 0;
	if (r->kind == A_TCP_FLAGS)
		return mnl_attr_validate2(a, MNL_TYPE_UNSPEC, 2) == 0;
	return mnl_attr_validate(a, mnl_type[r->kind]) == 0;
}

/* The attributes in buf (as mnl_attr_parse_payload walks them: up to the
 * first that does not fit) as rules wants them, nested ones too. */
static bool attrs_ok(const void *buf, size_t len, const struct attr_rules *rules)
{
	const struct nlattr *attr; /* the name the macro walks with */

	mnl_attr_for_each_payload(buf, len)
	{
		uint16_t type = mnl_attr_get_type(attr);

		for (size_t i = 0; i < rules->n; i++) {
			const struct attr_rule *r = &rules->rule[i];

			if (r->type != type)
				continue;
			if (!attr_ok(attr, r))
				return false;
			if (r->nested && !attrs_ok(mnl_attr_get_payload(attr),
			                           mnl_attr_get_payload_len(attr), r->nested))
				return false;
			break;
		}
	}
	return true;
}

/* One message's entry to fn: 1 when given, 0 when skipped, or -errno. */
static int event_of(const struct nlmsghdr *nlh, uint32_t tag, uint32_t mask, ct_event_fn *fn,
                    void *arg)
{
	uint16_t subsys = NFNL_SUBSYS_ID(nlh->nlmsg_type), msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
	enum ct_event type;
	struct nf_conntrack *ct;
	struct ct_entry e;
	int ret = 0;

	if (nlh->nlmsg_type < NLMSG_MIN_TYPE || subsys != NFNL_SUBSYS_CTNETLINK)
		return 0;
	if (msg == IPCTNL_MSG_CT_NEW)
		type = nlh->nlmsg_flags & NLM_F_CREATE ? CT_EVENT_NEW : CT_EVENT_UPDATE;
	else if (msg == IPCTNL_MSG_CT_DELETE)
		type = CT_EVENT_DESTROY;
	else
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return -EBADMSG;
	ct = nfct_new();
	if (!ct)
		return -ENOMEM;
	/* Checked first, since the library exits on what it finds wrong. */
	if (!attrs_ok((const char *)mnl_nlmsg_get_payload(nlh) + sizeof(struct nfgenmsg),
	              mnl_nlmsg_get_payload_len(nlh) - sizeof(struct nfgenmsg), &entry_rules) ||
	    nfct_nlmsg_parse(nlh, ct) < 0) {
		ret = -EBADMSG;
	} else if (nfct_attr_is_set(ct, ATTR_MARK) &&
	           (nfct_get_attr_u32(ct, ATTR_MARK) & mask) == tag && entry_of(ct, &e)) {
		ret = fn(arg, type, &e);
		if (ret == 0)
			ret = 1;
	}
	nfct_destroy(ct);
	return ret;
}

int ct_events_parse(const void *buf, size_t len, uint32_t tag, uint32_t mask, ct_event_fn *fn,
                    void *arg)
{
	const char *p = buf;
	size_t left = len;
	int n = 0;

	/* By hand, not mnl_nlmsg_ok(): that one takes a length of 2^31 or
	 * more as negative, and so fits, and the next message lies before
	 * the buffer. */
	while (left > 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
		size_t step;
		int ret;

		if (left < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > left)
			return -EBADMSG;
		ret = event_of(nlh, tag, mask, fn, arg);
		if (ret < 0)
			return ret;
		n += ret;
		step = NLMSG_ALIGN(nlh->nlmsg_len);
		if (step >= left)
			break;
		p += step;
		left -= step;
	}
	return n;
}
