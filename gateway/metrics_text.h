/* gatewayd's metrics as Prometheus' text exposition format (version 0.0.4):
 * a snapshot of the counters in, the text of one scrape out. Pure, so that
 * tests pin the names, the HELP and TYPE lines and the escaping without a
 * daemon; gateway/metrics.c fills the snapshot and serves the text. */
#ifndef EGRESS_GATEWAY_METRICS_TEXT_H
#define EGRESS_GATEWAY_METRICS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/wg.h"

/* The content type of the text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_client {
	const char *name; /* the label client="..." */
	struct wg_peer_stats st;
	bool connected; /* clients_connected(): a packet within 180 s */
	/* Its conntrack entries, TCP's TIME_WAIT and CLOSE left out (as
	 * max_flows counts them); only when the snapshot's flows_ok. */
	uint64_t flows;
	uint64_t policy_drops;      /* packets the policy refused it; when drops_ok */
	bool has_max_flows;         /* the policy gives it a max_flows */
	uint64_t max_flows_refused; /* packets its flow limit refused */
};

/* A named counter of the policy: a rule of the file, or "default",
 * "gateway-default", "gateway-echo" as `gatewayctl policy stats` has them. */
struct metrics_rule {
	const char *name;
	bool allow;
	uint64_t packets, bytes;
};

struct metrics_snapshot {
	const char *version;
	uint64_t start_time; /* seconds since the epoch */
	struct wg_device_stats dev;
	const struct metrics_client *clients;
	size_t n_clients;
	/* What each slow source gave; false: it could not be read this time,
	 * its metrics are left out and egress_collector_success says so. */
	bool flows_ok;     /* the clients' flows (a conntrack walk) */
	bool rules_ok;     /* the rules and max_flows (the nft counters) */
	bool drops_ok;     /* the clients' policy drops (the table's drop set) */
	bool conntrack_ok; /* ct_count, ct_max */
	const struct metrics_rule *rules;
	size_t n_rules;
	uint64_t ct_count, ct_max; /* nf_conntrack_count and nf_conntrack_max */
};

/* The text of s: 0 with *text (malloc'd, NUL-terminated, the caller's) and
 * *len, or -ENOMEM. Every family has its HELP and TYPE lines, label values
 * are escaped (\\, \", \n), and the same snapshot always gives the same
 * text. */
int metrics_render(const struct metrics_snapshot *s, char **text, size_t *len);

#endif
