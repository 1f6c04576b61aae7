/* What applying one policy over another would change, for `gatewayctl policy
 * diff`: rules matched by name, limits by client name. The compiled forms are
 * compared, so a change of spelling that means the same is no change. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

/* The lines so far; the first error sticks, and later lines are dropped. */
struct diff {
	char **v;
	size_t n;
	int ret;
};

static void put(struct diff *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct diff *d, const char *fmt, ...)
{
	char line[256], **v;
	va_list ap;

	if (d->ret < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	v = realloc(d->v, (d->n + 1) * sizeof(*v));
	if (!v) {
		d->ret = -ENOMEM;
		return;
	}
	d->v = v;
	v[d->n] = strdup(line);
	if (!v[d->n]) {
		d->ret = -ENOMEM;
		return;
	}
	d->n++;
}

static const char *verdict(bool allow)
{
	return allow ? "allow" : "deny";
}

static int rule_index(const struct policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_rules; i++)
		if (!strcmp(p->rules[i].name, name))
			return (int)i;
	return -1;
}

/* False for a client p does not know. */
static bool takes(const struct policy *p, const struct prule *r, const char *client)
{
	int i = policy_client_index(p, client);

	return i >= 0 && r->from[i];
}

/* By client name: the two policies' client lists may differ, in order too. */
static bool same_from(const struct policy *old, const struct prule *a, const struct policy *now,
                      const struct prule *b)
{
	size_t i;

	if (a->from_any != b->from_any)
		return false;
	if (a->from_any)
		return true; /* any stays any, whoever the clients are */
	for (i = 0; i < old->n_clients; i++)
		if (a->from[i] != takes(now, b, old->clients[i].name))
			return false;
	for (i = 0; i < now->n_clients; i++)
		if (b->from[i] != takes(old, a, now->clients[i].name))
			return false;
	return true;
}

static bool same_families(const struct ranges a[2], const struct ranges b[2])
{
	return ranges_equal(&a[F4], &b[F4]) && ranges_equal(&a[F6], &b[F6]);
}

static void diff_rule(struct diff *d, const struct policy *old, const struct prule *a,
                      const struct policy *now, const struct prule *b)
{
	if (a->allow != b->allow)
		put(d, "~ rule \"%s\": action %s -> %s", b->name, verdict(a->allow),
		    verdict(b->allow));
	if (!same_from(old, a, now, b))
		put(d, "~ rule \"%s\": from changed", b->name);
	if (a->to_gateway != b->to_gateway || !same_families(a->to, b->to))
		put(d, "~ rule \"%s\": to changed", b->name);
	if (!same_families(a->except, b->except))
		put(d, "~ rule \"%s\": except changed", b->name);
	if (a->all_ports != b->all_ports || !ranges_equal(&a->ports, &b->ports))
		put(d, "~ rule \"%s\": ports changed", b->name);
}

/* A rule has moved when its index among the rules both policies have differs,
 * so that adding or removing a rule moves none of the others. */
static void diff_rules(struct diff *d, const struct policy *old, const struct policy *now)
{
	size_t *rank, i, k = 0;
	int j;

	rank = calloc(old->n_rules + 1, sizeof(*rank)); /* SIZE_MAX: not in now */
	if (!rank) {
		d->ret = -ENOMEM;
		return;
	}
	for (i = 0; i < old->n_rules; i++)
		rank[i] = rule_index(now, old->rules[i].name) >= 0 ? k++ : SIZE_MAX;
	for (i = 0, k = 0; i < now->n_rules; i++) {
		const struct prule *b = &now->rules[i];

		j = rule_index(old, b->name);
		if (j < 0) {
			put(d, "+ rule \"%s\" (%s, position %zu)", b->name, verdict(b->allow),
			    i + 1);
			continue;
		}
		diff_rule(d, old, &old->rules[j], now, b);
		if (rank[j] != k)
			put(d, "~ rule \"%s\": moved from position %d to %zu", b->name, j + 1,
			    i + 1);
		k++;
	}
	for (i = 0; i < old->n_rules; i++)
		if (rank[i] == SIZE_MAX)
			put(d, "- rule \"%s\"", old->rules[i].name);
	free(rank);
}

static const struct plimit *limit_for(const struct policy *p, const char *client)
{
	int i = policy_client_index(p, client);

	return i >= 0 && p->clients[i].limit >= 0 ? &p->limits[p->clients[i].limit] : NULL;
}

static const char *rate_word(const struct plimit *l)
{
	return l->bytes ? l->rate : "none";
}

static const char *flows_word(const struct plimit *l, char *buf, size_t len)
{
	if (!l->max_flows)
		return "none";
	snprintf(buf, len, "%" PRIu32, l->max_flows);
	return buf;
}

static void diff_limit(struct diff *d, const char *client, const struct plimit *a,
                       const struct plimit *b)
{
	char fa[16], fb[16];

	if (a && !b) {
		put(d, "- limit for %s", client);
	} else if (!a && b) {
		/* parse.c refuses a limit with neither */
		if (b->bytes && b->max_flows)
			put(d, "+ limit for %s: bandwidth %s, max_flows %" PRIu32, client, b->rate,
			    b->max_flows);
		else if (b->bytes)
			put(d, "+ limit for %s: bandwidth %s", client, b->rate);
		else
			put(d, "+ limit for %s: max_flows %" PRIu32, client, b->max_flows);
	} else if (a && b) {
		if (a->bytes != b->bytes)
			put(d, "~ limit for %s: bandwidth %s -> %s", client, rate_word(a),
			    rate_word(b));
		if (a->max_flows != b->max_flows)
			put(d, "~ limit for %s: max_flows %s -> %s", client,
			    flows_word(a, fa, sizeof(fa)), flows_word(b, fb, sizeof(fb)));
	}
}

int policy_diff(const struct policy *old, const struct policy *now, char ***lines, size_t *n)
{
	struct diff d = {0};
	const char *c;
	size_t i;

	*lines = NULL;
	*n = 0;
	if (old->default_allow != now->default_allow)
		put(&d, "default: %s -> %s", verdict(old->default_allow),
		    verdict(now->default_allow));
	diff_rules(&d, old, now);
	for (i = 0; i < now->n_clients; i++) {
		c = now->clients[i].name;
		diff_limit(&d, c, limit_for(old, c), limit_for(now, c));
	}
	for (i = 0; i < old->n_clients; i++) {
		c = old->clients[i].name;
		if (policy_client_index(now, c) < 0)
			diff_limit(&d, c, limit_for(old, c), NULL);
	}
	if (d.ret < 0) {
		policy_diff_free(d.v, d.n);
		return d.ret;
	}
	*lines = d.v; /* ownership moves to the caller */
	*n = d.n;
	return 0;
}

void policy_diff_free(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}
