/* gatewayd's side of the control socket, without root: the control_socket
 * and control_group keys of gateway.yaml (defaults, a relative path, a group
 * that does not exist named by line and column), and the command table
 * called as the socket calls it: status reports what the device and the
 * configuration hold, unknown commands and arguments are refused. */
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "gateway/config.h"
#include "gateway/control.h"
#include "tunnel/ctl.h"
#include "tunnel/log.h"
#include "tunnel/wg.h"

#define K1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="

static char dir[] = "/tmp/test_control.XXXXXX";

static void put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* gateway.yaml with two clients and extra lines at the end. */
static struct gw_config *load(const char *extra, char *err, size_t errlen)
{
	char path[128], text[1024];
	struct gw_config *c = NULL;

	snprintf(text, sizeof(text),
	         "private_key_file: gw.key\n"
	         "address: 100.64.0.1/24\n"
	         "listen_port: 51820\n"
	         "clients:\n"
	         "  - {name: alice, public_key: \"" K1 "\", address: 100.64.0.2}\n"
	         "  - {name: bob, public_key: \"" K2 "\", address: 100.64.0.3}\n"
	         "%s",
	         extra);
	put("gateway.yaml", text);
	snprintf(path, sizeof(path), "%s/gateway.yaml", dir);
	if (gw_config_load(path, &c, err, errlen) < 0)
		return NULL;
	return c;
}

static void test_config(void)
{
	struct group *g = getgrgid(getegid());
	struct gw_config *c;
	char err[256], want[256], extra[128];

	c = load("", err, sizeof(err));
	CHECK(c != NULL);
	CHECK_STR(c ? c->control_socket : NULL, "/run/egress/gatewayd.sock");
	CHECK_STR(c ? c->control_group : NULL, "");
	gw_config_free(c);

	snprintf(extra, sizeof(extra), "control_socket: run/gw.sock\ncontrol_group: %s\n",
	         g ? g->gr_name : "root");
	c = load(extra, err, sizeof(err));
	CHECK(c != NULL);
	snprintf(want, sizeof(want), "%s/run/gw.sock", dir);
	CHECK_STR(c ? c->control_socket : NULL, want);
	CHECK_STR(c ? c->control_group : NULL, g ? g->gr_name : "root");
	gw_config_free(c);

	c = load("control_group:\n", err, sizeof(err));
	CHECK(c && !c->control_group[0]);
	gw_config_free(c);

	CHECK(load("control_group: no-such-group-egress\n", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "gateway.yaml:7:16: control_group: \"no-such-group-egress\" is not a "
	                  "group on this host") != NULL);
	CHECK(load("control_socket: [a]\n", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "gateway.yaml:7:17: control_socket:") != NULL);
	char longpath[300] = "control_socket: /";
	memset(longpath + 17, 'x', 200);
	strcpy(longpath + 217, "\n");
	CHECK(load(longpath, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "is too long for a path") != NULL);
}

static json_t *handle(const struct control_view *v, const char *cmd, json_t *args, int *rc,
                      char *err)
{
	struct ctl_request req = {.cmd = cmd, .args = args, .fd = -1};
	json_t *data = NULL;

	err[0] = '\0';
	*rc = control_handle((void *)v, &req, &data, err, 256);
	return data;
}

static void test_commands(void)
{
	uint8_t priv[32] = {7};
	struct wg_device *d;
	struct gw_config *c;
	json_t *args = json_object(), *data, *want;
	char err[256];
	int tun[2], rc;

	c = load("", err, sizeof(err));
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun) == 0);
	d = wg_device_new(
	        &(struct wg_device_params){.private_key = priv, .tun_fd = tun[0], .mtu = 1420});
	CHECK(c && d);
	if (!c || !d)
		return;
	for (size_t i = 0; i < c->n_clients; i++)
		CHECK(wg_peer_add(d, &(struct wg_peer_params){.name = c->clients[i].name,
		                                              .public_key = c->clients[i].pub}) !=
		      NULL);
	struct control_view v = {.cfg = c, .dev = d, .started = wg_now() - 3000000000ull};

	data = handle(&v, "status", args, &rc, err);
	CHECK_INT(rc, 0);
	/* conntrack's figures are this machine's (null where there is no
	 * conntrack): only their shape is checked. */
	json_t *ct = json_incref(json_object_get(data, "conntrack"));
	CHECK(json_is_null(ct) ||
	      json_unpack(ct, "{s:I, s:I, s:i, s:b}", "count", &(json_int_t){0}, "max",
	                  &(json_int_t){0}, "warn_percent", &(int){0}, "warning", &(int){0}) == 0);
	json_object_del(data, "conntrack");
	/* a device with no offloads asked for: all off, nothing counted */
	want = json_pack("{s:s, s:i, s:s, s:n, s:i, s:s, s:n, s:{s:i, s:i}, s:n, s:{s:b, s:b, s:b, "
	                 "s:b, s:b, s:i, s:i, s:i, s:i, s:i, s:i}}",
	                 "version", EGRESS_VERSION, "uptime", 3, "interface", "egress0", "uplink",
	                 "listen_port", (int)wg_device_port(d), "public_key",
	                 /* wg pubkey of {7, 0, ...} */
	                 "L+V9o0fNYkMVKNqsX7spBzD/9oSvxM/C7ZCZX1jLO3Q=", "endpoint", "clients",
	                 "configured", 2, "connected", 0, "policy", "offload", "tun_tso", 0,
	                 "tun_uso", 0, "udp_gso", 0, "udp_gro", 0, "tun_coalescing", 0,
	                 "superpackets_read", 0, "superpackets_written", 0, "trains_sent", 0,
	                 "trains_received", 0, "fallbacks", 0, "tun_drops", 0);
	CHECK(json_equal(data, want));
	json_decref(ct);
	if (!json_equal(data, want)) {
		char *t = json_dumps(data, 0);
		fprintf(stderr, "  status: %s\n", t ? t : "(null)");
		free(t);
	}
	json_decref(want);
	json_decref(data);

	/* Exact names only, and status takes no arguments. */
	data = handle(&v, "stat", args, &rc, err);
	CHECK(rc == -EINVAL && !data && !strcmp(err, "unknown command \"stat\""));
	data = handle(&v, "statuss", args, &rc, err);
	CHECK(rc == -EINVAL && !data);
	json_object_set_new(args, "verbose", json_true());
	data = handle(&v, "status", args, &rc, err);
	CHECK(rc == -EINVAL && !data && strstr(err, "unknown argument \"verbose\""));

	/* Without a roster (no running daemon's client list), client changes
	 * are refused, never half done. */
	data = handle(&v, "client.add", args, &rc, err);
	CHECK(rc == -EOPNOTSUPP && !data && !strcmp(err, "clients cannot be changed here"));
	data = handle(&v, "client.remove", args, &rc, err);
	CHECK(rc == -EOPNOTSUPP && !data);

	/* policy.check takes the file's text and needs no policy in force;
	 * its errors come by line and column, every line in data.messages. */
	json_t *a =
	        json_pack("{s:s, s:s}", "name", "p.yaml", "text",
	                  "version: 1\ndefault: deny\nrules:\n"
	                  "  - {name: web, from: [alice], to: [internet], action: allow}\n"
	                  "tests:\n  - {client: bob, to: 192.0.2.1, port: tcp/80, expect: deny}\n");
	data = handle(&v, "policy.check", a, &rc, err);
	CHECK_INT(rc, 0);
	CHECK_INT(json_integer_value(json_object_get(data, "rules")), 1);
	CHECK_INT(json_integer_value(json_object_get(data, "tests")), 1);
	json_decref(data);
	json_object_set_new(a, "text", json_string("version: 1\ndefault: maybe\n"));
	data = handle(&v, "policy.check", a, &rc, err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err, "p.yaml:2:10: ") == err);
	CHECK_INT(json_array_size(json_object_get(data, "messages")), 1);
	json_decref(data);
	json_object_set_new(a, "text",
	                    json_string("version: 1\ndefault: deny\ntests:\n"
	                                "  - {client: bob, to: 192.0.2.1, expect: allow}\n"));
	data = handle(&v, "policy.check", a, &rc, err);
	CHECK_INT(rc, -EINVAL);
	CHECK(strstr(err, "p.yaml:4:5: test failed: ") == err);
	CHECK_INT(json_array_size(json_object_get(data, "messages")), 2);
	json_decref(data);
	json_object_del(a, "text");
	data = handle(&v, "policy.check", a, &rc, err);
	CHECK(rc == -EINVAL && strstr(err, "no policy file"));
	json_decref(data);
	json_object_set_new(a, "text", json_integer(3));
	data = handle(&v, "policy.check", a, &rc, err);
	CHECK_INT(rc, -EINVAL);
	json_decref(data);
	json_object_set_new(a, "force", json_true());
	data = handle(&v, "policy.check", a, &rc, err);
	CHECK(rc == -EINVAL && strstr(err, "unknown argument \"force\""));
	json_decref(data);
	json_decref(a);
	/* The flows filters are checked before anything reads conntrack (which
	 * a unit test must not touch: it would be the host's). */
	static const char *const bad_filters[][2] = {
	        {"{\"client\": \"nobody\"}", "no client \"nobody\" in gateway.yaml"},
	        {"{\"proto\": \"sctp\"}", "proto \"sctp\" is not tcp, udp, icmp or icmpv6"},
	        {"{\"dst\": \"10.0.0.0/33\"}", "dst \"10.0.0.0/33\" is not an address or CIDR"},
	        {"{\"port\": 0}", "port is not a number 1-65535"},
	        {"{\"port\": \"80\"}", "port is not a number 1-65535"},
	        {"{\"client\": 7}", "argument \"client\""},
	        {"{\"colour\": \"red\"}", "unknown argument \"colour\""},
	};
	for (size_t i = 0; i < sizeof(bad_filters) / sizeof(bad_filters[0]); i++) {
		for (int k = 0; k < 2; k++) {
			json_t *f = json_loads(bad_filters[i][0], 0, NULL);

			data = handle(&v, k ? "flows.kill" : "flows", f, &rc, err);
			CHECK_INT(rc, -EINVAL);
			CHECK(strstr(err, bad_filters[i][1]) != NULL);
			if (!strstr(err, bad_filters[i][1]))
				fprintf(stderr, "  %s: %s\n", bad_filters[i][0], err);
			json_decref(data);
			json_decref(f);
		}
	}

	/* The rest need the policy in force, which this daemon has not. */
	static const char *const need[] = {"policy.test", "policy.diff", "policy.apply",
	                                   "policy.show", "policy.stats"};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		data = handle(&v, need[i], args, &rc, err);
		CHECK(rc == -ENOENT && !strcmp(err, "no policy in force"));
		json_decref(data);
	}

	json_decref(args);
	wg_device_free(d);
	close(tun[0]);
	close(tun[1]);
	gw_config_free(c);
}

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	if (!mkdtemp(dir))
		return 1;
	put("gw.key", "ERERERERERERERERERERERERERERERERERERERERERE=\n");
	test_config();
	test_commands();
	char path[128];
	snprintf(path, sizeof(path), "%s/gw.key", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/gateway.yaml", dir);
	unlink(path);
	rmdir(dir);
	return check_done("test_control");
}
