/* The policy object: its environment, what `internet` means in it, the
 * built-in policy, warnings, and the entry points that parse. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"
#include "tunnel/conf.h"

/* No policy_file: the internet for everyone, DNS on the gateway (the
 * built-in ICMP echo to its tunnel address comes on top, as for every
 * policy), and nothing else: not the gateway's other services, its LAN or
 * cloud metadata. */
static const char builtin_text[] = "version: 1\n"
                                   "default: deny\n"
                                   "rules:\n"
                                   "  - name: internet\n"
                                   "    from: [any]\n"
                                   "    to: [internet]\n"
                                   "    action: allow\n"
                                   "  - name: dns-on-gateway\n"
                                   "    from: [any]\n"
                                   "    to: [gateway]\n"
                                   "    ports: [udp/53, tcp/53]\n"
                                   "    action: allow\n";

/* Not `internet`: this host, private networks, link-local, CGNAT (the tunnel
 * subnets are in it), multicast and reserved space. */
static const char *const not_internet[] = {
        "0.0.0.0/8",     "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4",   "240.0.0.0/4", "::1/128",
        "fc00::/7",      "fe80::/10",      "ff00::/8",
};

const char *policy_builtin_text(void)
{
	return builtin_text;
}

int policy_warn(struct policy *p, unsigned line, unsigned col, const char *fmt, ...)
{
	char msg[512], **w;
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s:%u:%u: warning: ", p->name, line, col);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	w = realloc(p->warnings, (p->n_warnings + 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	p->warnings = w;
	w[p->n_warnings] = strdup(msg);
	if (!w[p->n_warnings])
		return -ENOMEM;
	p->n_warnings++;
	return 0;
}

size_t policy_warning_count(const struct policy *p)
{
	return p->n_warnings;
}

const char *policy_warning(const struct policy *p, size_t i)
{
	return i < p->n_warnings ? p->warnings[i] : NULL;
}

bool policy_ifaddrs_known(const struct policy *p)
{
	return p->ifaddrs_known;
}

size_t policy_test_count(const struct policy *p)
{
	return p->n_tests;
}

size_t policy_rule_count(const struct policy *p)
{
	return p->n_rules;
}

const char *policy_rule_name(const struct policy *p, size_t i)
{
	return i < p->n_rules ? p->rules[i].name : NULL;
}

uint32_t policy_rule_id(const struct policy *p, size_t i)
{
	return i < p->n_rules ? p->rules[i].id : POLICY_ID_NONE;
}

/* FNV-1a of the name, 32 bits. */
static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h;
}

static bool id_taken(const struct policy *p, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (p->rules[i].id == id)
			return true;
	return false;
}

/* Each rule's id is a hash of its name, so it is the same in every policy
 * that has a rule of that name, across applies and restarts alike, with no
 * state kept anywhere: a flow stamped by one policy is still attributed to
 * its rule under the next. Two names of one policy that hash alike (about
 * one policy in 10,000 at 1,000 rules) are told apart by probing in file
 * order, and only the later one's id then depends on the other. Each id is
 * checked against the earlier ones by a scan: policies have hundreds of
 * rules, not millions. */
static void assign_ids(struct policy *p)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		uint32_t id = name_hash(p->rules[i].name);

		for (;; id++) {
			if (id == POLICY_ID_NONE || id == POLICY_ID_DEFAULT)
				continue;
			if (!id_taken(p, i, id))
				break;
		}
		p->rules[i].id = id;
	}
}

bool policy_rule_allows(const struct policy *p, size_t i)
{
	return i < p->n_rules && p->rules[i].allow;
}

bool policy_default_allows(const struct policy *p)
{
	return p->default_allow;
}

/* p->by_mark and p->by_name: the clients' indexes in the order of their
 * marks and of their names, for a lookup per conntrack entry or per name in
 * O(log n), and duplicates found as neighbours: a gateway of 60,000 clients
 * compiles its policy without 1.8 billion comparisons. */
static int by_mark_cmp(const void *a, const void *b, void *arg)
{
	const struct policy *p = arg;
	uint32_t x = p->clients[*(const size_t *)a].mark;
	uint32_t y = p->clients[*(const size_t *)b].mark;

	return x < y ? -1 : x > y;
}

static int by_name_cmp(const void *a, const void *b, void *arg)
{
	const struct policy *p = arg;

	return strcmp(p->clients[*(const size_t *)a].name, p->clients[*(const size_t *)b].name);
}

static size_t *sorted_index(struct policy *p, int (*cmp)(const void *, const void *, void *))
{
	size_t *v = calloc(p->n_clients + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < p->n_clients; i++)
		v[i] = i;
	qsort_r(v, p->n_clients, sizeof(*v), cmp, p);
	return v;
}

/* 0; -EINVAL when two clients share a name or a mark; -ENOMEM. */
static int index_clients(struct policy *p)
{
	p->by_mark = sorted_index(p, by_mark_cmp);
	p->by_name = sorted_index(p, by_name_cmp);
	if (!p->by_mark || !p->by_name)
		return -ENOMEM;
	for (size_t i = 1; i < p->n_clients; i++)
		if (!by_mark_cmp(&p->by_mark[i - 1], &p->by_mark[i], p) ||
		    !by_name_cmp(&p->by_name[i - 1], &p->by_name[i], p))
			return -EINVAL;
	return 0;
}

const char *policy_client_by_mark(const struct policy *p, uint32_t mark)
{
	size_t lo = 0, hi = p->n_clients;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct pclient *c = &p->clients[p->by_mark[mid]];

		if (c->mark == mark)
			return c->name;
		if (c->mark < mark)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t policy_client_count(const struct policy *p)
{
	return p->n_clients;
}

const char *policy_client_at(const struct policy *p, size_t i, uint32_t *mark)
{
	const struct pclient *c = &p->clients[p->by_mark[i]];

	*mark = c->mark;
	return c->name;
}

int policy_client_index(const struct policy *p, const char *name)
{
	size_t lo = 0, hi = p->n_clients;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->clients[p->by_name[mid]].name, name);

		if (c == 0)
			return (int)p->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

bool policy_rule_names(const struct policy *p, size_t rule, const char *client)
{
	int ci = policy_client_index(p, client);

	return ci >= 0 && rule < p->n_rules && !p->rules[rule].from_any && p->rules[rule].from[ci];
}

static int copy_prefixes(struct prefix **dst, size_t *n_dst, const struct prefix *src, size_t n)
{
	size_t i;

	*n_dst = 0;
	if (!n)
		return 0;
	if (!src)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (src[i].family != AF_INET && src[i].family != AF_INET6)
			return -EINVAL;
	*dst = malloc(n * sizeof(**dst));
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, src, n * sizeof(**dst));
	*n_dst = n;
	return 0;
}

static bool client_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s && s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return s && i > 0 && i <= CLIENT_NAME_MAX;
}

/* internet[f] = everything of the family but not_internet[] and the
 * gateway's own networks. */
static int compute_internet(struct policy *p)
{
	struct ranges out[2], all;
	struct prefix a;
	size_t i;
	int f, ret = 0;

	for (f = F4; f <= F6; f++)
		ranges_init(&out[f]);
	for (i = 0; ret == 0 && i < sizeof(not_internet) / sizeof(not_internet[0]); i++) {
		ret = prefix_parse(&a, not_internet[i], AF_UNSPEC);
		if (ret == 0)
			ret = ranges_add_prefix(&out[a.family == AF_INET ? F4 : F6], &a);
	}
	for (i = 0; ret == 0 && i < p->n_tunnel; i++)
		ret = ranges_add_prefix(&out[p->tunnel[i].family == AF_INET ? F4 : F6],
		                        &p->tunnel[i]);
	for (i = 0; ret == 0 && i < p->n_ifaddrs; i++)
		ret = ranges_add_prefix(&out[p->ifaddrs[i].family == AF_INET ? F4 : F6],
		                        &p->ifaddrs[i]);
	for (f = F4; ret == 0 && f <= F6; f++) {
		ranges_init(&all);
		ranges_normalize(&out[f]);
		ret = ranges_add(&all, u128_of(0), u128_max(fam_of(f)));
		if (ret == 0)
			ret = ranges_subtract(&p->internet[f], &all, &out[f]);
		ranges_free(&all);
	}
	for (f = F4; f <= F6; f++)
		ranges_free(&out[f]);
	return ret;
}

int policy_copy_env(struct policy *p, const struct policy_env *env)
{
	size_t i;
	int ret;

	if (env->n_clients && !env->clients)
		return -EINVAL;
	p->clients = calloc(env->n_clients + 1, sizeof(*p->clients));
	if (!p->clients)
		return -ENOMEM;
	for (i = 0; i < env->n_clients; i++) {
		const struct policy_client *src = &env->clients[i];
		struct pclient *dst = &p->clients[i];

		if (!client_name_ok(src->name))
			return -EINVAL;
		strcpy(dst->name, src->name);
		dst->mark = src->mark;
		dst->limit = -1;
		p->n_clients = i + 1;
		ret = copy_prefixes(&dst->addrs, &dst->n_addrs, src->addrs, src->n_addrs);
		if (ret < 0)
			return ret;
	}
	ret = index_clients(p);
	if (ret == 0)
		ret = copy_prefixes(&p->tunnel, &p->n_tunnel, env->tunnel, env->n_tunnel);
	if (ret == 0 && env->ifaddrs_known)
		ret = copy_prefixes(&p->ifaddrs, &p->n_ifaddrs, env->ifaddrs, env->n_ifaddrs);
	p->ifaddrs_known = env->ifaddrs_known;
	if (ret == 0)
		ret = compute_internet(p);
	return ret;
}

void policy_free(struct policy *p)
{
	size_t i;
	int f;

	if (!p)
		return;
	for (i = 0; i < p->n_clients; i++)
		free(p->clients[i].addrs);
	free(p->clients);
	free(p->tunnel);
	free(p->ifaddrs);
	free(p->run);
	free(p->chain_of);
	free(p->chain_first);
	free(p->by_mark);
	free(p->by_name);
	for (i = 0; i < p->n_rules; i++) {
		free(p->rules[i].from);
		for (f = F4; f <= F6; f++) {
			ranges_free(&p->rules[i].to[f]);
			ranges_free(&p->rules[i].except[f]);
		}
		ranges_free(&p->rules[i].ports);
	}
	free(p->rules);
	free(p->limits);
	free(p->tests);
	for (f = F4; f <= F6; f++)
		ranges_free(&p->internet[f]);
	for (i = 0; i < p->n_warnings; i++)
		free(p->warnings[i]);
	free(p->warnings);
	free(p->name);
	free(p);
}

/* The policy of the loaded document c (which the caller frees). */
static int build(struct policy **out, const char *name, struct conf *c,
                 const struct policy_env *env, char *err, size_t errlen)
{
	struct policy *p = calloc(1, sizeof(*p));
	int ret;

	if (!p || !(p->name = strdup(name))) {
		ret = -ENOMEM;
		goto out;
	}
	ret = policy_copy_env(p, env);
	if (ret == -EINVAL && err && errlen)
		snprintf(err, errlen, "%s: invalid client list or gateway addresses", name);
	if (ret == 0)
		ret = policy_parse_conf(p, c);
	if (ret == 0)
		ret = policy_check_reach(p);
	if (ret == 0)
		ret = policy_find_runs(p);
	if (ret == 0)
		ret = policy_find_chains(p);
	if (ret == 0)
		assign_ids(p);
out:
	if (ret == -ENOMEM && err && errlen)
		snprintf(err, errlen, "%s: out of memory", name);
	if (ret == 0) {
		*out = p; /* ownership moves to the caller */
		p = NULL;
	}
	policy_free(p);
	return ret;
}

int policy_parse(struct policy **out, const char *name, const char *buf, size_t len,
                 const struct policy_env *env, char *err, size_t errlen)
{
	struct conf *c = NULL;
	int ret;

	*out = NULL;
	ret = conf_load_buffer(&c, name, NULL, buf, len, err, errlen);
	if (ret == 0)
		ret = build(out, name, c, env, err, errlen);
	conf_free(c);
	return ret;
}

int policy_load(struct policy **out, const char *path, const struct policy_env *env, char *err,
                size_t errlen)
{
	struct conf *c = NULL;
	int ret;

	*out = NULL;
	ret = conf_load_file(&c, path, err, errlen);
	if (ret == 0)
		ret = build(out, path, c, env, err, errlen);
	conf_free(c);
	return ret;
}

int policy_builtin(struct policy **out, const struct policy_env *env)
{
	char err[256];

	return policy_parse(out, "built-in policy", builtin_text, sizeof(builtin_text) - 1, env,
	                    err, sizeof(err));
}
