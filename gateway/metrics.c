/* gatewayd's /metrics: see metrics.h.
 *
 * Race-free by construction. The WireGuard counters (struct wg_peer_stats,
 * wg_device_stats) are plain fields that the loop's thread writes for every
 * packet; read from another thread they would be a data race. So
 * libmicrohttpd gets no thread of its own: it runs in "external polling"
 * mode with epoll, its epoll fd is one more fd of gatewayd's loop, and
 * MHD_run() is called on the loop's thread when that fd is readable or when
 * MHD's timeout (a timerfd here) expires. Every callback of MHD, and with
 * them every read of those counters, runs on the loop's thread between two
 * batches of packets.
 *
 * What takes long runs on the worker (tunnel/worker.h) while the request is
 * suspended (MHD_suspend_connection): the conntrack walk that counts each
 * client's flows, the policy's nft counters and drop set (on a netlink
 * socket of their own) and nf_conntrack_count. That job reads only what the
 * loop changes in other jobs' done() alone, never while a job runs: the
 * policy in force, and the configuration's client list (client add, remove,
 * SIGHUP; gateway/roster.h). So the client list it indexes is the one its
 * own done() sees. That done() runs on the loop's thread again: it reads the
 * WireGuard counters there, renders the text and resumes the requests.
 * Scrapes that arrive while a job runs wait for the next one, so a scrape
 * never shows conntrack or nft older than itself, and however many
 * scrapers there are, the worker's queue holds at most one job of ours. */
#include "gateway/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "gateway/clients.h"
#include "gateway/config.h"
#include "gateway/ct.h"
#include "gateway/enforce.h"
#include "gateway/metrics_text.h"
#include "gateway/nft.h"
#include "policy/policy.h"
#include "tunnel/log.h"
#include "tunnel/loop.h"
#include "tunnel/sysctl.h"
#include "tunnel/wg.h"
#include "tunnel/worker.h"

#ifndef EGRESS_VERSION
#error "EGRESS_VERSION comes from CMake's project(VERSION)"
#endif

/* A client's id (the low bits of its ct mark) and its index in the
 * configuration. */
struct id_index {
	uint32_t id;
	size_t client;
};

/* One request for /metrics, from its headers to its answer. */
struct scrape {
	struct metrics *m;
	struct MHD_Connection *conn;
	struct scrape *next; /* in m->waiting or m->later */
	bool listed;
	struct MHD_Response *resp; /* the answer, set when it is resumed */
	unsigned status;
};

struct metrics {
	const struct gw_config *cfg;
	struct metrics_view v;
	struct loop *loop;
	struct MHD_Daemon *mhd;
	int mhd_fd;   /* MHD's epoll fd, watched by the loop; MHD's own */
	int timer_fd; /* fires at MHD's timeout */
	char where[64];
	uint64_t start_time;
	struct collect *job;    /* on the worker now; NULL: none */
	struct scrape *waiting; /* answered when job is done */
	struct scrape *later;   /* came after job had started: the next job's */
};

/* ---- the worker's half of a scrape */

struct counter {
	char name[96];
	uint64_t packets, bytes;
};

struct collect {
	struct metrics *m;
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
static long client_of_mark(const struct collect *c, uint64_t mark)
{
	const struct gw_config *cfg = c->m->cfg;
	struct id_index key = {.id = (uint32_t)mark & cfg->mark_id_mask}, *found;

	if ((mark & ~(uint64_t)cfg->mark_id_mask) != cfg->mark_tag)
		return -1;
	found = bsearch(&key, c->by_id, c->n, sizeof(key), id_cmp);
	return found ? (long)found->client : -1;
}

/* The index in cfg of the client named name, or -1. */
static long client_of_name(const struct collect *c, const char *name)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(name, c->m->cfg->clients[c->by_name[mid]].name);

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
static int index_clients(struct collect *c)
{
	const struct gw_config *cfg = c->m->cfg;
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
	struct collect *c = arg;
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
	struct collect *c = arg;
	long k = client_of_mark(c, mark);

	if (k >= 0)
		c->drops[k] = packets;
	return 0;
}

static int got_counter(void *arg, const char *name, uint64_t packets, uint64_t bytes)
{
	struct collect *c = arg;

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

/* On the worker. */
static void collect_run(void *arg)
{
	struct collect *c = arg;
	const struct gw_config *cfg = c->m->cfg;
	char err[256];
	int e;

	e = index_clients(c);
	c->flows_err = e ? e : ct_list(cfg->mark_tag, ~cfg->mark_id_mask, count_flow, c);
	c->drops_err = e ? e
	                 : nft_set_counters(enforce_nft(c->m->v.policy), POLICY_DROPS_SET,
	                                    count_drops, c, err, sizeof(err));
	c->counters_err =
	        nft_counters(enforce_nft(c->m->v.policy), got_counter, c, err, sizeof(err));
	if (c->counters_err)
		log_debug("metrics: cannot list the nft counters: %s",
		          c->counters_err == -EINVAL ? err : strerror(-c->counters_err));
	else
		qsort(c->counters, c->n_counters, sizeof(*c->counters), counter_cmp);
	c->ct_err = read_u64("net/netfilter/nf_conntrack_count", &c->ct_count);
	if (!c->ct_err)
		c->ct_err = read_u64("net/netfilter/nf_conntrack_max", &c->ct_max);
}

/* The nft counter named prefix + name, or NULL. */
static const struct counter *find_counter(const struct collect *c, const char *prefix,
                                          const char *name)
{
	struct counter key;

	snprintf(key.name, sizeof(key.name), "%s%s", prefix, name);
	return c->counters_err
	               ? NULL
	               : bsearch(&key, c->counters, c->n_counters, sizeof(key), counter_cmp);
}

static void collect_free(struct collect *c)
{
	if (!c)
		return;
	free(c->by_id);
	free(c->by_name);
	free(c->flows);
	free(c->drops);
	free(c->counters);
	free(c);
}

/* ---- the loop's half: the snapshot and the text */

static int snapshot_clients(struct metrics *m, const struct collect *c, struct metrics_snapshot *s,
                            struct metrics_client **out)
{
	uint64_t now = wg_now();
	const struct wg_peer *p;
	struct metrics_client *cl;
	size_t n = 0;

	while (wg_device_peer(m->v.dev, n))
		n++;
	cl = calloc(n ? n : 1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct counter *over;
		long k;

		p = wg_device_peer(m->v.dev, i);
		cl[i].name = wg_peer_name(p);
		wg_peer_stats(p, now, &cl[i].st);
		cl[i].connected = clients_connected(&cl[i].st, now);
		k = client_of_name(c, cl[i].name);
		if (k >= 0 && !c->flows_err)
			cl[i].flows = c->flows[k];
		if (k >= 0 && !c->drops_err)
			cl[i].policy_drops = c->drops[k];
		over = find_counter(c, "flows_over_", cl[i].name);
		cl[i].has_max_flows = over != NULL;
		cl[i].max_flows_refused = over ? over->packets : 0;
	}
	s->clients = cl;
	s->n_clients = n;
	s->flows_ok = !c->flows_err;
	s->drops_ok = !c->drops_err;
	*out = cl;
	return 0;
}

/* The policy's counters in its order, then the defaults, as policy stats
 * lists them. */
static int snapshot_rules(struct metrics *m, const struct collect *c, struct metrics_snapshot *s,
                          struct metrics_rule **out)
{
	const struct policy *p = enforce_policy(m->v.policy);
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

static int render(struct metrics *m, const struct collect *c, char **text, size_t *len)
{
	struct metrics_snapshot s = {
	        .version = EGRESS_VERSION,
	        .start_time = m->start_time,
	        .conntrack_ok = !c->ct_err,
	        .ct_count = c->ct_count,
	        .ct_max = c->ct_max,
	};
	struct metrics_client *cl = NULL;
	struct metrics_rule *r = NULL;
	int e;

	wg_device_stats(m->v.dev, wg_now(), &s.dev);
	e = snapshot_clients(m, c, &s, &cl);
	if (!e)
		e = snapshot_rules(m, c, &s, &r);
	if (!e)
		e = metrics_render(&s, text, len);
	free(cl);
	free(r);
	return e;
}

/* ---- answering */

static void run(struct metrics *m);
static int collect_start(struct metrics *m);

static void list_push(struct scrape **list, struct scrape *s)
{
	s->next = *list;
	s->listed = true;
	*list = s;
}

static struct MHD_Response *text_response(const char *text, size_t len, const char *type)
{
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);

	if (r && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES) {
		MHD_destroy_response(r);
		r = NULL;
	}
	return r;
}

/* Each scrape of list gets its answer and is resumed; MHD sends it from
 * its next run. A scrape whose answer could not be made is closed. */
static void answer_all(struct scrape *list, unsigned status, const char *text, size_t len)
{
	struct scrape *s, *next;

	for (s = list; s; s = next) {
		next = s->next;
		s->next = NULL;
		s->listed = false;
		s->status = status;
		s->resp = text_response(
		        text, len, status == MHD_HTTP_OK ? METRICS_CONTENT_TYPE : "text/plain");
		MHD_resume_connection(s->conn);
	}
}

static void answer_unavailable(struct scrape *list)
{
	static const char msg[] = "metrics not available now, try again\n";

	answer_all(list, MHD_HTTP_SERVICE_UNAVAILABLE, msg, sizeof(msg) - 1);
}

static void collect_done(void *arg)
{
	struct collect *c = arg;
	struct metrics *m = c->m;
	struct scrape *list = m->waiting;
	char *text = NULL;
	size_t len = 0;

	m->job = NULL;
	m->waiting = NULL;
	if (render(m, c, &text, &len) < 0) {
		log_warnx("metrics: out of memory for a scrape");
		answer_unavailable(list);
	} else {
		answer_all(list, MHD_HTTP_OK, text, len);
	}
	free(text);
	collect_free(c);
	if (m->later) {
		list = m->later;
		m->later = NULL;
		if (collect_start(m) < 0)
			answer_unavailable(list);
		else
			m->waiting = list;
	}
	run(m);
}

/* The worker was freed before the job started: gatewayd stops. */
static void collect_cancel(void *arg)
{
	struct collect *c = arg;
	struct metrics *m = c->m;

	m->job = NULL;
	answer_unavailable(m->waiting);
	answer_unavailable(m->later);
	m->waiting = m->later = NULL;
	collect_free(c);
	run(m);
}

static int collect_start(struct metrics *m)
{
	struct collect *c = calloc(1, sizeof(*c));
	int e;

	if (!c)
		return -ENOMEM;
	c->m = m;
	e = worker_submit(m->v.worker, collect_run, collect_done, collect_cancel, c);
	if (e < 0) {
		log_debug("metrics: scrape refused: %s",
		          e == -EBUSY ? "the worker's queue is full" : strerror(-e));
		collect_free(c);
		return e;
	}
	m->job = c;
	return 0;
}

static enum MHD_Result answer_now(struct MHD_Connection *conn, unsigned status, const char *msg,
                                  const char *allow)
{
	struct MHD_Response *r = text_response(msg, strlen(msg), "text/plain");
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A request with a body: a scrape has none, and we read none. */
static bool has_body(struct MHD_Connection *conn)
{
	const char *cl =
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (cl && strcmp(cl, "0")) ||
	       MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                   MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* MHD's access handler: first with the headers (*req_cls NULL), then once
 * more for a scrape when it is resumed with its answer. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	struct metrics *m = cls;
	struct scrape *s = *req_cls;
	enum MHD_Result ret;

	if (s) {
		if (!s->resp)
			return MHD_NO; /* closes the connection */
		ret = MHD_queue_response(conn, s->status, s->resp);
		MHD_destroy_response(s->resp);
		s->resp = NULL;
		return ret;
	}
	if (strcmp(url, "/metrics"))
		return answer_now(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return answer_now(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
		                  "GET, HEAD");
	if (has_body(conn))
		return answer_now(conn, MHD_HTTP_CONTENT_TOO_LARGE, "a scrape has no body\n", NULL);
	s = calloc(1, sizeof(*s));
	if (!s)
		return MHD_NO;
	s->m = m;
	s->conn = conn;
	*req_cls = s; /* MHD hands it to on_completed, which frees it */
	if (m->job) {
		list_push(&m->later, s);
	} else if (collect_start(m) < 0) {
		return answer_now(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
		                  "metrics not available now, try again\n", NULL);
	} else {
		list_push(&m->waiting, s);
	}
	MHD_suspend_connection(conn);
	return MHD_YES;
}

static void list_remove(struct scrape **list, struct scrape *s)
{
	for (; *list; list = &(*list)->next) {
		if (*list == s) {
			*list = s->next;
			return;
		}
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct scrape *s = *req_cls;

	if (!s)
		return;
	if (s->listed) {
		list_remove(&s->m->waiting, s);
		list_remove(&s->m->later, s);
	}
	if (s->resp)
		MHD_destroy_response(s->resp);
	free(s);
	*req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_debug("metrics: libmicrohttpd: %s", line);
}

/* ---- MHD on the loop */

/* MHD's next deadline on the timerfd; none: disarmed. */
static void arm(struct metrics *m)
{
	struct itimerspec its = {0};
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES) {
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
		if (!ms)
			its.it_value.tv_nsec = 1; /* now: a zero value would disarm it */
	}
	timerfd_settime(m->timer_fd, 0, &its, NULL);
}

static unsigned connections(struct metrics *m)
{
	const union MHD_DaemonInfo *i =
	        MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

static void run(struct metrics *m)
{
	unsigned before;

	if (!m->loop)
		return; /* not attached: nothing is served yet */
	/* At its connection limit MHD takes the listen socket out of its
	 * epoll set, and puts it back only at the start of a later run: a run
	 * that began at the limit and closed connections would leave it out,
	 * with nothing to wake the loop for those waiting in the backlog (seen
	 * as scrapes hanging after a burst of resets). One more run puts it
	 * back; that one began below the limit, so it is the last. */
	do {
		before = connections(m);
		MHD_run(m->mhd);
	} while (before >= METRICS_CONNECTIONS_MAX && connections(m) < METRICS_CONNECTIONS_MAX);
	arm(m);
}

static int on_mhd(void *arg, uint32_t events)
{
	run(arg);
	return 0;
}

static int on_timer(void *arg, uint32_t events)
{
	struct metrics *m = arg;
	uint64_t n;

	(void)!read(m->timer_fd, &n, sizeof(n));
	run(m);
	return 0;
}

/* ---- open, attach, close */

static void format_where(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(s4->sin_port));
	}
}

/* Our own socket rather than MHD's bind: a port in use is then a precise
 * errno for the log line, not a NULL daemon. */
static int listen_on(const struct gw_config *cfg)
{
	int fd, one = 1, e;

	fd = socket(cfg->metrics_listen.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A restart must not wait for the last scrapes' TIME_WAIT. A listener
	 * of another process still refuses the bind. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&cfg->metrics_listen, cfg->metrics_listen_len) < 0 ||
	    listen(fd, 16) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static void metrics_free(struct metrics *m)
{
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	free(m);
}

int metrics_open(struct metrics **out, const struct gw_config *cfg)
{
	struct metrics *m;
	int fd, e;

	*out = NULL;
	if (!cfg->metrics_listen_len)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = cfg;
	m->mhd_fd = -1;
	m->start_time = (uint64_t)time(NULL);
	format_where(&cfg->metrics_listen, m->where, sizeof(m->where));
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->timer_fd < 0) {
		e = -errno;
		log_err("metrics: timerfd");
		metrics_free(m);
		return e;
	}
	fd = listen_on(cfg);
	if (fd < 0) {
		log_errx("cannot serve metrics on %s: %s", m->where, strerror(-fd));
		metrics_free(m);
		return fd;
	}
	/* No MHD thread (see the top of this file): MHD_USE_EPOLL without
	 * MHD_USE_INTERNAL_POLLING_THREAD is polled by our loop. */
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
	                          NULL, NULL, on_request, m, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
	                          NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	                          (unsigned)METRICS_CONNECTIONS_MAX,
	                          MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_REQUEST_MAX,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_IDLE_TIMEOUT,
	                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (!m->mhd) {
		/* MHD closes a socket it was given only once it has started. */
		if (fcntl(fd, F_GETFD) >= 0)
			close(fd);
		log_errx("cannot serve metrics on %s: libmicrohttpd did not start", m->where);
		metrics_free(m);
		return -EIO;
	}
	m->mhd_fd = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
	*out = m;
	return 0;
}

int metrics_attach(struct metrics *m, struct loop *l, const struct metrics_view *v)
{
	int e;

	if (!m)
		return 0;
	m->v = *v;
	e = loop_add(l, m->mhd_fd, EPOLLIN, on_mhd, m);
	if (!e) {
		e = loop_add(l, m->timer_fd, EPOLLIN, on_timer, m);
		if (e)
			loop_del(l, m->mhd_fd);
	}
	if (e) {
		errno = -e;
		log_err("metrics: event loop");
		return e;
	}
	m->loop = l;
	log_info("metrics on http://%s/metrics", m->where);
	run(m); /* the scrapers that came while gatewayd started */
	return 0;
}

void metrics_close(struct metrics *m)
{
	if (!m)
		return;
	/* MHD must not stop with a connection suspended: whatever still waits
	 * (nothing, once the worker is gone) is answered and resumed, and one
	 * more run lets MHD take them back. */
	answer_unavailable(m->waiting);
	answer_unavailable(m->later);
	m->waiting = m->later = NULL;
	if (m->loop) {
		MHD_run(m->mhd);
		loop_del(m->loop, m->mhd_fd);
		loop_del(m->loop, m->timer_fd);
	}
	MHD_stop_daemon(m->mhd);
	metrics_free(m);
}
