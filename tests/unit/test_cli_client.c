/* gatewayctl client add|remove against a fake gatewayd: a control socket
 * served on a thread of the test, answering status, client.add and
 * client.remove as the protocol in README ("Adding a client") says. What
 * is sent (a public key whose private key is the one printed, a preshared
 * key only with --psk, the address only with --address), what is printed
 * (the wg-quick configuration, its QR code module for module, --json),
 * --out's files (edge.yaml read back by edge_config_load() with its key
 * files, their modes, never overwritten), and that every refusal of the
 * operator's input (a bad name or endpoint, no endpoint anywhere, an --out
 * file that exists) comes before gatewayd is asked to change anything. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/config.h"
#include "gateway/cli.h"
#include "tests/unit/check.h"
#include "tests/unit/loop_thread.h"
#include "tunnel/crypto.h"
#include "tunnel/ctl.h"
#include "tunnel/key.h"
#include "tunnel/loop.h"

#define GWPUB "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="

static char dir[] = "/tmp/test_cli_client.XXXXXX";

/* ---- the fake gatewayd */

static struct {
	const char *status_endpoint; /* NULL: null */
	const char *reply_endpoint;
	bool v6;
	int adds, removes; /* requests seen */
	json_t *add_args;  /* the last client.add's */
} fake;

static int fake_add(struct ctl_request *req, json_t **data, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(req->args, "name"));
	const char *addr = json_string_value(json_object_get(req->args, "address"));
	char psk_file[128];

	fake.adds++;
	json_decref(fake.add_args);
	fake.add_args = json_deep_copy(req->args);
	if (!strcmp(name, "taken")) {
		snprintf(err, errlen, "a client named taken exists");
		return -EEXIST;
	}
	if (!strcmp(name, "garbled")) {
		*data = json_pack("{s:s}", "name", name);
		return 0;
	}
	snprintf(psk_file, sizeof(psk_file), "/etc/egress/%s.psk", name);
	*data = json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:i, s:i, s:s?}", "name", name, "address",
	                  addr ? addr : "100.64.0.7", "address6", fake.v6 ? "fd00:64::7" : NULL,
	                  "gateway_public_key", GWPUB, "endpoint", fake.reply_endpoint,
	                  "listen_port", 51820, "mtu", 1400, "preshared_key_file",
	                  json_object_get(req->args, "preshared_key") ? psk_file : NULL);
	return 0;
}

static int handler(void *arg, struct ctl_request *req, json_t **data, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(req->args, "name"));

	if (!strcmp(req->cmd, "status")) {
		*data = json_pack("{s:s, s:s?, s:s}", "version", "0.1.0", "endpoint",
		                  fake.status_endpoint, "public_key", GWPUB);
		return 0;
	}
	if (!strcmp(req->cmd, "client.add"))
		return fake_add(req, data, err, errlen);
	if (!strcmp(req->cmd, "client.remove")) {
		fake.removes++;
		if (name && !strcmp(name, "busy")) {
			snprintf(err, errlen, "the policy in force names busy");
			*data = json_pack("{s:[s, s]}", "rules", "web", "ssh");
			return -EBUSY;
		}
		*data = json_pack("{s:s, s:i}", "name", name ? name : "", "flows_ended", 3);
		return 0;
	}
	snprintf(err, errlen, "unknown command \"%s\"", req->cmd);
	return -EINVAL;
}

struct server {
	struct loop_thread lt;
	struct ctl_server *srv;
};

static int server_start(struct server *s, const char *path)
{
	char err[256];

	if (loop_thread_new(&s->lt) < 0)
		return -1;
	if (ctl_server_open(&s->srv, s->lt.loop,
	                    &(struct ctl_server_params){.path = path, .handler = handler}, err,
	                    sizeof(err)) < 0) {
		fprintf(stderr, "server: %s\n", err);
		return -1;
	}
	return loop_thread_start(&s->lt);
}

static void server_stop(struct server *s)
{
	loop_thread_stop(&s->lt);
	ctl_server_close(s->srv);
	loop_thread_free(&s->lt);
}

/* ---- running a command, its stdout and stderr caught */

struct run {
	int status;
	char out[32768], err[4096];
};

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, size - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

static void run_cmd(cli_cmd_fn *fn, const char *name, const struct opts *o, struct run *r)
{
	char out[128], err[128], *argv[] = {(char *)name, NULL};
	int save1 = dup(1), save2 = dup(2), fd1, fd2;

	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	fflush(stdout);
	fflush(stderr);
	fd1 = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fd2 = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd1, 1);
	dup2(fd2, 2);
	r->status = fn(1, argv, o);
	fflush(stdout);
	fflush(stderr);
	dup2(save1, 1);
	dup2(save2, 2);
	close(save1);
	close(save2);
	close(fd1);
	close(fd2);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	unlink(out);
	unlink(err);
}

/* The value of "KEY = " in a wg-quick text, into buf. */
static const char *conf_value(const char *text, const char *key, char *buf, size_t size)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\n%s = ", key);
	p = strstr(text, pat);
	if (!p && !strncmp(text, pat + 1, strlen(pat) - 1))
		p = text - 1;
	if (!p)
		return "";
	p += strlen(pat);
	e = strchr(p, '\n');
	snprintf(buf, size, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
	return buf;
}

/* The public key of the private key in text's PrivateKey line. */
static void pub_of_conf(const char *text, char pub[KEY_B64_LEN + 1])
{
	uint8_t priv[KEY_LEN], p[KEY_LEN];
	char v[128];

	pub[0] = '\0';
	if (key_from_base64(priv, conf_value(text, "PrivateKey", v, sizeof(v))) < 0)
		return;
	crypto_x25519_pubkey(p, priv);
	key_to_base64(pub, p);
}

static const char *arg(const char *key)
{
	return json_string_value(json_object_get(fake.add_args, key));
}

/* ---- the cases */

static void test_add(const struct opts *base)
{
	struct opts o = *base;
	struct run *r = calloc(1, sizeof(*r));
	char pub[KEY_B64_LEN + 1], v[256];

	fake.status_endpoint = "198.51.100.1:51820";
	run_cmd(cli_cmd_client_add, "alice", &o, r);
	CHECK_INT(r->status, EXIT_DONE);
	CHECK_INT(fake.adds, 1);
	CHECK_STR(arg("name"), "alice");
	CHECK(arg("address") == NULL);
	CHECK(arg("preshared_key") == NULL);
	/* The key sent is the public key of the one printed. */
	pub_of_conf(r->out, pub);
	CHECK_STR(pub, arg("public_key") ? arg("public_key") : "");
	CHECK_STR(conf_value(r->out, "Address", v, sizeof(v)), "100.64.0.7/32");
	CHECK_STR(conf_value(r->out, "PublicKey", v, sizeof(v)), GWPUB);
	CHECK_STR(conf_value(r->out, "Endpoint", v, sizeof(v)), "198.51.100.1:51820");
	CHECK_STR(conf_value(r->out, "MTU", v, sizeof(v)), "1400");
	CHECK_STR(conf_value(r->out, "AllowedIPs", v, sizeof(v)), "0.0.0.0/0");
	CHECK(strncmp(r->out, "[Interface]\n", 12) == 0);
	CHECK(strstr(r->out, "PresharedKey") == NULL);
	CHECK(strstr(r->err, "added client alice, 100.64.0.7;") != NULL);

	/* --address goes to gatewayd; --endpoint wins over gatewayd's; the
	 * reply's address6 is used. */
	fake.v6 = true;
	o.address = "100.64.0.42";
	o.endpoint = "[2001:db8::1]:4500";
	run_cmd(cli_cmd_client_add, "bob", &o, r);
	CHECK_INT(r->status, EXIT_DONE);
	CHECK_STR(arg("address"), "100.64.0.42");
	CHECK_STR(conf_value(r->out, "Address", v, sizeof(v)), "100.64.0.42/32, fd00:64::7/128");
	CHECK_STR(conf_value(r->out, "Endpoint", v, sizeof(v)), "[2001:db8::1]:4500");
	CHECK_STR(conf_value(r->out, "AllowedIPs", v, sizeof(v)), "0.0.0.0/0, ::/0");
	fake.v6 = false;

	/* Without --endpoint, the reply's endpoint wins over status's. */
	o = *base;
	fake.reply_endpoint = "gw.example.net:51820";
	run_cmd(cli_cmd_client_add, "bob2", &o, r);
	CHECK_STR(conf_value(r->out, "Endpoint", v, sizeof(v)), "gw.example.net:51820");
	fake.reply_endpoint = NULL;

	/* --json: the reply and the configuration. */
	o.json = true;
	run_cmd(cli_cmd_client_add, "carol", &o, r);
	CHECK_INT(r->status, EXIT_DONE);
	{
		json_t *j = json_loads(r->out, 0, NULL);
		const char *conf =
		        json_string_value(json_object_get(json_object_get(j, "data"), "conf"));

		CHECK(json_is_true(json_object_get(j, "ok")));
		CHECK_STR(json_string_value(json_object_get(json_object_get(j, "data"),
		                                            "gateway_public_key")),
		          GWPUB);
		pub_of_conf(conf ? conf : "", pub);
		CHECK_STR(pub, arg("public_key"));
		json_decref(j);
	}
	free(r);
}

/* --qr: the half blocks read back as the QR code of the configuration. */
static void test_qr(const struct opts *base)
{
	struct opts o = *base;
	struct run *r = calloc(1, sizeof(*r));
	QRcode *q = NULL;
	const char *p, *qr;
	size_t conf_len;
	int x = 0, y = 0, size = 0, bad = 0, rows = 0;
	char *conf;

	o.qr = true;
	fake.status_endpoint = "198.51.100.1:51820";
	run_cmd(cli_cmd_client_add, "phone", &o, r);
	CHECK_INT(r->status, EXIT_DONE);
	qr = strstr(r->out, "\n\n\xe2\x96");
	qr = qr ? qr : strstr(r->out, "\n\n ");
	/* the configuration, a blank line, the code */
	p = strstr(r->out, "PersistentKeepalive = 25\n");
	CHECK(p && qr && qr == p + strlen("PersistentKeepalive = 25"));
	if (!p || !qr) {
		free(r);
		return;
	}
	conf_len = (size_t)(p - r->out) + strlen("PersistentKeepalive = 25\n");
	conf = strndup(r->out, conf_len);
	q = QRcode_encodeString8bit(conf, 0, QR_ECLEVEL_L);
	CHECK(q != NULL);
	if (q)
		size = q->width + 8;
	for (p = qr + 2; q && *p; rows++, y += 2, x = 0) {
		for (; *p && *p != '\n'; x++) {
			bool top, bottom;

			if (!strncmp(p, "\xe2\x96\x88", 3))
				top = bottom = true, p += 3; /* U+2588 full block */
			else if (!strncmp(p, "\xe2\x96\x80", 3))
				top = true, bottom = false, p += 3; /* U+2580 upper half */
			else if (!strncmp(p, "\xe2\x96\x84", 3))
				top = false, bottom = true, p += 3; /* U+2584 lower half */
			else if (*p == ' ')
				top = bottom = false, p++;
			else
				break;
			/* light: outside the code (the quiet zone) or a light module */
			for (int h = 0; h < 2; h++) {
				int mx = x - 4, my = y + h - 4;
				bool in = mx >= 0 && my >= 0 && mx < q->width && my < q->width;
				bool light = !in || !(q->data[my * q->width + mx] & 1);

				if (y + h < size && light != (h ? bottom : top))
					bad++;
			}
		}
		CHECK_INT(x, size);
		if (*p == '\n')
			p++;
	}
	CHECK_INT(rows, (size + 1) / 2);
	CHECK_INT(bad, 0);
	if (q)
		QRcode_free(q);
	free(conf);
	free(r);
}

static void check_mode(const char *path, mode_t want)
{
	struct stat st;

	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == want);
}

static void test_out(const struct opts *base)
{
	struct opts o = *base;
	struct run *r = calloc(1, sizeof(*r));
	struct edge_config *e = NULL;
	char out[128], path[256], err[256] = "", pub[KEY_B64_LEN + 1], conf[4096];
	uint8_t p[KEY_LEN], psk[KEY_LEN];
	int adds;

	snprintf(out, sizeof(out), "%s/edge", dir);
	CHECK(mkdir(out, 0700) == 0);
	o.out_dir = out;
	o.psk = true;
	fake.status_endpoint = "198.51.100.1:51820";
	run_cmd(cli_cmd_client_add, "dave", &o, r);
	CHECK_INT(r->status, EXIT_DONE);
	CHECK(arg("preshared_key") != NULL);
	CHECK(strstr(r->err, "its preshared key is /etc/egress/dave.psk on the gateway") != NULL);
	snprintf(path, sizeof(path), "%s/edge.yaml", out);
	check_mode(path, 0644 & ~022);
	CHECK_INT(edge_config_load(path, &e, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (e) {
		crypto_x25519_pubkey(p, e->priv);
		key_to_base64(pub, p);
		CHECK_STR(pub, arg("public_key"));
		CHECK(e->gws[0].has_psk);
		CHECK(key_from_base64(psk, arg("preshared_key")) == 0 &&
		      !memcmp(psk, e->gws[0].psk, sizeof(psk)));
		key_to_base64(pub, e->gws[0].pub);
		CHECK_STR(pub, GWPUB);
		CHECK_INT(e->gws[0].endpoint.ss_family, AF_INET);
		CHECK_INT(ntohs(((struct sockaddr_in *)&e->gws[0].endpoint)->sin_port), 51820);
		CHECK_INT(e->persistent_keepalive, 25);
		CHECK_INT(e->mtu, 1400);
	}
	edge_config_free(e);
	snprintf(path, sizeof(path), "%s/edge.key", out);
	check_mode(path, 0600);
	snprintf(path, sizeof(path), "%s/dave.psk", out);
	check_mode(path, 0600);
	snprintf(path, sizeof(path), "%s/dave.conf", out);
	check_mode(path, 0600);
	slurp(path, conf, sizeof(conf));
	CHECK_STR(conf, r->out); /* the file is what was printed */
	CHECK(strstr(conf, "PresharedKey = ") != NULL);
	CHECK_STR(conf_value(conf, "PresharedKey", err, sizeof(err)), arg("preshared_key"));

	/* Again into the same directory: refused before gatewayd is asked. */
	adds = fake.adds;
	o.psk = false;
	run_cmd(cli_cmd_client_add, "erin", &o, r);
	CHECK_INT(r->status, EXIT_REFUSED);
	CHECK(strstr(r->err, "/edge/edge.yaml: exists; --out never overwrites") != NULL);
	CHECK_INT(fake.adds, adds);
	o.out_dir = "/nonexistent-dir";
	run_cmd(cli_cmd_client_add, "erin", &o, r);
	CHECK_INT(r->status, EXIT_REFUSED);
	CHECK_INT(fake.adds, adds);
	free(r);
}

static void test_refusals(const struct opts *base)
{
	struct opts o = *base;
	struct run *r = calloc(1, sizeof(*r));
	int adds = fake.adds;

	/* No endpoint anywhere: nothing is asked but status. */
	fake.status_endpoint = NULL;
	run_cmd(cli_cmd_client_add, "frank", &o, r);
	CHECK_INT(r->status, EXIT_REFUSED);
	CHECK(strstr(r->err, "no endpoint for the client to dial") != NULL);
	fake.status_endpoint = "198.51.100.1:51820";
	run_cmd(cli_cmd_client_add, "bad name", &o, r);
	CHECK_INT(r->status, EXIT_REFUSED);
	CHECK(strstr(r->err, "\"bad name\" is not a client name") != NULL);
	o.endpoint = "198.51.100.1";
	run_cmd(cli_cmd_client_add, "frank", &o, r);
	CHECK_INT(r->status, EXIT_REFUSED);
	CHECK(strstr(r->err, "--endpoint \"198.51.100.1\" is not HOST:PORT") != NULL);
	o = *base;
	o.address = "100.64.0.0/24";
	run_cmd(cli_cmd_client_add, "frank", &o, r);
	CHECK_INT(r->status, EXIT_REFUSED);
	CHECK(strstr(r->err, "--address \"100.64.0.0/24\" is not an IPv4 address") != NULL);
	CHECK_INT(fake.adds, adds);

	/* gatewayd says no: its message; or says something else. */
	o = *base;
	run_cmd(cli_cmd_client_add, "taken", &o, r);
	CHECK_INT(r->status, EXIT_REFUSED);
	CHECK(strstr(r->err, "gatewayd: a client named taken exists") != NULL);
	CHECK_STR(r->out, "");
	run_cmd(cli_cmd_client_add, "garbled", &o, r);
	CHECK_INT(r->status, EXIT_UNREACHABLE);
	CHECK_STR(r->out, "");

	/* Nobody on the socket. */
	o.socket = "/nonexistent.sock";
	run_cmd(cli_cmd_client_add, "frank", &o, r);
	CHECK_INT(r->status, EXIT_UNREACHABLE);
	free(r);
}

static void test_remove(const struct opts *base)
{
	struct opts o = *base;
	struct run *r = calloc(1, sizeof(*r));
	json_t *j;

	run_cmd(cli_cmd_client_remove, "alice", &o, r);
	CHECK_INT(r->status, EXIT_DONE);
	CHECK_STR(r->out, "removed client alice, ended 3 flows\n");
	run_cmd(cli_cmd_client_remove, "busy", &o, r);
	CHECK_INT(r->status, EXIT_REFUSED);
	CHECK(strstr(r->err, "gatewayd: the policy in force names busy\n") != NULL);
	CHECK(strstr(r->err, "the policy in force names busy in: web, ssh\n") != NULL);
	o.json = true;
	run_cmd(cli_cmd_client_remove, "busy", &o, r);
	CHECK_INT(r->status, EXIT_REFUSED);
	j = json_loads(r->out, 0, NULL);
	CHECK(json_is_false(json_object_get(j, "ok")));
	CHECK_STR(json_string_value(json_array_get(json_object_get(j, "rules"), 1)), "ssh");
	json_decref(j);
	run_cmd(cli_cmd_client_remove, "alice", &o, r);
	j = json_loads(r->out, 0, NULL);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(j, "data"), "flows_ended")),
	          3);
	json_decref(j);
	CHECK_INT(fake.removes, 4);
	free(r);
}

/* --config: the socket and the endpoint from gateway.yaml, read without
 * its key files. */
static void test_config(const struct opts *base)
{
	struct opts o = {0};
	struct run *r = calloc(1, sizeof(*r));
	char path[128], text[512], v[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/gateway.yaml", dir);
	snprintf(text, sizeof(text),
	         "private_key_file: /nonexistent/gw.key\naddress: 100.64.0.1/24\n"
	         "control_socket: gw.sock\nendpoint: 203.0.113.9:443\n");
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	o.config = path;
	fake.status_endpoint = NULL;
	run_cmd(cli_cmd_client_add, "gina", &o, r);
	CHECK_INT(r->status, EXIT_DONE);
	CHECK_STR(conf_value(r->out, "Endpoint", v, sizeof(v)), "203.0.113.9:443");
	o.config = "/nonexistent.yaml";
	run_cmd(cli_cmd_client_remove, "gina", &o, r);
	CHECK_INT(r->status, EXIT_REFUSED);
	unlink(path);
	free(r);
	(void)base;
}

int main(void)
{
	struct server s = {0};
	struct opts o = {0};
	char sock[128], path[256];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	umask(022);
	snprintf(sock, sizeof(sock), "%s/gw.sock", dir);
	if (server_start(&s, sock) < 0)
		return check_skip("test_cli_client", "cannot serve a control socket here");
	o.socket = sock;
	test_add(&o);
	test_qr(&o);
	test_out(&o);
	test_refusals(&o);
	test_remove(&o);
	test_config(&o);
	server_stop(&s);
	json_decref(fake.add_args);

	for (const char *const *f =
	             (const char *const[]){"edge.yaml", "edge.key", "dave.psk", "dave.conf", NULL};
	     *f; f++) {
		snprintf(path, sizeof(path), "%s/edge/%s", dir, *f);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/edge", dir);
	rmdir(path);
	rmdir(dir);
	return check_done("test_cli_client");
}
