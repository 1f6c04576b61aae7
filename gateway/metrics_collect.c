/* One scrape's figures and its text: see metrics_collect.h. */
#include "gateway/metrics_collect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/clients.h"
#include "gateway/config.h"
#include "gateway/ct.h"
#include "gateway/enforce.h"
#include "gateway/metrics.h"
#include "gateway/metrics_text.h"
#include "gateway/nft.h"
#include "policy/policy.h"
#include "tunnel/log.h"
#include "tunnel/sysctl.h"
#include "tunnel/wg.h"

#ifndef EGRESS_VERSION
#error "EGRESS_VERSION comes from CMake's project(VERSION)"
#endif

/* A client's id (the low bits of its ct mark) and its index in the
 * configuration. */
struct id_index {
	uint32_t id;
	size_t client;
};

struct counter {
	char name[96];
	uint64_t packets, bytes;
};

struct metrics_collect {
	struct metrics_view v;
	uint64_t start_time;
	/* The device's figures, copied on the loop when the job was queued:
	 * a row per peer, its name in names. */
	struct wg_device_stats dev;
	struct metrics_client *rows;
	char (*names)[32];
	size_t n_rows;
	/* cfg's clients as the job found them: n, by id and by name */
	size_t n;
	struct id_index *by_id;
	size_t *by_name;
	uint64_t *flows, *drops; /* per client, in cfg's order */
	int flows_err, drops_err;
	struct counter *counters; /* sorted by name once all are in */
	size_t n_counters, cap;
	int counters_err;
	uint64_t ct_count, ct_max;
	int ct_err;
	char *text; /* the job's result, malloc'd; NULL: out of memory */
	size_t len;
};

static int id_cmp(const void *a, const void *b)
{
	const struct id_index *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int name_sort_cmp(const void *a, const void *b, void *arg)
{
	const struct gw_config *cfg = arg;

	return strcmp(cfg->clients[*(const size_t *)a].name, cfg->clients[*(const size_t *)b].name);
}

/* The index in cfg of the client whose flows carry mark, or -1. */
static long client_of_mark(const struct metrics_collect *c, uint64_t mark)
{
	const struct gw_config *cfg = c->v.cfg;
	struct id_index key = {.id = (uint32_t)mark & cfg->mark_id_mask}, *found;

	if ((mark & ~(uint64_t)cfg->mark_id_mask) != cfg->mark_tag)
		return -1;
	found = bsearch(&key, c->by_id, c->n, sizeof(key), id_cmp);
	return found ? (long)found->client : -1;
}

/* The index in cfg of the client named name, or -1. */
static long client_of_name(const struct metrics_collect *c, const char *name)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(name, c->v.cfg->clients[c->by_name[mid]].name);

		if (!r)
			return (long)c->by_name[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* cfg's clients indexed by id and by name, and their counts zeroed. */
static int index_clients(struct metrics_collect *c)
{
	const struct gw_config *cfg = c->v.cfg;
	size_t n = cfg->n_clients;

	c->n = n;
	c->by_id = calloc(n + 1, sizeof(*c->by_id));
	c->by_name = calloc(n + 1, sizeof(*c->by_name));
	c->flows = calloc(n + 1, sizeof(*c->flows));
	c->drops = calloc(n + 1, sizeof(*c->drops));
	if (!c->by_id || !c->by_name || !c->flows || !c->drops)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		c->by_id[i] = (struct id_index){cfg->clients[i].id, i};
		c->by_name[i] = i;
	}
	qsort(c->by_id, n, sizeof(*c->by_id), id_cmp);
	qsort_r(c->by_name, n, sizeof(*c->by_name), name_sort_cmp, (void *)cfg);
	return 0;
}

static int count_flow(void *arg, const struct ct_entry *e)
{
	struct metrics_collect *c = arg;
	const char *state = e->flow.state;
	long k;

	/* What max_flows counts too: a closing connection holds no slot. */
	if (e->flow.proto == IPPROTO_TCP && state &&
	    (!strcmp(state, "TIME_WAIT") || !strcmp(state, "CLOSE")))
		return 0;
	k = client_of_mark(c, e->flow.mark);
	if (k >= 0)
		c->flows[k]++;
	return 0;
}

static int count_drops(void *arg, uint64_t mark, uint64_t packets, uint64_t bytes)
{
	struct metrics_collect *c = arg;
	long k = client_of_mark(c, mark);

	if (k >= 0)
		c->drops[k] = packets;
	return 0;
}

static int got_counter(void *arg, const char *name, uint64_t packets, uint64_t bytes)
{
	struct metrics_collect *c = arg;

	if (c->n_counters == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct counter *n = realloc(c->counters, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->counters = n;
		c->cap = cap;
	}
	snprintf(c->counters[c->n_counters].name, sizeof(c->counters->name), "%s", name);
	c->counters[c->n_counters].packets = packets;
	c->counters[c->n_counters].bytes = bytes;
	c->n_counters++;
	return 0;
}

static int counter_cmp(const void *a, const void *b)
{
	return strcmp(((const struct counter *)a)->name, ((const struct counter *)b)->name);
}

static int read_u64(const char *path, uint64_t *out)
{
	char buf[32], *end;
	int e = sysctl_read(path, buf, sizeof(buf));

	if (e < 0)
		return e;
	errno = 0;
	*out = strtoull(buf, &end, 10);
	return errno || end == buf || *end ? -EINVAL : 0;
}

/* The nft counter named prefix + name, or NULL. */
static const struct counter *find_counter(const struct metrics_collect *c, const char *prefix,
                                          const char *name)
{
	struct counter key;

	snprintf(key.name, sizeof(key.name), "%s%s", prefix, name);
	return c->counters_err
	               ? NULL
	               : bsearch(&key, c->counters, c->n_counters, sizeof(key), counter_cmp);
}

void metrics_collect_free(struct metrics_collect *c)
{
	if (!c)
		return;
	free(c->by_id);
	free(c->by_name);
	free(c->flows);
	free(c->drops);
	free(c->counters);
	free(c->rows);
	free(c->names);
	free(c->text);
	free(c);
}

/* On the loop: the device's figures, before the job is queued. */
static int take_rows(struct metrics_collect *c)
{
	uint64_t now = wg_now();
	const struct wg_peer *p;
	size_t n = 0;

	while (wg_device_peer(c->v.dev, n))
		n++;
	c->rows = calloc(n + 1, sizeof(*c->rows));
	c->names = calloc(n + 1, sizeof(*c->names));
	if (!c->rows || !c->names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		p = wg_device_peer(c->v.dev, i);
		snprintf(c->names[i], sizeof(c->names[i]), "%s", wg_peer_name(p));
		c->rows[i].name = c->names[i];
		wg_peer_stats(p, now, &c->rows[i].st);
		c->rows[i].connected = clients_connected(&c->rows[i].st, now);
	}
	c->n_rows = n;
	wg_device_stats(c->v.dev, now, &c->dev);
	return 0;
}

/* On the worker: what the kernel counts, into the rows, matched by name (a
 * client added since the rows were taken shows from the next scrape on). */
static void fill_rows(struct metrics_collect *c, struct metrics_snapshot *s)
{
	for (size_t i = 0; i < c->n_rows; i++) {
		struct metrics_client *r = &c->rows[i];
		const struct counter *over = find_counter(c, "flows_over_", r->name);
		long k = client_of_name(c, r->name);

		if (k >= 0 && !c->flows_err)
			r->flows = c->flows[k];
		if (k >= 0 && !c->drops_err)
			r->policy_drops = c->drops[k];
		r->has_max_flows = over != NULL;
		r->max_flows_refused = over ? over->packets : 0;
	}
	s->clients = c->rows;
	s->n_clients = c->n_rows;
	s->flows_ok = !c->flows_err;
	s->drops_ok = !c->drops_err;
}

/* The policy's counters in its order, then the defaults, as policy stats
 * lists them. */
static int snapshot_rules(const struct metrics_collect *c, struct metrics_snapshot *s,
                          struct metrics_rule **out)
{
	const struct policy *p = enforce_policy(c->v.policy);
	size_t n = policy_rule_count(p), k = 0;
	struct metrics_rule *r = calloc(n + 3, sizeof(*r));
	const struct {
		const char *name, *nft;
		bool allow;
	} defaults[] = {
	        {"default", "policy_default", policy_default_allows(p)},
	        {"gateway-default", "gateway_default", false},
	        {"gateway-echo", "gateway_echo", true},
	};
	const struct counter *ct;

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		ct = find_counter(c, "rule_", policy_rule_name(p, i));
		if (ct)
			r[k++] = (struct metrics_rule){policy_rule_name(p, i),
			                               policy_rule_allows(p, i), ct->packets,
			                               ct->bytes};
	}
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		ct = find_counter(c, "", defaults[i].nft);
		if (ct)
			r[k++] = (struct metrics_rule){defaults[i].name, defaults[i].allow,
			                               ct->packets, ct->bytes};
	}
	s->rules = r;
	s->n_rules = k;
	s->rules_ok = !c->counters_err;
	*out = r;
	return 0;
}

static int render(struct metrics_collect *c)
{
	struct metrics_snapshot s = {
	        .version = EGRESS_VERSION,
	        .start_time = c->start_time,
	        .dev = c->dev,
	        .conntrack_ok = !c->ct_err,
	        .ct_count = c->ct_count,
	        .ct_max = c->ct_max,
	};
	struct metrics_rule *r = NULL;
	int e;

	fill_rows(c, &s);
	e = snapshot_rules(c, &s, &r);
	if (!e)
		e = metrics_render(&s, &c->text, &c->len);
	free(r);
	return e;
}

void metrics_collect_run(struct metrics_collect *c)
{
	const struct gw_config *cfg = c->v.cfg;
	char err[256];
	int e;

	e = index_clients(c);
	c->flows_err = e ? e : ct_list(cfg->mark_tag, ~cfg->mark_id_mask, count_flow, c);
	c->drops_err = e ? e
	                 : nft_set_counters(enforce_nft(c->v.policy), POLICY_DROPS_SET, count_drops,
	                                    c, err, sizeof(err));
	c->counters_err = nft_counters(enforce_nft(c->v.policy), got_counter, c, err, sizeof(err));
	if (c->counters_err)
		log_debug("metrics: cannot list the nft counters: %s",
		          c->counters_err == -EINVAL ? err : strerror(-c->counters_err));
	else
		qsort(c->counters, c->n_counters, sizeof(*c->counters), counter_cmp);
	c->ct_err = read_u64("net/netfilter/nf_conntrack_count", &c->ct_count);
	if (!c->ct_err)
		c->ct_err = read_u64("net/netfilter/nf_conntrack_max", &c->ct_max);
	if (render(c) < 0)
		c->text = NULL;
}

struct metrics_collect *metrics_collect_new(const struct metrics_view *v, uint64_t start_time)
{
	struct metrics_collect *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->v = *v;
	c->start_time = start_time;
	if (take_rows(c) < 0) {
		metrics_collect_free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

char *metrics_collect_text(struct metrics_collect *c, size_t *len)
{
	char *t = c->text;

	*len = c->len;
	c->text = NULL;
	return t;
}
