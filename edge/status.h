/* edged status: edged answers "status" on its control socket
 * (control_socket in edge.yaml; the framing of tunnel/ctl.h, as gatewayd's),
 * and `edged status` asks it and prints the answer. */
#ifndef EGRESS_EDGE_STATUS_H
#define EGRESS_EDGE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/config.h"
#include "tunnel/wg.h"

struct json_t;
struct ctl_request;

/* An authenticated packet within this long: connected. */
#define EDGE_CONNECTED_NS (180 * 1000000000ull)

/* What the handler reads, owned by edged's main(), which keeps it current. */
struct edge_status_view {
	const struct edge_config *cfg;
	const struct wg_peer *gw; /* the gateway in use */
	size_t gw_index;          /* its place in cfg->gws */
	bool kill_switch;
};

/* Pure: the reply's data from the gateway peer's stats at now:
 * {"state": "connecting" | "connected" | "failed over" (connected, to a
 * gateway after the first), "interface", "gateway" (the endpoint in use, or
 * the configured one), "gateway_index" (1: the first of gateways),
 * "gateways" (how many are configured),
 * "last_handshake" (ISO 8601 UTC or null), "last_handshake_unix" (0: none),
 * "rx_bytes", "tx_bytes", "kill_switch"}. NULL on ENOMEM. */
struct json_t *edge_status_json(const struct edge_status_view *v, const struct wg_peer_stats *st,
                                uint64_t now);

/* The control socket's handler (ctl_handler_fn): "status" only. */
int edge_status_handler(void *arg, struct ctl_request *req, struct json_t **data, char *err,
                        size_t errlen);

/* `edged status [--json] [-c FILE] [--socket PATH]`, argv[0] being
 * "status": the exit status (0; 1 refused or a usage error; 3 no edged to
 * ask, unless its kill switch is in place: then "locked down", 0). */
int edge_status_cmd(int argc, char **argv, const char *default_config);

#endif
