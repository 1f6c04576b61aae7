/* gateway.yaml: see config.h. Every check an operator can fail is here, so
 * the daemon never starts half-configured. */
#include "gateway/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/conf.h"
#include "tunnel/crypto.h"
#include "tunnel/keymap.h"
#include "tunnel/prefix.h"
#include "tunnel/uapi.h"
#include "tunnel/wg.h"

static const char *const gw_keys[] = {
        "interface",
        "listen_port",
        "private_key_file",
        "strict_key_permissions",
        "address",
        "address6",
        "uplink",
        "mtu",
        "mark_tag",
        "mark_id_mask",
        "clients",
        "load_threshold",
        "control_socket",
        "control_group",
        "policy_file",
        "conntrack_warn_percent",
        "endpoint",
        "wg_socket_dir",
        "metrics_listen",
        "flow_log",
        "flow_log_new",
        "offload",
        NULL,
};

static const char *const client_keys[] = {
        "name", "public_key", "address", "address6", "preshared_key_file", NULL,
};

/* Where each client's values were written, for "already used at line N". */
struct seen {
	int name, pub, addr, addr6;
};

static uint32_t mask4(unsigned prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}

/* a is subnet's network address: its bits beyond subnet's length are zero. */
static bool is_network(const struct prefix *a, const struct prefix *subnet)
{
	struct prefix p = *a;

	p.len = subnet->len;
	return prefix_is_network(&p);
}

static int parse_marks(struct conf *c, int root, struct gw_config *g)
{
	int tag = conf_map_find(c, root, "mark_tag"), mask = conf_map_find(c, root, "mark_id_mask");
	int ret;

	ret = conf_get_u32_opt(c, tag, "mark_tag", 0, UINT32_MAX, &g->mark_tag);
	if (ret < 0)
		return ret;
	ret = conf_get_u32_opt(c, mask, "mark_id_mask", 1, UINT32_MAX, &g->mark_id_mask);
	if (ret < 0)
		return ret;
	/* The id is the host part of an address: it lives in the low bits. */
	if (g->mark_id_mask & ((uint64_t)g->mark_id_mask + 1))
		return conf_bad_value(c, mask, "mark_id_mask",
		                      "is not contiguous low bits (like 0x0000ffff)");
	if (g->mark_tag & g->mark_id_mask) {
		if (tag)
			return conf_bad_value(c, tag, "mark_tag", "overlaps mark_id_mask 0x%08x",
			                      g->mark_id_mask);
		return conf_bad_value(c, mask, "mark_id_mask", "overlaps mark_tag 0x%08x",
		                      g->mark_tag);
	}
	return 0;
}

static int parse_address(struct conf *c, int node, struct gw_config *g)
{
	struct prefix a;
	uint32_t host, m;
	int ret;

	ret = conf_get_prefix(c, node, "address", AF_INET, &a);
	if (ret < 0)
		return ret;
	if (a.len < 8 || a.len > 30)
		return conf_bad_value(c, node, "address",
		                      "needs a prefix length of 8-30 (it is the client subnet)");
	m = mask4(a.len);
	host = ntohl(a.v4.s_addr) & ~m;
	if (host == 0)
		return conf_bad_value(c, node, "address", "is the network address of its subnet");
	if (host == ~m)
		return conf_bad_value(c, node, "address", "is the broadcast address of its subnet");
	g->addr = a;
	return 0;
}

static int parse_address6(struct conf *c, int node, struct gw_config *g)
{
	struct prefix a;
	int ret;

	if (!node)
		return 0;
	ret = conf_get_prefix(c, node, "address6", AF_INET6, &a);
	if (ret < 0)
		return ret;
	if (a.len < 8 || a.len > 127)
		return conf_bad_value(c, node, "address6",
		                      "needs a prefix length of 8-127 (it is the client subnet)");
	if (prefix_is_network(&a))
		return conf_bad_value(c, node, "address6", "is the network address of its subnet");
	g->has_addr6 = true;
	g->addr6 = a;
	return 0;
}

static int client_addr(struct conf *c, int node, const struct gw_config *g, struct gw_client *cl)
{
	char net[PREFIX_STRLEN];
	struct prefix a, n = g->addr;
	uint32_t m, host;
	int ret;

	ret = conf_get_addr(c, node, "address", AF_INET, &a);
	if (ret < 0)
		return ret;
	prefix_mask(&n);
	prefix_format(&n, net, sizeof(net));
	if (!prefix_contains(&g->addr, &a))
		return conf_bad_value(c, node, "address", "is outside the client subnet %s", net);
	m = mask4(g->addr.len);
	host = ntohl(a.v4.s_addr) & ~m;
	if (host == 0)
		return conf_bad_value(c, node, "address", "is the network address of %s", net);
	if (host == ~m)
		return conf_bad_value(c, node, "address", "is the broadcast address of %s", net);
	if (a.v4.s_addr == g->addr.v4.s_addr)
		return conf_bad_value(c, node, "address", "is the gateway's own address");
	if (host & ~g->mark_id_mask)
		return conf_bad_value(c, node, "address",
		                      "has host part %u, which does not fit mark_id_mask 0x%08x",
		                      host, g->mark_id_mask);
	cl->addr = a;
	cl->id = host;
	return 0;
}

static int client_addr6(struct conf *c, int node, const struct gw_config *g, struct gw_client *cl)
{
	struct prefix a;
	int ret;

	ret = conf_get_addr(c, node, "address6", AF_INET6, &a);
	if (ret < 0)
		return ret;
	if (!g->has_addr6)
		return conf_bad_value(c, node, "address6", "needs address6 on the gateway");
	if (!prefix_contains(&g->addr6, &a))
		return conf_bad_value(c, node, "address6",
		                      "is outside the gateway's address6 prefix");
	if (is_network(&a, &g->addr6))
		return conf_bad_value(c, node, "address6", "is the network address of its subnet");
	if (!memcmp(&a.v6, &g->addr6.v6, sizeof(a.v6)))
		return conf_bad_value(c, node, "address6", "is the gateway's own address");
	cl->has_addr6 = true;
	cl->addr6 = a;
	return 0;
}

/* A key file's path checked as conf_get_key_file() would, the file not read. */
static int key_path_only(struct conf *c, int node, const char *key)
{
	char path[4096];

	return conf_get_path(c, node, key, path, sizeof(path));
}

/* gw_pub NULL: the gateway's key is unknown (GW_CONFIG_NO_KEY_FILES), and
 * neither is a preshared key read. */
static int parse_client(struct conf *c, int node, const struct gw_config *g, const uint8_t *gw_pub,
                        struct gw_client *cl, struct seen *s)
{
	static const uint8_t zero[32];
	int ret, n;

	ret = conf_expect(c, node, "clients", CONF_MAPPING);
	if (ret < 0)
		return ret;
	ret = conf_map_check(c, node, client_keys);
	if (ret < 0)
		return ret;

	ret = conf_map_need(c, node, "name", &s->name);
	if (ret < 0)
		return ret;
	ret = conf_get_str(c, s->name, "name", cl->name, sizeof(cl->name));
	if (ret < 0)
		return ret;
	if (!conf_name_ok(cl->name, GW_NAME_MAX - 1))
		return conf_bad_value(c, s->name, "name",
		                      "is not a client name (1-31 of A-Z a-z 0-9 _ . -)");

	ret = conf_map_need(c, node, "public_key", &s->pub);
	if (ret < 0)
		return ret;
	ret = conf_get_key(c, s->pub, "public_key", cl->pub);
	if (ret < 0)
		return ret;
	if (!memcmp(cl->pub, zero, sizeof(zero)))
		return conf_bad_value(c, s->pub, "public_key", "is the all-zero key");
	if (gw_pub && !memcmp(cl->pub, gw_pub, 32))
		return conf_bad_value(c, s->pub, "public_key", "is the gateway's own public key");

	ret = conf_map_need(c, node, "address", &s->addr);
	if (ret < 0)
		return ret;
	ret = client_addr(c, s->addr, g, cl);
	if (ret < 0)
		return ret;

	s->addr6 = conf_map_find(c, node, "address6");
	if (s->addr6) {
		ret = client_addr6(c, s->addr6, g, cl);
		if (ret < 0)
			return ret;
	}

	n = conf_map_find(c, node, "preshared_key_file");
	if (n && gw_pub) {
		ret = conf_get_key_file(c, n, "preshared_key_file", g->strict_key_permissions,
		                        cl->psk);
		if (ret < 0)
			return ret;
	} else if (n) {
		ret = key_path_only(c, n, "preshared_key_file");
		if (ret < 0)
			return ret;
	}
	cl->has_psk = n != 0;
	return 0;
}

/* What must be unique among the clients, each indexed by its bytes inside
 * struct gw_client, so 60,000 clients take 60,000 lookups, not 1.8 billion
 * comparisons. Equal bytes are equal values: the clients start zeroed and a
 * name holds no NUL (conf refuses one), so it is NUL-padded; prefix_parse()
 * zeroes a prefix before it fills it. */
enum { U_NAME, U_PUB, U_ADDR, U_ADDR6, U_N };
static const struct unique_field {
	const char *key;
	size_t off, len;
} unique_fields[U_N] = {
        [U_NAME] = {"name", offsetof(struct gw_client, name), GW_NAME_MAX},
        [U_PUB] = {"public_key", offsetof(struct gw_client, pub), 32},
        [U_ADDR] = {"address", offsetof(struct gw_client, addr), sizeof(struct prefix)},
        [U_ADDR6] = {"address6", offsetof(struct gw_client, addr6), sizeof(struct prefix)},
};

static int seen_node(const struct seen *s, int field)
{
	const int nodes[U_N] = {s->name, s->pub, s->addr, s->addr6};

	return nodes[field];
}

/* Client i against those before it: names, keys and addresses are unique.
 * The message names the earliest client that i repeats, and of its fields
 * the first in unique_fields' order, as a walk over all of them would. */
static int check_unique(struct conf *c, const struct gw_config *g, const struct seen *s, size_t i,
                        struct keymap maps[U_N])
{
	struct gw_client *a = &g->clients[i];
	const struct gw_client *first = NULL;
	int field = -1;

	for (int f = 0; f < U_N; f++) {
		const struct gw_client *b;

		if (f == U_ADDR6 && !a->has_addr6)
			continue;
		b = keymap_find(&maps[f], (const uint8_t *)a + unique_fields[f].off);
		if (b && (!first || b < first)) {
			first = b;
			field = f;
		}
	}
	if (first) {
		size_t j = (size_t)(first - g->clients);
		return conf_bad_value(c, seen_node(&s[i], field), unique_fields[field].key,
		                      "is already used at line %u",
		                      conf_line(c, seen_node(&s[j], field)));
	}
	for (int f = 0; f < U_N; f++)
		if ((f != U_ADDR6 || a->has_addr6) && keymap_add(&maps[f], a) < 0)
			return conf_error(c, s[i].name, "out of memory");
	return 0;
}

static int parse_clients(struct conf *c, int node, unsigned flags, struct gw_config *g)
{
	struct keymap maps[U_N];
	uint8_t gw_pub[32];
	struct seen *s = NULL;
	size_t i, n;
	int ret;

	if (!node || conf_is_null(c, node))
		return 0; /* no clients yet: the gateway still comes up */
	ret = conf_expect(c, node, "clients", CONF_SEQUENCE);
	if (ret < 0)
		return ret;
	n = conf_seq_len(c, node);
	if (!n)
		return 0;
	ret = flags & GW_CONFIG_NO_KEY_FILES ? 0 : crypto_x25519_pubkey(gw_pub, g->priv);
	if (ret < 0)
		return conf_error(c, node, "cannot derive the gateway's public key");
	for (int f = 0; f < U_N; f++)
		keymap_init(&maps[f], unique_fields[f].off, unique_fields[f].len);
	g->clients = calloc(n, sizeof(*g->clients));
	s = calloc(n, sizeof(*s));
	ret = g->clients && s ? 0 : -ENOMEM;
	for (int f = 0; f < U_N && !ret; f++)
		ret = keymap_reserve(&maps[f], n);
	if (ret) {
		conf_error(c, node, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		/* Counted before it is parsed, so that gw_config_free() wipes a
		 * client that failed half-way too. */
		g->n_clients = i + 1;
		ret = parse_client(c, conf_seq_item(c, node, i), g,
		                   flags & GW_CONFIG_NO_KEY_FILES ? NULL : gw_pub, &g->clients[i],
		                   &s[i]);
		if (ret < 0)
			goto out;
		ret = check_unique(c, g, s, i, maps);
		if (ret < 0)
			goto out;
	}
out:
	for (int f = 0; f < U_N; f++)
		keymap_free(&maps[f]);
	free(s);
	return ret;
}

/* The control socket's path and group; the group must exist now, so that
 * -n catches a typo. */
static int parse_control(struct conf *c, int root, struct gw_config *g)
{
	int sock = conf_map_find(c, root, "control_socket");
	int group = conf_map_find(c, root, "control_group");
	int ret;

	if (sock) {
		ret = conf_get_path(c, sock, "control_socket", g->control_socket,
		                    sizeof(g->control_socket));
		if (ret < 0)
			return ret;
	}
	if (!group || conf_is_null(c, group))
		return 0;
	ret = conf_get_str(c, group, "control_group", g->control_group, sizeof(g->control_group));
	if (ret < 0)
		return ret;
	errno = 0;
	if (!getgrnam(g->control_group))
		return conf_bad_value(c, group, "control_group", "is not a group on this host%s%s",
		                      errno ? ": " : "", errno ? strerror(errno) : "");
	return 0;
}

/* flow_log: "-" (stderr) as it is, a path joined to the file's directory. */
static int parse_flow_log(struct conf *c, int root, struct gw_config *g)
{
	int log = conf_map_find(c, root, "flow_log"),
	    log_new = conf_map_find(c, root, "flow_log_new");
	const char *v;
	int ret;

	if (log) {
		ret = conf_get_scalar(c, log, "flow_log", &v);
		if (ret < 0)
			return ret;
		if (!v[0])
			return conf_bad_value(c, log, "flow_log",
			                      "is empty (a file, or - for stderr)");
		if (!strcmp(v, "-"))
			strcpy(g->flow_log, "-");
		else if ((ret = conf_get_path(c, log, "flow_log", g->flow_log,
		                              sizeof(g->flow_log))) < 0)
			return ret;
	}
	if (!log_new)
		return 0;
	ret = conf_get_bool(c, log_new, "flow_log_new", &g->flow_log_new);
	if (ret < 0)
		return ret;
	if (g->flow_log_new && !log)
		return conf_bad_value(c, log_new, "flow_log_new", "needs flow_log");
	return 0;
}

/* The syntax edge.yaml's gateway.endpoint takes, so that what a client is
 * given is what edged reads. */
const char *gw_endpoint_problem(const char *s)
{
	char buf[GW_ENDPOINT_MAX], *host;
	struct in6_addr a6;
	struct in_addr a4;
	const char *why;
	bool bracketed;
	uint16_t port;

	if (strlen(s) >= sizeof(buf))
		return "is too long for HOST:PORT";
	strcpy(buf, s);
	why = conf_split_endpoint(buf, &host, &bracketed, &port);
	if (why)
		return why;
	if (bracketed)
		return inet_pton(AF_INET6, host, &a6) == 1 ? NULL
		                                           : "is not an IPv6 address in brackets";
	if (inet_pton(AF_INET, host, &a4) == 1 || conf_is_hostname(host))
		return NULL;
	return "is not an IPv4 address or host name";
}

/* endpoint is for the clients' configurations only: checked as HOST:PORT,
 * never resolved (gatewayd does not dial it). */
static int parse_gw_endpoint(struct conf *c, int node, struct gw_config *g)
{
	const char *why;
	int ret;

	if (!node || conf_is_null(c, node))
		return 0;
	ret = conf_get_str(c, node, "endpoint", g->endpoint, sizeof(g->endpoint));
	if (ret < 0)
		return ret;
	why = gw_endpoint_problem(g->endpoint);
	if (why) {
		g->endpoint[0] = '\0';
		return conf_bad_value(c, node, "endpoint", "%s", why);
	}
	return 0;
}

/* metrics_listen: "127.0.0.1:9586" or "[::1]:9586". Numbers only: a name
 * would make the start depend on a resolver, and a listen address is the
 * host's own anyway. */
static int parse_metrics_listen(struct conf *c, int node, struct gw_config *g)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&g->metrics_listen;
	struct sockaddr_in *sin = (struct sockaddr_in *)&g->metrics_listen;
	char buf[64], *host, *port, *end;
	unsigned long p;
	int ret;

	ret = conf_get_str(c, node, "metrics_listen", buf, sizeof(buf));
	if (ret < 0)
		return ret;
	if (buf[0] == '[') {
		host = buf + 1;
		end = strchr(host, ']');
		if (!end || end[1] != ':')
			goto bad;
		*end = '\0';
		port = end + 2;
	} else {
		host = buf;
		port = strrchr(buf, ':');
		if (!port || port != strchr(buf, ':'))
			goto bad; /* none, or an IPv6 address without its brackets */
		*port++ = '\0';
	}
	if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
		goto bad;
	p = strtoul(port, NULL, 10);
	if (p < 1 || p > 65535)
		return conf_bad_value(c, node, "metrics_listen", "has no valid port (1-65535)");
	memset(&g->metrics_listen, 0, sizeof(g->metrics_listen));
	if (buf[0] == '[') {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return conf_bad_value(c, node, "metrics_listen",
			                      "is not an IPv6 address in brackets");
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		g->metrics_listen_len = sizeof(*sin6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return conf_bad_value(c, node, "metrics_listen", "is not an IPv4 address");
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)p);
	g->metrics_listen_len = sizeof(*sin);
	return 0;
bad:
	return conf_bad_value(c, node, "metrics_listen",
	                      "is not ADDRESS:PORT (like 127.0.0.1:9586 or [::1]:9586)");
}

static int gw_parse(struct conf *c, unsigned flags, struct gw_config **out)
{
	struct gw_config *g = NULL;
	char sock[IFNAMSIZ + 5];
	int root = conf_root(c), n, ret;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	strcpy(g->ifname, "egress0");
	g->listen_port = 51820;
	g->mtu = 1420;
	g->conntrack_warn_percent = GW_CONNTRACK_WARN;
	g->offload = WG_OFFLOAD_ALL;
	g->mark_tag = 0x45670000;
	g->mark_id_mask = 0x0000ffff;
	strcpy(g->control_socket, GW_CONTROL_SOCKET);
	strcpy(g->wg_socket_dir, UAPI_DIR);

	ret = conf_expect(c, root, NULL, CONF_MAPPING);
	if (ret < 0)
		goto out;
	ret = conf_map_check(c, root, gw_keys);
	if (ret < 0)
		goto out;

	n = conf_map_find(c, root, "interface");
	if (n && (ret = conf_get_ifname(c, n, "interface", g->ifname)) < 0)
		goto out;
	n = conf_map_find(c, root, "listen_port");
	if (n && (ret = conf_get_port(c, n, "listen_port", &g->listen_port)) < 0)
		goto out;
	/* Before any key file is read: it decides how their modes are judged. */
	n = conf_map_find(c, root, "strict_key_permissions");
	if (n &&
	    (ret = conf_get_bool(c, n, "strict_key_permissions", &g->strict_key_permissions)) < 0)
		goto out;
	ret = conf_map_need(c, root, "private_key_file", &n);
	if (ret < 0)
		goto out;
	if (flags & GW_CONFIG_NO_KEY_FILES)
		ret = key_path_only(c, n, "private_key_file");
	else
		ret = conf_get_key_file(c, n, "private_key_file", g->strict_key_permissions,
		                        g->priv);
	if (ret < 0)
		goto out;
	ret = conf_map_need(c, root, "address", &n);
	if (ret < 0 || (ret = parse_address(c, n, g)) < 0)
		goto out;
	ret = parse_address6(c, conf_map_find(c, root, "address6"), g);
	if (ret < 0)
		goto out;
	n = conf_map_find(c, root, "uplink");
	if (n && (ret = conf_get_ifname(c, n, "uplink", g->uplink)) < 0)
		goto out;
	if (n && !strcmp(g->uplink, g->ifname)) {
		ret = conf_bad_value(c, n, "uplink", "is the tunnel interface itself");
		goto out;
	}
	ret = conf_get_u32_opt(c, conf_map_find(c, root, "mtu"), "mtu", 1280, WG_MTU_MAX, &g->mtu);
	if (ret < 0)
		goto out;
	/* 0 (absent) leaves the device's default; at most one receive's worth. */
	ret = conf_get_u32_opt(c, conf_map_find(c, root, "load_threshold"), "load_threshold", 1,
	                       WG_BATCH, &g->load_threshold);
	if (ret < 0)
		goto out;
	n = conf_map_find(c, root, "offload");
	if (n && (ret = conf_get_offload(c, n, &g->offload)) < 0)
		goto out;
	ret = conf_get_u32_opt(c, conf_map_find(c, root, "conntrack_warn_percent"),
	                       "conntrack_warn_percent", 1, 100, &g->conntrack_warn_percent);
	if (ret < 0)
		goto out;
	ret = parse_marks(c, root, g);
	if (ret < 0)
		goto out;
	ret = parse_clients(c, conf_map_find(c, root, "clients"), flags, g);
	if (ret < 0)
		goto out;
	ret = parse_control(c, root, g);
	if (ret < 0)
		goto out;
	ret = parse_gw_endpoint(c, conf_map_find(c, root, "endpoint"), g);
	if (ret < 0)
		goto out;
	n = conf_map_find(c, root, "wg_socket_dir");
	snprintf(sock, sizeof(sock), "%s.sock", g->ifname);
	if (n && (ret = conf_get_sock_dir(c, n, "wg_socket_dir", sock, g->wg_socket_dir,
	                                  sizeof(g->wg_socket_dir))) < 0)
		goto out;
	n = conf_map_find(c, root, "metrics_listen");
	if (n && !conf_is_null(c, n) && (ret = parse_metrics_listen(c, n, g)) < 0)
		goto out;
	n = conf_map_find(c, root, "policy_file");
	if (n)
		ret = conf_get_path(c, n, "policy_file", g->policy_file, sizeof(g->policy_file));
	else if (conf_path_join(c, GW_POLICY_FILE, g->policy_file, sizeof(g->policy_file)) < 0)
		ret = conf_error(c, root, "the directory of the configuration is too long a path");
	if (ret < 0)
		goto out;
	ret = parse_flow_log(c, root, g);
	if (ret < 0)
		goto out;
	*out = g;
	g = NULL;
out:
	gw_config_free(g);
	return ret;
}

int gw_config_load(const char *path, struct gw_config **out, char *err, size_t errlen)
{
	struct conf *c = NULL;
	int ret;

	*out = NULL;
	ret = conf_load_file(&c, path, err, errlen);
	if (ret < 0)
		return ret;
	ret = gw_parse(c, 0, out);
	conf_free(c);
	return ret;
}

int gw_config_parse_flags(const char *name, const char *dir, const char *buf, size_t len,
                          unsigned flags, struct gw_config **out, char *err, size_t errlen)
{
	struct conf *c = NULL;
	int ret;

	*out = NULL;
	ret = conf_load_buffer(&c, name, dir, buf, len, err, errlen);
	if (ret < 0)
		return ret;
	ret = gw_parse(c, flags, out);
	conf_free(c);
	return ret;
}

int gw_config_parse(const char *name, const char *buf, size_t len, struct gw_config **out,
                    char *err, size_t errlen)
{
	return gw_config_parse_flags(name, NULL, buf, len, 0, out, err, errlen);
}

void gw_config_wipe_keys(struct gw_config *c)
{
	crypto_wipe(c->priv, sizeof(c->priv));
	for (size_t i = 0; i < c->n_clients; i++)
		crypto_wipe(c->clients[i].psk, sizeof(c->clients[i].psk));
}

void gw_config_free(struct gw_config *c)
{
	if (!c)
		return;
	/* Everything, not only the keys: what is left is nobody's business. */
	if (c->clients) {
		crypto_wipe(c->clients, c->n_clients * sizeof(*c->clients));
		free(c->clients);
	}
	crypto_wipe(c, sizeof(*c));
	free(c);
}
