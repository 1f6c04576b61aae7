/* The flow log's pure parts, without root: ctnetlink event messages (built
 * here as the kernel sends them) decoded by ct_events_parse() field by
 * field, IPv4 and IPv6, new, update and destroy, labels as a rule id;
 * messages of other kinds and marks of others skipped; every truncated
 * length refused or short, never read past; the end reasons; and the JSON
 * line, its keys in the documented order. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <jansson.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdlib.h>

#include "check.h"
#include "gateway/ct.h"
#include "gateway/flowlog.h"

#define TAG  0x45670000u
#define MASK 0xffff0000u

struct msg {
	int family;
	uint8_t proto;
	const char *src, *dst, *nat;
	uint16_t sport, dport, nat_sport;
	uint32_t mark, id, status;
	int tcp_state;   /* -1: none */
	uint32_t labels; /* label bits 0..31 */
	uint64_t pkts_out, bytes_out, pkts_in, bytes_in, start, stop;
};

static void put_addr(struct nf_conntrack *ct, int family, enum nf_conntrack_attr v4,
                     enum nf_conntrack_attr v6, const char *s)
{
	unsigned char a[16];

	inet_pton(family, s, a);
	nfct_set_attr(ct, family == AF_INET ? v4 : v6, a);
}

static void put_counters(struct nlmsghdr *nlh, int type, uint64_t pkts, uint64_t bytes)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);

	mnl_attr_put_u64(nlh, CTA_COUNTERS_PACKETS, htobe64(pkts));
	mnl_attr_put_u64(nlh, CTA_COUNTERS_BYTES, htobe64(bytes));
	mnl_attr_nest_end(nlh, n);
}

/* One event message for m at buf (which has room): its length. The tuple,
 * mark, status, protoinfo and labels come from the library's builder; id,
 * counters and stamps, which it only parses, are put here. */
static size_t build(char *buf, uint16_t msg, uint16_t flags, const struct msg *m)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nf_conntrack *ct = nfct_new();
	struct nfgenmsg *g;
	struct nfct_bitmask *b;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg;
	nlh->nlmsg_flags = flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = (uint8_t)m->family;
	nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, (uint8_t)m->family);
	nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, (uint8_t)m->family);
	put_addr(ct, m->family, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC, m->src);
	put_addr(ct, m->family, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, m->dst);
	put_addr(ct, m->family, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC, m->dst);
	put_addr(ct, m->family, ATTR_REPL_IPV4_DST, ATTR_REPL_IPV6_DST, m->nat);
	nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, m->proto);
	nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, m->proto);
	if (m->proto == IPPROTO_TCP || m->proto == IPPROTO_UDP) {
		nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, htons(m->sport));
		nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, htons(m->dport));
		nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, htons(m->dport));
		nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, htons(m->nat_sport));
	}
	if (m->mark)
		nfct_set_attr_u32(ct, ATTR_MARK, m->mark);
	nfct_set_attr_u32(ct, ATTR_STATUS, m->status);
	if (m->tcp_state >= 0)
		nfct_set_attr_u8(ct, ATTR_TCP_STATE, (uint8_t)m->tcp_state);
	if (m->labels) {
		b = nfct_bitmask_new(127);
		for (unsigned i = 0; i < 32; i++)
			if (m->labels & (1u << i))
				nfct_bitmask_set_bit(b, i);
		nfct_set_attr(ct, ATTR_CONNLABELS, b); /* the entry takes it */
	}
	CHECK_INT(nfct_nlmsg_build(nlh, ct), 0);
	nfct_destroy(ct);
	if (m->id)
		mnl_attr_put_u32(nlh, CTA_ID, htonl(m->id));
	if (m->bytes_out || m->bytes_in) {
		put_counters(nlh, CTA_COUNTERS_ORIG, m->pkts_out, m->bytes_out);
		put_counters(nlh, CTA_COUNTERS_REPLY, m->pkts_in, m->bytes_in);
	}
	if (m->start) {
		struct nlattr *n = mnl_attr_nest_start(nlh, CTA_TIMESTAMP);

		mnl_attr_put_u64(nlh, CTA_TIMESTAMP_START, htobe64(m->start));
		if (m->stop)
			mnl_attr_put_u64(nlh, CTA_TIMESTAMP_STOP, htobe64(m->stop));
		mnl_attr_nest_end(nlh, n);
	}
	return nlh->nlmsg_len;
}

#define MAX_SEEN 8
struct seen {
	size_t n;
	enum ct_event type[MAX_SEEN];
	struct ct_entry e[MAX_SEEN];
	int fail_at; /* the call that returns -EIO; -1: none */
};

static int collect(void *arg, enum ct_event type, const struct ct_entry *e)
{
	struct seen *s = arg;

	if ((int)s->n == s->fail_at)
		return -EIO;
	if (s->n < MAX_SEEN) {
		s->type[s->n] = type;
		s->e[s->n] = *e;
	}
	s->n++;
	return 0;
}

static void same_addr(const struct prefix *p, const char *want)
{
	char buf[PREFIX_STRLEN];

	CHECK_STR(prefix_format_addr(p, buf, sizeof(buf)), want);
}

static const struct msg tcp4 = {
        .family = AF_INET,
        .proto = IPPROTO_TCP,
        .src = "100.64.0.2",
        .dst = "203.0.113.80",
        .nat = "198.51.100.1",
        .sport = 37058,
        .dport = 80,
        .nat_sport = 40001,
        .mark = TAG | 2,
        .id = 0xdeadbeef,
        .tcp_state = TCP_CONNTRACK_SYN_SENT,
        .labels = 9,
};

static const struct msg udp6 = {
        .family = AF_INET6,
        .proto = IPPROTO_UDP,
        .src = "fd00:64::3",
        .dst = "2001:db8:80::80",
        .nat = "2001:db8:51::1",
        .sport = 5353,
        .dport = 53,
        .nat_sport = 5353,
        .mark = TAG | 3,
        .id = 42,
        .status = IPS_SEEN_REPLY | IPS_ASSURED,
        .tcp_state = -1,
        .pkts_out = 3,
        .bytes_out = 300,
        .pkts_in = 2,
        .bytes_in = 2000,
        .start = 1764740000123456789ull,
        .stop = 1764740002623456789ull,
};

static void test_decode(void)
{
	char buf[4096];
	struct seen s = {.fail_at = -1};
	size_t len;
	const struct ct_entry *e;

	len = build(buf, IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, &tcp4);
	CHECK_INT(ct_events_parse(buf, len, TAG, MASK, collect, &s), 1);
	e = &s.e[0];
	CHECK_INT(s.type[0], CT_EVENT_NEW);
	CHECK_INT(e->flow.mark, TAG | 2);
	CHECK_INT(e->flow.proto, IPPROTO_TCP);
	same_addr(&e->flow.src, "100.64.0.2");
	same_addr(&e->flow.dst, "203.0.113.80");
	same_addr(&e->nat_src, "198.51.100.1");
	CHECK_INT(e->flow.sport, 37058);
	CHECK_INT(e->flow.dport, 80);
	CHECK_INT(e->nat_sport, 40001);
	CHECK_STR(e->flow.state, "SYN_SENT");
	CHECK_INT(e->id, 0xdeadbeef);
	CHECK_INT(e->rule_id, 9);
	CHECK_INT(e->bytes_out + e->bytes_in + e->start_ns + e->stop_ns, 0);

	s.n = 0;
	len = build(buf, IPCTNL_MSG_CT_DELETE, 0, &udp6);
	CHECK_INT(ct_events_parse(buf, len, TAG, MASK, collect, &s), 1);
	e = &s.e[0];
	CHECK_INT(s.type[0], CT_EVENT_DESTROY);
	CHECK_INT(e->flow.src.family, AF_INET6);
	same_addr(&e->flow.src, "fd00:64::3");
	same_addr(&e->flow.dst, "2001:db8:80::80");
	same_addr(&e->nat_src, "2001:db8:51::1");
	CHECK_INT(e->flow.dport, 53);
	CHECK_STR(e->flow.state, "ASSURED");
	CHECK_INT(e->packets_out, 3);
	CHECK_INT(e->bytes_out, 300);
	CHECK_INT(e->packets_in, 2);
	CHECK_INT(e->bytes_in, 2000);
	CHECK(e->start_ns == udp6.start && e->stop_ns == udp6.stop);
	CHECK_INT(e->rule_id, 0);

	/* NEW without NLM_F_CREATE is an update. */
	s.n = 0;
	len = build(buf, IPCTNL_MSG_CT_NEW, 0, &tcp4);
	CHECK_INT(ct_events_parse(buf, len, TAG, MASK, collect, &s), 1);
	CHECK_INT(s.type[0], CT_EVENT_UPDATE);
}

/* Several messages in one buffer: others' marks, no mark, other kinds and
 * other conntrack messages are skipped; fn's error stops the walk. */
static void test_skipped(void)
{
	char buf[8192];
	struct msg other = tcp4, unmarked = tcp4;
	struct seen s = {.fail_at = -1};
	struct nlmsghdr *nlh;
	size_t len = 0;

	other.mark = 0x12340002;
	unmarked.mark = 0;
	len += build(buf + len, IPCTNL_MSG_CT_NEW, NLM_F_CREATE, &tcp4);
	len += build(buf + len, IPCTNL_MSG_CT_NEW, NLM_F_CREATE, &other);
	len += build(buf + len, IPCTNL_MSG_CT_NEW, NLM_F_CREATE, &unmarked);
	nlh = mnl_nlmsg_put_header(buf + len); /* an error message, as a kernel's ack */
	nlh->nlmsg_type = NLMSG_ERROR;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nlmsgerr));
	len += nlh->nlmsg_len;
	len += build(buf + len, IPCTNL_MSG_CT_GET_STATS_CPU, 0, &tcp4);
	len += build(buf + len, IPCTNL_MSG_CT_DELETE, 0, &udp6);
	CHECK_INT(ct_events_parse(buf, len, TAG, MASK, collect, &s), 2);
	CHECK_INT(s.n, 2);
	CHECK(s.type[0] == CT_EVENT_NEW && s.type[1] == CT_EVENT_DESTROY);
	/* one client only */
	s.n = 0;
	CHECK_INT(ct_events_parse(buf, len, TAG | 3, 0xffffffffu, collect, &s), 1);
	CHECK_INT(s.e[0].flow.mark, TAG | 3);
	s = (struct seen){.fail_at = 1};
	CHECK_INT(ct_events_parse(buf, len, TAG, MASK, collect, &s), -EIO);
}

/* Every cut of two messages: the whole first one decodes, a cut one is
 * -EBADMSG, nothing past the cut is read (the copy ends there, so ASan
 * would see it). */
static void test_truncated(void)
{
	char buf[4096];
	size_t first, len, bad = 0;

	first = build(buf, IPCTNL_MSG_CT_NEW, NLM_F_CREATE, &tcp4);
	len = first + build(buf + first, IPCTNL_MSG_CT_DELETE, 0, &udp6);
	for (size_t cut = 0; cut < len; cut++) {
		char *copy = malloc(cut ? cut : 1);
		struct seen s = {.fail_at = -1};
		int ret;

		memcpy(copy, buf, cut);
		ret = ct_events_parse(copy, cut, TAG, MASK, collect, &s);
		if (cut == 0 || cut == first)
			CHECK_INT(ret, cut ? 1 : 0);
		else
			bad += ret == -EBADMSG;
		free(copy);
	}
	CHECK_INT(bad, len - 2);
	/* a length field that lies */
	((struct nlmsghdr *)buf)->nlmsg_len = (uint32_t)len + 4;
	CHECK_INT(ct_events_parse(buf, len, TAG, MASK, collect, &(struct seen){.fail_at = -1}),
	          -EBADMSG);
	/* a length of 2^31 or more (libmnl's check takes it as negative) */
	((struct nlmsghdr *)buf)->nlmsg_len = 0xfffffff0u;
	CHECK_INT(ct_events_parse(buf, len, TAG, MASK, collect, &(struct seen){.fail_at = -1}),
	          -EBADMSG);
	/* a message too short for its nfgenmsg */
	((struct nlmsghdr *)buf)->nlmsg_len = sizeof(struct nlmsghdr) + 2;
	CHECK_INT(ct_events_parse(buf, sizeof(struct nlmsghdr) + 4, TAG, MASK, collect,
	                          &(struct seen){.fail_at = -1}),
	          -EBADMSG);
}

/* Attributes of the wrong size, at the top and nested: refused, where
 * libnetfilter_conntrack's parser would exit the process. */
static void test_bad_sizes(void)
{
	char buf[4096];
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct nlattr *nest;

	build(buf, IPCTNL_MSG_CT_NEW, NLM_F_CREATE, &tcp4);
	mnl_attr_put_u16(nlh, CTA_MARK, 1); /* a u32 */
	CHECK_INT(ct_events_parse(buf, nlh->nlmsg_len, TAG, MASK, collect,
	                          &(struct seen){.fail_at = -1}),
	          -EBADMSG);
	build(buf, IPCTNL_MSG_CT_NEW, NLM_F_CREATE, &tcp4);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_MASTER);
	mnl_attr_put_u8(nlh, CTA_TUPLE_ZONE, 1); /* a u16 */
	mnl_attr_nest_end(nlh, nest);
	CHECK_INT(ct_events_parse(buf, nlh->nlmsg_len, TAG, MASK, collect,
	                          &(struct seen){.fail_at = -1}),
	          -EBADMSG);
	build(buf, IPCTNL_MSG_CT_NEW, NLM_F_CREATE, &tcp4);
	nest = mnl_attr_nest_start(nlh, CTA_COUNTERS_ORIG);
	mnl_attr_put_u32(nlh, CTA_COUNTERS_BYTES, 1); /* a u64 */
	mnl_attr_nest_end(nlh, nest);
	CHECK_INT(ct_events_parse(buf, nlh->nlmsg_len, TAG, MASK, collect,
	                          &(struct seen){.fail_at = -1}),
	          -EBADMSG);
}

static void test_reasons(void)
{
	struct ct_entry e = {.flow = {.proto = IPPROTO_TCP, .state = "TIME_WAIT"}};

	CHECK_STR(flowlog_end_reason(&e), "closed");
	e.flow.state = "CLOSE";
	CHECK_STR(flowlog_end_reason(&e), "reset");
	e.flow.state = "ESTABLISHED";
	CHECK_STR(flowlog_end_reason(&e), "timeout");
	e.flow.state = "SYN_SENT";
	CHECK_STR(flowlog_end_reason(&e), "timeout");
	e.flow.proto = IPPROTO_UDP;
	e.flow.state = "CLOSE"; /* never a UDP state; what counts is the protocol */
	CHECK_STR(flowlog_end_reason(&e), "timeout");
}

static void test_json(void)
{
	static const char *const keys[] = {
	        "time",  "event",       "ct_id",     "client",     "family",   "proto",
	        "src",   "sport",       "dst",       "dport",      "nat_src",  "nat_sport",
	        "state", "packets_out", "bytes_out", "packets_in", "bytes_in", "start",
	        "end",   "duration_ms", "rule",      "reason",     NULL};
	struct flowlog_event ev = {.kind = FLOWLOG_END, .reason = "closed"};
	char buf[4096], *t;
	struct seen s = {.fail_at = -1};
	const char *key;
	json_t *j, *v;
	size_t i = 0;

	ct_events_parse(buf, build(buf, IPCTNL_MSG_CT_DELETE, 0, &udp6), TAG, MASK, collect, &s);
	ev.entry = s.e[0];
	snprintf(ev.client, sizeof(ev.client), "edge2");
	snprintf(ev.rule, sizeof(ev.rule), "dns");
	ev.time_ns = udp6.stop + 5000000;
	ev.start_ns = udp6.start;
	ev.end_ns = udp6.stop;
	j = flowlog_event_json(&ev);
	CHECK(j != NULL);
	json_object_foreach(j, key, v)
	{
		CHECK(keys[i] && !strcmp(key, keys[i]));
		i += keys[i] != NULL;
	}
	CHECK(keys[i] == NULL);
	t = json_dumps(j, JSON_COMPACT);
	CHECK_STR(t, "{\"time\":\"2025-12-03T05:33:22.628Z\",\"event\":\"end\",\"ct_id\":42,"
	             "\"client\":\"edge2\",\"family\":\"ipv6\",\"proto\":\"udp\",\"src\":"
	             "\"fd00:64::3\",\"sport\":5353,\"dst\":\"2001:db8:80::80\",\"dport\":53,"
	             "\"nat_src\":\"2001:db8:51::1\",\"nat_sport\":5353,\"state\":\"ASSURED\","
	             "\"packets_out\":3,\"bytes_out\":300,\"packets_in\":2,\"bytes_in\":2000,"
	             "\"start\":\"2025-12-03T05:33:20.123Z\",\"end\":"
	             "\"2025-12-03T05:33:22.623Z\",\"duration_ms\":2500,\"rule\":\"dns\","
	             "\"reason\":\"closed\"}");
	free(t);
	json_decref(j);

	/* A new flow: no end, duration or reason; an unknown rule and no NAT
	 * are null; a protocol without a name is its number. */
	ev.kind = FLOWLOG_NEW;
	ev.reason = NULL;
	ev.rule[0] = '\0';
	ev.entry.nat_src.family = 0;
	ev.entry.flow.proto = 47;
	j = flowlog_event_json(&ev);
	CHECK(j && json_is_null(json_object_get(j, "end")) &&
	      json_is_null(json_object_get(j, "duration_ms")) &&
	      json_is_null(json_object_get(j, "reason")) &&
	      json_is_null(json_object_get(j, "rule")) &&
	      json_is_null(json_object_get(j, "nat_src")));
	CHECK_STR(json_string_value(json_object_get(j, "event")), "new");
	CHECK_STR(json_string_value(json_object_get(j, "proto")), "47");
	json_decref(j);
}

int main(void)
{
	test_decode();
	test_skipped();
	test_truncated();
	test_bad_sizes();
	test_reasons();
	test_json();
	return check_done("test_flowlog");
}
