/* The policy in force: see enforce.h. */
#include "gateway/enforce.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/ct.h"
#include "gateway/nft.h"
#include "policy/policy.h"
#include "tunnel/ctl.h"
#include "tunnel/file.h"
#include "tunnel/msg.h"
#include "tunnel/prefix.h"

struct enforce_env {
	struct policy_env env;
	struct policy_client *clients;
	struct prefix *client_addrs; /* two per client: IPv4, IPv6 */
	struct prefix tunnel[2];
	struct prefix *ifaddrs;
};

struct enforce {
	const struct gw_config *cfg;
	struct nft_owner *nft;
	struct policy *p;
	char *yaml;
	bool builtin;
	char source[4096];
	time_t applied;
	/* Names by number, for the flow log and flows, under names_lock
	 * (written on the loop thread, read from any): every rule id that a
	 * policy put in force by this gatewayd stamped, since a flow outlives
	 * the policy that let it through, and every client's mark, since a
	 * removed client's flows end after it went. Each only ever grows (by
	 * the names new to a policy; marks never past the ids gateway.yaml can
	 * give), the newest name of a number winning. */
	pthread_mutex_t names_lock;
	struct names {
		struct number_name {
			uint32_t n;
			char name[POLICY_NAME_MAX + 1];
		} * v;
		size_t len, cap;
	} rules, clients;
};

/* ---- messages */

/* A line more of *msg, the messages of a refusal or a warning. */
#define say(msg, ...) msg_add(msg, "\n", __VA_ARGS__)

/* ---- the environment */

/* The addresses on this host's interfaces but the TUN and loopback. */
static int read_ifaddrs(struct enforce_env *e, const char *tun)
{
	struct ifaddrs *all = NULL, *i;
	size_t n = 0, cap = 0;

	if (getifaddrs(&all) < 0)
		return -errno;
	for (i = all; i; i = i->ifa_next) {
		struct prefix p, m;
		const void *a, *mask;
		int fam;

		if (!i->ifa_addr || !i->ifa_netmask || !strcmp(i->ifa_name, tun) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		fam = i->ifa_addr->sa_family;
		if (fam == AF_INET) {
			a = &((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
			mask = &((const struct sockaddr_in *)i->ifa_netmask)->sin_addr;
		} else if (fam == AF_INET6) {
			a = &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			mask = &((const struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr;
		} else {
			continue;
		}
		p = prefix_from_bytes(fam, a);
		m = prefix_from_bytes(fam, mask);
		p.len = 0;
		while (p.len < prefix_max_len(fam) && (m.bytes[p.len / 8] & (0x80 >> (p.len % 8))))
			p.len++;
		if (n == cap) {
			struct prefix *more;

			cap = cap ? cap * 2 : 8;
			more = realloc(e->ifaddrs, cap * sizeof(*more));
			if (!more) {
				freeifaddrs(all);
				return -ENOMEM;
			}
			e->ifaddrs = more;
		}
		e->ifaddrs[n++] = p;
	}
	freeifaddrs(all);
	e->env.ifaddrs = e->ifaddrs;
	e->env.n_ifaddrs = n;
	e->env.ifaddrs_known = true;
	return 0;
}

int enforce_env_new(struct enforce_env **out, const struct gw_config *cfg, bool ifaddrs)
{
	struct enforce_env *e = calloc(1, sizeof(*e));
	size_t n = cfg->n_clients;
	int ret = -ENOMEM;

	*out = NULL;
	if (!e)
		return -ENOMEM;
	e->clients = calloc(n + 1, sizeof(*e->clients));
	e->client_addrs = calloc(2 * n + 1, sizeof(*e->client_addrs));
	if (!e->clients || !e->client_addrs)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct gw_client *c = &cfg->clients[i];
		struct prefix *a = &e->client_addrs[2 * i];

		a[0] = c->addr;
		a[1] = c->addr6;
		e->clients[i] = (struct policy_client){
		        .name = c->name,
		        .mark = nft_client_mark(cfg->mark_tag, c->id),
		        .addrs = a,
		        .n_addrs = c->has_addr6 ? 2 : 1,
		};
	}
	e->tunnel[0] = cfg->addr;
	e->tunnel[1] = cfg->addr6;
	e->env = (struct policy_env){
	        .clients = e->clients,
	        .n_clients = n,
	        .tunnel = e->tunnel,
	        .n_tunnel = cfg->has_addr6 ? 2 : 1,
	};
	if (ifaddrs && (ret = read_ifaddrs(e, cfg->ifname)) < 0)
		goto fail;
	*out = e;
	return 0;
fail:
	enforce_env_free(e);
	return ret;
}

const struct policy_env *enforce_env_get(const struct enforce_env *e)
{
	return &e->env;
}

void enforce_env_free(struct enforce_env *e)
{
	if (!e)
		return;
	free(e->clients);
	free(e->client_addrs);
	free(e->ifaddrs);
	free(e);
}

/* ---- candidates */

static void test_failed(void *arg, const char *line)
{
	say(arg, "%s", line);
}

int enforce_parse(const struct policy_env *env, const char *name, const char *buf, size_t len,
                  bool strict, struct policy **out, char **msg)
{
	struct policy *p = NULL;
	char err[1024];
	size_t failed, warnings;
	int ret;

	*out = NULL;
	*msg = NULL;
	ret = policy_parse(&p, name, buf, len, env, err, sizeof(err));
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0) {
		say(msg, "%s", err);
		return -EINVAL;
	}
	warnings = policy_warning_count(p);
	for (size_t i = 0; i < warnings; i++)
		say(msg, "%s", policy_warning(p, i));
	failed = policy_run_tests(p, test_failed, msg);
	if (failed || (strict && warnings)) {
		if (failed)
			say(msg, "%s: %zu of %zu tests failed", name, failed, policy_test_count(p));
		else
			say(msg, "%s: %zu warnings, refused with --strict", name, warnings);
		policy_free(p);
		return -EINVAL;
	}
	*out = p;
	return 0;
}

int enforce_read_file(const char *path, char **buf, size_t *len)
{
	struct stat st;
	char err[128];
	int fd, ret;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The control socket's reader: regular files only, read to their end
	 * whatever their size said, at most max bytes. */
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		ret = -EISDIR;
	else
		ret = ctl_fd_read(fd, ENFORCE_FILE_MAX, buf, len, err, sizeof(err));
	close(fd);
	return ret;
}

/* ---- the table */

/* cfg's clients as nft.c takes them (names borrowed), in a malloc'd array. */
static struct nft_client *nft_clients_of(const struct gw_config *cfg)
{
	struct nft_client *clients = calloc(cfg->n_clients + 1, sizeof(*clients));

	for (size_t i = 0; clients && i < cfg->n_clients; i++)
		clients[i] = (struct nft_client){
		        .name = cfg->clients[i].name,
		        .addr = cfg->clients[i].addr,
		        .has_addr6 = cfg->clients[i].has_addr6,
		        .addr6 = cfg->clients[i].addr6,
		        .id = cfg->clients[i].id,
		};
	return clients;
}

static struct nft_params params_of(const struct gw_config *cfg, const struct nft_client *clients,
                                   const char *inner)
{
	return (struct nft_params){.ifname = cfg->ifname,
	                           .uplink = cfg->uplink,
	                           .net = cfg->addr,
	                           .has_net6 = cfg->has_addr6,
	                           .net6 = cfg->addr6,
	                           .mtu = cfg->mtu,
	                           .mark_tag = cfg->mark_tag,
	                           .mark_id_mask = cfg->mark_id_mask,
	                           .clients = clients,
	                           .n_clients = cfg->n_clients,
	                           .inner = inner};
}

static int table_text(const struct gw_config *cfg, const struct policy *p, char **text)
{
	struct nft_client *clients = nft_clients_of(cfg);
	char *objects = NULL, *rules = NULL, *inner = NULL;
	int ret;

	*text = NULL;
	if (!clients)
		return -ENOMEM;
	ret = policy_render_objects(p, &objects);
	if (!ret)
		ret = policy_render_rules(p, cfg->ifname, &rules);
	if (!ret && asprintf(&inner, "%s\n%s", objects, rules) < 0) {
		inner = NULL;
		ret = -ENOMEM;
	}
	if (!ret) {
		struct nft_params np = params_of(cfg, clients, inner);
		ret = nft_render(&np, text);
	}
	free(clients);
	free(objects);
	free(rules);
	free(inner);
	return ret;
}

/* The clients of list v (n of them) as the table's. */
static struct nft_client *nft_clients_in(const struct gw_client *const *v, size_t n)
{
	struct nft_client *clients = calloc(n + 1, sizeof(*clients));

	for (size_t i = 0; clients && i < n; i++)
		clients[i] = (struct nft_client){
		        .name = v[i]->name,
		        .addr = v[i]->addr,
		        .has_addr6 = v[i]->has_addr6,
		        .addr6 = v[i]->addr6,
		        .id = v[i]->id,
		};
	return clients;
}

/* The commands that take the kernel's client maps from e's clients to
 * cfg's, in *text: the elements of the clients gone deleted, of those
 * added added (the change from the one list to the other). */
static int client_change_text(const struct enforce *e, const struct gw_config *cfg,
                              const struct enforce_delta *d, char **text)
{
	struct nft_client *was = nft_clients_in(d->gone, d->n_gone);
	struct nft_client *now = nft_clients_in(d->added, d->n_added);
	int ret = -ENOMEM;

	*text = NULL;
	if (was && now) {
		struct nft_params o = params_of(e->cfg, was, NULL), n = params_of(cfg, now, NULL);

		o.n_clients = d->n_gone;
		n.n_clients = d->n_added;
		ret = nft_render_client_change(&o, &n, text);
	}
	free(was);
	free(now);
	return ret;
}

/* The policy of policy_file (or the built-in one) against env: 0 with *p and
 * *yaml, or -errno with *msg. */
static int load_policy_file(const struct gw_config *cfg, const struct policy_env *env,
                            struct policy **p, char **yaml, bool *builtin, char **msg)
{
	size_t len;
	int ret;

	*p = NULL;
	*msg = NULL;
	*builtin = false;
	ret = enforce_read_file(cfg->policy_file, yaml, &len);
	if (ret == -ENOENT) {
		*builtin = true;
		*yaml = strdup(policy_builtin_text());
		if (!*yaml)
			return -ENOMEM;
		ret = policy_builtin(p, env);
		if (ret < 0) {
			say(msg, "the built-in policy does not compile: %s", strerror(-ret));
			free(*yaml);
			*yaml = NULL;
		}
		return ret;
	}
	if (ret < 0) {
		say(msg, "policy_file %s: %s", cfg->policy_file,
		    ret == -EFBIG ? "larger than 16 MiB" : strerror(-ret));
		return ret;
	}
	ret = enforce_parse(env, cfg->policy_file, *yaml, len, false, p, msg);
	if (ret < 0) {
		free(*yaml);
		*yaml = NULL;
	}
	return ret;
}

/* ---- names of rule ids and client marks */

static int number_cmp(const void *a, const void *b)
{
	const struct number_name *x = a, *y = b;

	return x->n < y->n ? -1 : x->n > y->n;
}

static struct number_name *names_find(const struct names *t, uint32_t n)
{
	struct number_name key = {.n = n};

	return t->len ? bsearch(&key, t->v, t->len, sizeof(*t->v), number_cmp) : NULL;
}

/* The count things of p, and thing i's name and number. */
typedef size_t count_fn(const struct policy *p);
typedef const char *name_at_fn(const struct policy *p, size_t i, uint32_t *n);

static const char *rule_at(const struct policy *p, size_t i, uint32_t *n)
{
	*n = policy_rule_id(p, i);
	return policy_rule_name(p, i);
}

/* p's things into t. Out of memory leaves the new ones out: their flows
 * show no rule, or are not logged, and nothing else is lost. */
/* t's entries from old on sorted into the sorted ones before them: a merge,
 * so that a client added to 60,000 costs no sort of them all. */
static void merge_new(struct names *t, size_t old)
{
	size_t added = t->len - old;
	struct number_name *tail = malloc(added * sizeof(*tail));
	size_t i = old, j = added, k = t->len;

	if (!tail) {
		qsort(t->v, t->len, sizeof(*t->v), number_cmp);
		return;
	}
	qsort(t->v + old, added, sizeof(*t->v), number_cmp);
	memcpy(tail, t->v + old, added * sizeof(*tail));
	while (j > 0) {
		if (i > 0 && t->v[i - 1].n > tail[j - 1].n)
			t->v[--k] = t->v[--i];
		else
			t->v[--k] = tail[--j];
	}
	free(tail);
}

static void remember(struct enforce *e, struct names *t, const struct policy *p, count_fn *count,
                     name_at_fn *at)
{
	size_t n = count(p), old, added = 0;

	pthread_mutex_lock(&e->names_lock);
	old = t->len;
	if (old + n > t->cap) {
		size_t cap = (old + n) * 2;
		struct number_name *v = realloc(t->v, cap * sizeof(*v));

		if (v) {
			t->v = v;
			t->cap = cap;
		}
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t num;
		const char *name = at(p, i, &num);
		/* A name that probed past a collision may reuse the id of a
		 * rule gone since, a new client the mark of one removed. */
		struct number_name *r = names_find(t, num);

		if (!r) {
			if (old + added >= t->cap)
				continue;
			r = &t->v[old + added++];
			r->n = num;
		}
		snprintf(r->name, sizeof(r->name), "%s", name);
	}
	/* names_find above searched the old entries only: t->len moves once
	 * they are all in. */
	t->len = old + added;
	if (added)
		merge_new(t, old);
	pthread_mutex_unlock(&e->names_lock);
}

static int name_of(struct enforce *e, const struct names *t, uint32_t n, char *buf, size_t len)
{
	const struct number_name *r;
	int ret = -ENOENT;

	pthread_mutex_lock(&e->names_lock);
	r = names_find(t, n);
	if (r) {
		snprintf(buf, len, "%s", r->name);
		ret = 0;
	}
	pthread_mutex_unlock(&e->names_lock);
	return ret;
}

int enforce_client_name(struct enforce *e, uint32_t mark, char *buf, size_t len)
{
	return name_of(e, &e->clients, mark, buf, len);
}

int enforce_rule_name(struct enforce *e, uint32_t id, char *buf, size_t len)
{
	if (id == POLICY_ID_DEFAULT) {
		snprintf(buf, len, "default");
		return 0;
	}
	return name_of(e, &e->rules, id, buf, len);
}

/* Puts p (with yaml, from source) in force in e's bookkeeping; e takes
 * both. */
static void take(struct enforce *e, struct policy *p, char *yaml, bool builtin, const char *source)
{
	remember(e, &e->rules, p, policy_rule_count, rule_at);
	remember(e, &e->clients, p, policy_client_count, policy_client_at);
	policy_free(e->p);
	free(e->yaml);
	e->p = p;
	e->yaml = yaml;
	e->builtin = builtin;
	snprintf(e->source, sizeof(e->source), "%s", builtin ? "built-in" : source);
	e->applied = time(NULL);
}

static void kernel_refused(char **msg, int ret, const char *err)
{
	if (ret == -EINVAL)
		say(msg, "the kernel refused the table: %s", err);
	else
		say(msg, "cannot change nft table inet %s: %s", NFT_TABLE, strerror(-ret));
}

int enforce_start(struct enforce **out, const struct gw_config *cfg, struct nft_owner *nft,
                  char **msg)
{
	struct enforce *e = NULL;
	struct enforce_env *env = NULL;
	struct policy *p = NULL;
	char *yaml = NULL, *table = NULL, err[1024];
	bool builtin;
	int ret;

	*out = NULL;
	*msg = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = cfg;
	e->nft = nft;
	pthread_mutex_init(&e->names_lock, NULL);
	ret = enforce_env_new(&env, cfg, true);
	if (ret < 0) {
		say(msg, "cannot read the interfaces' addresses: %s", strerror(-ret));
		goto fail;
	}
	ret = load_policy_file(cfg, enforce_env_get(env), &p, &yaml, &builtin, msg);
	if (ret < 0)
		goto fail;
	ret = table_text(cfg, p, &table);
	if (ret < 0) {
		say(msg, "cannot render the table: %s", strerror(-ret));
		goto fail;
	}
	ret = nft_apply(nft, table, err, sizeof(err));
	if (ret == -EPERM || ret == -EOPNOTSUPP)
		goto fail; /* the caller says whose table it is */
	if (ret < 0) {
		kernel_refused(msg, ret, err);
		goto fail;
	}
	take(e, p, yaml, builtin, cfg->policy_file);
	free(table);
	enforce_env_free(env);
	*out = e;
	return 0;
fail:
	policy_free(p);
	free(yaml);
	free(table);
	enforce_env_free(env);
	enforce_free(e);
	return ret;
}

int enforce_check_file(const struct gw_config *cfg, bool *builtin, char **msg)
{
	struct enforce_env *env = NULL;
	struct policy *p = NULL;
	char *yaml = NULL;
	int ret;

	*msg = NULL;
	ret = enforce_env_new(&env, cfg, true);
	if (ret < 0) {
		say(msg, "cannot read the interfaces' addresses: %s", strerror(-ret));
		return ret;
	}
	ret = load_policy_file(cfg, enforce_env_get(env), &p, &yaml, builtin, msg);
	enforce_env_free(env);
	policy_free(p);
	free(yaml);
	return ret;
}

void enforce_free(struct enforce *e)
{
	if (!e)
		return;
	policy_free(e->p);
	free(e->yaml);
	pthread_mutex_destroy(&e->names_lock);
	free(e->rules.v);
	free(e->clients.v);
	free(e);
}

/* ---- apply */

/* The file in place keeps a copy as path.prev, then tmp takes its name: at
 * every moment path is either the old file or the new one. */
static int install_file(const char *path, const char *tmp, char **msg)
{
	char prev[4200], *old = NULL, ptmp[4300];
	size_t len;
	int ret;

	snprintf(prev, sizeof(prev), "%s.prev", path);
	ret = enforce_read_file(path, &old, &len);
	if (ret == 0) {
		ret = file_write_temp(prev, old, len, 0644, ptmp, sizeof(ptmp));
		if (!ret && rename(ptmp, prev) < 0) {
			ret = -errno;
			unlink(ptmp);
		}
		free(old);
		if (ret)
			say(msg, "warning: cannot keep the previous policy as %s: %s", prev,
			    strerror(-ret));
	}
	if (rename(tmp, path) < 0) {
		ret = -errno;
		unlink(tmp);
		return ret;
	}
	return 0;
}

bool enforce_decide_ct(const struct policy *p, const struct ct_flow *f, const char **client,
                       struct policy_decision *d)
{
	struct policy_flow pf = {
	        .client = policy_client_by_mark(p, f->mark),
	        .dst = f->dst,
	        .proto = f->proto,
	        .port = f->dport,
	};

	*client = pf.client;
	if (!pf.client)
		return false;
	/* As the rules see the flow's first packet: ICMP by its type only, a
	 * protocol without ports by nothing but its destination. */
	if (pf.proto == IPPROTO_ICMP || pf.proto == IPPROTO_ICMPV6)
		pf.port = 0;
	else if (pf.proto != IPPROTO_TCP && pf.proto != IPPROTO_UDP)
		pf.proto = 0;
	return policy_decide(p, &pf, d, NULL, NULL) == 0;
}

/* --kill-denied: a flow the new policy denies, its client's first packet
 * would be rejected now. */
static bool denied(void *arg, const struct ct_flow *f)
{
	struct policy_decision d;
	const char *client;

	return enforce_decide_ct(arg, f, &client, &d) && !d.allow;
}

struct enforce_change {
	struct policy *p;
	char *yaml;
	bool builtin;
	char source[4096];
};

static void change_free(struct enforce_change *c)
{
	if (!c)
		return;
	policy_free(c->p);
	free(c->yaml);
	free(c);
}

/* p (with yaml) and cfg's clients in the kernel in place of e's policy and
 * clients, the client maps' change in the same transaction: 0 with *out
 * holding them, or -errno with *msg. e is only read. */
static int replace_with(const struct enforce *e, const struct gw_config *cfg,
                        const struct enforce_delta *d, struct policy *p, char *yaml, bool builtin,
                        const char *source, struct enforce_change **out, char **msg)
{
	struct enforce_change *c = calloc(1, sizeof(*c));
	char *tx = NULL, *pre = NULL, *all = NULL, err[1024];
	int ret = -ENOMEM;

	*out = NULL;
	if (!c)
		goto fail;
	ret = policy_render_replace(e->p, p, e->cfg->ifname, &tx);
	if (!ret && cfg != e->cfg) {
		ret = client_change_text(e, cfg, d, &pre);
		if (!ret && asprintf(&all, "%s%s", pre, tx) < 0) {
			all = NULL;
			ret = -ENOMEM;
		}
		free(pre);
		if (!ret) {
			free(tx);
			tx = all;
		}
	}
	if (ret < 0) {
		say(msg, "cannot render the policy: %s", strerror(-ret));
		goto fail;
	}
	ret = nft_run(e->nft, tx, err, sizeof(err));
	if (ret < 0) {
		kernel_refused(msg, ret, err);
		goto fail;
	}
	free(tx);
	c->p = p;
	c->yaml = yaml;
	c->builtin = builtin;
	snprintf(c->source, sizeof(c->source), "%s", source);
	*out = c;
	return 0;
fail:
	free(tx);
	free(c);
	return ret;
}

/* The same with e's own clients. */
static int replace(const struct enforce *e, struct policy *p, char *yaml, bool builtin,
                   const char *source, struct enforce_change **out, char **msg)
{
	return replace_with(e, e->cfg, NULL, p, yaml, builtin, source, out, msg);
}

int enforce_clients_prepare(const struct enforce *e, const struct gw_config *cfg, bool reread,
                            const struct enforce_delta *delta, struct enforce_change **out,
                            char **msg)
{
	struct enforce_env *env = NULL;
	struct policy *p = NULL;
	char *yaml = NULL;
	bool builtin = e->builtin;
	int ret;

	*out = NULL;
	*msg = NULL;
	ret = enforce_env_new(&env, cfg, true);
	if (ret < 0) {
		say(msg, "cannot read the interfaces' addresses: %s", strerror(-ret));
		return ret;
	}
	if (reread) {
		ret = load_policy_file(cfg, enforce_env_get(env), &p, &yaml, &builtin, msg);
	} else if (builtin) {
		yaml = strdup(e->yaml);
		ret = yaml ? policy_builtin(&p, enforce_env_get(env)) : -ENOMEM;
	} else {
		yaml = strdup(e->yaml);
		ret = yaml ? enforce_parse(enforce_env_get(env), e->source, yaml, strlen(yaml),
		                           false, &p, msg)
		           : -ENOMEM;
	}
	enforce_env_free(env);
	if (ret == 0)
		ret = replace_with(e, cfg, delta, p, yaml, builtin,
		                   reread ? cfg->policy_file : e->source, out, msg);
	if (ret < 0) {
		policy_free(p);
		free(yaml);
	}
	return ret;
}

int enforce_apply_prepare(const struct enforce *e, const char *name, const char *buf, size_t len,
                          bool kill_denied, struct enforce_change **out, long *killed, char **msg)
{
	struct enforce_env *env = NULL;
	struct policy *p = NULL;
	char tmp[4300], *yaml = NULL;
	int ret;

	*out = NULL;
	*msg = NULL;
	*killed = -1;
	ret = enforce_env_new(&env, e->cfg, true);
	if (ret < 0) {
		say(msg, "cannot read the interfaces' addresses: %s", strerror(-ret));
		return ret;
	}
	ret = enforce_parse(enforce_env_get(env), name, buf, len, false, &p, msg);
	enforce_env_free(env);
	if (ret < 0)
		return ret;
	yaml = strndup(buf, len);
	if (!yaml) {
		policy_free(p);
		return -ENOMEM;
	}
	/* The file first, where it cannot be mistaken for the policy yet: an
	 * apply that a restart would undo is refused before the kernel sees it. */
	ret = file_write_temp(e->cfg->policy_file, buf, len, 0644, tmp, sizeof(tmp));
	if (ret < 0) {
		say(msg, "cannot write policy_file %s: %s", e->cfg->policy_file, strerror(-ret));
		goto fail;
	}
	ret = replace(e, p, yaml, false, e->cfg->policy_file, out, msg);
	if (ret < 0) {
		unlink(tmp);
		goto fail;
	}
	ret = install_file(e->cfg->policy_file, tmp, msg);
	if (ret < 0)
		say(msg,
		    "warning: the policy is in force, but policy_file %s could not take it "
		    "(%s): a restart goes back to the file",
		    e->cfg->policy_file, strerror(-ret));
	if (kill_denied) {
		long n = ct_kill(e->cfg->mark_tag, ~e->cfg->mark_id_mask, denied, p);

		if (n < 0)
			say(msg, "warning: cannot end the flows the policy now denies: %s",
			    strerror((int)-n));
		else
			*killed = n;
	}
	return 0;
fail:
	policy_free(p);
	free(yaml);
	return ret;
}

int enforce_reload_prepare(const struct enforce *e, struct enforce_change **out, char **msg)
{
	struct enforce_env *env = NULL;
	struct policy *p = NULL;
	char *yaml = NULL;
	bool builtin;
	int ret;

	*out = NULL;
	*msg = NULL;
	ret = enforce_env_new(&env, e->cfg, true);
	if (ret < 0) {
		say(msg, "cannot read the interfaces' addresses: %s", strerror(-ret));
		return ret;
	}
	ret = load_policy_file(e->cfg, enforce_env_get(env), &p, &yaml, &builtin, msg);
	enforce_env_free(env);
	if (ret < 0)
		return ret;
	ret = replace(e, p, yaml, builtin, e->cfg->policy_file, out, msg);
	if (ret < 0) {
		policy_free(p);
		free(yaml);
	}
	return ret;
}

void enforce_commit(struct enforce *e, struct enforce_change *c)
{
	if (!c)
		return;
	take(e, c->p, c->yaml, c->builtin, c->source);
	c->p = NULL;
	c->yaml = NULL;
	change_free(c);
}

void enforce_change_free(struct enforce_change *c)
{
	change_free(c);
}

const struct policy *enforce_policy(const struct enforce *e)
{
	return e->p;
}

const char *enforce_yaml(const struct enforce *e)
{
	return e->yaml;
}

bool enforce_builtin(const struct enforce *e)
{
	return e->builtin;
}

const char *enforce_source(const struct enforce *e)
{
	return e->source;
}

time_t enforce_applied(const struct enforce *e)
{
	return e->applied;
}

int enforce_table_text(const struct enforce *e, char **text)
{
	return table_text(e->cfg, e->p, text);
}

struct nft_owner *enforce_nft(const struct enforce *e)
{
	return e->nft;
}
