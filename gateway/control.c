/* gatewayd's commands over the control socket: see control.h. Each handler
 * checks its arguments and builds the data of its reply; the socket layer
 * (tunnel/ctl) has already checked the request's shape. */
#include "gateway/control.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/clients.h"
#include "gateway/config.h"
#include "gateway/enforce.h"
#include "gateway/flows.h"
#include "gateway/nft.h"
#include "gateway/roster.h"
#include "policy/policy.h"
#include "tunnel/ctl.h"
#include "tunnel/key.h"
#include "tunnel/log.h"
#include "tunnel/sysctl.h"
#include "tunnel/wg.h"
#include "tunnel/worker.h"

#ifndef EGRESS_VERSION
#error "EGRESS_VERSION comes from CMake's project(VERSION)"
#endif

struct control {
	struct control_view view;
	struct ctl_server *srv;
};

typedef int (*command_fn)(const struct control_view *v, struct ctl_request *req, json_t **data,
                          char *err, size_t errlen);

static void iso_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "?");
}

/* status: what runs, since when, its clients, conntrack's table and the
 * policy in force. */
static json_t *conntrack_json(const struct control_view *v)
{
	char count[32], max[32];
	uint64_t n, m;

	/* Namespaced, read-only in a namespace: read, never set. */
	if (sysctl_read("net/netfilter/nf_conntrack_count", count, sizeof(count)) < 0 ||
	    sysctl_read("net/netfilter/nf_conntrack_max", max, sizeof(max)) < 0)
		return json_null();
	n = strtoull(count, NULL, 10);
	m = strtoull(max, NULL, 10);
	return json_pack("{s:I, s:I, s:i, s:b}", "count", (json_int_t)n, "max", (json_int_t)m,
	                 "warn_percent", (int)v->cfg->conntrack_warn_percent, "warning",
	                 m && n * 100 > m * v->cfg->conntrack_warn_percent);
}

static json_t *policy_json(const struct control_view *v)
{
	char when[32];

	if (!v->policy)
		return json_null();
	iso_time(enforce_applied(v->policy), when, sizeof(when));
	return json_pack("{s:s, s:b, s:I, s:s, s:I}", "source", enforce_source(v->policy),
	                 "builtin", enforce_builtin(v->policy), "rules",
	                 (json_int_t)policy_rule_count(enforce_policy(v->policy)), "applied", when,
	                 "applied_unix", (json_int_t)enforce_applied(v->policy));
}

/* The offloads in use and what they did (tunnel/wg.h). */
static json_t *offload_json(const struct control_view *v, uint64_t now)
{
	struct wg_device_stats s;

	wg_device_stats(v->dev, now, &s);
	return json_pack("{s:b, s:b, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "tun_tso",
	                 s.offload.tun_tso, "tun_uso", s.offload.tun_uso, "udp_gso",
	                 s.offload.udp_gso, "udp_gro", s.offload.udp_gro, "tun_coalescing",
	                 s.tun_coalescing, "superpackets_read", (json_int_t)s.tun_super_rx,
	                 "superpackets_written", (json_int_t)s.tun_super_tx, "trains_sent",
	                 (json_int_t)s.gso_sends, "trains_received", (json_int_t)s.gro_trains,
	                 "fallbacks", (json_int_t)s.fallbacks, "tun_drops",
	                 (json_int_t)s.tun_drops);
}

static int cmd_status(const struct control_view *v, struct ctl_request *req, json_t **data,
                      char *err, size_t errlen)
{
	static const char *const known[] = {NULL};
	char pub[KEY_B64_LEN + 1];
	uint64_t now = wg_now();
	size_t connected = 0;
	struct wg_peer *p;
	int ret;

	ret = ctl_args_check(req->args, known, err, errlen);
	if (ret)
		return ret;
	for (size_t i = 0; (p = wg_device_peer(v->dev, i)); i++) {
		struct wg_peer_stats st;

		wg_peer_stats(p, now, &st);
		connected += clients_connected(&st, now);
	}
	key_to_base64(pub, wg_device_public_key(v->dev));
	*data = json_pack("{s:s, s:I, s:s, s:o, s:i, s:s, s:o, s:{s:I, s:I}, s:o, s:o, s:o}",
	                  "version", EGRESS_VERSION, "uptime",
	                  (json_int_t)((now - v->started) / 1000000000u), "interface",
	                  v->cfg->ifname, "uplink",
	                  v->cfg->uplink[0] ? json_string(v->cfg->uplink) : json_null(),
	                  "listen_port", (int)wg_device_port(v->dev), "public_key", pub, "endpoint",
	                  v->cfg->endpoint[0] ? json_string(v->cfg->endpoint) : json_null(),
	                  "clients", "configured", (json_int_t)v->cfg->n_clients, "connected",
	                  (json_int_t)connected, "conntrack", conntrack_json(v), "policy",
	                  policy_json(v), "offload", offload_json(v, now));
	return *data ? 0 : -ENOMEM;
}

/* ---- the client list */

/* client.add and client.remove: roster.c's, where a running gatewayd has
 * its client list (tests have none). */
static int client_change(const struct control_view *v, struct ctl_request *req, json_t **data,
                         char *err, size_t errlen)
{
	if (!v->roster) {
		snprintf(err, errlen, "clients cannot be changed here");
		return -EOPNOTSUPP;
	}
	if (!strcmp(req->cmd, "client.add"))
		return roster_cmd_add(v->roster, req, data, err, errlen);
	return roster_cmd_remove(v->roster, req, data, err, errlen);
}

/* ---- the policy */

/* A refusal with the whole of msg: its first line (or all that fits) as the
 * error, every line in data.messages. */
static int refuse(int ret, char *msg, json_t **data, char *err, size_t errlen)
{
	json_t *lines = json_array();
	char *save = NULL, *line;

	snprintf(err, errlen, "%s", msg ? msg : strerror(-ret));
	for (line = msg ? strtok_r(msg, "\n", &save) : NULL; line && lines;
	     line = strtok_r(NULL, "\n", &save))
		json_array_append_new(lines, json_string(line));
	*data = lines ? json_pack("{s:o}", "messages", lines) : NULL;
	free(msg);
	return ret;
}

/* msg's lines as a JSON array (msg is freed). */
static json_t *lines_of(char *msg)
{
	json_t *a = json_array();
	char *save = NULL, *line;

	for (line = msg ? strtok_r(msg, "\n", &save) : NULL; line && a;
	     line = strtok_r(NULL, "\n", &save))
		json_array_append_new(a, json_string(line));
	free(msg);
	return a;
}

static int need_policy(const struct control_view *v, char *err, size_t errlen)
{
	if (v->policy)
		return 0;
	snprintf(err, errlen, "no policy in force");
	return -ENOENT;
}

/* The policy file of a request: the descriptor passed with it, or
 * args.text; args.name names it in messages. */
static int policy_arg(struct ctl_request *req, const char **name, char **buf, size_t *len,
                      char *err, size_t errlen)
{
	const char *text;
	int ret;

	*name = "policy";
	ret = ctl_arg_str(req->args, "name", false, name, err, errlen);
	if (ret == -EINVAL)
		return ret;
	if (req->fd >= 0)
		return ctl_fd_read(req->fd, ENFORCE_FILE_MAX, buf, len, err, errlen);
	ret = ctl_arg_str(req->args, "text", true, &text, err, errlen);
	if (ret < 0) {
		if (ret == -ENOENT)
			snprintf(err, errlen, "no policy file: pass its descriptor or args.text");
		return -EINVAL;
	}
	*len = strlen(text);
	*buf = strndup(text, *len);
	return *buf ? 0 : -ENOMEM;
}

/* ---- the commands that take a policy file: their work runs on the worker
 * thread (tunnel/worker.h), their reply comes when it is done */

struct job {
	const struct control_view *v;
	struct ctl_pending *pending;   /* NULL: run at once (no worker: tests) */
	int (*work)(struct job *j);    /* on the worker: fills ret's data and err */
	void (*finish)(struct job *j); /* NULL, or on the loop's thread before the reply */
	char *name, *buf;
	size_t len;
	bool strict, kill;
	unsigned uid;
	json_t *data;
	char err[1024];
	int ret;
	struct enforce_change *change;
	long killed;
	char *msg;
};

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->name);
	free(j->buf);
	json_decref(j->data);
	enforce_change_free(j->change);
	free(j->msg);
	free(j);
}

/* A job from a request that passed a policy file: NULL with err set, or the
 * job, holding the file's text. */
static struct job *job_new(const struct control_view *v, struct ctl_request *req, char *err,
                           size_t errlen, int *ret)
{
	struct job *j = calloc(1, sizeof(*j));
	const char *name;

	if (!j) {
		*ret = -ENOMEM;
		return NULL;
	}
	j->v = v;
	j->uid = (unsigned)req->uid;
	*ret = policy_arg(req, &name, &j->buf, &j->len, err, errlen);
	if (!*ret && !(j->name = strdup(name)))
		*ret = -ENOMEM;
	if (*ret) {
		job_free(j);
		return NULL;
	}
	return j;
}

static void job_run(void *arg)
{
	struct job *j = arg;

	j->ret = j->work(j);
}

static void job_done(void *arg)
{
	struct job *j = arg;
	json_t *data;

	if (j->finish)
		j->finish(j);
	data = j->data;
	j->data = NULL;
	ctl_pending_reply(j->pending, j->ret, data, j->err);
	job_free(j);
}

static void job_cancel(void *arg)
{
	struct job *j = arg;

	ctl_pending_reply(j->pending, -ECANCELED, NULL, "gatewayd is stopping");
	job_free(j);
}

/* Runs j on the worker, the reply deferred; or at once without one. */
static int submit(struct job *j, struct ctl_request *req, json_t **data, char *err, size_t errlen)
{
	int ret;

	if (!j->v->worker) {
		job_run(j);
		if (j->finish)
			j->finish(j);
		ret = j->ret;
		*data = j->data;
		j->data = NULL;
		snprintf(err, errlen, "%s", j->err);
		job_free(j);
		return ret;
	}
	j->pending = ctl_defer(req);
	ret = worker_submit(j->v->worker, job_run, job_done, job_cancel, j);
	if (ret < 0) {
		/* Not deferred after all: the handler's own error reply. */
		j->pending = NULL;
		job_free(j);
		snprintf(err, errlen,
		         ret == -EBUSY ? "too many policy requests waiting; try again"
		                       : "out of memory");
		return ret;
	}
	return CTL_DEFERRED;
}

/* control_defer(): any work on the worker, for the commands of other files. */
struct deferred {
	const struct control_view *v;
	struct ctl_pending *pending;
	control_work_fn *work;
	void (*free_arg)(void *arg);
	void *arg;
	char cmd[CTL_CMD_MAX];
	/* The reply, encoded on the worker too: a listing of 100,000 flows
	 * takes seconds to cut into parts, which the loop must not spend. */
	struct ctl_parts *parts;
};

static void deferred_run(void *arg)
{
	struct deferred *d = arg;
	json_t *data = NULL;
	char err[1024] = "";
	int ret;

	ret = d->work(d->arg, &data, err, sizeof(err));
	d->parts = ctl_answer_encode(d->cmd, ret, data, err);
}

static void deferred_free(struct deferred *d)
{
	if (d->free_arg)
		d->free_arg(d->arg);
	free(d);
}

static void deferred_done(void *arg)
{
	struct deferred *d = arg;

	ctl_pending_send(d->pending, d->parts);
	deferred_free(d);
}

static void deferred_cancel(void *arg)
{
	struct deferred *d = arg;

	ctl_pending_reply(d->pending, -ECANCELED, NULL, "gatewayd is stopping");
	deferred_free(d);
}

int control_defer(const struct control_view *v, struct ctl_request *req, control_work_fn *work,
                  void (*free_arg)(void *arg), void *arg, json_t **data, char *err, size_t errlen)
{
	struct deferred *d;
	int ret;

	if (!v->worker) {
		ret = work(arg, data, err, errlen);
		if (free_arg)
			free_arg(arg);
		return ret;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		if (free_arg)
			free_arg(arg);
		return -ENOMEM;
	}
	*d = (struct deferred){.v = v, .work = work, .free_arg = free_arg, .arg = arg};
	snprintf(d->cmd, sizeof(d->cmd), "%s", req->cmd);
	d->pending = ctl_defer(req);
	ret = worker_submit(v->worker, deferred_run, deferred_done, deferred_cancel, d);
	if (ret < 0) {
		if (free_arg)
			free_arg(arg);
		free(d);
		snprintf(err, errlen,
		         ret == -EBUSY ? "too many requests waiting; try again" : "out of memory");
		return ret;
	}
	return CTL_DEFERRED;
}

/* A refusal from a job: the messages as refuse() puts them. */
static int job_refuse(struct job *j, int ret)
{
	char *msg = j->msg;

	j->msg = NULL;
	return refuse(ret, msg, &j->data, j->err, sizeof(j->err));
}

static int check_work(struct job *j)
{
	struct enforce_env *env = NULL;
	struct policy *p = NULL;
	int ret;

	ret = enforce_env_new(&env, j->v->cfg, true);
	if (!ret)
		ret = enforce_parse(enforce_env_get(env), j->name, j->buf, j->len, j->strict, &p,
		                    &j->msg);
	enforce_env_free(env);
	if (ret)
		return job_refuse(j, ret);
	j->data = json_pack("{s:s, s:I, s:I, s:b, s:o}", "file", j->name, "rules",
	                    (json_int_t)policy_rule_count(p), "tests",
	                    (json_int_t)policy_test_count(p), "ifaddrs_known", 1, "warnings",
	                    lines_of(j->msg));
	j->msg = NULL;
	policy_free(p);
	return j->data ? 0 : -ENOMEM;
}

/* policy.check {name, text | fd, strict}: parsed against the daemon's view
 * now and tested; nothing is applied. */
static int cmd_policy_check(const struct control_view *v, struct ctl_request *req, json_t **data,
                            char *err, size_t errlen)
{
	static const char *const known[] = {"name", "text", "strict", NULL};
	struct job *j;
	bool strict = false;
	int ret;

	ret = ctl_args_check(req->args, known, err, errlen);
	if (!ret)
		ret = ctl_arg_bool(req->args, "strict", &strict, err, errlen);
	if (ret || !(j = job_new(v, req, err, errlen, &ret)))
		return ret;
	j->strict = strict;
	j->work = check_work;
	return submit(j, req, data, err, errlen);
}

struct skipped {
	json_t *list;
};

static void skipped(void *arg, size_t rule, const char *name, enum policy_miss why)
{
	struct skipped *s = arg;

	json_array_append_new(s->list,
	                      json_pack("{s:s, s:s}", "rule", name, "why", policy_miss_str(why)));
}

static const char *by_str(enum policy_by by)
{
	switch (by) {
	case POLICY_BY_RULE:
		return "rule";
	case POLICY_BY_DEFAULT:
		return "default";
	case POLICY_BY_GATEWAY_ECHO:
		return "gateway-echo";
	case POLICY_BY_GATEWAY_DENY:
		return "gateway";
	}
	return "?";
}

/* policy.test {client, dst, port}: which rule of the policy in force
 * decides, and why each before it did not. */
static int cmd_policy_test(const struct control_view *v, struct ctl_request *req, json_t **data,
                           char *err, size_t errlen)
{
	static const char *const known[] = {"client", "dst", "port", NULL};
	const char *client, *dst, *port = NULL;
	struct skipped s = {.list = NULL};
	struct policy_decision d;
	struct policy_flow f;
	int ret;

	ret = need_policy(v, err, errlen);
	if (!ret)
		ret = ctl_args_check(req->args, known, err, errlen);
	if (!ret)
		ret = ctl_arg_str(req->args, "client", true, &client, err, errlen);
	if (!ret)
		ret = ctl_arg_str(req->args, "dst", true, &dst, err, errlen);
	if (!ret && ctl_arg_str(req->args, "port", false, &port, err, errlen) == -EINVAL)
		ret = -EINVAL;
	if (ret)
		return ret == -ENOENT && v->policy ? -EINVAL : ret;
	if (policy_flow_parse(&f, client, dst, port) < 0) {
		snprintf(
		        err, errlen,
		        "\"%s\" \"%s\"%s%s%s: not a flow (an address, then tcp/PORT, udp/PORT, icmp "
		        "or icmpv6)",
		        client, dst, port ? " \"" : "", port ? port : "", port ? "\"" : "");
		return -EINVAL;
	}
	s.list = json_array();
	if (!s.list)
		return -ENOMEM;
	ret = policy_decide(enforce_policy(v->policy), &f, &d, skipped, &s);
	if (ret == -ENOENT) {
		json_decref(s.list);
		snprintf(err, errlen, "no client \"%s\" in gateway.yaml", client);
		return -EINVAL;
	}
	if (ret < 0) {
		json_decref(s.list);
		snprintf(err, errlen, "cannot decide that flow");
		return ret;
	}
	*data = json_pack("{s:s, s:s, s:s?, s:b, s:s, s:s, s:b, s:b, s:o}", "client", client, "dst",
	                  dst, "port", port, "allow", d.allow, "by", by_str(d.by), "rule", d.name,
	                  "to_gateway", d.to_gateway, "ifaddrs_known", d.ifaddrs_known, "skipped",
	                  s.list);
	return *data ? 0 : -ENOMEM;
}

static int apply_work(struct job *j)
{
	int ret;

	ret = enforce_apply_prepare(j->v->policy, j->name, j->buf, j->len, j->kill, &j->change,
	                            &j->killed, &j->msg);
	if (ret) {
		log_warnx("policy apply from %s (uid %u) refused: %s", j->name, j->uid,
		          j->msg ? j->msg : strerror(-ret));
		return job_refuse(j, ret);
	}
	return 0;
}

/* On the loop's thread: the new policy is in force from now on. */
static void apply_finish(struct job *j)
{
	const struct policy *p;

	if (j->ret)
		return;
	enforce_commit(j->v->policy, j->change);
	j->change = NULL;
	p = enforce_policy(j->v->policy);
	log_info("policy %s applied (%zu rules), from uid %u%s", j->name, policy_rule_count(p),
	         j->uid, j->killed > 0 ? "; ended the flows it denies" : "");
	j->data = json_pack("{s:s, s:I, s:I, s:o}", "file", j->name, "rules",
	                    (json_int_t)policy_rule_count(p), "killed", (json_int_t)j->killed,
	                    "warnings", lines_of(j->msg));
	j->msg = NULL;
	if (!j->data)
		j->ret = -ENOMEM;
}

/* policy.apply {name, text | fd, kill_denied}. */
static int cmd_policy_apply(const struct control_view *v, struct ctl_request *req, json_t **data,
                            char *err, size_t errlen)
{
	static const char *const known[] = {"name", "text", "kill_denied", NULL};
	struct job *j;
	bool kill = false;
	int ret;

	ret = need_policy(v, err, errlen);
	if (!ret)
		ret = ctl_args_check(req->args, known, err, errlen);
	if (!ret)
		ret = ctl_arg_bool(req->args, "kill_denied", &kill, err, errlen);
	if (ret || !(j = job_new(v, req, err, errlen, &ret)))
		return ret;
	j->kill = kill;
	j->work = apply_work;
	j->finish = apply_finish;
	return submit(j, req, data, err, errlen);
}

static int diff_work(struct job *j)
{
	struct enforce_env *env = NULL;
	struct policy *p = NULL;
	char **lines = NULL;
	json_t *changes;
	size_t n = 0;
	int ret;

	ret = enforce_env_new(&env, j->v->cfg, true);
	if (!ret)
		ret = enforce_parse(enforce_env_get(env), j->name, j->buf, j->len, false, &p,
		                    &j->msg);
	enforce_env_free(env);
	if (ret)
		return job_refuse(j, ret);
	/* The policy in force changes only in an apply's finish, on the loop's
	 * thread, never while a job runs. */
	ret = policy_diff(enforce_policy(j->v->policy), p, &lines, &n);
	policy_free(p);
	changes = json_array();
	for (size_t i = 0; !ret && changes && i < n; i++)
		json_array_append_new(changes, json_string(lines[i]));
	policy_diff_free(lines, n);
	if (ret || !changes) {
		json_decref(changes);
		return ret ? ret : -ENOMEM;
	}
	j->data = json_pack("{s:s, s:o, s:o}", "file", j->name, "changes", changes, "warnings",
	                    lines_of(j->msg));
	j->msg = NULL;
	return j->data ? 0 : -ENOMEM;
}

/* policy.diff {name, text | fd}: what applying it would change, parsed
 * against the daemon's view now. */
static int cmd_policy_diff(const struct control_view *v, struct ctl_request *req, json_t **data,
                           char *err, size_t errlen)
{
	static const char *const known[] = {"name", "text", NULL};
	struct job *j;
	int ret;

	ret = need_policy(v, err, errlen);
	if (!ret)
		ret = ctl_args_check(req->args, known, err, errlen);
	if (ret || !(j = job_new(v, req, err, errlen, &ret)))
		return ret;
	j->work = diff_work;
	return submit(j, req, data, err, errlen);
}

/* policy.show {nft}: the policy in force, its YAML or the table's text. */
static int cmd_policy_show(const struct control_view *v, struct ctl_request *req, json_t **data,
                           char *err, size_t errlen)
{
	static const char *const known[] = {"nft", NULL};
	char when[32], *table = NULL;
	bool nft = false;
	int ret;

	ret = need_policy(v, err, errlen);
	if (!ret)
		ret = ctl_args_check(req->args, known, err, errlen);
	if (!ret)
		ret = ctl_arg_bool(req->args, "nft", &nft, err, errlen);
	if (ret)
		return ret;
	if (nft && enforce_table_text(v->policy, &table) < 0)
		return -ENOMEM;
	iso_time(enforce_applied(v->policy), when, sizeof(when));
	*data = json_pack("{s:s, s:b, s:s, s:I, s:s}", "source", enforce_source(v->policy),
	                  "builtin", enforce_builtin(v->policy), "applied", when, "applied_unix",
	                  (json_int_t)enforce_applied(v->policy), nft ? "nft" : "yaml",
	                  nft ? table : enforce_yaml(v->policy));
	free(table);
	return *data ? 0 : -ENOMEM;
}

/* The counters by their nft names; the reply lists them in the policy's
 * order. */
struct counters {
	json_t *by_name;
};

static int got_counter(void *arg, const char *name, uint64_t packets, uint64_t bytes)
{
	struct counters *c = arg;

	return json_object_set_new(c->by_name, name,
	                           json_pack("{s:I, s:I}", "packets", (json_int_t)packets, "bytes",
	                                     (json_int_t)bytes))
	               ? -ENOMEM
	               : 0;
}

static int add_counter(json_t *list, json_t *by_name, const char *kind, const char *name,
                       const char *nft_name)
{
	json_t *c = json_object_get(by_name, nft_name);

	if (!c)
		return 0; /* not in the table (a client without max_flows) */
	return json_array_append_new(list, json_pack("{s:s, s:s, s:O, s:O}", "kind", kind, "name",
	                                             name, "packets", json_object_get(c, "packets"),
	                                             "bytes", json_object_get(c, "bytes")))
	               ? -ENOMEM
	               : 0;
}

/* policy.stats: packets and bytes per rule, per default, and the flows each
 * client's max_flows refused, read from the kernel now. */
static int cmd_policy_stats(const struct control_view *v, struct ctl_request *req, json_t **data,
                            char *err, size_t errlen)
{
	static const char *const known[] = {NULL};
	struct counters c = {.by_name = json_object()};
	const struct policy *p;
	json_t *list = json_array();
	char name[96], when[32];
	int ret;

	ret = need_policy(v, err, errlen);
	if (!ret)
		ret = ctl_args_check(req->args, known, err, errlen);
	if (!ret && (!c.by_name || !list))
		ret = -ENOMEM;
	if (!ret)
		ret = nft_counters(enforce_nft(v->policy), got_counter, &c, err, errlen);
	p = v->policy ? enforce_policy(v->policy) : NULL;
	for (size_t i = 0; !ret && i < policy_rule_count(p); i++) {
		snprintf(name, sizeof(name), "rule_%s", policy_rule_name(p, i));
		ret = add_counter(list, c.by_name, "rule", policy_rule_name(p, i), name);
	}
	if (!ret)
		ret = add_counter(list, c.by_name, "default", "default", "policy_default");
	if (!ret)
		ret = add_counter(list, c.by_name, "gateway", "gateway-default", "gateway_default");
	if (!ret)
		ret = add_counter(list, c.by_name, "gateway", "gateway-echo", "gateway_echo");
	for (size_t i = 0; !ret && i < v->cfg->n_clients; i++) {
		snprintf(name, sizeof(name), "flows_over_%s", v->cfg->clients[i].name);
		ret = add_counter(list, c.by_name, "max_flows", v->cfg->clients[i].name, name);
	}
	json_decref(c.by_name);
	if (ret) {
		json_decref(list);
		return ret;
	}
	iso_time(enforce_applied(v->policy), when, sizeof(when));
	*data = json_pack("{s:s, s:I, s:s, s:o}", "applied", when, "applied_unix",
	                  (json_int_t)enforce_applied(v->policy), "source",
	                  enforce_source(v->policy), "counters", list);
	return *data ? 0 : -ENOMEM;
}

static const struct command {
	const char *name;
	command_fn fn;
} commands[] = {
        /* exact names, one per line */
        {"status", cmd_status},
        {"clients", clients_cmd_list},
        {"client.add", client_change},
        {"client.remove", client_change},
        {"policy.check", cmd_policy_check},
        {"policy.test", cmd_policy_test},
        {"policy.diff", cmd_policy_diff},
        {"policy.apply", cmd_policy_apply},
        {"policy.show", cmd_policy_show},
        {"policy.stats", cmd_policy_stats},
        {"flows", flows_cmd_list},
        {"flows.kill", flows_cmd_kill},
        {"flows.watch", flows_cmd_watch},
};

int control_handle(void *arg, struct ctl_request *req, json_t **data, char *err, size_t errlen)
{
	const struct control_view *v = arg;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(req->cmd, commands[i].name))
			return commands[i].fn(v, req, data, err, errlen);
	snprintf(err, errlen, "unknown command \"%s\"", req->cmd);
	return -EINVAL;
}

int control_open(struct control **out, struct loop *l, const struct control_view *v)
{
	struct control *c = calloc(1, sizeof(*c));
	char err[256] = "";
	int ret;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->view = *v;
	ret = ctl_server_open(&c->srv, l,
	                      &(struct ctl_server_params){
	                              .path = v->cfg->control_socket,
	                              .group = v->cfg->control_group,
	                              .handler = control_handle,
	                              .arg = &c->view,
	                      },
	                      err, sizeof(err));
	if (ret) {
		log_errx("control socket: %s", err);
		free(c);
		return ret;
	}
	log_info("control socket %s (%s%s)", v->cfg->control_socket,
	         v->cfg->control_group[0] ? "root and group " : "root only", v->cfg->control_group);
	*out = c;
	return 0;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	ctl_server_close(c->srv);
	free(c);
}
