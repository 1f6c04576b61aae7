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
 * On the loop a scrape only copies those counters (a struct per client);
 * the rest (gateway/metrics_collect.c) runs on the worker (tunnel/worker.h)
 * while the request is suspended (MHD_suspend_connection): the conntrack
 * walk that counts each client's flows, the policy's nft counters and drop
 * set (on a netlink socket of their own), nf_conntrack_count, and the text
 * itself, which for 60,000 clients is 35 MB and half a second of work. The job reads only
 * what the loop changes in other jobs' done() alone, never while a job
 * runs: the policy in force, and the configuration's client list (client
 * add, remove, SIGHUP; gateway/roster.h). Its done(), on the loop's thread
 * again, hands the text to the waiting requests and resumes them. Scrapes
 * that arrive while a job runs wait for the next one, so a scrape never
 * shows counters older than itself, and however many scrapers there are,
 * the worker's queue holds at most one job of ours. */
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

#include "gateway/config.h"
#include "gateway/metrics_collect.h"
#include "gateway/metrics_text.h"
#include "tunnel/log.h"
#include "tunnel/loop.h"
#include "tunnel/worker.h"

/* One answer for all the scrapes a job served: a response of MHD's
 * (whose own count keeps it while connections send it), and how many of
 * those scrapes have yet to queue it. */
struct answer {
	struct MHD_Response *resp;
	unsigned status;
	unsigned refs;
};

/* One request for /metrics, from its headers to its answer. */
struct scrape {
	struct metrics *m;
	struct MHD_Connection *conn;
	struct scrape *next; /* in m->waiting or m->later */
	bool listed;
	struct answer *ans; /* set when it is resumed; NULL then: closed */
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
	struct metrics_collect *job; /* on the worker now; NULL: none */
	struct scrape *waiting;      /* answered when job is done */
	struct scrape *later;        /* came after job had started: the next job's */
};

/* ---- answering */

static void run(struct metrics *m);
static int collect_start(struct metrics *m);

static void list_push(struct scrape **list, struct scrape *s)
{
	s->next = *list;
	s->listed = true;
	*list = s;
}

static void free_text(void *text)
{
	free(text);
}

/* A response of text (taken: freed with the response, or now on failure;
 * NULL take: static text). */
static struct MHD_Response *text_response(const char *text, size_t len, const char *type, bool take)
{
	struct MHD_Response *r =
	        take ? MHD_create_response_from_buffer_with_free_callback_cls(
	                       len, (void *)text, free_text, (void *)text)
	             : MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_PERSISTENT);

	if (!r && take)
		free((void *)text);
	if (r && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES) {
		MHD_destroy_response(r);
		r = NULL;
	}
	return r;
}

/* A scrape is done with its answer: queued, or never to be. */
static void answer_drop(struct scrape *s)
{
	struct answer *a = s->ans;

	s->ans = NULL;
	if (a && --a->refs == 0) {
		MHD_destroy_response(a->resp);
		free(a);
	}
}

/* Every scrape of list gets one answer, and is resumed; MHD sends it from
 * its next run. text is taken when take. A scrape without an answer (out
 * of memory) is closed. */
static void answer_all(struct scrape *list, unsigned status, char *text, size_t len, bool take)
{
	struct answer *a = NULL;
	struct scrape *s, *next;
	unsigned n = 0;

	for (s = list; s; s = s->next)
		n++;
	if (n) {
		a = calloc(1, sizeof(*a));
		if (a)
			a->resp = text_response(
			        text, len,
			        status == MHD_HTTP_OK ? METRICS_CONTENT_TYPE : "text/plain", take);
		else if (take)
			free(text);
		if (a && !a->resp) {
			free(a);
			a = NULL;
		}
	} else if (take) {
		free(text);
	}
	if (a) {
		a->status = status;
		a->refs = n;
	}
	for (s = list; s; s = next) {
		next = s->next;
		s->next = NULL;
		s->listed = false;
		s->ans = a;
		MHD_resume_connection(s->conn);
	}
}

static void answer_unavailable(struct scrape *list)
{
	static char msg[] = "metrics not available now, try again\n";

	answer_all(list, MHD_HTTP_SERVICE_UNAVAILABLE, msg, sizeof(msg) - 1, false);
}

/* The job's argument is m: one job at a time, m->job, set before it is
 * queued and cleared in its done(). */
static void collect_run(void *arg)
{
	struct metrics *m = arg;

	metrics_collect_run(m->job);
}

static void collect_done(void *arg)
{
	struct metrics *m = arg;
	struct scrape *list = m->waiting;
	size_t len;
	char *text = metrics_collect_text(m->job, &len);

	metrics_collect_free(m->job);
	m->job = NULL;
	m->waiting = NULL;
	if (!text) {
		log_warnx("metrics: out of memory for a scrape");
		answer_unavailable(list);
	} else {
		answer_all(list, MHD_HTTP_OK, text, len, true); /* the answer's now */
	}
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
	struct metrics *m = arg;

	metrics_collect_free(m->job);
	m->job = NULL;
	answer_unavailable(m->waiting);
	answer_unavailable(m->later);
	m->waiting = m->later = NULL;
	run(m);
}

static int collect_start(struct metrics *m)
{
	int e;

	m->job = metrics_collect_new(&m->v, m->start_time);
	if (!m->job)
		return -ENOMEM;
	e = worker_submit(m->v.worker, collect_run, collect_done, collect_cancel, m);
	if (e < 0) {
		log_debug("metrics: scrape refused: %s",
		          e == -EBUSY ? "the worker's queue is full" : strerror(-e));
		metrics_collect_free(m->job);
		m->job = NULL;
	}
	return e;
}

static enum MHD_Result answer_now(struct MHD_Connection *conn, unsigned status, const char *msg,
                                  const char *allow)
{
	struct MHD_Response *r = text_response(msg, strlen(msg), "text/plain", false);
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
		if (!s->ans)
			return MHD_NO; /* closes the connection */
		ret = MHD_queue_response(conn, s->ans->status, s->ans->resp);
		answer_drop(s);
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
	answer_drop(s);
	free(s);
	*req_cls = NULL;
}

/* MHD's messages: its format strings, so the attribute tells the compiler
 * where they come from. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
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
