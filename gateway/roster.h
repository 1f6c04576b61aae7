/* The gateway's client list while it runs: SIGHUP reads gateway.yaml's
 * clients again (and the policy file), and `gatewayctl client add|remove`
 * edits the file; either way the change is all or nothing. The work (the
 * file, the policy compiled against the new clients, the kernel's
 * transaction, ending removed clients' flows) runs on the worker thread;
 * then, on the loop, the device's peers are brought to the new list. A
 * client whose keys and addresses are unchanged keeps its peer, so its
 * sessions, counters and flows go on undisturbed; so do its policy's flow
 * counts and limits, which the transaction keeps like an apply does. */
#ifndef EGRESS_GATEWAY_ROSTER_H
#define EGRESS_GATEWAY_ROSTER_H

#include <stddef.h>

struct ctl_request;
struct enforce;
struct gw_client;
struct gw_config;
struct json_t;
struct wg_device;
struct wg_peer;
struct worker;

struct roster;

/* cfg is the daemon's configuration, read from path: the roster changes its
 * client list in place (on the loop thread, between worker jobs). The other
 * pointers stay the daemon's. 0 or -ENOMEM. */
int roster_new(struct roster **out, struct gw_config *cfg, const char *path, struct wg_device *dev,
               struct enforce *policy, struct worker *worker);
void roster_free(struct roster *r);

/* c's peer on dev: its key, preshared key and tunnel addresses as allowed
 * sources. NULL with errno as wg_peer_add() sets it. */
struct wg_peer *roster_add_peer(struct wg_device *dev, const struct gw_client *c);

/* SIGHUP: gateway.yaml's clients and the policy file again, queued on the
 * worker; the outcome is logged. An invalid file, or a policy that names a
 * client no longer there, changes nothing. Settings other than the clients
 * take effect at the next start, which the log says. */
void roster_reload(struct roster *r);

/* client.add {name, public_key, address?, preshared_key?}: the client
 * added to gateway.yaml (at the next free address unless given; a
 * preshared key written beside it as NAME.psk, 0600) and put in force;
 * data {name, address, address6, gateway_public_key, endpoint,
 * listen_port, mtu, preshared_key_file}. Hand edits of the file not yet
 * reloaded are put in force with it, as SIGHUP would. */
int roster_cmd_add(struct roster *r, struct ctl_request *req, struct json_t **data, char *err,
                   size_t errlen);
/* client.remove {name}: the client out of gateway.yaml and the device, its
 * flows ended; data {name, flows_ended}. -EBUSY, with data {rules}, while
 * the policy in force names it. */
int roster_cmd_remove(struct roster *r, struct ctl_request *req, struct json_t **data, char *err,
                      size_t errlen);

#endif
