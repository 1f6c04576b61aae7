/* gateway.yaml and edge.yaml: good files parse to the expected values, and
 * each mistake an operator can make gives its one exact message. Key files are
 * written to a temporary directory, which is also the working directory for
 * the buffer cases (relative key paths start there). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edge/config.h"
#include "gateway/config.h"
#include "tests/unit/check.h"
#include "tunnel/conf.h"
#include "tunnel/crypto.h"
#include "tunnel/key.h"
#include "tunnel/prefix.h"
#include "tunnel/wg.h"

/* Public keys of clients: any 32 bytes will do. */
#define K1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define K3 "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="

static char dir[64];
static char gw_pub_b64[KEY_B64_LEN + 1], edge_pub_b64[KEY_B64_LEN + 1];

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static void set_mode(const char *name, mode_t mode)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (chmod(path, mode) < 0) {
		perror(path);
		exit(1);
	}
}

static void write_key(const char *name, uint8_t fill, char pub_b64[KEY_B64_LEN + 1])
{
	uint8_t key[KEY_LEN], pub[KEY_LEN];
	char b64[KEY_B64_LEN + 2];

	memset(key, fill, sizeof(key));
	key_to_base64(b64, key);
	strcat(b64, "\n");
	write_file(name, b64);
	set_mode(name, 0600); /* as `umask 077; wg genkey`: no warning for the usual cases */
	if (pub_b64) {
		crypto_x25519_pubkey(pub, key);
		key_to_base64(pub_b64, pub);
	}
}

/* s with "@GWPUB@" and "@EDGEPUB@" replaced by the public keys of the key
 * files; the result is static. */
static const char *subst(const char *s)
{
	static char out[4096];
	size_t o = 0;

	while (*s && o < sizeof(out) - KEY_B64_LEN - 1) {
		if (!strncmp(s, "@GWPUB@", 7)) {
			memcpy(out + o, gw_pub_b64, KEY_B64_LEN);
			o += KEY_B64_LEN;
			s += 7;
		} else if (!strncmp(s, "@EDGEPUB@", 9)) {
			memcpy(out + o, edge_pub_b64, KEY_B64_LEN);
			o += KEY_B64_LEN;
			s += 9;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
	return out;
}

static void test_gateway_full(void)
{
	static const char yaml[] = "# the gateway\n"
	                           "interface: egress9          # TUN device\n"
	                           "listen_port: 51999\n"
	                           "private_key_file: gateway.key\n"
	                           "address: 100.64.0.1/24\n"
	                           "address6: fd00:64::1/64\n"
	                           "uplink: eth0\n"
	                           "mtu: 1400\n"
	                           "load_threshold: 4\n"
	                           "mark_tag: 0x12340000\n"
	                           "mark_id_mask: 0x000000ff\n"
	                           "wg_socket_dir: run/wg\n"
	                           "clients:\n"
	                           "  - name: alice\n"
	                           "    public_key: \"" K1 "\"\n"
	                           "    address: 100.64.0.2\n"
	                           "    address6: fd00:64::2\n"
	                           "    preshared_key_file: alice.psk\n"
	                           "  - name: bob.b-2_\n"
	                           "    public_key: " K2 "\n"
	                           "    address: 100.64.0.254\n";
	uint8_t k1[KEY_LEN], k2[KEY_LEN], psk[KEY_LEN], priv[KEY_LEN];
	struct gw_config *g = NULL;
	char path[128], err[256] = "", a[INET6_ADDRSTRLEN];

	write_file("gateway.yaml", yaml);
	snprintf(path, sizeof(path), "%s/gateway.yaml", dir);
	/* the key files are found next to the config file, not in the cwd */
	CHECK_INT(chdir("/"), 0);
	CHECK_INT(gw_config_load(path, &g, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (!g)
		return;
	key_from_base64(k1, K1);
	key_from_base64(k2, K2);
	memset(psk, 0x33, sizeof(psk));
	memset(priv, 0x11, sizeof(priv));
	CHECK_STR(g->ifname, "egress9");
	CHECK_INT(g->listen_port, 51999);
	CHECK_MEM(g->priv, priv, KEY_LEN);
	CHECK_STR(prefix_format(&g->addr, a, sizeof(a)), "100.64.0.1/24");
	CHECK(g->has_addr6);
	CHECK_STR(prefix_format(&g->addr6, a, sizeof(a)), "fd00:64::1/64");
	CHECK_STR(g->uplink, "eth0");
	CHECK_INT(g->mtu, 1400);
	CHECK_INT(g->load_threshold, 4);
	CHECK_INT(g->mark_tag, 0x12340000);
	CHECK_INT(g->mark_id_mask, 0xff);
	/* absent: beside the config file */
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	CHECK_STR(g->policy_file, path);
	snprintf(path, sizeof(path), "%s/run/wg", dir);
	CHECK_STR(g->wg_socket_dir, path);
	CHECK_INT(g->n_clients, 2);
	if (g->n_clients == 2) {
		CHECK_STR(g->clients[0].name, "alice");
		CHECK_MEM(g->clients[0].pub, k1, KEY_LEN);
		CHECK(g->clients[0].has_psk);
		CHECK_MEM(g->clients[0].psk, psk, KEY_LEN);
		CHECK_STR(prefix_format(&g->clients[0].addr, a, sizeof(a)), "100.64.0.2/32");
		CHECK(g->clients[0].has_addr6);
		CHECK_STR(prefix_format(&g->clients[0].addr6, a, sizeof(a)), "fd00:64::2/128");
		CHECK_INT(g->clients[0].id, 2);
		CHECK_STR(g->clients[1].name, "bob.b-2_");
		CHECK_MEM(g->clients[1].pub, k2, KEY_LEN);
		CHECK(!g->clients[1].has_psk);
		CHECK(!g->clients[1].has_addr6);
		CHECK_INT(g->clients[1].id, 254);
	}
	gw_config_free(g);
	CHECK_INT(chdir(dir), 0);
}

/* A directory of 91 bytes: with "/egress0.sock" it fits a socket path (107
 * bytes), with "/abcdefghijklmn.sock" not; and how a message quotes it. */
#define LONG_DIR \
	"/dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define LONG_DIR_QUOTED "\"/ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd...\""
#define LONG_DIR_ERR \
	"is too long for its socket abcdefghijklmn.sock (a socket path has at most 107 bytes)"

static void test_gateway_defaults(void)
{
	static const char *const yamls[] = {
	        "private_key_file: gateway.key\naddress: 100.64.0.1/24\n",
	        "private_key_file: gateway.key\naddress: 100.64.0.1/24\nclients: []\n",
	        "private_key_file: gateway.key\naddress: 100.64.0.1/24\nclients:\n",
	        "{private_key_file: gateway.key, address: 100.64.0.1/24}",
	};
	struct gw_config *g;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(yamls) / sizeof(yamls[0]); i++) {
		g = NULL;
		CHECK_INT(gw_config_parse("gateway.yaml", yamls[i], strlen(yamls[i]), &g, err,
		                          sizeof(err)),
		          0);
		if (!g)
			continue;
		CHECK_STR(g->ifname, "egress0");
		CHECK_INT(g->listen_port, 51820);
		CHECK_INT(g->mtu, 1420);
		CHECK_INT(g->load_threshold, 0);
		CHECK_INT(g->mark_tag, 0x45670000);
		CHECK_INT(g->mark_id_mask, 0xffff);
		CHECK_STR(g->uplink, "");
		CHECK(!g->has_addr6);
		CHECK_INT(g->n_clients, 0);
		CHECK_STR(g->policy_file, "policy.yaml");
		CHECK_STR(g->wg_socket_dir, "/var/run/wireguard");
		CHECK_INT(g->metrics_listen_len, 0);
		gw_config_free(g);
	}
	gw_config_free(NULL);
	{
		static const char yaml[] = "private_key_file: gateway.key\naddress: 100.64.0.1/24\n"
		                           "wg_socket_dir: " LONG_DIR "\n";

		g = NULL;
		CHECK_INT(gw_config_parse("gateway.yaml", yaml, strlen(yaml), &g, err, sizeof(err)),
		          0);
		if (g)
			CHECK_STR(g->wg_socket_dir, LONG_DIR);
		gw_config_free(g);
	}
	/* relative to the config file's directory, like the key files */
	{
		static const char yaml[] = "private_key_file: gateway.key\naddress: 100.64.0.1/24\n"
		                           "policy_file: rules/egress.yaml\n";
		char path[160];

		write_file("gateway.yaml", yaml);
		snprintf(path, sizeof(path), "%s/gateway.yaml", dir);
		g = NULL;
		CHECK_INT(gw_config_load(path, &g, err, sizeof(err)), 0);
		snprintf(path, sizeof(path), "%s/rules/egress.yaml", dir);
		if (g)
			CHECK_STR(g->policy_file, path);
		gw_config_free(g);
	}
}

/* metrics_listen: IPv4, IPv6 in brackets, and absent (or empty): none. */
static void test_gateway_metrics_listen(void)
{
	static const struct {
		const char *value;
		int family;
		const char *addr;
		unsigned port;
	} good[] = {
	        {"127.0.0.1:9586", AF_INET, "127.0.0.1", 9586},
	        {"0.0.0.0:1", AF_INET, "0.0.0.0", 1},
	        {"\"[::1]:9586\"", AF_INET6, "::1", 9586},
	        {"\"[2001:db8::1]:65535\"", AF_INET6, "2001:db8::1", 65535},
	        {"", 0, NULL, 0},
	};
	struct gw_config *g;
	char yaml[256], err[256], a[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(yaml, sizeof(yaml),
		         "private_key_file: gateway.key\naddress: 100.64.0.1/24\n"
		         "metrics_listen: %s\n",
		         good[i].value);
		g = NULL;
		CHECK_INT(gw_config_parse("gateway.yaml", yaml, strlen(yaml), &g, err, sizeof(err)),
		          0);
		if (!g)
			continue;
		if (!good[i].family) {
			CHECK_INT(g->metrics_listen_len, 0);
		} else if (good[i].family == AF_INET) {
			const struct sockaddr_in *s4 = (const void *)&g->metrics_listen;

			CHECK_INT(g->metrics_listen_len, sizeof(*s4));
			CHECK_INT(s4->sin_family, AF_INET);
			CHECK_STR(inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a)), good[i].addr);
			CHECK_INT(ntohs(s4->sin_port), good[i].port);
		} else {
			const struct sockaddr_in6 *s6 = (const void *)&g->metrics_listen;

			CHECK_INT(g->metrics_listen_len, sizeof(*s6));
			CHECK_INT(s6->sin6_family, AF_INET6);
			CHECK_STR(inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a)), good[i].addr);
			CHECK_INT(ntohs(s6->sin6_port), good[i].port);
		}
		gw_config_free(g);
	}
}

static void test_edge_full(void)
{
	static const char yaml[] = "interface: edge1\n"
	                           "private_key_file: edge.key\n"
	                           "address: 100.64.0.2/32\n"
	                           "address6: fd00:64::2/128\n"
	                           "mtu: 1380\n"
	                           "gateway:\n"
	                           "  endpoint: 198.51.100.1:51821\n"
	                           "  public_key: \"@GWPUB@\"\n"
	                           "  preshared_key_file: alice.psk\n"
	                           "persistent_keepalive: 25\n"
	                           "route_all: false\n"
	                           "fwmark: 0x1234\n"
	                           "table: 100\n"
	                           "wg_socket_dir: /run/egress/wg\n";
	const struct sockaddr_in *sin;
	uint8_t gw_pub[KEY_LEN], psk[KEY_LEN], priv[KEY_LEN];
	struct edge_config *e = NULL;
	char path[128], err[256] = "", a[INET6_ADDRSTRLEN];

	write_file("edge.yaml", subst(yaml));
	snprintf(path, sizeof(path), "%s/edge.yaml", dir);
	CHECK_INT(edge_config_load(path, &e, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (!e)
		return;
	key_from_base64(gw_pub, gw_pub_b64);
	memset(psk, 0x33, sizeof(psk));
	memset(priv, 0x22, sizeof(priv));
	CHECK_STR(e->ifname, "edge1");
	CHECK_MEM(e->priv, priv, KEY_LEN);
	CHECK_STR(prefix_format(&e->addr, a, sizeof(a)), "100.64.0.2/32");
	CHECK(e->has_addr6);
	CHECK_STR(prefix_format(&e->addr6, a, sizeof(a)), "fd00:64::2/128");
	CHECK_INT(e->mtu, 1380);
	sin = (const struct sockaddr_in *)&e->gws[0].endpoint;
	CHECK_INT(sin->sin_family, AF_INET);
	CHECK_INT(e->gws[0].endpoint_len, sizeof(struct sockaddr_in));
	CHECK_STR(inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a)), "198.51.100.1");
	CHECK_INT(ntohs(sin->sin_port), 51821);
	CHECK_MEM(e->gws[0].pub, gw_pub, KEY_LEN);
	CHECK(e->gws[0].has_psk);
	CHECK_MEM(e->gws[0].psk, psk, KEY_LEN);
	CHECK_INT(e->persistent_keepalive, 25);
	CHECK(!e->route_all);
	CHECK_INT(e->fwmark, 0x1234);
	CHECK_INT(e->table, 100);
	CHECK_STR(e->wg_socket_dir, "/run/egress/wg");
	edge_config_free(e);
}

static void test_edge_defaults(void)
{
	static const char yaml[] = "private_key_file: edge.key\n"
	                           "address: 100.64.0.2/32\n"
	                           "gateway:\n"
	                           "  endpoint: \"[2001:db8::1]:51820\"\n"
	                           "  public_key: @GWPUB@\n";
	const struct sockaddr_in6 *sin6;
	struct edge_config *e = NULL;
	char err[256], a[INET6_ADDRSTRLEN];
	const char *y = subst(yaml);

	CHECK_INT(edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)), 0);
	if (!e)
		return;
	CHECK_STR(e->ifname, "egress0");
	CHECK_INT(e->mtu, 1420);
	CHECK(!e->has_addr6);
	CHECK(!e->gws[0].has_psk);
	CHECK_INT(e->persistent_keepalive, 0);
	CHECK(e->route_all);
	CHECK_INT(e->fwmark, 51820);
	CHECK_INT(e->table, 51820);
	CHECK_STR(e->wg_socket_dir, "/var/run/wireguard");
	sin6 = (const struct sockaddr_in6 *)&e->gws[0].endpoint;
	CHECK_INT(sin6->sin6_family, AF_INET6);
	CHECK_INT(e->gws[0].endpoint_len, sizeof(struct sockaddr_in6));
	CHECK_STR(inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a)), "2001:db8::1");
	CHECK_INT(ntohs(sin6->sin6_port), 51820);
	CHECK(e->kill_switch); /* with route_all */
	CHECK_INT(e->n_gws, 1);
	CHECK_INT(e->failover_after, 15);
	CHECK_INT(e->failback, EDGE_FAILBACK_PREEMPT);
	CHECK_INT(e->n_allow, 0);
	CHECK_STR(e->state_dir, "/run/egress/edged");
	CHECK(!e->allow_lan);
	CHECK_INT(e->n_dns, 0);
	CHECK_STR(e->resolv_conf, "/etc/resolv.conf");
	edge_config_free(e);
	edge_config_free(NULL);
}

/* The kill switch's keys: allow entries of each shape, state_dir relative to
 * the file, and route_all: false turning it off by default. */
static void test_edge_kill_switch(void)
{
	static const char yaml[] = "private_key_file: edge.key\n"
	                           "address: 100.64.0.2/32\n"
	                           "gateway:\n"
	                           "  endpoint: 198.51.100.1:51820\n"
	                           "  public_key: @GWPUB@\n"
	                           "allow: [192.0.2.10, \"192.0.2.0/24:22\", \"2001:db8::/32\",\n"
	                           "        \"[2001:db8::10]:443\", \"198.51.100.7/32:53\"]\n"
	                           "state_dir: run/edge1\n"
	                           "allow_lan: true\n"
	                           "address6: fd00:64::2/128\n"
	                           "dns: [100.64.0.1, \"fd00:64::1\"]\n"
	                           "resolv_conf: etc/resolv.conf\n";
	static const char gateways[] =
	        "private_key_file: edge.key\n"
	        "address: 100.64.0.2/32\n"
	        "gateways:\n"
	        "  - endpoint: 198.51.100.1:51820\n"
	        "    public_key: @GWPUB@\n"
	        "  - endpoint: 198.51.100.2:51821\n"
	        "    public_key: AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"
	        "  - endpoint: \"[2001:db8::1]:51820\"\n"
	        "    public_key: AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n"
	        "failover_after: 20\n"
	        "failback: sticky\n";
	static const char off[] = "private_key_file: edge.key\n"
	                          "address: 100.64.0.2/32\n"
	                          "gateway:\n"
	                          "  endpoint: localhost:51820\n"
	                          "  public_key: @GWPUB@\n"
	                          "route_all: false\n";
	struct edge_config *e = NULL;
	char err[256] = "", a[PREFIX_STRLEN];
	const char *y = subst(yaml);

	CHECK_INT(edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (!e)
		return;
	CHECK(e->kill_switch);
	CHECK_INT(e->n_allow, 5);
	CHECK_STR(prefix_format(&e->allow[0].dst, a, sizeof(a)), "192.0.2.10/32");
	CHECK_INT(e->allow[0].port, 0);
	CHECK_STR(prefix_format(&e->allow[1].dst, a, sizeof(a)), "192.0.2.0/24");
	CHECK_INT(e->allow[1].port, 22);
	CHECK_STR(prefix_format(&e->allow[2].dst, a, sizeof(a)), "2001:db8::/32");
	CHECK_INT(e->allow[2].port, 0);
	CHECK_STR(prefix_format(&e->allow[3].dst, a, sizeof(a)), "2001:db8::10/128");
	CHECK_INT(e->allow[3].port, 443);
	CHECK_INT(e->allow[4].port, 53);
	CHECK_STR(e->state_dir, "run/edge1");
	CHECK(e->allow_lan);
	CHECK_INT(e->n_dns, 2);
	CHECK_STR(prefix_format_addr(&e->dns[0], a, sizeof(a)), "100.64.0.1");
	CHECK_STR(prefix_format_addr(&e->dns[1], a, sizeof(a)), "fd00:64::1");
	CHECK_STR(e->resolv_conf, "etc/resolv.conf");
	edge_config_free(e);
	/* gateways: in order, with failover_after and failback */
	e = NULL;
	y = subst(gateways);
	CHECK_INT(edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (e) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&e->gws[1].endpoint;
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&e->gws[2].endpoint;

		CHECK_INT(e->n_gws, 3);
		CHECK_INT(ntohs(sin->sin_port), 51821);
		CHECK_INT(sin6->sin6_family, AF_INET6);
		CHECK(!e->gws[0].has_psk && !e->gws[1].has_psk);
		CHECK_INT(e->failover_after, 20);
		CHECK_INT(e->failback, EDGE_FAILBACK_STICKY);
		edge_config_free(e);
	}
	/* without route_all nothing is switched, and a host name is fine */
	e = NULL;
	y = subst(off);
	if (edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)) == 0) {
		CHECK(!e->kill_switch);
		edge_config_free(e);
	}
}

/* A name is resolved once, at load time; localhost needs no DNS server.
 * A test of its own ("test_config hostname"): where localhost cannot
 * resolve, it alone is reported skipped. */
static int test_edge_hostname(void)
{
	static const char yaml[] = "private_key_file: edge.key\n"
	                           "address: 100.64.0.2/32\n"
	                           "gateway:\n"
	                           "  endpoint: localhost:4242\n"
	                           "  public_key: @GWPUB@\n"
	                           "kill_switch: false\n"; /* with it, no names */
	const struct sockaddr_in *sin;
	struct edge_config *e = NULL;
	struct addrinfo *ai = NULL;
	char err[256] = "";
	const char *y = subst(yaml);

	/* A bare chroot may have no /etc/hosts; then the case cannot be tried. */
	if (getaddrinfo("localhost", "4242", NULL, &ai) != 0)
		return check_skip("test_config hostname",
		                  "localhost does not resolve on this machine (no /etc/hosts?)");
	freeaddrinfo(ai);
	CHECK_INT(edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)), 0);
	CHECK_STR(err, "");
	if (!e)
		return 0;
	/* sin_port and sin6_port sit at the same offset */
	sin = (const struct sockaddr_in *)&e->gws[0].endpoint;
	CHECK(sin->sin_family == AF_INET || sin->sin_family == AF_INET6);
	CHECK_INT(ntohs(sin->sin_port), 4242);

	/* A SIGHUP's reload takes the name's address from the running
	 * configuration and resolves nothing; a new name is refused. */
	const char *path = "reload.yaml"; /* beside edge.key, in the test's directory */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	struct edge_config *r = NULL;

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, y, strlen(y)) == (ssize_t)strlen(y));
		close(fd);
		CHECK_INT(edge_config_reload(path, e, &r, err, sizeof(err)), 0);
		if (r) {
			CHECK_INT(r->gws[0].endpoint_len, e->gws[0].endpoint_len);
			CHECK(!memcmp(&r->gws[0].endpoint, &e->gws[0].endpoint,
			              e->gws[0].endpoint_len));
			edge_config_free(r);
		}
		strcpy(e->gws[0].endpoint_text, "localhost:4243"); /* another name at the start */
		r = (struct edge_config *)1;
		CHECK(edge_config_reload(path, e, &r, err, sizeof(err)) < 0);
		CHECK(r == NULL);
		CHECK(strstr(err, "a SIGHUP resolves none") != NULL);
		unlink(path);
	}
	edge_config_free(e);
	return 0;
}

static void test_load_errors(void)
{
	struct gw_config *g = (struct gw_config *)1;
	struct edge_config *e = (struct edge_config *)1;
	char err[256];

	CHECK_INT(gw_config_load("nonexistent.yaml", &g, err, sizeof(err)), -ENOENT);
	CHECK_STR(err, "nonexistent.yaml: No such file or directory");
	CHECK(g == NULL);
	CHECK_INT(edge_config_load("nonexistent.yaml", &e, err, sizeof(err)), -ENOENT);
	CHECK(e == NULL);
	/* a tiny error buffer is cut short, never overrun */
	CHECK_INT(gw_config_parse("gateway.yaml", "x: 1", 4, &g, err, 8), -EINVAL);
	CHECK_STR(err, "gateway");
}

/* The generic helpers, on what the daemons' files do not exercise. */
static void test_conf(void)
{
	static const char yaml[] =
	        "n: 0x1F\nb: \"a\\x01\\\"b\"\nlong: "
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	        "nul: \"a\\0b\"\nnet: 2001:db8::/32\n";
	static const char *const keys[] = {"n", "b", "long", "nul", "net", NULL};
	struct conf *c = NULL;
	struct prefix a;
	char err[256], buf[8];
	uint64_t v;
	bool t;

	CHECK_INT(conf_load_buffer(&c, "t.yaml", NULL, yaml, strlen(yaml), err, sizeof(err)), 0);
	if (!c)
		return;
	CHECK_INT(conf_map_check(c, conf_root(c), keys), 0);
	CHECK_INT(conf_get_uint(c, conf_map_find(c, conf_root(c), "n"), "n", 0, 100, &v), 0);
	CHECK_INT(v, 31);
	CHECK_INT(conf_get_uint(c, conf_map_find(c, conf_root(c), "n"), "n", 0, 30, &v), -EINVAL);
	CHECK_STR(err, "t.yaml:1:4: n: \"0x1F\" is not a number in 0..30");
	CHECK_INT(conf_get_bool(c, conf_map_find(c, conf_root(c), "b"), "b", &t), -EINVAL);
	CHECK_STR(err, "t.yaml:2:4: b: \"a\\x01\\\"b\" is not true or false");
	CHECK_INT(conf_get_str(c, conf_map_find(c, conf_root(c), "long"), "long", buf, sizeof(buf)),
	          -EINVAL);
	CHECK_STR(err,
	          "t.yaml:3:7: long: "
	          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is too "
	          "long (at most 7 bytes)");
	CHECK_INT(conf_get_str(c, conf_map_find(c, conf_root(c), "nul"), "nul", buf, sizeof(buf)),
	          -EINVAL);
	CHECK_STR(err, "t.yaml:4:6: nul: \"a\\x00b\" contains a NUL byte");
	CHECK_INT(conf_get_prefix(c, conf_map_find(c, conf_root(c), "net"), "net", AF_UNSPEC, &a),
	          0);
	CHECK_INT(a.family, AF_INET6);
	CHECK_INT(a.len, 32);
	CHECK_INT(conf_get_addr(c, conf_map_find(c, conf_root(c), "net"), "net", AF_UNSPEC, &a),
	          -EINVAL);
	CHECK_STR(err, "t.yaml:5:6: net: \"2001:db8::/32\" is not an IP address");
	CHECK_INT(conf_get_prefix(c, conf_map_find(c, conf_root(c), "n"), "n", AF_UNSPEC, &a),
	          -EINVAL);
	CHECK_STR(err, "t.yaml:1:4: n: \"0x1F\" is not an IP address with a prefix length "
	               "(ADDRESS/LENGTH)");
	CHECK_INT(conf_map_find(c, conf_root(c), "absent"), 0);
	conf_free(c);
	conf_free(NULL);
}

struct bad {
	const char *yaml;
	const char *err;
};

#define GW_HEAD "private_key_file: gateway.key\naddress: 100.64.0.1/24\n"
#define ALICE   "  - name: alice\n    public_key: " K1 "\n    address: 100.64.0.2\n"

static const struct bad bad_gateway[] = {
        {GW_HEAD "listen_prot: 51820\n", "gateway.yaml:3:1: unknown key \"listen_prot\""},
        {"listen_port: 1\n" GW_HEAD "listen_port: 2\n",
         "gateway.yaml:4:1: duplicate key \"listen_port\" (first at line 1)"},
        {"interface: egress0\nprivate_key_file: gateway.key\naddress: 100.64.0.1/24\n"
         "listen_port: 70000\n",
         "gateway.yaml:4:14: listen_port: \"70000\" is not a port (1-65535)"},
        {"listen_port: 0x\n" GW_HEAD,
         "gateway.yaml:1:14: listen_port: \"0x\" is not a port (1-65535)"},
        {"address: 100.64.0.1/24\n", "gateway.yaml:1:1: missing required key \"private_key_file\""},
        {"private_key_file: gateway.key\n", "gateway.yaml:1:1: missing required key \"address\""},
        {"interface: egress0\nlisten_port: 51820\nprivate_key_file: missing.key\n",
         "gateway.yaml:3:19: private_key_file: cannot read \"missing.key\": No such file or "
         "directory"},
        {"private_key_file: bad.key\naddress: 100.64.0.1/24\n",
         "gateway.yaml:1:19: private_key_file: \"bad.key\" does not hold a base64 WireGuard key"},
        {"private_key_file: .\naddress: 100.64.0.1/24\n",
         "gateway.yaml:1:19: private_key_file: cannot read \".\": not a regular file"},
        {"private_key_file: gateway.key\naddress: 100.64.0.300/24\n",
         "gateway.yaml:2:10: address: \"100.64.0.300/24\" is not an IPv4 address with a prefix "
         "length (ADDRESS/LENGTH)"},
        {"private_key_file: gateway.key\naddress: 100.64.0.1\n",
         "gateway.yaml:2:10: address: \"100.64.0.1\" is not an IPv4 address with a prefix length "
         "(ADDRESS/LENGTH)"},
        {"private_key_file: gateway.key\naddress: 100.64.0.1/31\n",
         "gateway.yaml:2:10: address: \"100.64.0.1/31\" needs a prefix length of 8-30 (it is the "
         "client subnet)"},
        {"private_key_file: gateway.key\naddress: 100.64.0.0/24\n",
         "gateway.yaml:2:10: address: \"100.64.0.0/24\" is the network address of its subnet"},
        {GW_HEAD "address6: fd00:64::/64\n",
         "gateway.yaml:3:11: address6: \"fd00:64::/64\" is the network address of its subnet"},
        {"interface: [a, b]\n" GW_HEAD,
         "gateway.yaml:1:12: interface: expected a scalar, found a sequence"},
        {"interface: eth/0\n" GW_HEAD,
         "gateway.yaml:1:12: interface: \"eth/0\" is not an interface name (1-15 letters, digits, "
         "'_', '.' or '-')"},
        {"interface: \"egress%d\"\n" GW_HEAD,
         "gateway.yaml:1:12: interface: \"egress%d\" is not an interface name (1-15 letters, "
         "digits, '_', '.' or '-')"},
        {GW_HEAD "uplink: \"wan+\"\n",
         "gateway.yaml:3:9: uplink: \"wan+\" is not an interface name (1-15 letters, digits, "
         "'_', '.' or '-')"},
        {GW_HEAD "uplink: egress0\n",
         "gateway.yaml:3:9: uplink: \"egress0\" is the tunnel interface itself"},
        {GW_HEAD "uplink: a-very-long-name0\n",
         "gateway.yaml:3:9: uplink: \"a-very-long-name0\" is not an interface name (1-15 "
         "letters, digits, '_', '.' or '-')"},
        {GW_HEAD "mtu: 1000\n", "gateway.yaml:3:6: mtu: \"1000\" is not a number in 1280..9000"},
        {GW_HEAD "load_threshold: 65\n",
         "gateway.yaml:3:17: load_threshold: \"65\" is not a number in 1..64"},
        {GW_HEAD "mark_tag: 0x45670001\n",
         "gateway.yaml:3:11: mark_tag: \"0x45670001\" overlaps mark_id_mask 0x0000ffff"},
        {GW_HEAD "mark_id_mask: 0xffff0000\n",
         "gateway.yaml:3:15: mark_id_mask: \"0xffff0000\" is not contiguous low bits (like "
         "0x0000ffff)"},
        {GW_HEAD "mark_id_mask: 0x00ffffff\n",
         "gateway.yaml:3:15: mark_id_mask: \"0x00ffffff\" overlaps mark_tag 0x45670000"},
        {"private_key_file: gateway.key\naddress: 100.64.0.1/16\nmark_id_mask: 0xff\nclients:\n"
         "  - name: alice\n    public_key: " K1 "\n    address: 100.64.1.2\n",
         "gateway.yaml:7:14: address: \"100.64.1.2\" has host part 258, which does not fit "
         "mark_id_mask 0x000000ff"},
        {GW_HEAD "clients: alice\n",
         "gateway.yaml:3:10: clients: expected a sequence, found a scalar"},
        {GW_HEAD "clients:\n  - alice\n",
         "gateway.yaml:4:5: clients: expected a mapping, found a scalar"},
        {GW_HEAD "clients:\n  - name: alice\n    public_key: " K1 "\n    adress: 100.64.0.2\n",
         "gateway.yaml:6:5: unknown key \"adress\""},
        {GW_HEAD "clients:\n  - name: alice\n    public_key: " K1 "\n",
         "gateway.yaml:4:5: missing required key \"address\""},
        {GW_HEAD "clients:\n  - name: al ice\n",
         "gateway.yaml:4:11: name: \"al ice\" is not a client name (1-31 of A-Z a-z 0-9 _ . -)"},
        {GW_HEAD "clients:\n  - name: alice\n    public_key: notakey\n",
         "gateway.yaml:5:17: public_key: \"notakey\" is not a base64 WireGuard key"},
        {GW_HEAD "clients:\n  - name: alice\n    public_key: @GWPUB@\n",
         "gateway.yaml:5:17: public_key: \"@GWPUB@\" is the gateway's own public key"},
        {GW_HEAD "clients:\n  - name: alice\n    public_key: " K1 "\n    address: 10.0.0.2\n",
         "gateway.yaml:6:14: address: \"10.0.0.2\" is outside the client subnet 100.64.0.0/24"},
        {GW_HEAD "clients:\n  - name: alice\n    public_key: " K1 "\n    address: 100.64.0.1\n",
         "gateway.yaml:6:14: address: \"100.64.0.1\" is the gateway's own address"},
        {GW_HEAD "clients:\n  - name: alice\n    public_key: " K1 "\n    address: 100.64.0.255\n",
         "gateway.yaml:6:14: address: \"100.64.0.255\" is the broadcast address of 100.64.0.0/24"},
        {GW_HEAD "clients:\n" ALICE "  - name: alice\n    public_key: " K2
                 "\n    address: 100.64.0.3\n",
         "gateway.yaml:7:11: name: \"alice\" is already used at line 4"},
        {GW_HEAD "clients:\n" ALICE "  - name: bob\n    public_key: " K1
                 "\n    address: 100.64.0.3\n",
         "gateway.yaml:8:17: public_key: \"" K1 "\" is already used at line 5"},
        {GW_HEAD "clients:\n" ALICE "  - name: bob\n    public_key: " K2
                 "\n    address: 100.64.0.2\n",
         "gateway.yaml:9:14: address: \"100.64.0.2\" is already used at line 6"},
        /* The duplicate checks name the earliest client repeated, and of its
         * fields the first: the second carol repeats carol's name and
         * alice's key. */
        {GW_HEAD "clients:\n" ALICE "  - name: carol\n    public_key: " K2
                 "\n    address: 100.64.0.3\n  - name: carol\n    public_key: " K1
                 "\n    address: 100.64.0.4\n",
         "gateway.yaml:11:17: public_key: \"" K1 "\" is already used at line 5"},
        {GW_HEAD "clients:\n" ALICE "  - name: alice\n    public_key: " K1
                 "\n    address: 100.64.0.2\n",
         "gateway.yaml:7:11: name: \"alice\" is already used at line 4"},
        {GW_HEAD "address6: fd00:64::1/64\nclients:\n" ALICE
                 "    address6: fd00:64::2\n  - name: bob\n    public_key: " K2
                 "\n    address: 100.64.0.3\n    address6: fd00:64:0::2\n",
         "gateway.yaml:12:15: address6: \"fd00:64:0::2\" is already used at line 8"},
        {GW_HEAD "clients:\n" ALICE "    address6: fd00:64::2\n",
         "gateway.yaml:7:15: address6: \"fd00:64::2\" needs address6 on the gateway"},
        {GW_HEAD "address6: fd00:64::1/64\nclients:\n" ALICE "    address6: fd00:65::2\n",
         "gateway.yaml:8:15: address6: \"fd00:65::2\" is outside the gateway's address6 prefix"},
        {GW_HEAD "clients:\n" ALICE "    preshared_key_file: nope.psk\n",
         "gateway.yaml:7:25: preshared_key_file: cannot read \"nope.psk\": No such file or "
         "directory"},
        {"private_key_file: gateway.key\naddress: [100.64.0.1\n",
         "gateway.yaml:3:1: did not find expected ',' or ']' (while parsing a flow sequence at "
         "2:10)"},
        {"private_key_file: gateway.key\n  address: 100.64.0.1/24\n",
         "gateway.yaml:2:10: mapping values are not allowed in this context"},
        {"a: *nowhere\n", "gateway.yaml:1:4: found undefined alias"},
        {"- private_key_file: gateway.key\n",
         "gateway.yaml:1:1: expected a mapping, found a sequence"},
        {"", "gateway.yaml:1:1: no YAML document in the file"},
        {"---\n" GW_HEAD "---\n" GW_HEAD, "gateway.yaml:5:1: only one YAML document is allowed"},
        {"? [a]\n: b\n", "gateway.yaml:1:3: expected a scalar key, found a sequence"},
        {GW_HEAD "\xff: 1\n", "gateway.yaml:3:1: invalid leading UTF-8 octet"},
        {"interface: abcdefghijklmn\n" GW_HEAD "wg_socket_dir: " LONG_DIR "\n",
         "gateway.yaml:4:16: wg_socket_dir: " LONG_DIR_QUOTED " " LONG_DIR_ERR},
        {GW_HEAD "wg_socket_dir: \"\"\n", "gateway.yaml:3:16: wg_socket_dir: \"\" is not a path"},
        {GW_HEAD "metrics_listen: 9586\n",
         "gateway.yaml:3:17: metrics_listen: \"9586\" is not ADDRESS:PORT (like 127.0.0.1:9586 "
         "or [::1]:9586)"},
        {GW_HEAD "metrics_listen: \"::1:9586\"\n",
         "gateway.yaml:3:17: metrics_listen: \"::1:9586\" is not ADDRESS:PORT (like "
         "127.0.0.1:9586 or [::1]:9586)"},
        {GW_HEAD "metrics_listen: \"127.0.0.1:\"\n",
         "gateway.yaml:3:17: metrics_listen: \"127.0.0.1:\" is not ADDRESS:PORT (like "
         "127.0.0.1:9586 or [::1]:9586)"},
        {GW_HEAD "metrics_listen: 127.0.0.1:95860\n",
         "gateway.yaml:3:17: metrics_listen: \"127.0.0.1:95860\" has no valid port (1-65535)"},
        {GW_HEAD "metrics_listen: 127.0.0.1:123456\n",
         "gateway.yaml:3:17: metrics_listen: \"127.0.0.1:123456\" is not ADDRESS:PORT (like "
         "127.0.0.1:9586 or [::1]:9586)"},
        {GW_HEAD "metrics_listen: 127.0.0.1:0\n",
         "gateway.yaml:3:17: metrics_listen: \"127.0.0.1:0\" has no valid port (1-65535)"},
        {GW_HEAD "metrics_listen: localhost:9586\n",
         "gateway.yaml:3:17: metrics_listen: \"localhost:9586\" is not an IPv4 address"},
        {GW_HEAD "metrics_listen: \"[127.0.0.1]:9586\"\n",
         "gateway.yaml:3:17: metrics_listen: \"[127.0.0.1]:9586\" is not an IPv6 address in "
         "brackets"},
        {GW_HEAD "metrics_listen: \"[::1]9586\"\n",
         "gateway.yaml:3:17: metrics_listen: \"[::1]9586\" is not ADDRESS:PORT (like "
         "127.0.0.1:9586 or [::1]:9586)"},
        {GW_HEAD "metrics_listen: [a]\n",
         "gateway.yaml:3:17: metrics_listen: expected a scalar, found a sequence"},
        {GW_HEAD "offload:\n  tun_tso: yes\n",
         "gateway.yaml:4:12: tun_tso: \"yes\" is not true or false"},
        {GW_HEAD "offload:\n  udp_gso: false\n  tso: false\n",
         "gateway.yaml:5:3: unknown key \"tso\""},
        {GW_HEAD "offload: {udp_gro: false, udp_gro: true}\n",
         "gateway.yaml:3:27: duplicate key \"udp_gro\" (first at line 3)"},
        {GW_HEAD "offload: false\n",
         "gateway.yaml:3:10: offload: expected a mapping, found a scalar"},
        {GW_HEAD "offload: [tun_tso]\n",
         "gateway.yaml:3:10: offload: expected a mapping, found a sequence"},
};

#define EDGE_HEAD "private_key_file: edge.key\naddress: 100.64.0.2/32\n"
#define EDGE_GW   "gateway:\n  endpoint: 198.51.100.1:51820\n  public_key: @GWPUB@\n"

static const struct bad bad_edge[] = {
        {"interface: abcdefghijklmn\n" EDGE_HEAD EDGE_GW "wg_socket_dir: " LONG_DIR "\n",
         "edge.yaml:7:16: wg_socket_dir: " LONG_DIR_QUOTED " " LONG_DIR_ERR},
        {EDGE_HEAD "gateway:\n  endpoint: 198.51.100.1\n  public_key: @GWPUB@\n",
         "edge.yaml:4:13: endpoint: \"198.51.100.1\" is not HOST:PORT (like 198.51.100.1:51820 or "
         "[2001:db8::1]:51820)"},
        {EDGE_HEAD "gateway:\n  endpoint: 2001:db8::1:51820\n",
         "edge.yaml:4:13: endpoint: \"2001:db8::1:51820\" is not HOST:PORT (an IPv6 "
         "address needs brackets: [2001:db8::1]:51820)"},
        {EDGE_HEAD "gateway:\n  endpoint: 198.51.100.1:0\n",
         "edge.yaml:4:13: endpoint: \"198.51.100.1:0\" has no valid port (1-65535)"},
        {EDGE_HEAD "gateway:\n  endpoint: 198.51.100.1:http\n",
         "edge.yaml:4:13: endpoint: \"198.51.100.1:http\" is not HOST:PORT (like "
         "198.51.100.1:51820 or [2001:db8::1]:51820)"},
        {EDGE_HEAD "gateway:\n  endpoint: \"[2001:db8::zz]:51820\"\n",
         "edge.yaml:4:13: endpoint: \"[2001:db8::zz]:51820\" is not an IPv6 address in brackets"},
        {EDGE_HEAD "gateway:\n  endpoint: 198.51.100:51820\n",
         "edge.yaml:4:13: endpoint: \"198.51.100:51820\" is not an IPv4 address or host name"},
        {EDGE_HEAD "gateway:\n  endpoint: 198.51.100.1:51820\n  public_key: @EDGEPUB@\n",
         "edge.yaml:5:15: public_key: \"@EDGEPUB@\" is this edge's own public key"},
        {EDGE_HEAD "gateway:\n  endpoint: 198.51.100.1:51820\n  public_key: " K1 "=\n",
         "edge.yaml:5:15: public_key: \"" K1 "=\" is not a base64 WireGuard key"},
        {EDGE_HEAD EDGE_GW "  preshared_key_file: /nonexistent/edge.psk\n",
         "edge.yaml:6:23: preshared_key_file: cannot read \"/nonexistent/edge.psk\": No such file "
         "or directory"},
        {EDGE_HEAD EDGE_GW "  keepalive: 25\n", "edge.yaml:6:3: unknown key \"keepalive\""},
        {EDGE_HEAD, "edge.yaml:1:1: missing required key \"gateway\" (or \"gateways\")"},
        {EDGE_HEAD EDGE_GW "gateways: []\n",
         "edge.yaml:6:11: gateway and gateways: give one or the other"},
        {EDGE_HEAD "gateways: []\n", "edge.yaml:3:11: gateways has 0 entries: give 1 to 8"},
        {EDGE_HEAD "gateways:\n  - endpoint: 198.51.100.1:51820\n    public_key: @GWPUB@\n"
                   "  - endpoint: 198.51.100.2:51820\n    public_key: @GWPUB@\n",
         "edge.yaml:6:5: gateways 1 and 2 have the same public_key: one gateway, listed once"},
        {EDGE_HEAD "gateways:\n  - endpoint: 198.51.100.1:51820\n",
         "edge.yaml:4:5: missing required key \"public_key\""},
        {EDGE_HEAD "gateways: 198.51.100.1:51820\n",
         "edge.yaml:3:11: gateways: expected a sequence, found a scalar"},
        {EDGE_HEAD EDGE_GW "failback: later\n",
         "edge.yaml:6:11: failback: \"later\" is not preempt or sticky"},
        {EDGE_HEAD EDGE_GW "failover_after: 2\n",
         "edge.yaml:6:17: failover_after: \"2\" is not a number in 5..3600"},
        {EDGE_HEAD "gateway: 198.51.100.1:51820\n",
         "edge.yaml:3:10: gateway: expected a mapping, found a scalar"},
        {EDGE_HEAD "gateway:\n  public_key: @GWPUB@\n",
         "edge.yaml:4:3: missing required key \"endpoint\""},
        {EDGE_HEAD EDGE_GW "route_all: yes\n",
         "edge.yaml:6:12: route_all: \"yes\" is not true or false"},
        {EDGE_HEAD EDGE_GW "table: 254\n",
         "edge.yaml:6:8: table: \"254\" is a reserved routing table (253 default, 254 main, 255 "
         "local)"},
        {EDGE_HEAD EDGE_GW "fwmark: 0\n",
         "edge.yaml:6:9: fwmark: \"0\" is not a number in 1..4294967295"},
        {EDGE_HEAD EDGE_GW "persistent_keepalive: -1\n",
         "edge.yaml:6:23: persistent_keepalive: \"-1\" is not a number in 0..65535"},
        {EDGE_HEAD EDGE_GW "mtu: 9001\n",
         "edge.yaml:6:6: mtu: \"9001\" is not a number in 1280..9000"},
        {"private_key_file: edge.key\naddress: 100.64.0.2/33\n",
         "edge.yaml:2:10: address: \"100.64.0.2/33\" is not an IPv4 address with a prefix length "
         "(ADDRESS/LENGTH)"},
        {EDGE_HEAD "address6: 100.64.0.2/32\n",
         "edge.yaml:3:11: address6: \"100.64.0.2/32\" is not an IPv6 address with a prefix length "
         "(ADDRESS/LENGTH)"},
        {EDGE_HEAD "gateway:\n  endpoint: gw.example:51820\n  public_key: @GWPUB@\n",
         "edge.yaml:4:13: endpoint: \"gw.example:51820\" is a host name: the kill switch closes "
         "DNS before the tunnel is up, so give the gateway's IP address"},
        {EDGE_HEAD EDGE_GW "route_all: false\nkill_switch: true\n",
         "edge.yaml:7:14: kill_switch: \"true\" needs route_all: without it only the tunnel's "
         "own subnet goes through the tunnel"},
        {EDGE_HEAD EDGE_GW "allow: [192.0.2.10:0]\n",
         "edge.yaml:6:9: allow: \"192.0.2.10:0\" has a port that is not 1-65535"},
        {EDGE_HEAD EDGE_GW "allow: [\"2001:db8::/64:22\"]\n",
         "edge.yaml:6:9: allow: \"2001:db8::/64:22\" is not address[/len][:port] (an IPv6 "
         "address with a port goes in brackets: [2001:db8::10]:22)"},
        {EDGE_HEAD EDGE_GW "allow: [\"[2001:db8::10]\"]\n",
         "edge.yaml:6:9: allow: \"[2001:db8::10]\" is not [IPv6 address]:port (brackets only "
         "with a port)"},
        {EDGE_HEAD EDGE_GW "allow: [192.0.2.10/24]\n",
         "edge.yaml:6:9: allow: \"192.0.2.10/24\" has bits set past its prefix length"},
        {EDGE_HEAD EDGE_GW "allow: 192.0.2.10\n",
         "edge.yaml:6:8: allow: expected a sequence, found a scalar"},
        {EDGE_HEAD EDGE_GW "dns: [100.64.0.1, 100.64.0.2, fd00:64::1, 100.64.0.3]\n",
         "edge.yaml:6:6: dns has 4 entries: give 1 to 3 resolvers (a resolv.conf reader "
         "takes no more)"},
        {EDGE_HEAD EDGE_GW "dns: []\n",
         "edge.yaml:6:6: dns has 0 entries: give 1 to 3 resolvers (a resolv.conf reader "
         "takes no more)"},
        {EDGE_HEAD EDGE_GW "dns: [\"fd00:64::1\"]\n",
         "edge.yaml:6:7: dns: \"fd00:64::1\" is IPv6, which the tunnel carries only with "
         "address6"},
        {EDGE_HEAD EDGE_GW "dns: [dns.example]\n",
         "edge.yaml:6:7: dns: \"dns.example\" is not an IP address"},
        {EDGE_HEAD EDGE_GW "dns: [100.64.0.1, 100.64.0.1]\n",
         "edge.yaml:6:19: dns: \"100.64.0.1\" names a resolver twice"},
        {EDGE_HEAD EDGE_GW "route_all: false\ndns: [100.64.0.1]\n",
         "edge.yaml:7:6: dns needs route_all: the resolvers are reached through the tunnel"},
        {EDGE_HEAD EDGE_GW "route_all: true\nroute_all: false\n",
         "edge.yaml:7:1: duplicate key \"route_all\" (first at line 6)"},
        {EDGE_HEAD EDGE_GW "offload:\n  udp_gro: 0\n",
         "edge.yaml:7:12: udp_gro: \"0\" is not true or false"},
        {EDGE_HEAD EDGE_GW "offload: {tun_gso: false}\n",
         "edge.yaml:6:11: unknown key \"tun_gso\""},
        {EDGE_HEAD EDGE_GW "offload:\n",
         "edge.yaml:6:9: offload: expected a mapping, found a scalar"},
        {EDGE_HEAD EDGE_GW "offload:\n  - udp_gso: false\n",
         "edge.yaml:7:3: offload: expected a mapping, found a sequence"},
};

static void test_bad(void)
{
	char err[512], want[512];
	struct gw_config *g;
	struct edge_config *e;
	const char *y;
	size_t i;

	for (i = 0; i < sizeof(bad_gateway) / sizeof(bad_gateway[0]); i++) {
		g = (struct gw_config *)1;
		err[0] = '\0';
		y = subst(bad_gateway[i].yaml);
		CHECK(gw_config_parse("gateway.yaml", y, strlen(y), &g, err, sizeof(err)) < 0);
		CHECK(g == NULL);
		snprintf(want, sizeof(want), "%s", subst(bad_gateway[i].err));
		CHECK_STR(err, want);
	}
	for (i = 0; i < sizeof(bad_edge) / sizeof(bad_edge[0]); i++) {
		e = (struct edge_config *)1;
		err[0] = '\0';
		y = subst(bad_edge[i].yaml);
		CHECK(edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)) < 0);
		CHECK(e == NULL);
		snprintf(want, sizeof(want), "%s", subst(bad_edge[i].err));
		CHECK_STR(err, want);
	}
	printf("%zu bad gateway files, %zu bad edge files\n",
	       sizeof(bad_gateway) / sizeof(bad_gateway[0]),
	       sizeof(bad_edge) / sizeof(bad_edge[0]));
}

/* o as the YAML would write it, so that a failed check shows both blocks. */
static const char *offload_text(const struct wg_offload *o, char buf[96])
{
	snprintf(buf, 96, "{tun_tso: %s, tun_uso: %s, udp_gso: %s, udp_gro: %s}",
	         o->tun_tso ? "true" : "false", o->tun_uso ? "true" : "false",
	         o->udp_gso ? "true" : "false", o->udp_gro ? "true" : "false");
	return buf;
}

/* offload: every switch on when the block is absent or empty, each turned
 * off alone, and tun_uso without tun_tso taken as written; in both files. */
static void test_offload(void)
{
	static const struct {
		const char *yaml;
		struct wg_offload want;
	} cases[] = {
	        {"", {true, true, true, true}},
	        {"offload: {}\n", {true, true, true, true}},
	        {"offload:\n  tun_tso: false\n", {false, true, true, true}},
	        {"offload:\n  tun_uso: false\n", {true, false, true, true}},
	        {"offload:\n  udp_gso: false\n", {true, true, false, true}},
	        {"offload:\n  udp_gro: false\n", {true, true, true, false}},
	        {"offload: {tun_tso: false, tun_uso: true}\n", {false, true, true, true}},
	        {"offload: {udp_gro: false, udp_gso: false, tun_uso: false, tun_tso: false}\n",
	         {false, false, false, false}},
	};
	char y[512], err[256], got[96], want[96];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct edge_config *e = NULL;
		struct gw_config *g = NULL;

		offload_text(&cases[i].want, want);
		snprintf(y, sizeof(y), "%s%s", GW_HEAD, cases[i].yaml);
		CHECK_INT(gw_config_parse("gateway.yaml", y, strlen(y), &g, err, sizeof(err)), 0);
		if (g)
			CHECK_STR(offload_text(&g->offload, got), want);
		gw_config_free(g);
		snprintf(y, sizeof(y), "%s%s", subst(EDGE_HEAD EDGE_GW), cases[i].yaml);
		CHECK_INT(edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)), 0);
		if (e)
			CHECK_STR(offload_text(&e->offload, got), want);
		edge_config_free(e);
	}
}

/* What the code under test writes to stderr (the log) between the two. */
static int capture_fd = -1, saved_stderr = -1;

static void capture_start(void)
{
	char path[] = "/tmp/test_config.log.XXXXXX";

	fflush(stderr);
	capture_fd = mkstemp(path);
	if (capture_fd < 0) {
		perror(path);
		exit(1);
	}
	unlink(path);
	saved_stderr = dup(STDERR_FILENO);
	if (saved_stderr < 0 || dup2(capture_fd, STDERR_FILENO) < 0) {
		perror("dup2");
		exit(1);
	}
}

static const char *capture_end(void)
{
	static char buf[2048];
	ssize_t n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	n = pread(capture_fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(capture_fd);
	return buf;
}

/* The one warning line in log ends with want (the level prefix before it
 * depends on whether stderr is a terminal). */
static bool one_warning(const char *log, const char *want)
{
	const char *nl = strchr(log, '\n');
	size_t n = strlen(want);

	if (!nl || nl[1] || (size_t)(nl - log) < n || strncmp(nl - n, want, n)) {
		fprintf(stderr, "log is \"%s\", want one line ending in \"%s\"\n", log, want);
		return false;
	}
	return true;
}

static void on_alarm(int sig)
{
	static const char msg[] = "test_config: loading a config hung on a FIFO key file\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

/* Key files others may read: a warning naming the file and mode, or with
 * strict_key_permissions an error; only regular files are read, and a FIFO
 * fails at once. */
static void test_key_file_modes(void)
{
	static const char gw[] = "private_key_file: loose.key\naddress: 100.64.0.1/24\n";
	static const char gw_strict[] = "strict_key_permissions: true\n"
	                                "private_key_file: loose.key\naddress: 100.64.0.1/24\n";
	static const char gw_psk[] = "strict_key_permissions: true\n" GW_HEAD "clients:\n" ALICE
	                             "    preshared_key_file: loose.psk\n";
	static const char edge[] = "private_key_file: edge.key\naddress: 100.64.0.2/32\n" EDGE_GW
	                           "  preshared_key_file: loose.psk\n";
	static const char edge_strict[] =
	        "private_key_file: edge.key\naddress: 100.64.0.2/32\n"
	        "strict_key_permissions: true\n" EDGE_GW "  preshared_key_file: loose.psk\n";
	static const char gw_fifo[] = "private_key_file: key.fifo\naddress: 100.64.0.1/24\n";
	static const char edge_dir[] =
	        "private_key_file: key.dir\naddress: 100.64.0.2/32\n" EDGE_GW;
	struct gw_config *g = NULL;
	struct edge_config *e = NULL;
	char err[512];
	const char *y, *log;

	write_key("loose.key", 0x11, NULL);
	write_key("loose.psk", 0x33, NULL);

	/* 0600: silent, strict or not. */
	capture_start();
	CHECK_INT(gw_config_parse("gateway.yaml", gw, strlen(gw), &g, err, sizeof(err)), 0);
	gw_config_free(g);
	CHECK_INT(
	        gw_config_parse("gateway.yaml", gw_strict, strlen(gw_strict), &g, err, sizeof(err)),
	        0);
	CHECK(g && g->strict_key_permissions);
	gw_config_free(g);
	CHECK_STR(capture_end(), "");

	/* 0644: one warning, and the key is still taken. */
	set_mode("loose.key", 0644);
	capture_start();
	CHECK_INT(gw_config_parse("gateway.yaml", gw, strlen(gw), &g, err, sizeof(err)), 0);
	log = capture_end();
	CHECK(one_warning(log, "gateway.yaml:1:19: private_key_file: \"loose.key\" is accessible "
	                       "by group or others (mode 0644): chmod 600 it"));
	CHECK(g && !g->strict_key_permissions && g->priv[0] == 0x11);
	gw_config_free(g);

	/* 0640 with strict_key_permissions: an error, nothing logged. */
	set_mode("loose.key", 0640);
	g = (struct gw_config *)1;
	capture_start();
	CHECK_INT(
	        gw_config_parse("gateway.yaml", gw_strict, strlen(gw_strict), &g, err, sizeof(err)),
	        -EINVAL);
	CHECK_STR(capture_end(), "");
	CHECK(g == NULL);
	CHECK_STR(err, "gateway.yaml:2:19: private_key_file: \"loose.key\" is accessible by group "
	               "or others (mode 0640), refused with strict_key_permissions: chmod 600 it");

	/* A client's preshared key is judged the same way. */
	set_mode("loose.psk", 0604);
	y = gw_psk;
	CHECK_INT(gw_config_parse("gateway.yaml", y, strlen(y), &g, err, sizeof(err)), -EINVAL);
	CHECK_STR(err,
	          "gateway.yaml:8:25: preshared_key_file: \"loose.psk\" is accessible by group "
	          "or others (mode 0604), refused with strict_key_permissions: chmod 600 it");

	/* The edge's, warned about and refused. */
	set_mode("loose.psk", 0660);
	y = subst(edge);
	capture_start();
	CHECK_INT(edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)), 0);
	log = capture_end();
	CHECK(one_warning(log, "edge.yaml:6:23: preshared_key_file: \"loose.psk\" is accessible by "
	                       "group or others (mode 0660): chmod 600 it"));
	CHECK(e && e->gws[0].has_psk && e->gws[0].psk[0] == 0x33);
	edge_config_free(e);
	y = subst(edge_strict);
	e = (struct edge_config *)1;
	CHECK_INT(edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)), -EINVAL);
	CHECK(e == NULL);
	CHECK_STR(err, "edge.yaml:7:23: preshared_key_file: \"loose.psk\" is accessible by group "
	               "or others (mode 0660), refused with strict_key_permissions: chmod 600 it");
	y = "strict_key_permissions: yes\n" EDGE_HEAD;
	CHECK_INT(edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "edge.yaml:1:25: strict_key_permissions: \"yes\" is not true or false");

	/* A FIFO without a writer: refused at once, where a blocking open
	 * would wait for ever (the alarm turns that into a failure). */
	if (mkfifo("key.fifo", 0600) < 0)
		perror("mkfifo");
	signal(SIGALRM, on_alarm);
	alarm(5);
	CHECK_INT(gw_config_parse("gateway.yaml", gw_fifo, strlen(gw_fifo), &g, err, sizeof(err)),
	          -EINVAL);
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	CHECK_STR(err, "gateway.yaml:1:19: private_key_file: cannot read \"key.fifo\": not a "
	               "regular file");
	/* A directory, even one only its owner may enter. */
	if (mkdir("key.dir", 0700) < 0)
		perror("mkdir");
	y = subst(edge_dir);
	CHECK_INT(edge_config_parse("edge.yaml", y, strlen(y), &e, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "edge.yaml:1:19: private_key_file: cannot read \"key.dir\": not a regular "
	               "file");

	unlink("loose.key");
	unlink("loose.psk");
	unlink("key.fifo");
	rmdir("key.dir");
}

int main(int argc, char **argv)
{
	static const char *const files[] = {"gateway.key", "edge.key",     "alice.psk",
	                                    "bad.key",     "gateway.yaml", "edge.yaml"};
	bool hostname = argc > 1 && strcmp(argv[1], "hostname") == 0;
	int rc = 0;
	size_t i;

	if (argc > 2 || (argc == 2 && !hostname)) {
		fprintf(stderr, "usage: test_config [hostname]\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "/tmp/test_config.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	write_key("gateway.key", 0x11, gw_pub_b64);
	write_key("edge.key", 0x22, edge_pub_b64);
	write_key("alice.psk", 0x33, NULL);
	write_file("bad.key", "not a key\n");
	if (chdir(dir) < 0) {
		perror(dir);
		return 1;
	}

	if (hostname) {
		rc = test_edge_hostname();
		goto out;
	}
	test_gateway_full();
	test_gateway_defaults();
	test_gateway_metrics_listen();
	test_edge_full();
	test_edge_defaults();
	test_edge_kill_switch();
	test_load_errors();
	test_conf();
	test_bad();
	test_offload();
	test_key_file_modes();

out:
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	if (chdir("/") < 0 || rmdir(dir) < 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return rc ? rc : check_done(hostname ? "test_config hostname" : "test_config");
}
