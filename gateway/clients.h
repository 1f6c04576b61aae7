/* gatewayd's clients command: see clients.c. */
#ifndef EGRESS_GATEWAY_CLIENTS_H
#define EGRESS_GATEWAY_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct control_view;
struct ctl_request;
struct json_t;
struct wg_peer_stats;

/* Whether a client is connected: an authenticated packet from it within
 * the last 180 seconds of wg_now() (now). */
bool clients_connected(const struct wg_peer_stats *st, uint64_t now);

/* clients: an array in the configuration's order, each {name, address,
 * address6, endpoint, last_handshake, last_handshake_unix, connected,
 * rx_bytes, tx_bytes, flows, policy_drops}. connected: an authenticated
 * packet within 180 s; rx/tx: the inner packets' bytes; flows: conntrack
 * entries now; policy_drops: packets the policy refused. */
int clients_cmd_list(const struct control_view *v, struct ctl_request *req, struct json_t **data,
                     char *err, size_t errlen);

#endif
