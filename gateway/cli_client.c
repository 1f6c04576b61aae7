/* gatewayctl client add|remove: see README, "Adding a client".
 *
 * The edge's keys are made here: gatewayd gets the public key (and the
 * preshared key, which it writes beside gateway.yaml), edits gateway.yaml
 * and loads the client; the private key leaves this process only in what
 * it prints and in the files of --out. Everything that can be checked
 * before gatewayd is asked is checked first (the name, the endpoint, that
 * --out's files do not exist yet), so a refusal changes nothing. */
#include "gateway/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/enforce.h"
#include "gateway/onboard.h"
#include "tunnel/conf.h"
#include "tunnel/crypto.h"
#include "tunnel/ctl.h"
#include "tunnel/key.h"
#include "tunnel/prefix.h"

/* What one client add works with. Its keys are wiped at the end. */
struct add {
	const char *name;
	char endpoint[GW_ENDPOINT_MAX];
	struct onboard_edge e;
	char conf[ONBOARD_TEXT_MAX]; /* the wg-quick configuration */
	char psk_file[GW_NAME_MAX + 4];
};

/* The files of --out, in the order they are written; NAME.psk only with
 * --psk. */
enum { OUT_YAML, OUT_KEY, OUT_CONF, OUT_PSK, OUT_N };

static void out_name(const struct add *a, int i, char *buf, size_t size)
{
	static const char *const fixed[] = {"edge.yaml", "edge.key"};

	if (i < OUT_CONF)
		snprintf(buf, size, "%s", fixed[i]);
	else
		snprintf(buf, size, "%s.%s", a->name, i == OUT_CONF ? "conf" : "psk");
}

/* The options o, and with --config: the socket its control_socket (into
 * sock, unless --socket says otherwise), and endpoint (NULL: not wanted)
 * its endpoint, the last resort. Read without its key files, which need
 * not be readable by whoever runs gatewayctl. */
static int read_config(const struct opts *o, struct opts *own, char sock[108], char *endpoint)
{
	struct gw_config *cfg = NULL;
	char err[512], dir[4096], *buf = NULL;
	const char *slash;
	size_t len;
	int ret;

	*own = *o;
	if (!o->config)
		return EXIT_DONE;
	slash = strrchr(o->config, '/');
	ret = enforce_read_file(o->config, &buf, &len);
	if (ret < 0)
		return cli_fail(o, EXIT_REFUSED, o->config, strerror(-ret));
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - o->config), o->config);
	ret = gw_config_parse_flags(o->config, slash ? dir : NULL, buf, len, GW_CONFIG_NO_KEY_FILES,
	                            &cfg, err, sizeof(err));
	free(buf);
	if (ret < 0)
		return cli_fail(o, EXIT_REFUSED, NULL, err);
	_Static_assert(sizeof(cfg->control_socket) == 108, "sock holds a control_socket");
	if (!own->socket) {
		memcpy(sock, cfg->control_socket, sizeof(cfg->control_socket));
		own->socket = sock;
	}
	if (endpoint && cfg->endpoint[0])
		snprintf(endpoint, GW_ENDPOINT_MAX, "%s", cfg->endpoint);
	gw_config_free(cfg);
	return EXIT_DONE;
}

/* --out DIR is a directory without any of the files to be written. */
static int check_out_dir(const struct opts *o, const struct add *a)
{
	char path[4096], name[GW_NAME_MAX + 8];
	struct stat st;

	if (stat(o->out_dir, &st) < 0)
		return cli_fail(o, EXIT_REFUSED, o->out_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cli_fail(o, EXIT_REFUSED, o->out_dir, "not a directory");
	for (int i = 0; i < OUT_N; i++) {
		if (i == OUT_PSK && !a->e.has_psk)
			continue;
		out_name(a, i, name, sizeof(name));
		snprintf(path, sizeof(path), "%s/%s", o->out_dir, name);
		if (lstat(path, &st) == 0)
			return cli_fail(o, EXIT_REFUSED, path,
			                "exists; --out never overwrites: move it or choose another "
			                "directory");
		if (errno != ENOENT)
			return cli_fail(o, EXIT_REFUSED, path, strerror(errno));
	}
	return EXIT_DONE;
}

/* Before anything changes: the endpoint the client will dial, from
 * --endpoint, else from gatewayd (endpoint: in its gateway.yaml), else from
 * --config's file. */
static int find_endpoint(const struct opts *o, struct add *a)
{
	struct ctl_reply *r = NULL;
	const char *ep = NULL;
	int status;

	if (o->endpoint) {
		snprintf(a->endpoint, sizeof(a->endpoint), "%s", o->endpoint);
		return EXIT_DONE;
	}
	status = cli_call(o, "status", NULL, -1, &r);
	if (status)
		return status;
	ep = json_string_value(json_object_get(r->data, "endpoint")); /* or null */
	if (ep && !gw_endpoint_problem(ep))
		snprintf(a->endpoint, sizeof(a->endpoint), "%s", ep);
	ctl_reply_free(r);
	if (!a->endpoint[0])
		return cli_fail(o, EXIT_REFUSED, NULL,
		                "no endpoint for the client to dial: set endpoint: HOST:PORT in "
		                "gateway.yaml, or give --endpoint HOST:PORT");
	return EXIT_DONE;
}

/* The checks of what the operator typed, before gatewayd is asked. */
static int check_input(const struct opts *o, struct add *a)
{
	char msg[GW_ENDPOINT_MAX + 128];
	struct prefix p;
	const char *why;

	if (!conf_name_ok(a->name, GW_NAME_MAX - 1)) {
		snprintf(msg, sizeof(msg),
		         "\"%.*s\" is not a client name (1-31 of A-Z a-z 0-9 _ . -)", 64, a->name);
		return cli_fail(o, EXIT_REFUSED, NULL, msg);
	}
	if (o->address && (strchr(o->address, '/') || prefix_parse(&p, o->address, AF_INET) < 0)) {
		snprintf(msg, sizeof(msg), "--address \"%.*s\" is not an IPv4 address", 64,
		         o->address);
		return cli_fail(o, EXIT_REFUSED, NULL, msg);
	}
	if (o->endpoint && (why = gw_endpoint_problem(o->endpoint))) {
		snprintf(msg, sizeof(msg), "--endpoint \"%.*s\" %s", GW_ENDPOINT_MAX, o->endpoint,
		         why);
		return cli_fail(o, EXIT_REFUSED, NULL, msg);
	}
	if (o->qr && o->json)
		return cli_usage_error("--qr draws for a terminal: not with --json");
	return EXIT_DONE;
}

static int make_keys(const struct opts *o, struct add *a, char pub[KEY_B64_LEN + 1],
                     char psk[KEY_B64_LEN + 1])
{
	uint8_t p[KEY_LEN];

	if (crypto_x25519_genkey(a->e.priv) < 0 || crypto_x25519_pubkey(p, a->e.priv) < 0 ||
	    (a->e.has_psk && crypto_random(a->e.psk, sizeof(a->e.psk)) < 0))
		return cli_fail(o, EXIT_REFUSED, NULL, "cannot make keys: no randomness");
	key_to_base64(pub, p);
	if (a->e.has_psk)
		key_to_base64(psk, a->e.psk);
	return EXIT_DONE;
}

/* gatewayd's reply, checked: it becomes what the client is given. */
static int read_reply(const struct opts *o, json_t *data, struct add *a)
{
	const char *name = NULL, *addr = NULL, *addr6, *pub = NULL, *ep;
	json_t *a6 = NULL, *e = NULL;
	json_int_t mtu = 0;

	/* address6 and endpoint: a string, or null (or absent) */
	if (json_unpack(data, "{s:s, s:s, s?o, s:s, s?o, s:I}", "name", &name, "address", &addr,
	                "address6", &a6, "gateway_public_key", &pub, "endpoint", &e, "mtu",
	                &mtu) < 0)
		name = NULL;
	addr6 = json_string_value(a6);
	ep = json_string_value(e);
	if (!name || (a6 && !addr6 && !json_is_null(a6)) || (e && !ep && !json_is_null(e)) ||
	    strcmp(name, a->name) || prefix_parse(&a->e.addr, addr, AF_INET) < 0 ||
	    a->e.addr.len != 32 || (addr6 && prefix_parse(&a->e.addr6, addr6, AF_INET6) < 0) ||
	    (addr6 && a->e.addr6.len != 128) || key_from_base64(a->e.gw_pub, pub) < 0 ||
	    mtu < 1280 || mtu > 9000 || (ep && gw_endpoint_problem(ep)))
		return cli_fail(
		        o, EXIT_UNREACHABLE, NULL,
		        "gatewayd's reply to client.add is not understood; the client may "
		        "have been added: check gateway.yaml, or gatewayctl client remove it");
	a->e.has_addr6 = addr6 != NULL;
	a->e.mtu = (unsigned)mtu;
	if (ep && !o->endpoint)
		snprintf(a->endpoint, sizeof(a->endpoint), "%s", ep);
	return EXIT_DONE;
}

/* Asks gatewayd to add the client: EXIT_DONE with *r ok. */
static int ask_add(const struct opts *o, struct add *a, struct ctl_reply **r)
{
	char pub[KEY_B64_LEN + 1], psk[KEY_B64_LEN + 1] = "";
	json_t *args;
	int status;

	status = make_keys(o, a, pub, psk);
	if (status)
		return status;
	args = json_pack("{s:s, s:s}", "name", a->name, "public_key", pub);
	if (args && o->address)
		json_object_set_new(args, "address", json_string(o->address));
	if (args && a->e.has_psk)
		json_object_set_new(args, "preshared_key", json_string(psk));
	crypto_wipe(psk, sizeof(psk));
	if (!args)
		return cli_fail(o, EXIT_REFUSED, NULL, "out of memory");
	status = cli_call(o, "client.add", args, -1, r);
	json_decref(args);
	return status;
}

/* A new file of --out: never one that exists (O_EXCL), never through a
 * link. 0 or -errno. */
static int write_new(const char *dir, const char *name, const char *text, size_t len, mode_t mode)
{
	char path[4096];
	ssize_t n;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len && ret == 0) {
		n = write(fd, text, len);
		if (n < 0 && errno != EINTR)
			ret = -errno;
		if (n > 0) {
			text += n;
			len -= (size_t)n;
		}
	}
	if (close(fd) < 0 && !ret)
		ret = -errno;
	return ret;
}

/* --out: edge.yaml, its key files and the wg-quick configuration; files
 * (an array) gets the paths written. */
static int write_out(const struct opts *o, struct add *a, json_t *files)
{
	char yaml[ONBOARD_TEXT_MAX], key[KEY_B64_LEN + 2], psk[KEY_B64_LEN + 2] = "";
	char name[GW_NAME_MAX + 8], path[4096], msg[512];
	const char *text[OUT_N];
	size_t len[OUT_N];
	int n, ret = 0, i;

	n = onboard_edge_yaml(&a->e, "edge.key", a->e.has_psk ? a->psk_file : NULL, yaml,
	                      sizeof(yaml));
	if (n < 0)
		return cli_fail(o, EXIT_REFUSED, NULL, "cannot render edge.yaml");
	key_to_base64(key, a->e.priv);
	strcat(key, "\n");
	if (a->e.has_psk) {
		key_to_base64(psk, a->e.psk);
		strcat(psk, "\n");
	}
	text[OUT_YAML] = yaml, len[OUT_YAML] = (size_t)n;
	text[OUT_KEY] = key, len[OUT_KEY] = strlen(key);
	text[OUT_CONF] = a->conf, len[OUT_CONF] = strlen(a->conf);
	text[OUT_PSK] = psk, len[OUT_PSK] = strlen(psk);
	for (i = 0; i < OUT_N && ret == 0; i++) {
		if (i == OUT_PSK && !a->e.has_psk)
			continue;
		out_name(a, i, name, sizeof(name));
		/* edge.yaml holds no secret; the others do. */
		ret = write_new(o->out_dir, name, text[i], len[i], i == OUT_YAML ? 0644 : 0600);
		snprintf(path, sizeof(path), "%s/%s", o->out_dir, name);
		if (ret == 0)
			json_array_append_new(files, json_string(path));
	}
	crypto_wipe(key, sizeof(key));
	crypto_wipe(psk, sizeof(psk));
	if (ret == 0)
		return EXIT_DONE;
	snprintf(msg, sizeof(msg),
	         "%s; the client was added, and its configuration is printed above: keep it, or "
	         "gatewayctl client remove %s",
	         strerror(-ret), a->name);
	return cli_fail(o, EXIT_REFUSED, path, msg);
}

/* A module of the code, or light outside it (the quiet zone). */
static bool dark(const QRcode *q, int x, int y)
{
	return x >= 0 && y >= 0 && x < q->width && y < q->width && (q->data[y * q->width + x] & 1);
}

/* The QR code of text in UTF-8 half blocks, two rows of modules a line,
 * with a quiet zone of four modules. The light modules are the blocks: in
 * a terminal with light text on a dark background it shows as printed. */
static int print_qr(const struct opts *o, const char *text)
{
	enum { QUIET = 4 };
	QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_L);
	int x, y, size;

	if (!q)
		return cli_fail(o, EXIT_REFUSED, NULL,
		                "cannot make a QR code of the configuration");
	size = q->width + 2 * QUIET;
	for (y = 0; y < size; y += 2) {
		for (x = 0; x < size; x++) {
			bool top = !dark(q, x - QUIET, y - QUIET);
			bool bottom = y + 1 < size && !dark(q, x - QUIET, y + 1 - QUIET);

			fputs(top && bottom ? "\u2588"
			      : top         ? "\u2580"
			      : bottom      ? "\u2584"
			                    : " ",
			      stdout);
		}
		fputc('\n', stdout);
	}
	crypto_wipe(q->data, (size_t)q->width * (size_t)q->width);
	QRcode_free(q);
	return EXIT_DONE;
}

static void print_added(const struct opts *o, struct add *a, json_t *data, json_t *files)
{
	char addr[PREFIX_STRLEN], addr6[PREFIX_STRLEN];
	const char *psk_file = json_string_value(json_object_get(data, "preshared_key_file"));
	json_t *f;
	size_t i;

	if (o->json) {
		json_t *j = json_deep_copy(data);

		json_object_set_new(j, "conf", json_string(a->conf));
		if (o->out_dir)
			json_object_set(j, "files", files);
		j = json_pack("{s:b, s:o}", "ok", 1, "data", j);
		cli_print_json(j);
		json_decref(j);
		return;
	}
	prefix_format_addr(&a->e.addr, addr, sizeof(addr));
	prefix_format_addr(&a->e.addr6, addr6, sizeof(addr6));
	fprintf(stderr,
	        "gatewayctl: added client %s, %s%s%s; its private key is in what follows "
	        "and nowhere else\n",
	        a->name, addr, a->e.has_addr6 ? " " : "", a->e.has_addr6 ? addr6 : "");
	if (psk_file)
		fprintf(stderr, "gatewayctl: its preshared key is %s on the gateway\n", psk_file);
	json_array_foreach(files, i, f)
	        fprintf(stderr, "gatewayctl: wrote %s\n", json_string_value(f));
	fputs(a->conf, stdout);
}

int cli_cmd_client_add(int argc, char **argv, const struct opts *given)
{
	struct add a = {.name = argv[0]};
	struct ctl_reply *r = NULL;
	json_t *files = json_array();
	char sock[108];
	struct opts o;
	int status, n;

	a.e.name = a.name;
	a.e.has_psk = given->psk;
	snprintf(a.psk_file, sizeof(a.psk_file), "%.*s.psk", GW_NAME_MAX - 1, a.name);
	status = check_input(given, &a);
	if (!status)
		status = read_config(given, &o, sock, a.endpoint);
	if (!status && o.out_dir)
		status = check_out_dir(&o, &a);
	if (!status)
		status = find_endpoint(&o, &a);
	if (!status)
		status = ask_add(&o, &a, &r);
	if (!status)
		status = read_reply(&o, r->data, &a);
	if (status)
		goto out;
	a.e.endpoint = a.endpoint;
	n = onboard_wg_quick_conf(&a.e, a.conf, sizeof(a.conf));
	if (n < 0) {
		status = cli_fail(&o, EXIT_REFUSED, NULL, "cannot render the configuration");
		goto out;
	}
	/* The configuration first: if writing --out fails, it is not lost. */
	if (!o.json) {
		print_added(&o, &a, r->data, files);
		if (o.qr) {
			fputc('\n', stdout);
			status = print_qr(&o, a.conf);
		}
		fflush(stdout);
	}
	if (o.out_dir) {
		int s = write_out(&o, &a, files);

		status = status ? status : s;
	}
	if (o.json && !status)
		print_added(&o, &a, r->data, files);
out:
	json_decref(files);
	ctl_reply_free(r);
	crypto_wipe(&a, sizeof(a));
	return status;
}

int cli_cmd_client_remove(int argc, char **argv, const struct opts *given)
{
	struct ctl_reply *r = NULL;
	json_int_t flows = 0;
	json_t *args, *rules, *rule;
	char sock[108];
	struct opts o;
	size_t i;
	int status;

	status = read_config(given, &o, sock, NULL);
	if (status)
		return status;
	args = json_pack("{s:s}", "name", argv[0]);
	status = cli_call_reply(&o, "client.remove", args, -1, &r);
	json_decref(args);
	if (status)
		return status;
	rules = json_object_get(r->data, "rules");
	if (!r->ok && o.json) {
		json_t *j =
		        json_pack("{s:b, s:s, s:O?}", "ok", 0, "error", r->error, "rules", rules);

		cli_print_json(j);
		json_decref(j);
		status = EXIT_REFUSED;
	} else if (!r->ok) {
		status = cli_fail(&o, EXIT_REFUSED, "gatewayd", r->error);
		if (json_array_size(rules)) {
			fprintf(stderr, "gatewayctl: the policy in force names %s in:", argv[0]);
			json_array_foreach(rules, i, rule)
			        fprintf(stderr, "%s %s", i ? "," : "", json_string_value(rule));
			fprintf(stderr, "\ngatewayctl: apply a policy without them first "
			                "(gatewayctl policy apply FILE)\n");
		}
	} else if (o.json) {
		cli_print_reply(r);
	} else if (json_unpack(r->data, "{s:I}", "flows_ended", &flows) < 0) {
		status = cli_fail(&o, EXIT_UNREACHABLE, NULL,
		                  "gatewayd's reply to client.remove is not understood");
	} else {
		printf("removed client %s, ended %" JSON_INTEGER_FORMAT " flows\n", argv[0], flows);
	}
	ctl_reply_free(r);
	return status;
}
