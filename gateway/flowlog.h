/* The flow log: a line of JSON for each flow of the gateway's clients that
 * ends (and, on request, each that starts), from conntrack's events, and
 * the same events live for `gatewayctl flows --watch`.
 *
 * Threads. A listener thread of its own reads the event socket, keeps the
 * set of live flows it knows (by conntrack id), writes the log, and after
 * an overrun resyncs from a dump; nothing it does waits for the loop, and
 * the loop never waits for it. It reads only what was copied for it at
 * creation, plus the name callbacks (which must be thread-safe). Events
 * for watchers go to the loop's thread through a bounded queue under a
 * mutex and an eventfd in the loop; the watchers and their control-socket
 * streams are the loop's alone. The counters are atomics. See flowlog.c. */
#ifndef EGRESS_GATEWAY_FLOWLOG_H
#define EGRESS_GATEWAY_FLOWLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/ct.h"

struct ctl_request;
struct flowlog;
struct json_t;
struct loop;

/* The event socket's receive buffer: room for tens of thousands of events. */
#define FLOWLOG_RCVBUF (8 << 20)
/* Watchers at once (each is a control connection too). */
#define FLOWLOG_MAX_WATCHERS 8
/* Events waiting for the loop's thread; past that, watchers lose events
 * (they are told, and cut off). */
#define FLOWLOG_QUEUE 4096

struct flowlog_params {
	const char *path;   /* the log: a file (appended to, made 0640), "-" for
	                     * stderr; NULL or "": no log, events for watchers only */
	bool log_new;       /* a line for each new flow too */
	uint32_t tag, mask; /* our flows: mark & mask == tag */
	int rcvbuf;         /* the event socket's; 0: FLOWLOG_RCVBUF */
	/* The name of the client whose flows carry this ct mark into buf: 0,
	 * or -ENOENT for a mark that is no client's (its flows are not
	 * logged). And the name of the rule with this id (ct label bits
	 * 0..31): 0, or -ENOENT (the line's rule is null). Both are called
	 * from the listener thread: they must be thread-safe, since the
	 * clients and the policy change while gatewayd runs. */
	int (*client_name)(void *arg, uint32_t mark, char *buf, size_t len);
	int (*rule_name)(void *arg, uint32_t id, char *buf, size_t len);
	void *arg;
};

/* The log opened (a path that cannot be opened fails here), and with a log
 * the event socket and the listener started; without one, they start with
 * the first watcher. 0 or -errno, with what failed logged. */
int flowlog_new(struct flowlog **out, struct loop *l, const struct flowlog_params *p);
/* Accepts NULL. Ends every watcher's stream ("more": false), stops the
 * listener, closes the log. From the loop's thread, while l exists. */
void flowlog_free(struct flowlog *fl);
/* SIGHUP: the listener opens the log's path again (logrotate moved it);
 * on failure it goes on writing to the file it has, and logs why. */
void flowlog_reopen(struct flowlog *fl);
/* SIGUSR1: one line of counters, overruns among them. */
void flowlog_report(const struct flowlog *fl);

/* ---- watchers */

/* Whether a watcher wants e; on the loop's thread. */
typedef bool flowlog_match_fn(void *arg, const struct ct_entry *e);
/* The handler of a watch request: from now on, each new and ended flow
 * that match(arg, ...) takes goes to req's client as a stream part, after a
 * first part {"event": "watching"}. free_arg(arg) when the watcher goes
 * (on any path, errors included). CTL_DEFERRED, or -errno with err:
 * -EBUSY (FLOWLOG_MAX_WATCHERS watch already), or what starting the
 * listener returned. */
int flowlog_watch(struct flowlog *fl, struct ctl_request *req, flowlog_match_fn *match,
                  void (*free_arg)(void *arg), void *arg, char *err, size_t errlen);

/* ---- one event, as logged and watched (pure, for tests and fuzzing) */

enum flowlog_kind { FLOWLOG_NEW = 1, FLOWLOG_END };

struct flowlog_event {
	enum flowlog_kind kind;
	const char *reason; /* END: see flowlog_end_reason(), or "missed"; NEW: NULL */
	struct ct_entry entry;
	char client[32];
	char rule[64];     /* "": unknown */
	uint64_t time_ns;  /* when gatewayd took it, CLOCK_REALTIME */
	uint64_t start_ns; /* the kernel's start stamp, or when gatewayd first saw it; 0: unknown */
	uint64_t end_ns; /* END: the kernel's stop stamp, or when gatewayd missed it; 0: unknown */
};

/* Why a flow ended, from its entry at its DESTROY: "closed" (TCP in
 * TIME_WAIT: both sides sent a FIN), "reset" (TCP in CLOSE: a RST), or
 * "timeout" (anything else: UDP, ICMP, an idle or half-open TCP entry that
 * expired, and also one deleted by `flows kill` or `conntrack -D`, which
 * the event does not tell apart). */
const char *flowlog_end_reason(const struct ct_entry *e);
/* The line's object, keys in the documented order (README, "Flow log");
 * NULL on ENOMEM. */
struct json_t *flowlog_event_json(const struct flowlog_event *ev);

#endif
