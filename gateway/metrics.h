/* gatewayd's Prometheus metrics: GET /metrics on metrics_listen (gateway.yaml),
 * served by libmicrohttpd on the daemon's own event loop, the slow parts of a
 * scrape on its worker thread. Nothing a scraper sends or fails to send
 * stalls the data path: connections and request sizes are bounded, and a
 * scrape waits for the worker suspended, not on the loop. */
#ifndef EGRESS_GATEWAY_METRICS_H
#define EGRESS_GATEWAY_METRICS_H

struct enforce;
struct gw_config;
struct loop;
struct metrics;
struct wg_device;
struct worker;

/* Concurrent connections served; more wait in the listen backlog. */
#define METRICS_CONNECTIONS_MAX 8
/* A request's headers and everything MHD keeps for its connection: a scrape
 * is one short GET, so a larger one is refused (431). */
#define METRICS_REQUEST_MAX (16u * 1024)
/* Seconds a connection may sit idle before it is closed. */
#define METRICS_IDLE_TIMEOUT 10

/* What a scrape reads of the daemon. The pointers stay the daemon's and
 * must outlive the metrics. */
struct metrics_view {
	const struct gw_config *cfg;
	const struct wg_device *dev;
	struct enforce *policy; /* the policy in force: rule counters */
	struct worker *worker;  /* where the conntrack walk and nft listing run */
};

/* Takes cfg->metrics_listen (bound and listening, so a port in use stops
 * the start before anything else changes) but serves nothing yet. 0 with
 * *out (NULL when the configuration has no metrics_listen), or -errno with
 * one line logged: "cannot serve metrics on ADDRESS:PORT: REASON". cfg must
 * outlive the metrics. */
int metrics_open(struct metrics **out, const struct gw_config *cfg);
/* Serves /metrics from l's thread from now on. Accepts a NULL m (no
 * metrics). 0 or -errno, logged. */
int metrics_attach(struct metrics *m, struct loop *l, const struct metrics_view *v);
/* Accepts NULL. After worker_free() of the view's worker, whose job may
 * still hold m: a scrape still waiting is answered 503, then the port is
 * closed. From the loop's thread. */
void metrics_close(struct metrics *m);

#endif
