/* The client list while gatewayd runs: see roster.h. A change is a job:
 * run() on the worker reads the new list, compares it with the one in force,
 * has enforce put it in the kernel and ends the flows of the clients that
 * go; done() on the loop swaps the lists and changes the device's peers.
 * Between the two, the worker runs nothing else and the loop changes no
 * client, so run() may read the list in force. */
#include "gateway/roster.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
#include "gateway/ct.h"
#include "gateway/enforce.h"
#include "gateway/nft.h"
#include "policy/policy.h"
#include "tunnel/crypto.h"
#include "tunnel/log.h"
#include "tunnel/prefix.h"
#include "tunnel/wg.h"
#include "tunnel/worker.h"

struct roster {
	struct gw_config *cfg;
	char path[4096];
	struct wg_device *dev;
	struct enforce *policy;
	struct worker *worker;
};

int roster_new(struct roster **out, struct gw_config *cfg, const char *path, struct wg_device *dev,
               struct enforce *policy, struct worker *worker)
{
	struct roster *r = calloc(1, sizeof(*r));

	*out = r;
	if (!r)
		return -ENOMEM;
	*r = (struct roster){.cfg = cfg, .dev = dev, .policy = policy, .worker = worker};
	snprintf(r->path, sizeof(r->path), "%s", path);
	return 0;
}

void roster_free(struct roster *r)
{
	free(r);
}

/* ---- comparing two lists */

/* The clients in force (was) and the new ones (now), each by name; gone:
 * in was and not in now, or changed; added: in now and not in was, or
 * changed. Changed: another key, preshared key or address, whose peer is
 * replaced. */
struct delta {
	const struct gw_client **gone, **added;
	size_t n_gone, n_added;
};

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct gw_client *const *)a)->name,
	              (*(const struct gw_client *const *)b)->name);
}

static const struct gw_client **sorted(const struct gw_config *c)
{
	const struct gw_client **v = calloc(c->n_clients + 1, sizeof(*v));

	for (size_t i = 0; v && i < c->n_clients; i++)
		v[i] = &c->clients[i];
	if (v)
		qsort(v, c->n_clients, sizeof(*v), by_name);
	return v;
}

/* The same client in both lists: was's preshared key has been wiped, so
 * the keys are compared with the device's peer of that name. */
static bool same(const struct gw_client *was, const struct gw_client *now,
                 const struct wg_peer *peer)
{
	return peer && was->id == now->id && !prefix_cmp(&was->addr, &now->addr) &&
	       was->has_addr6 == now->has_addr6 &&
	       (!was->has_addr6 || !prefix_cmp(&was->addr6, &now->addr6)) &&
	       wg_peer_has_keys(peer, now->pub, now->has_psk ? now->psk : NULL);
}

/* The device's peers by name, as found for the sorted clients of c: peers[i]
 * is the peer of sorted client i, or NULL. Read on the loop only; run() uses
 * it between done()s, when the loop changes no peer either. */
static struct wg_peer **peers_of(struct wg_device *dev, const struct gw_client **v, size_t n)
{
	struct wg_peer **peers = calloc(n + 1, sizeof(*peers)), *p;

	for (size_t i = 0; peers && (p = wg_device_peer(dev, i)); i++) {
		struct gw_client key;
		const struct gw_client *k = &key, **hit;

		snprintf(key.name, sizeof(key.name), "%s", wg_peer_name(p));
		hit = bsearch(&k, v, n, sizeof(*v), by_name);
		if (hit)
			peers[hit - v] = p;
	}
	return peers;
}

static void delta_free(struct delta *d)
{
	free(d->gone);
	free(d->added);
	*d = (struct delta){0};
}

static int compare(struct wg_device *dev, const struct gw_config *was, const struct gw_config *now,
                   struct delta *d)
{
	const struct gw_client **w = sorted(was), **n = sorted(now);
	struct wg_peer **peers = w ? peers_of(dev, w, was->n_clients) : NULL;
	size_t i = 0, j = 0;
	int ret = -ENOMEM;

	*d = (struct delta){0};
	d->gone = calloc(was->n_clients + 1, sizeof(*d->gone));
	d->added = calloc(now->n_clients + 1, sizeof(*d->added));
	if (!n || !peers || !d->gone || !d->added)
		goto out;
	while (i < was->n_clients || j < now->n_clients) {
		int c = i == was->n_clients   ? 1
		        : j == now->n_clients ? -1
		                              : strcmp(w[i]->name, n[j]->name);

		if (c < 0) {
			d->gone[d->n_gone++] = w[i++];
		} else if (c > 0) {
			d->added[d->n_added++] = n[j++];
		} else {
			if (!same(w[i], n[j], peers[i])) {
				d->gone[d->n_gone++] = w[i];
				d->added[d->n_added++] = n[j];
			}
			i++;
			j++;
		}
	}
	ret = 0;
out:
	if (ret)
		delta_free(d);
	free(w);
	free(n);
	free(peers);
	return ret;
}

/* ---- a change */

struct change {
	struct roster *r;
	struct gw_config *now; /* the new list, in a copy of the settings in force */
	struct delta delta;
	uint32_t *gone_marks; /* the marks of delta.gone, sorted */
	struct enforce_change *policy;
	long ended; /* flows of the clients gone: ended, or -1 */
	char *msg;
	int ret;
};

static void change_free(struct change *c)
{
	if (!c)
		return;
	gw_config_free(c->now);
	delta_free(&c->delta);
	free(c->gone_marks);
	enforce_change_free(c->policy);
	free(c->msg);
	free(c);
}

/* Appends a line to c->msg. */
static void note(struct change *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct change *c, const char *fmt, ...)
{
	char *line = NULL, *all = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (!c->msg) {
		c->msg = line;
		return;
	}
	if (asprintf(&all, "%s; %s", c->msg, line) >= 0) {
		free(c->msg);
		c->msg = all;
	}
	free(line);
}

/* The settings of loaded that are not its clients, against those in force:
 * they take a restart, so the ones in force stay; said, not refused. */
static void settings_kept(struct change *c, const struct gw_config *was,
                          const struct gw_config *loaded)
{
	static const char none[] = "";
	const char *what = none;

	if (strcmp(was->ifname, loaded->ifname))
		what = "interface";
	else if (was->listen_port != loaded->listen_port)
		what = "listen_port";
	else if (prefix_cmp(&was->addr, &loaded->addr) || was->has_addr6 != loaded->has_addr6 ||
	         (was->has_addr6 && prefix_cmp(&was->addr6, &loaded->addr6)))
		what = "address";
	else if (strcmp(was->uplink, loaded->uplink))
		what = "uplink";
	else if (was->mtu != loaded->mtu)
		what = "mtu";
	else if (was->mark_tag != loaded->mark_tag || was->mark_id_mask != loaded->mark_id_mask)
		what = "the marks";
	else if (strcmp(was->control_socket, loaded->control_socket) ||
	         strcmp(was->control_group, loaded->control_group))
		what = "the control socket";
	else if (strcmp(was->policy_file, loaded->policy_file))
		what = "policy_file";
	if (what != none)
		note(c, "%s (and any other setting but the clients) changes at the next start",
		     what);
}

/* The new list in a copy of the settings in force, which it takes over:
 * loaded's clients go into it. */
static struct gw_config *with_clients(const struct gw_config *was, struct gw_config *loaded)
{
	struct gw_config *now = malloc(sizeof(*now));

	if (!now)
		return NULL;
	*now = *was;
	now->clients = loaded->clients;
	now->n_clients = loaded->n_clients;
	loaded->clients = NULL;
	loaded->n_clients = 0;
	return now;
}

static int mark_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Whether a flow is one of a client that goes (or changes). */
static bool of_gone(void *arg, const struct ct_flow *f)
{
	const struct change *c = arg;

	return bsearch(&f->mark, c->gone_marks, c->delta.n_gone, sizeof(*c->gone_marks),
	               mark_cmp) != NULL;
}

/* Ends the flows of the clients gone: their marks may be another's soon. */
static void end_flows(struct change *c)
{
	c->gone_marks = calloc(c->delta.n_gone + 1, sizeof(*c->gone_marks));
	if (!c->gone_marks) {
		c->ended = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < c->delta.n_gone; i++)
		c->gone_marks[i] = nft_client_mark(c->now->mark_tag, c->delta.gone[i]->id);
	qsort(c->gone_marks, c->delta.n_gone, sizeof(*c->gone_marks), mark_cmp);
	c->ended = ct_kill(c->now->mark_tag, ~c->now->mark_id_mask, of_gone, c);
}

static void reload_run(void *arg)
{
	struct change *c = arg;
	struct roster *r = c->r;
	struct gw_config *loaded = NULL;
	char err[1024];
	int ret;

	ret = gw_config_load(r->path, &loaded, err, sizeof(err));
	if (ret < 0) {
		note(c, "%s", err);
		goto out;
	}
	settings_kept(c, r->cfg, loaded);
	c->now = with_clients(r->cfg, loaded);
	ret = c->now ? compare(r->dev, r->cfg, c->now, &c->delta) : -ENOMEM;
	if (ret == 0) {
		char *msg = NULL;

		ret = enforce_clients_prepare(r->policy, c->now, true, &c->policy, &msg);
		if (msg)
			note(c, "%s", msg);
		free(msg);
	}
	if (ret == 0 && c->delta.n_gone)
		end_flows(c);
out:
	gw_config_free(loaded);
	c->ret = ret;
}

/* On the loop: the peers of the clients gone, then of the added ones. */
static void change_peers(struct roster *r, const struct delta *d)
{
	const struct gw_client **gone = d->gone;
	struct wg_peer **peers = peers_of(r->dev, gone, d->n_gone);

	/* gone is sorted by name: a merge of two sorted lists keeps it so. */
	if (!peers) {
		log_errx("client list: out of memory; the device keeps its peers");
		return;
	}
	for (size_t i = 0; i < d->n_gone; i++)
		if (peers[i])
			wg_peer_remove(peers[i]);
	free(peers);
	for (size_t i = 0; i < d->n_added; i++) {
		const struct gw_client *c = d->added[i];
		struct prefix allowed[2] = {c->addr, c->addr6};
		struct wg_peer_params pp = {
		        .name = c->name,
		        .public_key = c->pub,
		        .psk = c->has_psk ? c->psk : NULL,
		        .allowed = allowed,
		        .n_allowed = c->has_addr6 ? 2 : 1,
		};

		if (!wg_peer_add(r->dev, &pp))
			log_err("client %s: cannot add its peer", c->name);
	}
}

/* On the loop: the new list in force. */
static void commit(struct change *c)
{
	struct roster *r = c->r;
	struct gw_client *old = r->cfg->clients;
	size_t n_old = r->cfg->n_clients;

	change_peers(r, &c->delta);
	r->cfg->clients = c->now->clients;
	r->cfg->n_clients = c->now->n_clients;
	/* The device holds its own copies of the keys now. */
	gw_config_wipe_keys(r->cfg);
	c->now->clients = old;
	c->now->n_clients = n_old;
	enforce_commit(r->policy, c->policy);
	c->policy = NULL;
}

static void reload_done(void *arg)
{
	struct change *c = arg;

	if (c->ret < 0) {
		log_errx("SIGHUP: nothing changed, the clients and the policy in force stay: %s",
		         c->msg ? c->msg : strerror(-c->ret));
		change_free(c);
		return;
	}
	commit(c);
	log_info("SIGHUP: clients: %zu configured (%zu added, %zu removed; a changed one counts "
	         "in both), policy %s in force (%zu rules)%s%s",
	         c->r->cfg->n_clients, c->delta.n_added, c->delta.n_gone,
	         enforce_source(c->r->policy), policy_rule_count(enforce_policy(c->r->policy)),
	         c->msg ? "; " : "", c->msg ? c->msg : "");
	if (c->ended > 0)
		log_info("SIGHUP: ended %ld flows of clients removed or changed", c->ended);
	else if (c->ended < 0 && c->delta.n_gone)
		log_warnx("SIGHUP: cannot end the flows of clients removed: %s",
		          strerror((int)-c->ended));
	change_free(c); /* with the old list, which c->now holds now */
}

static void reload_cancel(void *arg)
{
	change_free(arg);
}

void roster_reload(struct roster *r)
{
	struct change *c = calloc(1, sizeof(*c));
	int e = c ? 0 : -ENOMEM;

	if (c) {
		c->r = r;
		c->ended = -1;
		e = worker_submit(r->worker, reload_run, reload_done, reload_cancel, c);
	}
	if (e < 0) {
		log_errx("SIGHUP: not reloaded: %s",
		         e == -EBUSY ? "too many changes waiting" : strerror(-e));
		free(c);
	}
}
