/* The client list while gatewayd runs: see roster.h. A change is a job:
 * run() on the worker reads the new list, compares it with the one in force,
 * has enforce put it in the kernel and ends the flows of the clients that
 * go; done() on the loop swaps the lists and changes the device's peers.
 * Between the two, the worker runs nothing else and the loop changes no
 * client, so run() may read the list in force.
 *
 * client add and remove edit gateway.yaml. While the file is the text the
 * list in force was read from, they take the index of that text
 * (onboard.h): the edit, the new list and which client comes or goes, all
 * without parsing the file (four parses of 0.3-0.7 s each at 60,000
 * clients). The index is made on the worker after the start and after each
 * change that did not give one (a reload, an edit of a file changed by
 * hand), and only when the file's clients and settings are those in force;
 * otherwise an edit parses the file as a reload does. */
#include "gateway/roster.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/ct.h"
#include "gateway/enforce.h"
#include "gateway/nft.h"
#include "gateway/onboard.h"
#include "policy/policy.h"
#include "tunnel/conf.h"
#include "tunnel/crypto.h"
#include "tunnel/ctl.h"
#include "tunnel/file.h"
#include "tunnel/key.h"
#include "tunnel/log.h"
#include "tunnel/msg.h"
#include "tunnel/prefix.h"
#include "tunnel/wg.h"
#include "tunnel/worker.h"

struct roster {
	struct gw_config *cfg;
	char path[4096];
	struct wg_device *dev;
	struct enforce *policy;
	struct worker *worker;
	/* the index of the text r->cfg's clients were read from, NULL while
	 * there is none; replaced on the loop, read by run()s */
	struct onboard_index *index;
	bool indexing; /* an index job is waiting or running */
};

static void want_index(struct roster *r);
static const struct gw_client *client_named(const struct gw_config *cfg, const char *name);
static const char *setting_changed(const struct gw_config *was, const struct gw_config *loaded);
static void config_dir(const struct roster *r, char *dir, size_t size);

int roster_new(struct roster **out, struct gw_config *cfg, const char *path, struct wg_device *dev,
               struct enforce *policy, struct worker *worker)
{
	struct roster *r = calloc(1, sizeof(*r));

	*out = r;
	if (!r)
		return -ENOMEM;
	*r = (struct roster){.cfg = cfg, .dev = dev, .policy = policy, .worker = worker};
	snprintf(r->path, sizeof(r->path), "%s", path);
	want_index(r);
	return 0;
}

void roster_free(struct roster *r)
{
	if (r)
		onboard_index_free(r->index);
	free(r);
}

struct wg_peer *roster_add_peer(struct wg_device *dev, const struct gw_client *c)
{
	struct prefix allowed[2] = {c->addr, c->addr6};
	struct wg_peer_params pp = {
	        .name = c->name,
	        .public_key = c->pub,
	        .psk = c->has_psk ? c->psk : NULL,
	        .allowed = allowed,
	        .n_allowed = c->has_addr6 ? 2 : 1,
	};

	return wg_peer_add(dev, &pp);
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

/* A copy of c that owns its own list. */
static struct gw_config *config_copy(const struct gw_config *c)
{
	struct gw_config *n = malloc(sizeof(*n));

	if (!n)
		return NULL;
	*n = *c;
	n->clients = malloc((c->n_clients + 1) * sizeof(*n->clients));
	if (!n->clients) {
		free(n);
		return NULL;
	}
	memcpy(n->clients, c->clients, c->n_clients * sizeof(*n->clients));
	return n;
}

/* The same clients in the same order (keys aside: those in force are
 * wiped). */
static bool same_list(const struct gw_config *a, const struct gw_config *b)
{
	if (a->n_clients != b->n_clients)
		return false;
	for (size_t i = 0; i < a->n_clients; i++) {
		const struct gw_client *x = &a->clients[i], *y = &b->clients[i];

		if (strcmp(x->name, y->name) || memcmp(x->pub, y->pub, sizeof(x->pub)) ||
		    prefix_cmp(&x->addr, &y->addr) || x->has_addr6 != y->has_addr6 ||
		    (x->has_addr6 && prefix_cmp(&x->addr6, &y->addr6)) ||
		    x->has_psk != y->has_psk || x->id != y->id)
			return false;
	}
	return true;
}

/* ---- the index of gateway.yaml */

struct index_job {
	struct roster *r;
	struct onboard_index *ix;
};

/* On the worker: the file indexed, when it holds the list and the settings
 * in force. */
static void index_run(void *arg)
{
	struct index_job *j = arg;
	const struct gw_config *in_force = j->r->cfg;
	char *text = NULL, err[1024], dir[4096];
	const char *why = NULL;
	size_t len;
	int ret;

	ret = enforce_read_file(j->r->path, &text, &len);
	if (ret < 0) {
		log_debug("%s not indexed: %s", j->r->path, strerror(-ret));
		return;
	}
	config_dir(j->r, dir, sizeof(dir));
	ret = onboard_index_new(text, len, dir, &j->ix, err, sizeof(err));
	free(text);
	if (ret < 0)
		why = err;
	else if (!same_list(onboard_index_config(j->ix), in_force))
		why = "its clients are not those in force";
	else if (setting_changed(in_force, onboard_index_config(j->ix)))
		why = "its settings are not those in force";
	if (why) {
		log_debug("%s not indexed: %s; client add and remove parse it", j->r->path, why);
		onboard_index_free(j->ix);
		j->ix = NULL;
	}
}

static void index_done(void *arg)
{
	struct index_job *j = arg;

	j->r->indexing = false;
	if (!j->r->index && j->ix) {
		log_debug("%s indexed (%zu clients): client add and remove edit it without "
		          "parsing it",
		          j->r->path, onboard_index_config(j->ix)->n_clients);
		j->r->index = j->ix;
		j->ix = NULL;
	}
	onboard_index_free(j->ix);
	free(j);
}

static void index_cancel(void *arg)
{
	struct index_job *j = arg;

	onboard_index_free(j->ix);
	free(j);
}

/* An index job, unless there is an index or one is coming. Without one,
 * edits parse the file. */
static void want_index(struct roster *r)
{
	struct index_job *j;

	if (r->index || r->indexing)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->r = r;
	if (worker_submit(r->worker, index_run, index_done, index_cancel, j) < 0) {
		free(j);
		return;
	}
	r->indexing = true;
}

/* ---- a change */

enum kind { RELOAD, ADD, REMOVE };

struct change {
	struct roster *r;
	enum kind kind;
	/* client add and remove: the client, and the request to answer */
	char name[GW_NAME_MAX];
	uint8_t pub[32], psk[32];
	bool has_psk, has_address;
	struct prefix address;
	struct ctl_pending *pending;
	char psk_path[4200];   /* the psk file written, removed again on failure */
	json_t *data;          /* the reply's */
	struct gw_config *now; /* the new list, in a copy of the settings in force */
	struct delta delta;
	uint32_t *gone_marks; /* the marks of delta.gone, sorted */
	struct enforce_change *policy;
	/* an edit by the index: the new text's index, taken by commit() */
	struct onboard_index *next_index;
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
	crypto_wipe(c->psk, sizeof(c->psk));
	json_decref(c->data);
	enforce_change_free(c->policy);
	onboard_index_free(c->next_index);
	free(c->msg);
	free(c);
}

/* A line more of c->msg, which ends in one log line or one reply. */
#define note(c, ...) msg_add(&(c)->msg, "; ", __VA_ARGS__)

/* The settings of loaded that are not its clients, against those in force:
 * they take a restart, so the ones in force stay; said, not refused. */
static const char *setting_changed(const struct gw_config *was, const struct gw_config *loaded)
{
	const char *what = NULL;

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
	else if (memcmp(&was->offload, &loaded->offload, sizeof(was->offload)))
		what = "offload";
	else if (was->mark_tag != loaded->mark_tag || was->mark_id_mask != loaded->mark_id_mask)
		what = "the marks";
	else if (strcmp(was->control_socket, loaded->control_socket) ||
	         strcmp(was->control_group, loaded->control_group))
		what = "the control socket";
	else if (strcmp(was->policy_file, loaded->policy_file))
		what = "policy_file";
	return what;
}

static void settings_kept(struct change *c, const struct gw_config *was,
                          const struct gw_config *loaded)
{
	const char *what = setting_changed(was, loaded);

	if (what)
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

/* The delta of an edit by the index, which knows it: the client it added
 * last to the new list, or the one of the list in force that it removed. */
static int known_delta(struct change *c)
{
	struct delta *d = &c->delta;

	*d = (struct delta){0};
	d->gone = calloc(2, sizeof(*d->gone));
	d->added = calloc(2, sizeof(*d->added));
	if (!d->gone || !d->added) {
		delta_free(d);
		return -ENOMEM;
	}
	if (c->kind == ADD)
		d->added[d->n_added++] = &c->now->clients[c->now->n_clients - 1];
	else if ((d->gone[0] = client_named(c->r->cfg, c->name)))
		d->n_gone = 1;
	return 0;
}

/* On the worker: loaded's clients in the kernel, compared with those in
 * force (known: the delta is known_delta()'s, and the settings are those in
 * force); with reread, the policy file too. Takes loaded. */
static int prepare(struct change *c, struct gw_config *loaded, bool reread, bool known)
{
	struct roster *r = c->r;
	int ret;

	if (!known)
		settings_kept(c, r->cfg, loaded);
	c->now = with_clients(r->cfg, loaded);
	gw_config_free(loaded);
	ret = !c->now ? -ENOMEM
	      : known ? known_delta(c)
	              : compare(r->dev, r->cfg, c->now, &c->delta);
	if (ret == 0) {
		const struct enforce_delta d = {
		        .gone = c->delta.gone,
		        .added = c->delta.added,
		        .n_gone = c->delta.n_gone,
		        .n_added = c->delta.n_added,
		};
		char *msg = NULL;

		ret = enforce_clients_prepare(r->policy, c->now, reread, &d, &c->policy, &msg);
		if (msg)
			note(c, "%s", msg);
		free(msg);
	}
	return ret;
}

static void reload_run(void *arg)
{
	struct change *c = arg;
	struct gw_config *loaded = NULL;
	char err[1024];
	int ret;

	ret = gw_config_load(c->r->path, &loaded, err, sizeof(err));
	if (ret < 0)
		note(c, "%s", err);
	else
		ret = prepare(c, loaded, true, false);
	if (ret == 0 && c->delta.n_gone)
		end_flows(c);
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
	for (size_t i = 0; i < d->n_added; i++)
		if (!roster_add_peer(r->dev, d->added[i]))
			log_err("client %s: cannot add its peer", d->added[i]->name);
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
	onboard_index_free(r->index);
	r->index = c->next_index;
	c->next_index = NULL;
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
	want_index(c->r);
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

/* ---- client add and remove: gateway.yaml edited, then in force */

/* The directory of the configuration, where its relative paths start. */
static void config_dir(const struct roster *r, char *dir, size_t size)
{
	const char *slash = strrchr(r->path, '/');

	if (!slash)
		snprintf(dir, size, ".");
	else if (slash == r->path)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - r->path), r->path);
}

static const struct gw_client *client_named(const struct gw_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_clients; i++)
		if (!strcmp(cfg->clients[i].name, name))
			return &cfg->clients[i];
	return NULL;
}

/* gateway.yaml's text as it is now, and its directory, for an edit. */
static int read_config(struct change *c, char *dir, size_t size, char **text, size_t *len)
{
	int ret;

	config_dir(c->r, dir, size);
	ret = enforce_read_file(c->r->path, text, len);
	if (ret < 0)
		note(c, "cannot read %s: %s", c->r->path, strerror(-ret));
	return ret;
}

/* The edited text in force: parsed with its key files, prepared like a
 * reload (the policy in force, not read again), then written over
 * gateway.yaml. 0, or -errno with c->msg. */
static int take_edit(struct change *c, const char *dir, const char *text, size_t len)
{
	struct roster *r = c->r;
	struct gw_config *loaded = NULL;
	char err[1024], tmp[4200];
	struct stat st;
	int ret;

	if (c->next_index) {
		/* By the index: its list, the new client's key the one given. */
		loaded = config_copy(onboard_index_config(c->next_index));
		ret = loaded ? 0 : -ENOMEM;
		if (loaded && c->kind == ADD && c->has_psk)
			memcpy(loaded->clients[loaded->n_clients - 1].psk, c->psk, sizeof(c->psk));
	} else {
		ret = gw_config_parse_flags(r->path, dir, text, len, 0, &loaded, err, sizeof(err));
	}
	if (ret < 0) {
		note(c, "%s", ret == -ENOMEM ? "out of memory" : err);
		return ret;
	}
	/* gateway.yaml keeps its mode; written first, so that a change the
	 * next start would undo never reaches the kernel. */
	ret = file_write_temp(r->path, text, len,
	                      stat(r->path, &st) == 0 ? st.st_mode & 07777 : 0644, tmp,
	                      sizeof(tmp));
	if (ret < 0) {
		gw_config_free(loaded);
		note(c, "cannot write %s: %s", r->path, strerror(-ret));
		return ret;
	}
	ret = prepare(c, loaded, false, c->next_index != NULL);
	if (ret < 0) {
		unlink(tmp);
		return ret;
	}
	if (rename(tmp, r->path) < 0) {
		note(c,
		     "warning: the change is in force, but %s could not take it (%s): a restart "
		     "or SIGHUP goes back to the file",
		     r->path, strerror(errno));
		unlink(tmp);
	}
	return 0;
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* The reply to client.add: what the new edge needs (its keys are its own). */
static json_t *added_json(const struct change *c, const struct gw_client *cl)
{
	char a4[PREFIX_STRLEN], a6[PREFIX_STRLEN], pub[KEY_B64_LEN + 1];

	key_to_base64(pub, wg_device_public_key(c->r->dev));
	return json_pack(
	        "{s:s, s:s, s:o, s:s, s:o, s:i, s:i, s:o}", "name", cl->name, "address",
	        prefix_format_addr(&cl->addr, a4, sizeof(a4)), "address6",
	        str_or_null(cl->has_addr6 ? prefix_format_addr(&cl->addr6, a6, sizeof(a6)) : NULL),
	        "gateway_public_key", pub, "endpoint", str_or_null(c->r->cfg->endpoint),
	        "listen_port", (int)wg_device_port(c->r->dev), "mtu", (int)c->r->cfg->mtu,
	        "preshared_key_file", str_or_null(c->has_psk ? c->psk_path : NULL));
}

/* The psk file beside gateway.yaml, for the entry to name. */
static int write_psk(struct change *c, const char *dir)
{
	char b64[KEY_B64_LEN + 2];
	int ret;

	snprintf(c->psk_path, sizeof(c->psk_path), "%s/%s.psk", dir, c->name);
	key_to_base64(b64, c->psk);
	strcat(b64, "\n");
	ret = file_create(c->psk_path, b64, strlen(b64), 0600);
	crypto_wipe(b64, sizeof(b64));
	if (ret == -EEXIST)
		note(c,
		     "%s exists already; a new client's preshared key is not written over a file",
		     c->psk_path);
	else if (ret < 0)
		note(c, "cannot write %s: %s", c->psk_path, strerror(-ret));
	if (ret < 0)
		c->psk_path[0] = '\0';
	return ret;
}

static void add_run(void *arg)
{
	struct change *c = arg;
	struct roster *r = c->r;
	struct onboard_client oc = {.name = c->name, .addr = c->address};
	struct gw_config *file = NULL;
	const struct gw_config *cur;
	char dir[4096], err[1024], *text = NULL, *edited = NULL, psk_file[GW_NAME_MAX + 8];
	size_t len, elen;
	bool indexed;
	int ret;

	ret = read_config(c, dir, sizeof(dir), &text, &len);
	if (ret < 0)
		goto out;
	/* The address from the file as it is now. */
	indexed = r->index && onboard_index_is(r->index, text, len);
	if (!indexed) {
		ret = gw_config_parse_flags(r->path, dir, text, len, GW_CONFIG_NO_KEY_FILES, &file,
		                            err, sizeof(err));
		if (ret < 0) {
			note(c, "%s", err);
			goto out;
		}
	}
	cur = indexed ? onboard_index_config(r->index) : file;
	if (!c->has_address) {
		ret = onboard_next_address(cur, &oc.addr, &oc.has_addr6, &oc.addr6);
		if (ret == -ENOSPC)
			note(c, "no free address left in the client subnet");
	} else if (cur->has_addr6) {
		ret = onboard_address6_of(cur, &oc.addr, &oc.addr6);
		oc.has_addr6 = ret == 0;
		if (ret == -ERANGE)
			note(c, "the address's host id does not fit the IPv6 subnet");
	}
	if (ret < 0)
		goto out;
	memcpy(oc.pub, c->pub, sizeof(oc.pub));
	if (c->has_psk) {
		ret = write_psk(c, dir);
		if (ret < 0)
			goto out;
		snprintf(psk_file, sizeof(psk_file), "%s.psk", c->name);
		oc.psk_file = psk_file;
	}
	if (indexed)
		ret = onboard_index_add(r->index, &oc, &edited, &elen, &c->next_index, err,
		                        sizeof(err));
	else
		ret = onboard_yaml_add_client(text, len, &oc, &edited, &elen, err, sizeof(err));
	if (ret < 0)
		note(c, "%s", err);
	else
		ret = take_edit(c, dir, edited, elen);
	if (ret == 0) {
		const struct gw_client *cl = client_named(c->now, c->name);

		c->data = cl ? added_json(c, cl) : NULL;
		ret = c->data ? 0 : -ENOMEM;
	}
out:
	if (ret < 0 && c->psk_path[0])
		unlink(c->psk_path);
	gw_config_free(file);
	free(text);
	free(edited);
	c->ret = ret;
}

static void remove_run(void *arg)
{
	struct change *c = arg;
	char dir[4096], err[1024], *text = NULL, *edited = NULL;
	size_t len, elen;
	int ret;

	ret = read_config(c, dir, sizeof(dir), &text, &len);
	if (ret == 0) {
		if (c->r->index && onboard_index_is(c->r->index, text, len))
			ret = onboard_index_remove(c->r->index, c->name, &edited, &elen,
			                           &c->next_index, err, sizeof(err));
		else
			ret = onboard_yaml_remove_client(text, len, c->name, &edited, &elen, err,
			                                 sizeof(err));
		if (ret < 0)
			note(c, "%s", err);
	}
	if (ret == 0)
		ret = take_edit(c, dir, edited, elen);
	if (ret == 0) {
		end_flows(c);
		c->data = json_pack("{s:s, s:I}", "name", c->name, "flows_ended",
		                    (json_int_t)(c->ended > 0 ? c->ended : 0));
		ret = c->data ? 0 : -ENOMEM;
	}
	free(text);
	free(edited);
	c->ret = ret;
}

static void edit_done(void *arg)
{
	struct change *c = arg;
	json_t *data = c->data;

	c->data = NULL;
	if (c->ret < 0) {
		ctl_pending_reply(c->pending, c->ret, data, c->msg ? c->msg : strerror(-c->ret));
		change_free(c);
		return;
	}
	if (c->next_index)
		log_debug("client %s: %s edited by its index", c->name, c->r->path);
	commit(c);
	want_index(c->r);
	if (c->kind == ADD)
		log_info("client %s added (%zu clients)", c->name, c->r->cfg->n_clients);
	else
		log_info("client %s removed (%zu clients), %ld of its flows ended", c->name,
		         c->r->cfg->n_clients, c->ended > 0 ? c->ended : 0);
	if (c->msg)
		log_warnx("client %s: %s", c->name, c->msg);
	ctl_pending_reply(c->pending, 0, data, NULL);
	change_free(c);
}

static void edit_cancel(void *arg)
{
	struct change *c = arg;

	ctl_pending_reply(c->pending, -ECANCELED, NULL, "gatewayd is stopping");
	if (c->psk_path[0])
		unlink(c->psk_path);
	change_free(c);
}

static int submit(struct change *c, worker_fn *run, struct ctl_request *req, char *err,
                  size_t errlen)
{
	int ret;

	c->pending = ctl_defer(req);
	ret = worker_submit(c->r->worker, run, edit_done, edit_cancel, c);
	if (ret < 0) {
		/* Answered by the caller's return: the token goes with the
		 * request. */
		snprintf(err, errlen,
		         ret == -EBUSY ? "too many changes waiting; try again" : "out of memory");
		change_free(c);
		return ret;
	}
	return CTL_DEFERRED;
}

int roster_cmd_add(struct roster *r, struct ctl_request *req, json_t **data, char *err,
                   size_t errlen)
{
	static const char *const known[] = {"name", "public_key", "address", "preshared_key", NULL};
	const char *name, *pub, *addr = NULL, *psk = NULL;
	struct change *c;
	int ret;

	(void)data;
	ret = ctl_args_check(req->args, known, err, errlen);
	if (!ret)
		ret = ctl_arg_str(req->args, "name", true, &name, err, errlen);
	if (!ret)
		ret = ctl_arg_str(req->args, "public_key", true, &pub, err, errlen);
	if (!ret && ctl_arg_str(req->args, "address", false, &addr, err, errlen) == -EINVAL)
		ret = -EINVAL;
	if (!ret && ctl_arg_str(req->args, "preshared_key", false, &psk, err, errlen) == -EINVAL)
		ret = -EINVAL;
	if (ret)
		return ret;
	if (!conf_name_ok(name, GW_NAME_MAX - 1)) {
		snprintf(err, errlen, "\"%.40s\" is not a client name (1-31 of A-Z a-z 0-9 _ . -)",
		         name);
		return -EINVAL;
	}
	if (client_named(r->cfg, name)) {
		snprintf(err, errlen, "a client named %s exists already", name);
		return -EEXIST;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct change){.r = r, .kind = ADD, .ended = -1};
	snprintf(c->name, sizeof(c->name), "%s", name);
	ret = key_from_base64(c->pub, pub);
	if (ret == 0 && psk) {
		c->has_psk = true;
		ret = key_from_base64(c->psk, psk);
	}
	if (ret < 0) {
		snprintf(err, errlen, "%s is not a base64 key of 32 bytes",
		         c->has_psk ? "preshared_key" : "public_key");
		change_free(c);
		return -EINVAL;
	}
	if (addr) {
		c->has_address = true;
		if (prefix_parse(&c->address, addr, AF_INET) < 0 || c->address.len != 32) {
			snprintf(err, errlen, "address \"%.60s\" is not an IPv4 address", addr);
			change_free(c);
			return -EINVAL;
		}
	}
	return submit(c, add_run, req, err, errlen);
}

int roster_cmd_remove(struct roster *r, struct ctl_request *req, json_t **data, char *err,
                      size_t errlen)
{
	static const char *const known[] = {"name", NULL};
	const struct policy *p = enforce_policy(r->policy);
	json_t *rules;
	const char *name;
	struct change *c;
	int ret;

	ret = ctl_args_check(req->args, known, err, errlen);
	if (!ret)
		ret = ctl_arg_str(req->args, "name", true, &name, err, errlen);
	if (ret)
		return ret;
	if (!client_named(r->cfg, name)) {
		snprintf(err, errlen, "no client named %.40s", name);
		return -ENOENT;
	}
	/* The policy in force must not name it: say which rules do. */
	rules = json_array();
	for (size_t i = 0; rules && i < policy_rule_count(p); i++)
		if (policy_rule_names(p, i, name))
			json_array_append_new(rules, json_string(policy_rule_name(p, i)));
	if (!rules)
		return -ENOMEM;
	if (json_array_size(rules)) {
		char list[512] = "";
		size_t i;
		json_t *v;

		json_array_foreach(rules, i, v)
		{
			size_t n = strlen(list);
			snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
			         json_string_value(v));
		}
		snprintf(err, errlen,
		         "client %s is named by the policy in force (rules %s): take it out of "
		         "them first",
		         name, list);
		*data = json_pack("{s:o}", "rules", rules);
		return -EBUSY;
	}
	json_decref(rules);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct change){.r = r, .kind = REMOVE, .ended = -1};
	snprintf(c->name, sizeof(c->name), "%s", name);
	return submit(c, remove_run, req, err, errlen);
}
