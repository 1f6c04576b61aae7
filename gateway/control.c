/* gatewayd's commands over the control socket: see control.h. Each handler
 * checks its arguments and builds the data of its reply; the socket layer
 * (tunnel/ctl) has already checked the request's shape. */
#include "gateway/control.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
#include "tunnel/ctl.h"
#include "tunnel/log.h"
#include "tunnel/wg.h"

#ifndef EGRESS_VERSION
#error "EGRESS_VERSION comes from CMake's project(VERSION)"
#endif

struct control {
	struct control_view view;
	struct ctl_server *srv;
};

typedef int (*command_fn)(const struct control_view *v, struct ctl_request *req, json_t **data,
                          char *err, size_t errlen);

/* status: what runs, since when, and how many clients are connected (a
 * current session). */
static int cmd_status(const struct control_view *v, struct ctl_request *req, json_t **data,
                      char *err, size_t errlen)
{
	static const char *const known[] = {NULL};
	uint64_t now = wg_now();
	size_t connected = 0;
	struct wg_peer *p;
	int ret;

	ret = ctl_args_check(req->args, known, err, errlen);
	if (ret)
		return ret;
	for (size_t i = 0; (p = wg_device_peer(v->dev, i)); i++) {
		struct wg_peer_stats st;

		wg_peer_stats(p, now, &st);
		connected += st.has_session;
	}
	*data = json_pack("{s:s, s:I, s:s, s:i, s:{s:I, s:I}}", "version", EGRESS_VERSION, "uptime",
	                  (json_int_t)((now - v->started) / 1000000000u), "interface",
	                  v->cfg->ifname, "listen_port", (int)wg_device_port(v->dev), "clients",
	                  "configured", (json_int_t)v->cfg->n_clients, "connected",
	                  (json_int_t)connected);
	return *data ? 0 : -ENOMEM;
}

static const struct command {
	const char *name;
	command_fn fn;
} commands[] = {
        {"status", cmd_status},
};

int control_handle(void *arg, struct ctl_request *req, json_t **data, char *err, size_t errlen)
{
	const struct control_view *v = arg;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(req->cmd, commands[i].name))
			return commands[i].fn(v, req, data, err, errlen);
	snprintf(err, errlen, "unknown command \"%s\"", req->cmd);
	return -EINVAL;
}

int control_open(struct control **out, struct loop *l, const struct control_view *v)
{
	struct control *c = calloc(1, sizeof(*c));
	char err[256] = "";
	int ret;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->view = *v;
	ret = ctl_server_open(&c->srv, l,
	                      &(struct ctl_server_params){
	                              .path = v->cfg->control_socket,
	                              .group = v->cfg->control_group,
	                              .handler = control_handle,
	                              .arg = &c->view,
	                      },
	                      err, sizeof(err));
	if (ret) {
		log_errx("control socket: %s", err);
		free(c);
		return ret;
	}
	log_info("control socket %s (%s%s)", v->cfg->control_socket,
	         v->cfg->control_group[0] ? "root and group " : "root only", v->cfg->control_group);
	*out = c;
	return 0;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	ctl_server_close(c->srv);
	free(c);
}
