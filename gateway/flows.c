/* gatewayctl flows, flows kill and flows --watch: see flows.h. The filters
 * are checked on the loop's thread; the conntrack walk and the JSON it gives
 * run on the worker; a watch's events come from the flow log's listener
 * (gateway/flowlog.h) and are matched on the loop's thread. */
#include "gateway/flows.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gateway/config.h"
#include "gateway/control.h"
#include "gateway/ct.h"
#include "gateway/enforce.h"
#include "gateway/flowlog.h"
#include "gateway/nft.h"
#include "policy/policy.h"
#include "tunnel/ctl.h"

struct filter {
	const struct control_view *v;
	uint32_t tag, mask; /* for the kernel: one client's mark, or all of ours */
	uint8_t proto;      /* 0: any */
	bool has_dst;
	struct prefix dst;
	uint16_t port; /* the destination port; 0: any */
	char state[16];
	json_t *list; /* flows: what the walk found */
	long now_s;
};

/* The filters of args into f: 0, or -EINVAL with the reason in err. */
static int parse_filter(const struct control_view *v, json_t *args, struct filter *f, char *err,
                        size_t errlen)
{
	static const char *const known[] = {"client", "proto", "dst", "port", "state", NULL};
	const struct gw_config *cfg = v->cfg;
	const char *client = NULL, *proto = NULL, *dst = NULL, *state = NULL;
	json_t *port;
	int ret;

	*f = (struct filter){.v = v, .tag = cfg->mark_tag, .mask = ~cfg->mark_id_mask};
	ret = ctl_args_check(args, known, err, errlen);
	if (!ret && ctl_arg_str(args, "client", false, &client, err, errlen) == -EINVAL)
		ret = -EINVAL;
	if (!ret && ctl_arg_str(args, "proto", false, &proto, err, errlen) == -EINVAL)
		ret = -EINVAL;
	if (!ret && ctl_arg_str(args, "dst", false, &dst, err, errlen) == -EINVAL)
		ret = -EINVAL;
	if (!ret && ctl_arg_str(args, "state", false, &state, err, errlen) == -EINVAL)
		ret = -EINVAL;
	if (ret)
		return ret;
	if (client) {
		size_t i;

		for (i = 0; i < cfg->n_clients && strcmp(cfg->clients[i].name, client); i++)
			;
		if (i == cfg->n_clients) {
			snprintf(err, errlen, "no client \"%s\" in gateway.yaml", client);
			return -EINVAL;
		}
		f->tag = nft_client_mark(cfg->mark_tag, cfg->clients[i].id);
		f->mask = 0xffffffffu;
	}
	if (proto) {
		static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
		                                 IPPROTO_ICMPV6};

		for (size_t i = 0; i < sizeof(protos) && !f->proto; i++)
			if (!strcmp(proto, ct_proto_name(protos[i])))
				f->proto = protos[i];
		if (!f->proto) {
			snprintf(err, errlen, "proto \"%s\" is not tcp, udp, icmp or icmpv6",
			         proto);
			return -EINVAL;
		}
	}
	if (dst) {
		if (prefix_parse(&f->dst, dst, AF_UNSPEC) < 0) {
			snprintf(err, errlen, "dst \"%s\" is not an address or CIDR", dst);
			return -EINVAL;
		}
		f->has_dst = true;
	}
	port = json_object_get(args, "port");
	if (port) {
		json_int_t p = json_integer_value(port);

		if (!json_is_integer(port) || p < 1 || p > 65535) {
			snprintf(err, errlen, "port is not a number 1-65535");
			return -EINVAL;
		}
		f->port = (uint16_t)p;
	}
	if (state) {
		if (strlen(state) >= sizeof(f->state)) {
			snprintf(err, errlen, "state \"%s\" is no conntrack state", state);
			return -EINVAL;
		}
		snprintf(f->state, sizeof(f->state), "%s", state);
	}
	return 0;
}

static bool matches(const struct filter *f, const struct ct_flow *fl)
{
	const char *state = fl->state;

	if (f->proto && fl->proto != f->proto)
		return false;
	if (f->has_dst && !prefix_contains(&f->dst, &fl->dst))
		return false;
	if (f->port && fl->dport != f->port)
		return false;
	if (f->state[0] && (!state || strcasecmp(state, f->state)))
		return false;
	return true;
}

static int add_entry(void *arg, const struct ct_entry *e)
{
	struct filter *f = arg;
	const struct ct_flow *fl = &e->flow;
	const char *client, *proto = ct_proto_name(fl->proto);
	char src[PREFIX_STRLEN], dst[PREFIX_STRLEN], nat[PREFIX_STRLEN], pnum[8];
	char stamped[POLICY_NAME_MAX + 1];
	struct policy_decision d;
	const char *rule = NULL;
	bool decided;
	json_t *j;

	/* The policy in force changes only on the loop's thread between jobs,
	 * never while this one runs; it has every client of gateway.yaml. */
	decided = enforce_decide_ct(enforce_policy(f->v->policy), fl, &client, &d);
	if (!client || !matches(f, fl))
		return 0;
	/* The rule that let the flow through, as its labels say; a flow with
	 * no stamp (to the gateway itself, or from before gatewayd stamped)
	 * gets the rule of the policy in force that decides one like it. */
	if (e->rule_id &&
	    enforce_rule_name(f->v->policy, e->rule_id, stamped, sizeof(stamped)) == 0)
		rule = stamped;
	else if (decided)
		rule = d.name;
	if (!proto) {
		snprintf(pnum, sizeof(pnum), "%u", fl->proto);
		proto = pnum;
	}
	j = json_pack(
	        "{s:s, s:s, s:s, s:s, s:i, s:s, s:i, s:s?, s:i, s:s, s:I, s:I, s:I, s:I, "
	        "s:I, s:s?}",
	        "client", client, "family", fl->src.family == AF_INET6 ? "ipv6" : "ipv4", "proto",
	        proto, "src", prefix_format_addr(&fl->src, src, sizeof(src)), "sport",
	        (int)fl->sport, "dst", prefix_format_addr(&fl->dst, dst, sizeof(dst)), "dport",
	        (int)fl->dport, "nat_src",
	        e->nat_src.family ? prefix_format_addr(&e->nat_src, nat, sizeof(nat)) : NULL,
	        "nat_sport", (int)e->nat_sport, "state", fl->state, "packets_out",
	        (json_int_t)e->packets_out, "bytes_out", (json_int_t)e->bytes_out, "packets_in",
	        (json_int_t)e->packets_in, "bytes_in", (json_int_t)e->bytes_in, "age_s",
	        (json_int_t)(e->start_ns ? f->now_s - (long)(e->start_ns / 1000000000u) : -1),
	        "rule", rule);
	if (!j || json_array_append_new(f->list, j))
		return -ENOMEM;
	return 0;
}

static int list_work(void *arg, json_t **data, char *err, size_t errlen)
{
	struct filter *f = arg;
	int ret;

	f->list = json_array();
	if (!f->list)
		return -ENOMEM;
	f->now_s = (long)time(NULL);
	ret = ct_list(f->tag, f->mask, add_entry, f);
	if (ret < 0) {
		snprintf(err, errlen, "cannot read conntrack: %s", strerror(-ret));
		json_decref(f->list);
		f->list = NULL;
		return ret;
	}
	*data = f->list; /* the reply takes it */
	f->list = NULL;
	return 0;
}

static void filter_free(void *arg)
{
	struct filter *f = arg;

	json_decref(f->list);
	free(f);
}

static struct filter *filter_new(const struct control_view *v, struct ctl_request *req, char *err,
                                 size_t errlen, int *ret)
{
	struct filter *f = malloc(sizeof(*f));

	if (!f) {
		*ret = -ENOMEM;
		return NULL;
	}
	*ret = parse_filter(v, req->args, f, err, errlen);
	if (*ret) {
		free(f);
		return NULL;
	}
	return f;
}

/* flows and flows.kill: the filters now, the walk on the worker. */
static int flows_cmd(const struct control_view *v, struct ctl_request *req, control_work_fn *work,
                     json_t **data, char *err, size_t errlen)
{
	struct filter *f;
	int ret;

	f = filter_new(v, req, err, errlen, &ret);
	if (!f)
		return ret;
	if (!v->policy) {
		filter_free(f);
		snprintf(err, errlen, "no policy in force");
		return -ENOENT;
	}
	return control_defer(v, req, work, filter_free, f, data, err, errlen);
}

int flows_cmd_list(const struct control_view *v, struct ctl_request *req, json_t **data, char *err,
                   size_t errlen)
{
	return flows_cmd(v, req, list_work, data, err, errlen);
}

/* flows.kill: the entries of clients the filters choose. */
static bool kill_select(void *arg, const struct ct_flow *fl)
{
	const struct filter *f = arg;

	return policy_client_by_mark(enforce_policy(f->v->policy), fl->mark) && matches(f, fl);
}

static int kill_work(void *arg, json_t **data, char *err, size_t errlen)
{
	struct filter *f = arg;
	int n = ct_kill(f->tag, f->mask, kill_select, f);

	if (n < 0) {
		snprintf(err, errlen, "cannot delete conntrack entries: %s", strerror(-n));
		return n;
	}
	*data = json_pack("{s:i}", "killed", n);
	return *data ? 0 : -ENOMEM;
}

int flows_cmd_kill(const struct control_view *v, struct ctl_request *req, json_t **data, char *err,
                   size_t errlen)
{
	return flows_cmd(v, req, kill_work, data, err, errlen);
}

/* flows.watch: the matching flows' events, as a stream. The client's mark
 * is checked here, since the listener takes every client's events. */
static bool watch_match(void *arg, const struct ct_entry *e)
{
	const struct filter *f = arg;

	return (e->flow.mark & f->mask) == f->tag && matches(f, &e->flow);
}

int flows_cmd_watch(const struct control_view *v, struct ctl_request *req, json_t **data, char *err,
                    size_t errlen)
{
	struct filter *f;
	int ret;

	f = filter_new(v, req, err, errlen, &ret);
	if (!f)
		return ret;
	if (!v->flowlog) {
		filter_free(f);
		snprintf(err, errlen, "no flow events here");
		return -ENOTSUP;
	}
	return flowlog_watch(v->flowlog, req, watch_match, filter_free, f, err, errlen);
}
