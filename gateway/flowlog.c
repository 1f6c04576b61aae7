/* The flow log and its watchers: see flowlog.h.
 *
 * Who owns what. Set at flowlog_new() and read-only after: the parameters
 * and the path (the names of clients and rules come from the callbacks). The listener thread's
 * alone (after pthread_create, which orders everything before it): the event socket, the log's fd,
 * the set of live flows, its read buffer. The loop's thread's alone: the watchers and their
 * streams. Shared: the queue of events for watchers (under mu), the flags the loop sets for the
 * listener (stop, reopen: atomics, with a write to wake_fd), how many watch (an atomic the listener
 * reads to skip the queue when nobody does), and the counters (atomics, written by the listener,
 * read by the report).
 *
 * Reliable events (ct_events_open()) mean the kernel keeps a destroyed
 * entry until its DESTROY is read: the listener must keep up, so it does
 * nothing but read, decode, write lines and push to the queue, and the
 * queue never makes it wait (a full queue drops, and the watchers are told
 * they lost events). */
#include "gateway/flowlog.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tunnel/ctl.h"
#include "tunnel/log.h"
#include "tunnel/loop.h"

#define RBUF_SIZE 65536
/* How long a flow logged as missed is remembered, so that its DESTROY,
 * should the kernel still deliver it, is not a second end. */
#define TOMBSTONE_NS (60 * 1000000000ull)
/* How long a flow a resync found gone waits for its DESTROY, which the
 * kernel may still deliver (reliable events keep it until it can), before
 * it is logged as missed. */
#define GONE_GRACE_NS (5 * 1000000000ull)
/* Resyncs in a row that overrun again before the listener settles for
 * what it has and tries again a second later. */
#define RESYNC_TRIES 3

/* A live flow the listener knows. */
struct flow {
	struct flow *next;  /* in its bucket */
	struct ct_entry e;  /* as last known: its NEW event or the latest dump */
	uint64_t seen_ns;   /* when gatewayd first learnt of it */
	uint64_t gone_ns;   /* 0, or when a resync first found it gone from the table */
	uint64_t missed_ns; /* 0, or when it was logged as missed: a tombstone */
	unsigned gen;       /* the resync that last found it */
};

struct watcher {
	struct watcher *prev, *next;
	struct flowlog *fl;
	struct ctl_stream *stream;
	flowlog_match_fn *match;
	void (*free_arg)(void *arg);
	void *arg;
};

struct flowlog {
	/* read-only after flowlog_new() */
	struct loop *loop;
	struct flowlog_params p;
	char *path; /* "" without a log */

	/* the listener's */
	pthread_t thread;
	bool running; /* the loop's view: the thread was started */
	int sock, log_fd;
	struct flow **buckets;
	size_t n_buckets, n_flows, n_gone;
	unsigned gen;
	uint64_t resync_due_ns, expire_ns; /* CLOCK_MONOTONIC; 0: none due */
	char *rbuf;
	struct log_ratelimit rl_overrun, rl_write, rl_bad;

	/* shared */
	int wake_fd;  /* loop -> listener: look at stop and reopen */
	int queue_fd; /* listener -> loop: events in the queue */
	atomic_bool stop, reopen;
	atomic_uint watching;
	pthread_mutex_t mu;
	struct flowlog_event *queue; /* FLOWLOG_QUEUE, a ring: head, n (under mu) */
	size_t head, n_queued;
	bool lost; /* under mu: events were dropped since the loop last looked */
	atomic_ulong live, n_new, n_end, n_missed, lines, write_errors, overruns, resyncs, bad_msgs,
	        lost_events;

	/* the loop's */
	struct watcher *watchers;
	size_t n_watchers;
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- one event (pure) */

const char *flowlog_end_reason(const struct ct_entry *e)
{
	if (e->flow.proto == IPPROTO_TCP && e->flow.state) {
		if (!strcmp(e->flow.state, "TIME_WAIT"))
			return "closed";
		if (!strcmp(e->flow.state, "CLOSE"))
			return "reset";
	}
	return "timeout";
}

/* ns since the epoch as 2026-12-03T05:56:22.123Z; NULL for 0. */
static const char *iso_ms(uint64_t ns, char buf[32])
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;
	size_t n;

	if (!ns || !gmtime_r(&t, &tm))
		return NULL;
	n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03uZ", (unsigned)(ns / 1000000u % 1000u));
	return buf;
}

json_t *flowlog_event_json(const struct flowlog_event *ev)
{
	const struct ct_entry *e = &ev->entry;
	const struct ct_flow *f = &e->flow;
	char now[32], start[32], end[32], src[PREFIX_STRLEN], dst[PREFIX_STRLEN],
	        nat[PREFIX_STRLEN], pnum[8];
	const char *proto = ct_proto_name(f->proto);
	json_t *duration = NULL;

	if (!proto) {
		snprintf(pnum, sizeof(pnum), "%u", f->proto);
		proto = pnum;
	}
	if (ev->kind == FLOWLOG_END && ev->start_ns && ev->end_ns >= ev->start_ns)
		duration = json_integer((json_int_t)((ev->end_ns - ev->start_ns) / 1000000u));
	return json_pack(
	        "{s:s?, s:s, s:I, s:s, s:s, s:s, s:s, s:i, s:s, s:i, s:s?, s:i, s:s?, "
	        "s:I, s:I, s:I, s:I, s:s?, s:s?, s:o, s:s?, s:s?}",
	        "time", iso_ms(ev->time_ns, now), "event", ev->kind == FLOWLOG_NEW ? "new" : "end",
	        "ct_id", (json_int_t)e->id, "client", ev->client, "family",
	        f->src.family == AF_INET6 ? "ipv6" : "ipv4", "proto", proto, "src",
	        prefix_format_addr(&f->src, src, sizeof(src)), "sport", (int)f->sport, "dst",
	        prefix_format_addr(&f->dst, dst, sizeof(dst)), "dport", (int)f->dport, "nat_src",
	        e->nat_src.family ? prefix_format_addr(&e->nat_src, nat, sizeof(nat)) : NULL,
	        "nat_sport", (int)e->nat_sport, "state", f->state, "packets_out",
	        (json_int_t)e->packets_out, "bytes_out", (json_int_t)e->bytes_out, "packets_in",
	        (json_int_t)e->packets_in, "bytes_in", (json_int_t)e->bytes_in, "start",
	        iso_ms(ev->start_ns, start), "end",
	        ev->kind == FLOWLOG_END ? iso_ms(ev->end_ns, end) : NULL, "duration_ms",
	        duration ? duration : json_null(), "rule", ev->rule[0] ? ev->rule : NULL, "reason",
	        ev->reason);
}

/* ---- the listener: the set of live flows, by conntrack id */

static struct flow **bucket(struct flowlog *fl, uint32_t id)
{
	/* Conntrack ids are hashes already. */
	return &fl->buckets[id & (fl->n_buckets - 1)];
}

static struct flow *find(struct flowlog *fl, uint32_t id)
{
	struct flow *f;

	for (f = *bucket(fl, id); f && f->e.id != id; f = f->next)
		;
	return f;
}

static void grow(struct flowlog *fl)
{
	size_t nb = fl->n_buckets * 2;
	struct flow **b = calloc(nb, sizeof(*b)), *f, *next;

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < fl->n_buckets; i++)
		for (f = fl->buckets[i]; f; f = next) {
			next = f->next;
			f->next = b[f->e.id & (nb - 1)];
			b[f->e.id & (nb - 1)] = f;
		}
	free(fl->buckets);
	fl->buckets = b;
	fl->n_buckets = nb;
}

/* NULL when out of memory: the flow is logged all the same, and its end
 * too (as one the listener did not know). */
static struct flow *add(struct flowlog *fl, const struct ct_entry *e, uint64_t now)
{
	struct flow *f = calloc(1, sizeof(*f)), **b;

	if (!f)
		return NULL;
	f->e = *e;
	f->seen_ns = now;
	f->gen = fl->gen;
	b = bucket(fl, e->id);
	f->next = *b;
	*b = f;
	fl->n_flows++;
	atomic_fetch_add(&fl->live, 1);
	if (fl->n_flows > fl->n_buckets)
		grow(fl);
	return f;
}

static void drop(struct flowlog *fl, struct flow *f)
{
	struct flow **pp = bucket(fl, f->e.id);

	while (*pp != f)
		pp = &(*pp)->next;
	*pp = f->next;
	fl->n_flows--;
	if (f->gone_ns && !f->missed_ns)
		fl->n_gone--;
	if (!f->missed_ns)
		atomic_fetch_sub(&fl->live, 1);
	free(f);
}

/* ---- the listener: lines and the queue */

/* ev for e, false for a mark that is no client's. */
static bool event_for(struct flowlog *fl, enum flowlog_kind kind, const struct ct_entry *e,
                      uint32_t rule_id, struct flowlog_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (fl->p.client_name(fl->p.arg, e->flow.mark, ev->client, sizeof(ev->client)) < 0)
		return false;
	ev->kind = kind;
	ev->entry = *e;
	ev->time_ns = clock_ns(CLOCK_REALTIME);
	if (rule_id && fl->p.rule_name &&
	    fl->p.rule_name(fl->p.arg, rule_id, ev->rule, sizeof(ev->rule)) < 0)
		ev->rule[0] = '\0';
	return true;
}

static void write_line(struct flowlog *fl, const struct flowlog_event *ev)
{
	json_t *j = flowlog_event_json(ev);
	char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
	size_t len, off = 0;
	unsigned long held;
	int err = ENOMEM;

	json_decref(j);
	if (t) {
		len = strlen(t);
		t[len++] = '\n'; /* over the NUL: the length says where it ends */
		/* One write: a line of the log is whole or absent, even on a pipe. */
		while (off < len) {
			ssize_t n = write(fl->log_fd, t + off, len - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				err = n < 0 ? errno : EIO;
				break;
			}
			off += (size_t)n;
		}
		free(t);
	}
	if (t && off == len) {
		atomic_fetch_add(&fl->lines, 1);
		return;
	}
	atomic_fetch_add(&fl->write_errors, 1);
	if (log_ratelimit(&fl->rl_write, clock_ns(CLOCK_MONOTONIC), 10000000000ull, &held))
		log_errx("flow log: cannot write a line: %s (%lu more failures held back)",
		         strerror(err), held);
}

/* For the watchers, through the loop's thread: never waits. */
static void push(struct flowlog *fl, const struct flowlog_event *ev)
{
	uint64_t one = 1;
	bool kick;

	pthread_mutex_lock(&fl->mu);
	kick = fl->n_queued == 0;
	if (fl->n_queued == FLOWLOG_QUEUE) {
		fl->lost = true;
		atomic_fetch_add(&fl->lost_events, 1);
	} else {
		fl->queue[(fl->head + fl->n_queued) % FLOWLOG_QUEUE] = *ev;
		fl->n_queued++;
	}
	pthread_mutex_unlock(&fl->mu);
	if (kick)
		(void)!write(fl->queue_fd, &one, sizeof(one));
}

/* One new or ended flow: its line, and to the watchers unless quiet. */
static void emit(struct flowlog *fl, const struct flowlog_event *ev, bool quiet)
{
	atomic_fetch_add(ev->kind == FLOWLOG_NEW ? &fl->n_new : &fl->n_end, 1);
	if (fl->log_fd >= 0 && (ev->kind == FLOWLOG_END || fl->p.log_new))
		write_line(fl, ev);
	if (!quiet && atomic_load(&fl->watching))
		push(fl, ev);
}

/* ---- the listener: events, and resyncs after an overrun */

static void on_new(struct flowlog *fl, const struct ct_entry *e, bool quiet)
{
	uint64_t now = clock_ns(CLOCK_REALTIME);
	struct flowlog_event ev;
	struct flow *f = e->id ? find(fl, e->id) : NULL;

	if (f && !f->missed_ns) {
		f->gen = fl->gen; /* known already (from a dump), and still there */
		return;
	}
	if (f)
		drop(fl, f); /* a tombstone's id given to a new entry */
	if (!event_for(fl, FLOWLOG_NEW, e, e->rule_id, &ev))
		return;
	f = e->id ? add(fl, e, now) : NULL;
	/* A NEW event carries no start stamp (the kernel sends those with the
	 * DESTROY); when gatewayd took it is as good, to a millisecond. */
	ev.start_ns = e->start_ns ? e->start_ns : now;
	if (f && !f->e.start_ns)
		f->e.start_ns = ev.start_ns;
	emit(fl, &ev, quiet);
}

static void on_destroy(struct flowlog *fl, const struct ct_entry *e)
{
	struct flow *f = e->id ? find(fl, e->id) : NULL;
	struct flowlog_event ev;

	if (f && f->missed_ns) {
		/* Logged as missed already: its end is not logged twice. */
		log_debug("flow log: flow %u, logged as missed, ended after all", e->id);
		drop(fl, f);
		return;
	}
	/* The DESTROY has the final counters and stamps, but no labels:
	 * the rule is what its NEW event or a dump said. */
	if (event_for(fl, FLOWLOG_END, e, f ? f->e.rule_id : e->rule_id, &ev)) {
		ev.reason = flowlog_end_reason(e);
		ev.start_ns = e->start_ns ? e->start_ns : f ? f->e.start_ns : 0;
		ev.end_ns = e->stop_ns ? e->stop_ns : ev.time_ns;
		emit(fl, &ev, false);
	}
	if (f)
		drop(fl, f);
}

static int on_event(void *arg, enum ct_event type, const struct ct_entry *e)
{
	struct flowlog *fl = arg;

	if (type == CT_EVENT_NEW)
		on_new(fl, e, false);
	else if (type == CT_EVENT_DESTROY)
		on_destroy(fl, e);
	return 0;
}

/* Reads and handles up to max messages, or all that wait; false when the
 * socket overran meanwhile. Stops early when the loop asks it to stop. */
static bool drain(struct flowlog *fl, size_t max)
{
	uint64_t now;
	unsigned long held;
	bool ok = true;

	for (size_t i = 0; i < max; i++) {
		int n = ct_events_read(fl->sock, fl->rbuf, RBUF_SIZE), ret;

		if (n == -EAGAIN)
			break;
		if ((i & 255) == 255 && atomic_load(&fl->stop))
			break;
		now = clock_ns(CLOCK_MONOTONIC);
		if (n == -ENOBUFS) {
			unsigned long o = atomic_fetch_add(&fl->overruns, 1) + 1;

			ok = false;
			if (log_ratelimit(&fl->rl_overrun, now, 1000000000u, &held))
				log_warnx("flow log: conntrack events overran the socket (overrun "
				          "%lu, %lu held back); resyncing from the table",
				          o, held);
			continue;
		}
		if (n < 0) {
			if (log_ratelimit(&fl->rl_bad, now, 10000000000ull, &held))
				log_errx("flow log: reading conntrack events: %s", strerror(-n));
			break;
		}
		ret = n ? ct_events_parse(fl->rbuf, (size_t)n, fl->p.tag, fl->p.mask, on_event, fl)
		        : 0;
		if (ret < 0) {
			atomic_fetch_add(&fl->bad_msgs, 1);
			if (log_ratelimit(&fl->rl_bad, now, 10000000000ull, &held))
				log_warnx("flow log: a conntrack event that does not decode: %s",
				          strerror(-ret));
		}
	}
	return ok;
}

struct sync {
	struct flowlog *fl;
	bool initial;
	size_t found, added;
};

static int dumped(void *arg, const struct ct_entry *e)
{
	struct sync *s = arg;
	struct flow *f = e->id ? find(s->fl, e->id) : NULL;
	uint32_t rule_id;

	s->found++;
	if (f && !f->missed_ns) {
		/* The latest counters, for an end this listener might miss. */
		rule_id = e->rule_id ? e->rule_id : f->e.rule_id;
		f->e = *e;
		f->e.rule_id = rule_id;
		f->gen = s->fl->gen;
		return 0;
	}
	s->added++;
	/* Not one we knew: its NEW was lost (or came before we listened).
	 * At the first sync nobody watches yet for what was there before. */
	on_new(s->fl, e, s->initial);
	return 0;
}

/* After a dump: a flow it did not have is gone, unless a later dump has
 * it; one it had is not. How many are gone now. */
static size_t sweep(struct flowlog *fl, uint64_t now)
{
	struct flow *f;

	for (size_t i = 0; i < fl->n_buckets; i++)
		for (f = fl->buckets[i]; f; f = f->next) {
			if (f->missed_ns)
				continue;
			if (f->gen == fl->gen && f->gone_ns) {
				f->gone_ns = 0;
				fl->n_gone--;
			} else if (f->gen != fl->gen && !f->gone_ns) {
				f->gone_ns = now;
				fl->n_gone++;
			}
		}
	return fl->n_gone;
}

/* Flows gone for GONE_GRACE_NS whose DESTROY did not come: logged as
 * ended, reason "missed", with the last counters known, at the time they
 * were found gone; their DESTROY, should it come after all, is not logged. */
static void log_missed(struct flowlog *fl, uint64_t now)
{
	struct flowlog_event ev;
	struct flow *f;
	size_t n = 0;

	if (!fl->n_gone)
		return;
	for (size_t i = 0; i < fl->n_buckets; i++)
		for (f = fl->buckets[i]; f; f = f->next) {
			if (!f->gone_ns || f->missed_ns || now - f->gone_ns < GONE_GRACE_NS)
				continue;
			if (event_for(fl, FLOWLOG_END, &f->e, f->e.rule_id, &ev)) {
				ev.reason = "missed";
				ev.start_ns = f->e.start_ns;
				ev.end_ns = f->gone_ns;
				emit(fl, &ev, false);
			}
			f->missed_ns = now;
			fl->n_gone--;
			atomic_fetch_sub(&fl->live, 1);
			atomic_fetch_add(&fl->n_missed, 1);
			n++;
		}
	if (n)
		log_warnx("flow log: %zu flows ended unseen (their ends were lost): logged as "
		          "missed, with the counters of the last resync",
		          n);
}

/* Tombstones older than TOMBSTONE_NS go. */
static void expire(struct flowlog *fl, uint64_t now)
{
	struct flow *f, *next;

	for (size_t i = 0; i < fl->n_buckets; i++)
		for (f = fl->buckets[i]; f; f = next) {
			next = f->next;
			if (f->missed_ns && now - f->missed_ns > TOMBSTONE_NS)
				drop(fl, f);
		}
}

/* The set made right again from a dump of the table. The events waiting
 * are read before it (their DESTROYs end flows as usual) and after it (the
 * flows that ended while the kernel dumped), so only a flow whose end
 * really was lost is swept as missed. */
static void resync(struct flowlog *fl, bool initial)
{
	struct sync s = {.fl = fl, .initial = initial};
	uint64_t now;
	size_t gone;
	bool settled = false;
	int ret = 0;

	fl->resync_due_ns = 0;
	for (int tries = 0; !settled && tries < RESYNC_TRIES; tries++) {
		fl->gen++;
		s.found = s.added = 0;
		drain(fl, SIZE_MAX);
		ret = ct_list(fl->p.tag, fl->p.mask, dumped, &s);
		if (ret < 0)
			break;
		settled = drain(fl, SIZE_MAX);
	}
	now = clock_ns(CLOCK_REALTIME);
	if (!settled) {
		/* Swept anyway after the tries: what the dump had is right. */
		fl->resync_due_ns = clock_ns(CLOCK_MONOTONIC) + 1000000000u;
		if (ret < 0) {
			log_errx("flow log: cannot dump conntrack to resync: %s; again in 1 s",
			         strerror(-ret));
			return;
		}
	}
	gone = sweep(fl, now);
	expire(fl, now);
	if (!initial)
		atomic_fetch_add(&fl->resyncs, 1);
	if (initial)
		log_info("flow log: %zu flows of the clients in conntrack at start", s.found);
	else
		log_info("flow log: resynced from the table: %zu flows there, %zu new to the log, "
		         "%zu gone without an end seen yet",
		         s.found, s.added, gone);
}

static int open_log(const char *path)
{
	if (!strcmp(path, "-"))
		return STDERR_FILENO;
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

static void reopen_log(struct flowlog *fl)
{
	int fd;

	if (!fl->path[0] || !strcmp(fl->path, "-"))
		return;
	fd = open_log(fl->path);
	if (fd < 0) {
		log_err("flow log: cannot reopen %s; still writing to the file it was", fl->path);
		return;
	}
	close(fl->log_fd);
	fl->log_fd = fd;
	log_info("flow log: reopened %s", fl->path);
}

static void *listen_main(void *arg)
{
	struct flowlog *fl = arg;
	uint64_t v;

	resync(fl, true);
	while (!atomic_load(&fl->stop)) {
		struct pollfd p[2] = {{.fd = fl->sock, .events = POLLIN},
		                      {.fd = fl->wake_fd, .events = POLLIN}};
		uint64_t now;

		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			(void)!read(fl->wake_fd, &v, sizeof(v));
			if (atomic_exchange(&fl->reopen, false))
				reopen_log(fl);
		}
		if (p[0].revents && !drain(fl, 1024))
			resync(fl, false);
		now = clock_ns(CLOCK_MONOTONIC);
		if (fl->resync_due_ns && now >= fl->resync_due_ns)
			resync(fl, false);
		log_missed(fl, clock_ns(CLOCK_REALTIME));
		if (now >= fl->expire_ns) {
			expire(fl, clock_ns(CLOCK_REALTIME));
			fl->expire_ns = now + TOMBSTONE_NS / 2;
		}
	}
	return NULL;
}

/* The event socket and the thread, once: from the loop's thread. */
static int start_listener(struct flowlog *fl)
{
	sigset_t all, old;
	socklen_t len = sizeof(int);
	int rcvbuf = fl->p.rcvbuf ? fl->p.rcvbuf : FLOWLOG_RCVBUF, got = 0, ret;
	bool filtered;

	if (fl->running)
		return 0;
	fl->sock = ct_events_open(fl->p.tag, fl->p.mask, rcvbuf, &filtered);
	if (fl->sock < 0) {
		ret = fl->sock;
		log_errx("flow log: cannot listen for conntrack events: %s", strerror(-ret));
		return ret;
	}
	getsockopt(fl->sock, SOL_SOCKET, SO_RCVBUF, &got, &len);
	if (!filtered)
		log_warnx("flow log: the kernel took no mark filter on the event socket; every "
		          "flow's events reach gatewayd, which drops those of others");
	/* Signals stay with the loop's thread (its signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&fl->thread, NULL, listen_main, fl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		log_errx("flow log: cannot start its thread: %s", strerror(-ret));
		close(fl->sock);
		fl->sock = -1;
		return ret;
	}
	fl->running = true;
	log_info("flow log: listening for conntrack events (receive buffer %d bytes)%s%s", got,
	         fl->path[0] ? ", writing to " : "", fl->path[0] ? fl->path : "");
	return 0;
}

/* ---- the loop's side: watchers */

static void watcher_free(struct watcher *w)
{
	struct flowlog *fl = w->fl;

	if (w->prev)
		w->prev->next = w->next;
	else
		fl->watchers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	fl->n_watchers--;
	atomic_store(&fl->watching, (unsigned)fl->n_watchers);
	if (w->free_arg)
		w->free_arg(w->arg);
	free(w);
}

/* The client went (or was dropped): the stream is gone already. */
static void watcher_closed(void *arg)
{
	watcher_free(arg);
}

static void cut_off_all(struct flowlog *fl, const char *why)
{
	while (fl->watchers) {
		ctl_stream_end(fl->watchers->stream, why ? -ENOBUFS : 0, NULL, why);
		watcher_free(fl->watchers);
	}
}

static void dispatch(struct flowlog *fl, const struct flowlog_event *ev)
{
	struct watcher *w, *next;
	json_t *j = NULL;

	for (w = fl->watchers; w; w = next) {
		next = w->next;
		if (!w->match(w->arg, &ev->entry))
			continue;
		if (!j && !(j = flowlog_event_json(ev)))
			return;
		if (ctl_stream_send(w->stream, j) == -ENOBUFS)
			watcher_free(w); /* cut off for being slow: the token is gone */
	}
	json_decref(j);
}

static int on_queue(void *arg, uint32_t events)
{
	struct flowlog *fl = arg;
	struct flowlog_event batch[64];
	uint64_t v;
	size_t n;
	bool lost;

	(void)events;
	if (read(fl->queue_fd, &v, sizeof(v)) < 0)
		return 0; /* a stale wake-up */
	do {
		pthread_mutex_lock(&fl->mu);
		n = fl->n_queued < 64 ? fl->n_queued : 64;
		for (size_t i = 0; i < n; i++)
			batch[i] = fl->queue[(fl->head + i) % FLOWLOG_QUEUE];
		fl->head = (fl->head + n) % FLOWLOG_QUEUE;
		fl->n_queued -= n;
		lost = fl->lost;
		fl->lost = false;
		pthread_mutex_unlock(&fl->mu);
		if (lost)
			cut_off_all(fl, "gatewayd fell behind and lost flow events; watch again");
		for (size_t i = 0; i < n; i++)
			dispatch(fl, &batch[i]);
	} while (n);
	return 0;
}

int flowlog_watch(struct flowlog *fl, struct ctl_request *req, flowlog_match_fn *match,
                  void (*free_arg)(void *arg), void *arg, char *err, size_t errlen)
{
	struct watcher *w = NULL;
	json_t *first;
	int ret;

	if (fl->n_watchers >= FLOWLOG_MAX_WATCHERS) {
		snprintf(err, errlen, "%d watchers already; try again later", FLOWLOG_MAX_WATCHERS);
		ret = -EBUSY;
		goto fail;
	}
	ret = start_listener(fl);
	if (ret < 0) {
		snprintf(err, errlen, "cannot listen for conntrack events: %s", strerror(-ret));
		goto fail;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		ret = -ENOMEM;
		goto fail;
	}
	*w = (struct watcher){.fl = fl, .match = match, .free_arg = free_arg, .arg = arg};
	w->stream = ctl_stream_start(req, watcher_closed, w);
	w->next = fl->watchers;
	if (fl->watchers)
		fl->watchers->prev = w;
	fl->watchers = w;
	fl->n_watchers++;
	atomic_store(&fl->watching, (unsigned)fl->n_watchers);
	/* Tells the client the watch is on: events from here on reach it. */
	first = json_pack("{s:s}", "event", "watching");
	if (!first || ctl_stream_send(w->stream, first) < 0) {
		ctl_stream_end(w->stream, -ENOMEM, NULL, "out of memory");
		watcher_free(w);
	}
	json_decref(first);
	return CTL_DEFERRED;
fail:
	if (free_arg)
		free_arg(arg);
	return ret;
}

/* ---- life */

int flowlog_new(struct flowlog **out, struct loop *l, const struct flowlog_params *p)
{
	struct flowlog *fl = calloc(1, sizeof(*fl));
	int ret = -ENOMEM;

	*out = NULL;
	if (!fl)
		return -ENOMEM;
	fl->loop = l;
	fl->p = *p;
	fl->sock = fl->log_fd = fl->wake_fd = fl->queue_fd = -1;
	fl->n_buckets = 1024;
	pthread_mutex_init(&fl->mu, NULL);
	fl->path = strdup(p->path ? p->path : "");
	fl->buckets = calloc(fl->n_buckets, sizeof(*fl->buckets));
	fl->queue = calloc(FLOWLOG_QUEUE, sizeof(*fl->queue));
	fl->rbuf = malloc(RBUF_SIZE);
	if (!fl->path || !fl->buckets || !fl->queue || !fl->rbuf)
		goto fail;
	fl->p.path = fl->path;
	/* jansson's hash seed, once, before a second thread makes objects. */
	json_object_seed(0);
	fl->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fl->queue_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fl->wake_fd < 0 || fl->queue_fd < 0) {
		ret = -errno;
		log_err("flow log: eventfd");
		goto fail;
	}
	ret = loop_add(l, fl->queue_fd, EPOLLIN, on_queue, fl);
	if (ret < 0) {
		log_errx("flow log: event loop: %s", strerror(-ret));
		close(fl->queue_fd);
		fl->queue_fd = -1;
		goto fail;
	}
	if (fl->path[0]) {
		fl->log_fd = open_log(fl->path);
		if (fl->log_fd < 0) {
			ret = -errno;
			log_err("flow log: cannot open %s", fl->path);
			goto fail;
		}
		ret = start_listener(fl);
		if (ret < 0)
			goto fail;
	}
	*out = fl;
	return 0;
fail:
	flowlog_free(fl);
	return ret;
}

void flowlog_free(struct flowlog *fl)
{
	uint64_t one = 1;
	struct flow *f, *next;

	if (!fl)
		return;
	cut_off_all(fl, NULL);
	if (fl->running) {
		atomic_store(&fl->stop, true);
		(void)!write(fl->wake_fd, &one, sizeof(one));
		pthread_join(fl->thread, NULL);
	}
	if (fl->sock >= 0)
		close(fl->sock);
	if (fl->log_fd > STDERR_FILENO)
		close(fl->log_fd);
	if (fl->queue_fd >= 0) {
		loop_del(fl->loop, fl->queue_fd);
		close(fl->queue_fd);
	}
	if (fl->wake_fd >= 0)
		close(fl->wake_fd);
	for (size_t i = 0; fl->buckets && i < fl->n_buckets; i++)
		for (f = fl->buckets[i]; f; f = next) {
			next = f->next;
			free(f);
		}
	free(fl->buckets);
	free(fl->queue);
	free(fl->rbuf);
	free(fl->path);
	pthread_mutex_destroy(&fl->mu);
	free(fl);
}

void flowlog_reopen(struct flowlog *fl)
{
	uint64_t one = 1;

	if (!fl || !fl->running || !fl->path[0] || !strcmp(fl->path, "-"))
		return;
	atomic_store(&fl->reopen, true);
	(void)!write(fl->wake_fd, &one, sizeof(one));
}

void flowlog_report(const struct flowlog *cfl)
{
	struct flowlog *fl = (struct flowlog *)cfl; /* the atomics, not the state */

	if (!fl)
		return;
	log_info("flow log: %s%s, %lu flows live, %lu new, %lu ended (%lu missed), %lu lines "
	         "written, %lu write errors, %lu overruns, %lu resyncs, %lu undecodable, %zu "
	         "watchers, %lu events lost for watchers",
	         fl->path[0] ? fl->path : "no log", fl->running ? "" : " (not listening)",
	         atomic_load(&fl->live), atomic_load(&fl->n_new), atomic_load(&fl->n_end),
	         atomic_load(&fl->n_missed), atomic_load(&fl->lines),
	         atomic_load(&fl->write_errors), atomic_load(&fl->overruns),
	         atomic_load(&fl->resyncs), atomic_load(&fl->bad_msgs), fl->n_watchers,
	         atomic_load(&fl->lost_events));
}
