/* gatewayd's flows commands: the conntrack entries of its clients, listed or
 * ended, chosen by the filters of `gatewayctl flows`, or followed as they
 * come and go. The walk of the conntrack table runs on the control socket's
 * worker thread, never on the data path's loop, and a listing of any size
 * goes back in parts. */
#ifndef EGRESS_GATEWAY_FLOWS_H
#define EGRESS_GATEWAY_FLOWS_H

#include <stddef.h>

struct control_view;
struct ctl_request;
struct json_t;

/* flows {client, proto, dst, port, state}: an array of flows, each
 * {client, family, proto, src, sport, dst, dport, nat_src, nat_sport, state,
 * packets_out, bytes_out, packets_in, bytes_in, age_s, rule}. */
int flows_cmd_list(const struct control_view *v, struct ctl_request *req, struct json_t **data,
                   char *err, size_t errlen);
/* flows.kill {the same filters}: deletes the matching entries, {killed}. */
int flows_cmd_kill(const struct control_view *v, struct ctl_request *req, struct json_t **data,
                   char *err, size_t errlen);

/* flows.watch {the same filters}: a stream (tunnel/ctl.h) of the matching
 * flows' events as the flow log writes them (gateway/flowlog.h), after a
 * first part {"event": "watching"}, until the client hangs up. */
int flows_cmd_watch(const struct control_view *v, struct ctl_request *req, struct json_t **data,
                    char *err, size_t errlen);

#endif
