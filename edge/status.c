/* edged status: see status.h. */
#include "edge/status.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge/killswitch.h"
#include "tunnel/ctl.h"

json_t *edge_status_json(const struct edge_status_view *v, const struct wg_peer_stats *st,
                         uint64_t now)
{
	const struct edge_config *cfg = v->cfg;
	char ep[WG_ENDPOINT_STRLEN], when[32] = "";
	time_t t = (time_t)st->last_handshake_unix;
	bool connected = st->last_rx_ns && now - st->last_rx_ns < EDGE_CONNECTED_NS;
	const char *state = !connected ? "connecting" : v->gw_index ? "failed over" : "connected";
	struct tm tm;

	wg_format_endpoint(st->has_endpoint ? &st->endpoint : &cfg->gws[v->gw_index].endpoint, ep,
	                   sizeof(ep));
	if (t && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:I, s:I, s:I, s:b}", "state", state,
	                 "interface", cfg->ifname, "gateway", ep, "gateway_index",
	                 (json_int_t)v->gw_index + 1, "gateways", (json_int_t)cfg->n_gws,
	                 "last_handshake", when[0] ? json_string(when) : json_null(),
	                 "last_handshake_unix", (json_int_t)t, "rx_bytes", (json_int_t)st->rx_bytes,
	                 "tx_bytes", (json_int_t)st->tx_bytes, "kill_switch", v->kill_switch);
}

int edge_status_handler(void *arg, struct ctl_request *req, json_t **data, char *err, size_t errlen)
{
	const struct edge_status_view *v = arg;
	struct wg_peer_stats st;
	uint64_t now = wg_now();

	if (strcmp(req->cmd, "status")) {
		snprintf(err, errlen, "unknown command \"%.40s\" (edged knows status)", req->cmd);
		return -EINVAL;
	}
	if (json_object_size(req->args)) {
		snprintf(err, errlen, "status takes no arguments");
		return -EINVAL;
	}
	if (!v->gw) {
		snprintf(err, errlen, "edged has no gateway peer (out of memory): it is stopping");
		return -EIO;
	}
	wg_peer_stats(v->gw, now, &st);
	*data = edge_status_json(v, &st, now);
	return *data ? 0 : -ENOMEM;
}

static void print_json(json_t *j)
{
	char *t = json_dumps(j, JSON_INDENT(2));

	if (t)
		printf("%s\n", t);
	free(t);
}

static void print_status(json_t *d, bool json)
{
	const char *state = json_string_value(json_object_get(d, "state"));
	json_t *ks = json_object_get(d, "kill_switch");

	if (json) {
		json_t *j = json_pack("{s:b, s:O}", "ok", 1, "data", d);

		print_json(j);
		json_decref(j);
		return;
	}
	printf("state:          %s\n", state ? state : "?");
	if (json_object_get(d, "interface")) {
		const char *when = json_string_value(json_object_get(d, "last_handshake"));

		printf("interface:      %s\n",
		       json_string_value(json_object_get(d, "interface")) ?: "?");
		json_int_t n = json_integer_value(json_object_get(d, "gateways"));

		printf("gateway:        %s",
		       json_string_value(json_object_get(d, "gateway")) ?: "?");
		if (n > 1)
			printf(" (%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT ")",
			       json_integer_value(json_object_get(d, "gateway_index")), n);
		printf("\n");
		printf("last handshake: %s\n", when ? when : "never");
		printf("transfer:       %" JSON_INTEGER_FORMAT " B received, %" JSON_INTEGER_FORMAT
		       " B sent\n",
		       json_integer_value(json_object_get(d, "rx_bytes")),
		       json_integer_value(json_object_get(d, "tx_bytes")));
	}
	printf("kill switch:    %s\n",
	       json_is_true(ks) ? "on (nft table inet " KS_TABLE ")" : "off");
}

static int usage_error(const char *what)
{
	fprintf(stderr,
	        "edged status: %s\nusage: edged status [--json] [-c FILE] [--socket PATH]\n", what);
	return 1;
}

int edge_status_cmd(int argc, char **argv, const char *default_config)
{
	const char *config = default_config, *socket = NULL;
	struct edge_config *cfg = NULL;
	struct ctl_reply *r = NULL;
	struct ks_state st;
	char err[512];
	bool json = false;
	int ret, status;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			config = argv[++i];
		else if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			socket = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return printf("usage: edged status [--json] [-c FILE] [--socket PATH]\n"),
			       0;
		else
			return usage_error("unknown argument, or one without its value");
	}
	if (edge_config_load(config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "edged status: %s\n", err);
		return 1;
	}
	edge_config_wipe_keys(cfg);
	ret = ctl_call(socket ? socket : cfg->control_socket, "status", NULL, -1, 0, &r, err,
	               sizeof(err));
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		/* No edged: the host is closed only if its kill switch is there. */
		if (ks_state_read(cfg->state_dir, &st) == 0 && ks_present() > 0) {
			json_t *d =
			        json_pack("{s:s, s:b}", "state", "locked down", "kill_switch", 1);

			print_status(d, json);
			json_decref(d);
			status = 0;
		} else {
			fprintf(stderr, "edged status: no edged answers on %s: %s\n",
			        socket ? socket : cfg->control_socket, err);
			status = 3;
		}
	} else if (ret < 0) {
		fprintf(stderr, "edged status: %s\n", err);
		status = ret == -EACCES || ret == -EPERM ? 1 : 3;
	} else if (!r->ok) {
		fprintf(stderr, "edged status: edged: %s\n", r->error);
		status = 1;
	} else {
		print_status(r->data, json);
		status = 0;
	}
	ctl_reply_free(r);
	edge_config_free(cfg);
	return status;
}
