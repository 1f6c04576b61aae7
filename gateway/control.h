/* gatewayd's control socket: the commands gatewayctl sends (tunnel/ctl.h
 * carries them), each a handler in one table, matched exactly. */
#ifndef EGRESS_GATEWAY_CONTROL_H
#define EGRESS_GATEWAY_CONTROL_H

#include <stddef.h>
#include <stdint.h>

struct control;
struct ctl_request;
struct enforce;
struct flowlog;
struct gw_config;
struct json_t;
struct loop;
struct roster;
struct wg_device;
struct worker;

/* What the commands read of the daemon. The pointers stay the daemon's and
 * must outlive the control socket. (struct gateway is to take its place.) */
struct control_view {
	const struct gw_config *cfg;
	const struct wg_device *dev;
	uint64_t started;       /* wg_now() when gatewayd had started */
	struct enforce *policy; /* NULL: the policy commands refuse (tests) */
	/* Where the policy commands' work runs (parsing, compiling, the
	 * kernel's transaction), off the data path; NULL: at once (tests). */
	struct worker *worker;
	/* Where flows.watch gets its events; NULL: it refuses (tests). */
	struct flowlog *flowlog;
	/* The client list's changes (client add, remove); NULL: refused (tests). */
	struct roster *roster;
};

/* Serves cfg->control_socket (group cfg->control_group) in l. 0 or -errno,
 * with what failed logged. The view is copied. */
int control_open(struct control **out, struct loop *l, const struct control_view *v);
/* Accepts NULL; removes the socket file. */
void control_close(struct control *c);

/* For commands in other files whose work takes long: runs work(arg, ...) on
 * the worker thread, answers with what it returns, then free_arg(arg) (NULL:
 * none). Without a worker (tests), at once. Returns what a handler returns
 * (CTL_DEFERRED, or the error of a request that could not be queued). */
typedef int control_work_fn(void *arg, struct json_t **data, char *err, size_t errlen);
int control_defer(const struct control_view *v, struct ctl_request *req, control_work_fn *work,
                  void (*free_arg)(void *arg), void *arg, struct json_t **data, char *err,
                  size_t errlen);

/* The socket's handler (a ctl_handler_fn; arg is a struct control_view):
 * for tests, which call it without a socket. */
int control_handle(void *arg, struct ctl_request *req, struct json_t **data, char *err,
                   size_t errlen);

#endif
