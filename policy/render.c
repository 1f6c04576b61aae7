/* The policy as nft text, for inside table inet egress.
 *
 * Layout. gatewayd's own chains (gateway/nft.c) set a new flow's ct mark from
 * its tunnel source address, and its forward chain accepts it; ours come
 * after them on the same hooks, so a verdict here is final for what we drop
 * or reject and a no-op for what we accept:
 *
 *   policy_forward (forward, filter + 10): bandwidth per client by ct mark in
 *     both directions, for every packet; then established/related accept;
 *     then new flows from the TUN go through policy_fwd_by_mark to the chain
 *     of their client's rules, the rules that name it, in order; what no rule
 *     decides gets the default.
 *   policy_input (input, filter): traffic from the TUN to the gateway host
 *     goes through policy_in_by_mark to the input chain of its client's
 *     rules, which holds only the rules naming `gateway`; then the built-in
 *     ICMP echo to the tunnel address; then deny. `any`, CIDRs and the default
 *     never open the gateway.
 *
 * Clients named by the same rules share those chains (chains.c): the clients
 * that only rules for `any` name go to policy_fwd_any and policy_in_any by
 * falling through the maps policy_clients and policy_in_clients (ct mark to
 * chain), which hold the others, so a client costs the table nothing of the
 * policy's but what its limits need.
 *
 * The source address and so the ct mark can be trusted: the tunnel drops a
 * packet whose source is not its client's tunnel address.
 *
 * Limits. max_flows is a dynamic set keyed by ct mark whose element holds a
 * `ct count` of the client's conntrack entries, checked on each new flow,
 * before the rules, in both hooks. bandwidth is a named byte limit per client
 * and direction (`limit rate over N bytes/second` then drop): the TUN's
 * egress could shape with HTB, but upload arrives on the TUN and would need
 * an IFB device, which outlives a killed gatewayd; an nft limit goes with the
 * table. Drops rather than queues, which TCP reads as congestion.
 *
 * Deny is `reject with tcp reset` for TCP and ICMP(v6) admin-prohibited for
 * the rest, so applications fail at once rather than time out. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

#define OBJ_NAME_MAX 96

static bool ifname_ok(const char *s)
{
	size_t i;

	for (i = 0; s && s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return s && i > 0 && i < 16;
}

static const char *fam_word(int f)
{
	return f == F4 ? "ip" : "ip6";
}

/* What a rule does with a new flow, and a newline. An allowed one is stamped
 * with the deciding rule's id in its conntrack labels (policy.h), one bit
 * per set bit of the id in one immediate: `ct label set 0 | 4 | 9`. */
static void put_verdict(FILE *o, bool allow, uint32_t id)
{
	const char *sep = "ct label set ";

	if (!allow) {
		fprintf(o, "goto policy_reject\n");
		return;
	}
	for (unsigned k = 0; k < POLICY_ID_LABEL_BITS; k++) {
		if (!(id >> k & 1))
			continue;
		fprintf(o, "%s%u", sep, k);
		sep = " | ";
	}
	fprintf(o, "%saccept\n", id ? " " : "");
}

static bool is_full(const struct ranges *r, int f)
{
	return r->n == 1 && !u128_cmp(r->v[0].lo, u128_of(0)) &&
	       !u128_cmp(r->v[0].hi, u128_max(fam_of(f)));
}

static void put_addr_range(FILE *o, int family, const struct range *r)
{
	char a[PREFIX_STRLEN], b[PREFIX_STRLEN];
	struct prefix lo = u128_to_addr(family, r->lo), hi = u128_to_addr(family, r->hi);
	unsigned len;

	prefix_format_addr(&lo, a, sizeof(a));
	if (!range_is_prefix(family, r->lo, r->hi, &len))
		fprintf(o, "%s-%s", a, prefix_format_addr(&hi, b, sizeof(b)));
	else if (len == prefix_max_len(family))
		fprintf(o, "%s", a);
	else
		fprintf(o, "%s/%u", a, len);
}

static void put_set(FILE *o, const char *name, int f, const struct ranges *r)
{
	size_t i;

	fprintf(o, "\tset %s {\n\t\ttype %s; flags interval\n\t\telements = {\n", name,
	        f == F4 ? "ipv4_addr" : "ipv6_addr");
	for (i = 0; i < r->n; i++) {
		fprintf(o, "\t\t\t");
		put_addr_range(o, fam_of(f), &r->v[i]);
		fprintf(o, "%s\n", i + 1 < r->n ? "," : "");
	}
	fprintf(o, "\t\t}\n\t}\n");
}

static void set_name(char *buf, size_t size, const struct prule *r, const char *what, int f)
{
	snprintf(buf, size, "rule_%s_%s%d", r->name, what, f == F4 ? 4 : 6);
}

/* Runs. A long stretch of consecutive rules that take every protocol, do not
 * name gateway and come from the same clients (a block list of hundreds of
 * CIDRs, say) is one lookup per family instead of one per rule: an interval
 * verdict map, run_FIRST_to4/6, whose elements are each rule's destinations
 * less its excepts less what the rules before it in the run already decide,
 * each going to the rule's own chain hit_NAME (its counter, its verdict);
 * the client's chain jumps to run_FIRST, which looks them up.
 * First match wins as before; what no element holds goes on to the rule
 * after the run. Shorter stretches keep a line per rule, which reads
 * better. */
#define RUN_MIN 8

static bool mergeable(const struct prule *r)
{
	return r->all_ports && !r->to_gateway;
}

static bool same_from(const struct policy *p, const struct prule *a, const struct prule *b)
{
	if (a->from_any != b->from_any)
		return false;
	for (size_t i = 0; i < p->n_clients; i++)
		if (a->from[i] != b->from[i])
			return false;
	return true;
}

/* The length of the run that starts at i, found by scanning: 0 for none. */
static size_t scan_run(const struct policy *p, size_t i)
{
	size_t j;

	if (!mergeable(&p->rules[i]) ||
	    (i > 0 && mergeable(&p->rules[i - 1]) && same_from(p, &p->rules[i - 1], &p->rules[i])))
		return 0;
	for (j = i + 1;
	     j < p->n_rules && mergeable(&p->rules[j]) && same_from(p, &p->rules[i], &p->rules[j]);
	     j++)
		;
	return j - i >= RUN_MIN ? j - i : 0;
}

int policy_find_runs(struct policy *p)
{
	size_t i, n;

	p->run = calloc(p->n_rules + 1, sizeof(*p->run));
	if (!p->run)
		return -ENOMEM;
	for (i = 0; i < p->n_rules; i++) {
		n = scan_run(p, i);
		if (!n)
			continue;
		p->run[i] = n;
		for (size_t k = i + 1; k < i + n; k++)
			p->run[k] = SIZE_MAX;
		i += n - 1;
	}
	return 0;
}

/* The rules of the run that starts at i, or 0 when none starts there. */
static size_t run_len(const struct policy *p, size_t i)
{
	return p->run[i] == SIZE_MAX ? 0 : p->run[i];
}

/* Whether rule i is in a run (its lines are the run's map). */
static bool in_run(const struct policy *p, size_t i)
{
	return p->run[i] != 0;
}

static void run_map_name(char *buf, size_t size, const struct prule *first, int f)
{
	snprintf(buf, size, "run_%s_to%d", first->name, f == F4 ? 4 : 6);
}

/* Whether the run of n rules from first has destinations of family f. */
static bool run_has(const struct policy *p, size_t first, size_t n, int f)
{
	for (size_t i = first; i < first + n; i++)
		if (p->rules[i].to[f].n)
			return true;
	return false;
}

static int range_lo_cmp(const void *a, const void *b)
{
	return u128_cmp(((const struct range *)a)->lo, ((const struct range *)b)->lo);
}

/* Whether no destination of one rule of the run (less its excepts) meets
 * another's: then each rule's map elements are its own destinations, with
 * nothing before it to take away. The usual case (a block list), and the
 * exact algorithm is quadratic in the run's size. 1, 0, or -ENOMEM. */
static int run_disjoint(const struct policy *p, size_t first, size_t n, int f)
{
	struct ranges eff;
	struct range *all = NULL;
	size_t n_all = 0, cap = 0;
	int ret = 1;

	ranges_init(&eff);
	for (size_t i = first; ret == 1 && i < first + n; i++) {
		ranges_free(&eff);
		if (ranges_subtract(&eff, &p->rules[i].to[f], &p->rules[i].except[f]) < 0) {
			ret = -ENOMEM;
			break;
		}
		if (n_all + eff.n > cap) {
			struct range *more;

			cap = 2 * (n_all + eff.n);
			more = realloc(all, cap * sizeof(*more));
			if (!more) {
				ret = -ENOMEM;
				break;
			}
			all = more;
		}
		if (eff.n) /* eff.v may be NULL then */
			memcpy(all + n_all, eff.v, eff.n * sizeof(*all));
		n_all += eff.n;
	}
	if (ret == 1 && n_all)
		qsort(all, n_all, sizeof(*all), range_lo_cmp);
	for (size_t k = 1; ret == 1 && k < n_all; k++)
		if (u128_cmp(all[k].lo, all[k - 1].hi) <= 0)
			ret = 0;
	ranges_free(&eff);
	free(all);
	return ret;
}

/* The run's map of family f, when it has destinations there. -ENOMEM. */
static int put_run_map(FILE *o, const struct policy *p, size_t first, size_t n, int f)
{
	struct ranges covered, eff, region;
	char name[OBJ_NAME_MAX];
	size_t elems = 0;
	int ret = 0;

	int disjoint = run_disjoint(p, first, n, f);

	if (disjoint < 0)
		return disjoint;
	ranges_init(&covered);
	ranges_init(&eff);
	ranges_init(&region);
	for (size_t i = first; ret == 0 && i < first + n; i++) {
		const struct prule *r = &p->rules[i];

		ranges_free(&eff);
		ranges_free(&region);
		ret = ranges_subtract(&eff, &r->to[f], &r->except[f]);
		if (ret == 0 && disjoint)
			ret = ranges_copy(&region, &eff);
		else if (ret == 0)
			ret = ranges_subtract(&region, &eff, &covered);
		for (size_t k = 0; ret == 0 && k < region.n; k++) {
			if (!elems++) {
				run_map_name(name, sizeof(name), &p->rules[first], f);
				fprintf(o, "\tmap %s {\n\t\ttype %s : verdict; flags interval\n",
				        name, f == F4 ? "ipv4_addr" : "ipv6_addr");
				fprintf(o, "\t\telements = {\n");
			} else {
				fprintf(o, ",\n");
			}
			fprintf(o, "\t\t\t");
			put_addr_range(o, fam_of(f), &region.v[k]);
			fprintf(o, " : goto hit_%s", r->name);
		}
		for (size_t k = 0; ret == 0 && !disjoint && k < eff.n; k++)
			ret = ranges_add(&covered, eff.v[k].lo, eff.v[k].hi);
		if (!disjoint)
			ranges_normalize(&covered);
	}
	if (elems)
		fprintf(o, "\n\t\t}\n\t}\n");
	ranges_free(&covered);
	ranges_free(&eff);
	ranges_free(&region);
	return ret;
}

/* The maps of every run, and the chain each of its rules ends in. */
static int put_runs(FILE *o, const struct policy *p)
{
	size_t i, n;
	int ret = 0;

	for (i = 0; ret == 0 && i < p->n_rules; i++) {
		n = run_len(p, i);
		if (!n)
			continue;
		for (int f = F4; ret == 0 && f <= F6; f++)
			ret = put_run_map(o, p, i, n, f);
		/* One chain holds the lookups, which every client's chain jumps
		 * to: the kernel checks a verdict map's elements once for each
		 * rule that refers to it. */
		fprintf(o, "\tchain run_%s {\n", p->rules[i].name);
		for (int f = F4; f <= F6; f++) {
			char name[OBJ_NAME_MAX];

			if (!run_has(p, i, n, f))
				continue;
			run_map_name(name, sizeof(name), &p->rules[i], f);
			fprintf(o, "\t\t%s daddr vmap @%s\n", fam_word(f), name);
		}
		fprintf(o, "\t}\n");
		for (size_t k = i; k < i + n; k++) {
			fprintf(o, "\tchain hit_%s {\n\t\tcounter name \"rule_%s\" ",
			        p->rules[k].name, p->rules[k].name);
			put_verdict(o, p->rules[k].allow, p->rules[k].id);
			fprintf(o, "\t}\n");
		}
		fprintf(o, "\n");
		i += n - 1;
	}
	return ret;
}

/* The sets each rule's lines refer to: destinations and excepts that are
 * neither empty nor everything. */
static void put_rule_sets(FILE *o, const struct policy *p)
{
	char name[OBJ_NAME_MAX];
	size_t i;
	int f;

	for (i = 0; i < p->n_rules; i++) {
		const struct prule *r = &p->rules[i];

		if (in_run(p, i))
			continue;
		for (f = F4; f <= F6; f++) {
			if (r->to[f].n && !is_full(&r->to[f], f)) {
				set_name(name, sizeof(name), r, "to", f);
				put_set(o, name, f, &r->to[f]);
			}
			if (r->except[f].n && (r->to[f].n || r->to_gateway)) {
				set_name(name, sizeof(name), r, "except", f);
				put_set(o, name, f, &r->except[f]);
			}
		}
	}
}

/* The protocol/port matches a rule needs, one line each. */
enum part { PART_ALL, PART_TCP, PART_UDP, PART_ICMP, PART_ICMPV6 };

static size_t proto_parts(const struct prule *r, enum part parts[4])
{
	struct u128 lo, hi;
	size_t n = 0;
	int k;

	if (r->all_ports) {
		parts[0] = PART_ALL;
		return 1;
	}
	for (k = 0; k < 2; k++) {
		lo = u128_of(k ? PS_UDP : PS_TCP);
		hi = u128_of((k ? PS_UDP : PS_TCP) + 65535);
		if (ranges_overlap(&r->ports, lo, hi))
			parts[n++] = k ? PART_UDP : PART_TCP;
	}
	if (ranges_has(&r->ports, u128_of(PS_ICMP)))
		parts[n++] = PART_ICMP;
	if (ranges_has(&r->ports, u128_of(PS_ICMPV6)))
		parts[n++] = PART_ICMPV6;
	return n;
}

/* "tcp dport { 80, 443 }" or "meta l4proto tcp" for all of TCP; "" for all.
 * icmp is IPv4's and icmpv6 IPv6's: on a line that does not say its family
 * already, the part says it. */
static void put_part(FILE *o, const struct prule *r, enum part part, bool family_said)
{
	uint32_t base = part == PART_UDP ? PS_UDP : PS_TCP;
	const char *word = part == PART_UDP ? "udp" : "tcp";
	size_t i, n = 0, first = 0;

	switch (part) {
	case PART_ALL:
		return;
	case PART_ICMP:
		fprintf(o, "%smeta l4proto icmp ", family_said ? "" : "meta nfproto ipv4 ");
		return;
	case PART_ICMPV6:
		fprintf(o, "%smeta l4proto icmpv6 ", family_said ? "" : "meta nfproto ipv6 ");
		return;
	case PART_TCP:
	case PART_UDP:
		break;
	}
	for (i = 0; i < r->ports.n; i++) {
		if (r->ports.v[i].hi.lo < base || r->ports.v[i].lo.lo > base + 65535)
			continue;
		if (!n++)
			first = i;
	}
	if (n == 1 && r->ports.v[first].lo.lo <= base && r->ports.v[first].hi.lo >= base + 65535) {
		fprintf(o, "meta l4proto %s ", word);
		return;
	}
	fprintf(o, "%s dport %s", word, n > 1 ? "{ " : "");
	for (i = first; i < first + n; i++) {
		/* normalized, and tcp and udp are apart (PS_UDP = PS_TCP + 65536)
		 * but may touch: clip each range to this protocol */
		uint64_t lo = r->ports.v[i].lo.lo < base ? 0 : r->ports.v[i].lo.lo - base;
		uint64_t hi =
		        r->ports.v[i].hi.lo > base + 65535 ? 65535 : r->ports.v[i].hi.lo - base;

		fprintf(o, "%s%" PRIu64, i > first ? ", " : "", lo);
		if (hi != lo)
			fprintf(o, "-%" PRIu64, hi);
	}
	fprintf(o, "%s ", n > 1 ? " }" : "");
}

/* One line per part; f is the family match says, or -1. */
static void put_lines(FILE *o, const char *match, int f, const struct prule *r,
                      const enum part *parts, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++) {
		if ((parts[k] == PART_ICMP && f == F6) || (parts[k] == PART_ICMPV6 && f == F4))
			continue;
		fprintf(o, "\t\t%s%s", match, match[0] ? " " : "");
		put_part(o, r, parts[k], f >= 0);
		fprintf(o, "counter name \"rule_%s\" ", r->name);
		put_verdict(o, r->allow, r->id);
	}
}

/* Rule r in a client's forward chain. */
static void put_fwd_rule(FILE *o, const struct prule *r)
{
	enum part parts[4];
	char match[2 * OBJ_NAME_MAX + 32], name[OBJ_NAME_MAX];
	size_t n = proto_parts(r, parts);
	int f, len;

	if (is_full(&r->to[F4], F4) && is_full(&r->to[F6], F6) && !r->except[F4].n &&
	    !r->except[F6].n) {
		put_lines(o, "", -1, r, parts, n);
		return;
	}
	for (f = F4; f <= F6; f++) {
		if (!r->to[f].n)
			continue;
		set_name(name, sizeof(name), r, "to", f);
		if (is_full(&r->to[f], f))
			len = snprintf(match, sizeof(match), "meta nfproto ipv%d", f == F4 ? 4 : 6);
		else
			len = snprintf(match, sizeof(match), "%s daddr @%s", fam_word(f), name);
		if (r->except[f].n) {
			set_name(name, sizeof(name), r, "except", f);
			snprintf(match + len, sizeof(match) - (size_t)len, " %s daddr != @%s",
			         fam_word(f), name);
		}
		put_lines(o, match, f, r, parts, n);
	}
}

/* Rule r (which names gateway) in a client's input chain. */
static void put_in_rule(FILE *o, const struct prule *r)
{
	enum part parts[4];
	char match[OBJ_NAME_MAX + 32], name[OBJ_NAME_MAX];
	size_t n = proto_parts(r, parts);
	int f;

	if (!r->except[F4].n && !r->except[F6].n) {
		put_lines(o, "", -1, r, parts, n);
		return;
	}
	for (f = F4; f <= F6; f++) {
		set_name(name, sizeof(name), r, "except", f);
		if (r->except[f].n)
			snprintf(match, sizeof(match), "%s daddr != @%s", fam_word(f), name);
		else
			snprintf(match, sizeof(match), "meta nfproto ipv%d", f == F4 ? 4 : 6);
		put_lines(o, match, f, r, parts, n);
	}
}

static const struct plimit *limit_of(const struct policy *p, const struct pclient *c)
{
	return c->limit >= 0 ? &p->limits[c->limit] : NULL;
}

static void put_flow_check(FILE *o, const struct policy *p, const struct pclient *c)
{
	const struct plimit *l = limit_of(p, c);

	if (l && l->max_flows)
		fprintf(o,
		        "\t\tadd @flows_%s_%" PRIu32 " { ct mark ct count over %" PRIu32
		        " } counter name \"flows_over_%s\" goto policy_reject\n",
		        c->name, l->max_flows, l->max_flows, c->name);
}

/* The name of client ci's forward ("fwd") or input ("in") chain. */
static void chain_name(char *buf, size_t size, const struct policy *p, size_t ci, const char *dir)
{
	int g = p->chain_of[ci];

	if (g == CHAIN_OWN)
		snprintf(buf, size, "%s_%s", dir, p->clients[ci].name);
	else if (g == CHAIN_ANY)
		snprintf(buf, size, "policy_%s_any", dir);
	else
		snprintf(buf, size, "policy_%s_%d", dir, g + 1);
}

/* Whether rule i is in the chains of client ci; ci SIZE_MAX: of those that
 * only rules for any name. */
static bool in_chains_of(const struct policy *p, size_t i, size_t ci)
{
	return ci == SIZE_MAX ? p->rules[i].from_any : p->rules[i].from[ci];
}

/* The forward and input chains of client ci's rules, named fwd and in; with
 * its flow check when they are its own. */
static void put_chain_pair(FILE *o, const struct policy *p, size_t ci, const char *fwd,
                           const char *in)
{
	const struct pclient *c = ci == SIZE_MAX ? NULL : &p->clients[ci];
	bool own = c && p->chain_of[ci] == CHAIN_OWN;
	size_t i;

	fprintf(o, "\tchain %s {\n", fwd);
	if (own)
		put_flow_check(o, p, c);
	for (i = 0; i < p->n_rules; i++) {
		size_t n = run_len(p, i);

		if (!in_chains_of(p, i, ci)) {
			i += n ? n - 1 : 0;
			continue;
		}
		if (!n) {
			put_fwd_rule(o, &p->rules[i]);
			continue;
		}
		fprintf(o, "\t\tjump run_%s\n", p->rules[i].name);
		i += n - 1;
	}
	fprintf(o, "\t}\n\n");

	fprintf(o, "\tchain %s {\n", in);
	if (own)
		put_flow_check(o, p, c);
	for (i = 0; i < p->n_rules; i++)
		if (in_chains_of(p, i, ci) && p->rules[i].to_gateway)
			put_in_rule(o, &p->rules[i]);
	fprintf(o, "\t}\n\n");
}

static void put_client_chains(FILE *o, const struct policy *p)
{
	char fwd[OBJ_NAME_MAX], in[OBJ_NAME_MAX];
	const struct plimit *l;
	size_t ci;

	for (ci = 0; ci < p->n_clients; ci++) {
		const struct pclient *c = &p->clients[ci];

		if (p->chain_of[ci] == CHAIN_OWN) {
			chain_name(fwd, sizeof(fwd), p, ci, "fwd");
			chain_name(in, sizeof(in), p, ci, "in");
			put_chain_pair(o, p, ci, fwd, in);
		}
		l = limit_of(p, c);
		if (l && l->bytes) {
			fprintf(o,
			        "\tchain bw_up_%s {\n\t\tlimit name \"bw_up_%s_%" PRIu64
			        "\" drop\n\t}\n\n",
			        c->name, c->name, l->bytes);
			fprintf(o,
			        "\tchain bw_down_%s {\n\t\tlimit name \"bw_down_%s_%" PRIu64
			        "\" drop\n\t}\n\n",
			        c->name, c->name, l->bytes);
		}
	}
	for (size_t g = 0; g < p->n_chains; g++) {
		ci = p->chain_first[g];
		fprintf(o, "\t# The chains of %s and of every client named by the same rules.\n",
		        p->clients[ci].name);
		chain_name(fwd, sizeof(fwd), p, ci, "fwd");
		chain_name(in, sizeof(in), p, ci, "in");
		put_chain_pair(o, p, ci, fwd, in);
	}
	fprintf(o, "\t# The chains of every client named only by rules from any.\n");
	put_chain_pair(o, p, SIZE_MAX, "policy_fwd_any", "policy_in_any");
}

/* A verdict map keyed by ct mark: to the chains of each client's rules (dir
 * "fwd" or "in"), those for any left out, or with bandwidth, to its limit's
 * chain (dir "bw_up" or "bw_down"). */
static void put_map(FILE *o, const struct policy *p, const char *name, const char *dir,
                    bool bandwidth)
{
	char chain[OBJ_NAME_MAX];
	size_t ci, n = 0;

	fprintf(o, "\tmap %s {\n\t\ttype mark : verdict\n", name);
	for (ci = 0; ci < p->n_clients; ci++) {
		const struct pclient *c = &p->clients[ci];
		const struct plimit *l = limit_of(p, c);

		if (bandwidth ? !(l && l->bytes) : p->chain_of[ci] == CHAIN_ANY)
			continue;
		fprintf(o, "%s\t\t\t0x%08" PRIx32, n++ ? ",\n" : "\t\telements = {\n", c->mark);
		if (bandwidth) {
			fprintf(o, " : jump %s_%s", dir, c->name);
			continue;
		}
		chain_name(chain, sizeof(chain), p, ci, dir);
		fprintf(o, " : goto %s", chain);
	}
	fprintf(o, "%s\t}\n\n", n ? "\n\t\t}\n" : "");
}

/* A new flow to the chains of its client's rules, by the ct mark the gateway's
 * own chains gave it (gateway/nft.c, by tunnel source address, in both
 * hooks): a goto, so that what they leave undecided goes back to the base
 * chain, to the default. Every client's mark has a nonzero id: a flow whose
 * source address is no client's keeps mark 0 and falls through to it too. */
static void put_by_mark(FILE *o, const char *map, const char *dir)
{
	fprintf(o, "\tchain policy_%s_by_mark {\n", dir);
	fprintf(o, "\t\tct mark vmap @%s\n", map);
	fprintf(o, "\t\tct mark != 0 goto policy_%s_any\n", dir);
	fprintf(o, "\t}\n\n");
}

static void put_echo(FILE *o, const struct policy *p, int f)
{
	char a[PREFIX_STRLEN];
	size_t i, n = 0;

	for (i = 0; i < p->n_tunnel; i++) {
		if (p->tunnel[i].family != fam_of(f))
			continue;
		fprintf(o, "%s%s",
		        n++       ? ", "
		        : f == F4 ? "\t\tip daddr { "
		                  : "\t\tip6 daddr { ",
		        prefix_format_addr(&p->tunnel[i], a, sizeof(a)));
	}
	if (n)
		fprintf(o, " } %s type echo-request counter name \"gateway_echo\" accept\n",
		        f == F4 ? "icmp" : "icmpv6");
}

static void put_base_chains(FILE *o, const struct policy *p, const char *tun)
{
	fprintf(o, "\tchain policy_forward {\n");
	fprintf(o, "\t\ttype filter hook forward priority filter + 10; policy accept;\n\n");
	fprintf(o, "\t\t# Bandwidth, every packet: up from the client, down to it.\n");
	fprintf(o, "\t\tiifname \"%s\" ct mark vmap @policy_bw_up\n", tun);
	fprintf(o, "\t\tiifname != \"%s\" oifname \"%s\" ct mark vmap @policy_bw_down\n", tun, tun);
	fprintf(o, "\t\tct state established,related accept\n\n");
	fprintf(o,
	        "\t\t# New flows from the tunnel: the client's rules by its ct mark, then the\n");
	fprintf(o, "\t\t# default.\n");
	fprintf(o, "\t\tiifname \"%s\" jump policy_fwd_by_mark\n", tun);
	fprintf(o, "\t\tiifname \"%s\" counter name \"policy_default\" ", tun);
	put_verdict(o, p->default_allow, POLICY_ID_DEFAULT);
	fprintf(o, "\t}\n\n");

	fprintf(o, "\tchain policy_input {\n");
	fprintf(o, "\t\ttype filter hook input priority filter; policy accept;\n\n");
	fprintf(o, "\t\t# The gateway host, from the tunnel: only rules naming gateway open it.\n");
	fprintf(o, "\t\tiifname != \"%s\" accept\n", tun);
	fprintf(o, "\t\tct state established,related accept\n");
	fprintf(o, "\t\tct state invalid drop\n");
	fprintf(o, "\t\tjump policy_in_by_mark\n");
	put_echo(o, p, F4);
	put_echo(o, p, F6);
	fprintf(o, "\t\tcounter name \"gateway_default\" goto policy_reject\n");
	fprintf(o, "\t}\n");
}

/* Closes the memstream o of *buf (set only by the close) and hands the text
 * over to the caller. */
static int finish(FILE *o, char **buf, char **text)
{
	int ret = ferror(o) ? -ENOMEM : 0;

	if (fclose(o))
		ret = -ENOMEM;
	if (ret < 0) {
		free(*buf);
		return ret;
	}
	*text = *buf; /* ownership moves to the caller */
	return 0;
}

int policy_render_rules(const struct policy *p, const char *tun, char **text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o;

	*text = NULL;
	if (!ifname_ok(tun))
		return -EINVAL;
	o = open_memstream(&buf, &len);
	if (!o)
		return -ENOMEM;
	fprintf(o, "\t# Policy %s: replaced as a whole by each apply.\n", p->name);
	if (!p->ifaddrs_known)
		fprintf(o, "\t# Offline: internet without the gateway's interface networks.\n");
	put_rule_sets(o, p);
	if (p->n_rules)
		fprintf(o, "\n");
	if (put_runs(o, p) < 0) {
		fclose(o);
		free(buf);
		return -ENOMEM;
	}
	put_map(o, p, "policy_clients", "fwd", false);
	put_map(o, p, "policy_in_clients", "in", false);
	put_map(o, p, "policy_bw_up", "bw_up", true);
	put_map(o, p, "policy_bw_down", "bw_down", true);
	fprintf(o, "\tchain policy_reject {\n");
	fprintf(o, "\t\tupdate @" POLICY_DROPS_SET " { ct mark }\n");
	fprintf(o, "\t\tmeta l4proto tcp reject with tcp reset\n");
	fprintf(o, "\t\treject with icmpx admin-prohibited\n");
	fprintf(o, "\t}\n\n");
	put_client_chains(o, p);
	put_by_mark(o, "policy_clients", "fwd");
	put_by_mark(o, "policy_in_clients", "in");
	put_base_chains(o, p, tun);
	return finish(o, &buf, text);
}

/* The stateful objects, each with what goes between its braces. */
typedef int obj_fn(void *arg, const char *kind, const char *name, const char *body);

static int each_object(const struct policy *p, obj_fn *fn, void *arg)
{
	static const char *const fixed[] = {"policy_default", "gateway_default", "gateway_echo"};
	char name[OBJ_NAME_MAX], body[64];
	const struct plimit *l;
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < sizeof(fixed) / sizeof(fixed[0]); i++)
		ret = fn(arg, "counter", fixed[i], "");
	/* What the policy refused, counted per client: an element (with its
	 * counter) appears for a client's mark at its first refusal, so the
	 * set costs nothing for clients that were never refused. */
	if (ret == 0)
		ret = fn(arg, "set", POLICY_DROPS_SET,
		         "type mark; size " POLICY_DROPS_SIZE "; flags dynamic; counter;");
	for (i = 0; ret == 0 && i < p->n_rules; i++) {
		snprintf(name, sizeof(name), "rule_%s", p->rules[i].name);
		ret = fn(arg, "counter", name, "");
	}
	for (i = 0; ret == 0 && i < p->n_clients; i++) {
		const char *c = p->clients[i].name;

		l = limit_of(p, &p->clients[i]);
		if (l && l->max_flows) {
			snprintf(name, sizeof(name), "flows_over_%s", c);
			ret = fn(arg, "counter", name, "");
			snprintf(name, sizeof(name), "flows_%s_%" PRIu32, c, l->max_flows);
			if (ret == 0)
				ret = fn(arg, "set", name, "type mark; flags dynamic;");
		}
		if (ret == 0 && l && l->bytes) {
			snprintf(body, sizeof(body), "rate over %" PRIu64 " bytes/second;",
			         l->bytes);
			snprintf(name, sizeof(name), "bw_up_%s_%" PRIu64, c, l->bytes);
			ret = fn(arg, "limit", name, body);
			snprintf(name, sizeof(name), "bw_down_%s_%" PRIu64, c, l->bytes);
			if (ret == 0)
				ret = fn(arg, "limit", name, body);
		}
	}
	return ret;
}

static int declare(void *arg, const char *kind, const char *name, const char *body)
{
	fprintf(arg, "\t%s %s {%s%s }\n", kind, name, body[0] ? " " : "", body);
	return 0;
}

int policy_render_objects(const struct policy *p, char **text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o;

	*text = NULL;
	o = open_memstream(&buf, &len);
	if (!o)
		return -ENOMEM;
	fprintf(o, "\t# Policy %s: stateful objects, declared by every apply.\n", p->name);
	fprintf(o, "\t# One that exists stays as it is (counts, tokens, elements); a new\n");
	fprintf(o, "\t# rate or max_flows is in the name, so it makes a new object.\n");
	each_object(p, declare, o);
	fprintf(o, "\n");
	return finish(o, &buf, text);
}

/* Calls fn for every chain, then every map, then every set of the rules part. */
typedef void name_fn(FILE *o, const char *kind, const char *name);

static void each_replaced(const struct policy *p, FILE *o, name_fn *chains, name_fn *maps,
                          name_fn *sets)
{
	static const char *const fixed_chains[] = {
	        "policy_forward",    "policy_input",   "policy_reject", "policy_fwd_by_mark",
	        "policy_in_by_mark", "policy_fwd_any", "policy_in_any"};
	static const char *const fixed_maps[] = {"policy_clients", "policy_in_clients",
	                                         "policy_bw_up", "policy_bw_down"};
	char name[OBJ_NAME_MAX];
	const struct plimit *l;
	size_t i;
	int f;

	for (i = 0; chains && i < sizeof(fixed_chains) / sizeof(fixed_chains[0]); i++)
		chains(o, "chain", fixed_chains[i]);
	for (i = 0; chains && i < p->n_clients; i++) {
		if (p->chain_of[i] == CHAIN_OWN) {
			chain_name(name, sizeof(name), p, i, "fwd");
			chains(o, "chain", name);
			chain_name(name, sizeof(name), p, i, "in");
			chains(o, "chain", name);
		}
		l = limit_of(p, &p->clients[i]);
		if (l && l->bytes) {
			snprintf(name, sizeof(name), "bw_up_%s", p->clients[i].name);
			chains(o, "chain", name);
			snprintf(name, sizeof(name), "bw_down_%s", p->clients[i].name);
			chains(o, "chain", name);
		}
	}
	for (i = 0; chains && i < p->n_chains; i++) {
		chain_name(name, sizeof(name), p, p->chain_first[i], "fwd");
		chains(o, "chain", name);
		chain_name(name, sizeof(name), p, p->chain_first[i], "in");
		chains(o, "chain", name);
	}
	for (i = 0; chains && i < p->n_rules; i++) {
		if (run_len(p, i)) {
			snprintf(name, sizeof(name), "run_%s", p->rules[i].name);
			chains(o, "chain", name);
		}
		if (!in_run(p, i))
			continue;
		snprintf(name, sizeof(name), "hit_%s", p->rules[i].name);
		chains(o, "chain", name);
	}
	for (i = 0; maps && i < sizeof(fixed_maps) / sizeof(fixed_maps[0]); i++)
		maps(o, "map", fixed_maps[i]);
	for (i = 0; maps && i < p->n_rules; i++) {
		size_t n = run_len(p, i);

		for (f = F4; n && f <= F6; f++) {
			if (!run_has(p, i, n, f))
				continue;
			run_map_name(name, sizeof(name), &p->rules[i], f);
			maps(o, "map", name);
		}
	}
	for (i = 0; sets && i < p->n_rules; i++) {
		const struct prule *r = &p->rules[i];

		if (in_run(p, i))
			continue;
		for (f = F4; f <= F6; f++) {
			if (r->to[f].n && !is_full(&r->to[f], f)) {
				set_name(name, sizeof(name), r, "to", f);
				sets(o, "set", name);
			}
			if (r->except[f].n && (r->to[f].n || r->to_gateway)) {
				set_name(name, sizeof(name), r, "except", f);
				sets(o, "set", name);
			}
		}
	}
}

static void put_flush(FILE *o, const char *kind, const char *name)
{
	fprintf(o, "flush %s inet egress %s\n", kind, name);
}

static void put_delete(FILE *o, const char *kind, const char *name)
{
	fprintf(o, "delete %s inet egress %s\n", kind, name);
}

int policy_render_delete(const struct policy *p, char **text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o;

	*text = NULL;
	o = open_memstream(&buf, &len);
	if (!o)
		return -ENOMEM;
	/* Rules refer to sets, maps and chains, maps' verdicts to chains: empty
	 * the chains first, then the maps can go, then the chains, then sets. */
	each_replaced(p, o, put_flush, NULL, NULL);
	each_replaced(p, o, NULL, put_delete, NULL);
	each_replaced(p, o, put_delete, NULL, put_delete);
	return finish(o, &buf, text);
}

struct stale {
	FILE *o;
	const struct policy *now;
	const char *kind, *name;
	bool found;
};

static int find_object(void *arg, const char *kind, const char *name, const char *body)
{
	struct stale *s = arg;

	if (!strcmp(kind, s->kind) && !strcmp(name, s->name))
		s->found = true;
	return 0;
}

static int stale_object(void *arg, const char *kind, const char *name, const char *body)
{
	struct stale *s = arg;

	s->kind = kind;
	s->name = name;
	s->found = false;
	each_object(s->now, find_object, s);
	if (!s->found)
		put_delete(s->o, kind, name);
	return 0;
}

int policy_render_stale(const struct policy *old, const struct policy *now, char **text)
{
	struct stale s = {.now = now};
	char *buf = NULL;
	size_t len = 0;

	*text = NULL;
	s.o = open_memstream(&buf, &len);
	if (!s.o)
		return -ENOMEM;
	each_object(old, stale_object, &s);
	return finish(s.o, &buf, text);
}

int policy_render_replace(const struct policy *old, const struct policy *now, const char *tun,
                          char **text)
{
	char *objects = NULL, *del = NULL, *rules = NULL, *stale = NULL;
	int ret;

	*text = NULL;
	ret = policy_render_objects(now, &objects);
	if (!ret)
		ret = policy_render_delete(old, &del);
	if (!ret)
		ret = policy_render_rules(now, tun, &rules);
	if (!ret)
		ret = policy_render_stale(old, now, &stale);
	/* The owner flag in each declaration: the kernel refuses one without it
	 * on the table gatewayd owns (EOPNOTSUPP). */
	if (!ret && asprintf(text,
	                     "table inet egress {\n\tflags owner\n%s}\n%stable inet egress "
	                     "{\n\tflags owner\n%s}\n%s",
	                     objects, del, rules, stale) < 0) {
		*text = NULL;
		ret = -ENOMEM;
	}
	free(objects);
	free(del);
	free(rules);
	free(stale);
	return ret;
}
