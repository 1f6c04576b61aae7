/* edge.yaml: see config.h. */
#include "edge/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/conf.h"
#include "tunnel/crypto.h"
#include "tunnel/prefix.h"
#include "tunnel/uapi.h"
#include "tunnel/wg.h"

static const char *const edge_keys[] = {
        "interface",
        "private_key_file",
        "strict_key_permissions",
        "address",
        "address6",
        "mtu",
        "gateway",
        "gateways",
        "failover_after",
        "failback",
        "persistent_keepalive",
        "route_all",
        "fwmark",
        "table",
        "wg_socket_dir",
        "kill_switch",
        "allow",
        "allow_lan",
        "state_dir",
        "control_socket",
        "dns",
        "resolv_conf",
        "offload",
        NULL,
};

static const char *const gateway_keys[] = {
        "endpoint",
        "public_key",
        "preshared_key_file",
        NULL,
};

#define ENDPOINT_MAX 300 /* a DNS name is at most 253, plus brackets and port */

static int resolve(const char *host, struct sockaddr_storage *ss, socklen_t *len, int *gai)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG};
	struct addrinfo *res = NULL;

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	*gai = EAI_NONAME; /* a fuzzer must not send DNS queries */
	return -EINVAL;
#endif
	*gai = getaddrinfo(host, NULL, &hints, &res);
	if (*gai)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* "198.51.100.1:51820", "[2001:db8::1]:51820" or "host.example:51820";
 * numeric addresses are taken as they are, a name is resolved once, now. */
static int parse_endpoint(struct conf *c, int node, const struct edge_config *e,
                          const struct edge_config *old, struct edge_gateway *g)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&g->endpoint;
	struct sockaddr_in *sin = (struct sockaddr_in *)&g->endpoint;
	char buf[ENDPOINT_MAX], *host;
	const char *why;
	bool bracketed;
	uint16_t port;
	int ret, gai;

	ret = conf_get_str(c, node, "endpoint", buf, sizeof(buf));
	if (ret < 0)
		return ret;
	snprintf(g->endpoint_text, sizeof(g->endpoint_text), "%s", buf);
	why = conf_split_endpoint(buf, &host, &bracketed, &port);
	if (why)
		return conf_bad_value(c, node, "endpoint", "%s", why);
	memset(&g->endpoint, 0, sizeof(g->endpoint));
	if (bracketed) {
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return conf_bad_value(c, node, "endpoint",
			                      "is not an IPv6 address in brackets");
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		g->endpoint_len = sizeof(*sin6);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		g->endpoint_len = sizeof(*sin);
	} else if (!conf_is_hostname(host)) {
		return conf_bad_value(c, node, "endpoint", "is not an IPv4 address or host name");
	} else if (e->kill_switch) {
		/* not even tried: the kill switch would stop the query */
		return conf_bad_value(
		        c, node, "endpoint",
		        "is a host name: the kill switch closes DNS before the tunnel "
		        "is up, so give the gateway's IP address");
	} else if (old) {
		/* A reload: the loop that carries the tunnel, which the query may
		 * need, is waiting for this parse; so no query, only the names
		 * the start resolved. */
		const struct edge_gateway *o = NULL;

		for (size_t i = 0; i < old->n_gws && !o; i++)
			if (!strcmp(old->gws[i].endpoint_text, g->endpoint_text))
				o = &old->gws[i];
		if (!o)
			return conf_bad_value(
			        c, node, "endpoint",
			        "is a host name edged did not resolve at its start: a "
			        "SIGHUP resolves none (restart edged for a new one)");
		g->endpoint = o->endpoint;
		g->endpoint_len = o->endpoint_len;
	} else {
		if (resolve(host, &g->endpoint, &g->endpoint_len, &gai) < 0)
			return conf_bad_value(c, node, "endpoint", "cannot be resolved: %s",
			                      gai_strerror(gai));
		if (g->endpoint.ss_family == AF_INET6)
			sin6->sin6_port = htons(port);
		else
			sin->sin_port = htons(port);
	}
	return 0;
}

/* One gateway (gateway:, or an item of gateways:; key names the one or
 * the other in messages). */
static int parse_gateway(struct conf *c, int node, const char *key, const struct edge_config *e,
                         const struct edge_config *old, struct edge_gateway *g)
{
	static const uint8_t zero[32];
	uint8_t own[32];
	int ret, n;

	ret = conf_expect(c, node, key, CONF_MAPPING);
	if (ret < 0)
		return ret;
	ret = conf_map_check(c, node, gateway_keys);
	if (ret < 0)
		return ret;
	ret = conf_map_need(c, node, "endpoint", &n);
	if (ret < 0 || (ret = parse_endpoint(c, n, e, old, g)) < 0)
		return ret;
	ret = conf_map_need(c, node, "public_key", &n);
	if (ret < 0 || (ret = conf_get_key(c, n, "public_key", g->pub)) < 0)
		return ret;
	if (!memcmp(g->pub, zero, sizeof(zero)))
		return conf_bad_value(c, n, "public_key", "is the all-zero key");
	if (crypto_x25519_pubkey(own, e->priv) < 0)
		return conf_error(c, n, "cannot derive this edge's public key");
	if (!memcmp(g->pub, own, sizeof(own)))
		return conf_bad_value(c, n, "public_key", "is this edge's own public key");
	n = conf_map_find(c, node, "preshared_key_file");
	if (n) {
		ret = conf_get_key_file(c, n, "preshared_key_file", e->strict_key_permissions,
		                        g->psk);
		if (ret < 0)
			return ret;
		g->has_psk = true;
	}
	return 0;
}

/* gateway: or gateways:, one of them; failover_after and failback. */
static int parse_gateways(struct conf *c, int root, struct edge_config *e,
                          const struct edge_config *old)
{
	int one = conf_map_find(c, root, "gateway"), list = conf_map_find(c, root, "gateways");
	int n, ret;
	size_t len;

	if (one && list)
		return conf_error(c, list, "gateway and gateways: give one or the other");
	if (!one && !list)
		return conf_error(c, root, "missing required key \"gateway\" (or \"gateways\")");
	if (one) {
		ret = parse_gateway(c, one, "gateway", e, old, &e->gws[0]);
		if (ret < 0)
			return ret;
		e->n_gws = 1;
	} else {
		ret = conf_expect(c, list, "gateways", CONF_SEQUENCE);
		if (ret < 0)
			return ret;
		len = conf_seq_len(c, list);
		if (len == 0 || len > EDGE_GATEWAYS_MAX)
			return conf_error(c, list, "gateways has %zu entries: give 1 to %d", len,
			                  EDGE_GATEWAYS_MAX);
		for (size_t i = 0; i < len; i++) {
			int item = conf_seq_item(c, list, i);

			ret = parse_gateway(c, item, "gateways", e, old, &e->gws[i]);
			if (ret < 0)
				return ret;
			for (size_t j = 0; j < i; j++)
				if (!memcmp(e->gws[j].pub, e->gws[i].pub, 32))
					return conf_error(
					        c, item,
					        "gateways %zu and %zu have the same public_key: "
					        "one gateway, listed once",
					        j + 1, i + 1);
		}
		e->n_gws = len;
	}
	ret = conf_get_u32_opt(c, conf_map_find(c, root, "failover_after"), "failover_after", 5,
	                       3600, &e->failover_after);
	if (ret < 0)
		return ret;
	n = conf_map_find(c, root, "failback");
	if (n) {
		const char *v;

		ret = conf_get_scalar(c, n, "failback", &v);
		if (ret < 0)
			return ret;
		if (!strcmp(v, "preempt"))
			e->failback = EDGE_FAILBACK_PREEMPT;
		else if (!strcmp(v, "sticky"))
			e->failback = EDGE_FAILBACK_STICKY;
		else
			return conf_bad_value(c, n, "failback", "is not preempt or sticky");
	}
	return 0;
}

static int parse_addresses(struct conf *c, int root, struct edge_config *e)
{
	struct prefix a;
	int ret, n;

	ret = conf_map_need(c, root, "address", &n);
	if (ret < 0 || (ret = conf_get_prefix(c, n, "address", AF_INET, &a)) < 0)
		return ret;
	if (a.len < 8)
		return conf_bad_value(c, n, "address", "needs a prefix length of 8-32");
	e->addr = a;
	n = conf_map_find(c, root, "address6");
	if (!n)
		return 0;
	ret = conf_get_prefix(c, n, "address6", AF_INET6, &a);
	if (ret < 0)
		return ret;
	if (a.len < 8)
		return conf_bad_value(c, n, "address6", "needs a prefix length of 8-128");
	e->has_addr6 = true;
	e->addr6 = a;
	return 0;
}

/* One allow entry: "192.0.2.10", "192.0.2.0/24:22", "2001:db8::/32" or
 * "[2001:db8::10]:22". */
static int parse_allow_one(struct conf *c, int node, struct edge_allow *a)
{
	char buf[PREFIX_STRLEN + 8], *colon, *addr = buf;
	const char *s;
	int ret, family = AF_INET;
	unsigned long port = 0;

	ret = conf_get_scalar(c, node, "allow", &s);
	if (ret < 0)
		return ret;
	if (strlen(s) >= sizeof(buf))
		return conf_bad_value(c, node, "allow", "is too long for address[/len][:port]");
	strcpy(buf, s);
	colon = NULL;
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');

		if (!end || end[1] != ':')
			return conf_bad_value(
			        c, node, "allow",
			        "is not [IPv6 address]:port (brackets only with a port)");
		*end = '\0';
		addr = buf + 1;
		colon = end + 1;
		family = AF_INET6;
	} else if (strchr(buf, ':') && strchr(buf, ':') == strrchr(buf, ':') && strchr(buf, '.')) {
		colon = strchr(buf, ':');
	} else if (strchr(buf, ':')) {
		family = AF_INET6;
	}
	if (colon) {
		char *end;

		*colon = '\0';
		port = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || colon[1] == '0' || port < 1 || port > 65535)
			return conf_bad_value(c, node, "allow", "has a port that is not 1-65535");
	}
	if (prefix_parse(&a->dst, addr, family) < 0)
		return conf_bad_value(c, node, "allow",
		                      "is not address[/len][:port] (an IPv6 address with a "
		                      "port goes in brackets: [2001:db8::10]:22)");
	if (!prefix_is_network(&a->dst))
		return conf_bad_value(c, node, "allow", "has bits set past its prefix length");
	a->port = (uint16_t)port;
	return 0;
}

static int parse_allow(struct conf *c, int node, struct edge_config *e)
{
	size_t n;
	int ret;

	ret = conf_expect(c, node, "allow", CONF_SEQUENCE);
	if (ret < 0)
		return ret;
	n = conf_seq_len(c, node);
	if (n > EDGE_ALLOW_MAX)
		return conf_bad_value(c, node, "allow", "has %zu entries, at most %d", n,
		                      EDGE_ALLOW_MAX);
	for (size_t i = 0; i < n; i++) {
		ret = parse_allow_one(c, conf_seq_item(c, node, i), &e->allow[i]);
		if (ret < 0)
			return ret;
	}
	e->n_allow = n;
	return 0;
}

/* route_all and kill_switch, before the gateway: its endpoint depends on
 * them. */
static int parse_route_all(struct conf *c, int root, struct edge_config *e)
{
	int n = conf_map_find(c, root, "route_all"), ret;

	if (n && (ret = conf_get_bool(c, n, "route_all", &e->route_all)) < 0)
		return ret;
	e->kill_switch = e->route_all;
	n = conf_map_find(c, root, "kill_switch");
	if (n && (ret = conf_get_bool(c, n, "kill_switch", &e->kill_switch)) < 0)
		return ret;
	if (e->kill_switch && !e->route_all)
		return conf_bad_value(c, n, "kill_switch",
		                      "needs route_all: without it only the tunnel's own subnet "
		                      "goes through the tunnel");
	return 0;
}

/* allow, allow_lan, state_dir and control_socket. */
static int parse_kill_switch(struct conf *c, int root, struct edge_config *e)
{
	int n, ret;

	n = conf_map_find(c, root, "allow");
	if (n && (ret = parse_allow(c, n, e)) < 0)
		return ret;
	n = conf_map_find(c, root, "allow_lan");
	if (n && (ret = conf_get_bool(c, n, "allow_lan", &e->allow_lan)) < 0)
		return ret;
	n = conf_map_find(c, root, "state_dir");
	if (n && (ret = conf_get_path(c, n, "state_dir", e->state_dir, sizeof(e->state_dir))) < 0)
		return ret;
	if (!n)
		snprintf(e->state_dir, sizeof(e->state_dir), "%s", EDGE_STATE_DIR);
	n = conf_map_find(c, root, "control_socket");
	if (n)
		return conf_get_path(c, n, "control_socket", e->control_socket,
		                     sizeof(e->control_socket));
	snprintf(e->control_socket, sizeof(e->control_socket), "%s", EDGE_CONTROL_SOCKET);
	return 0;
}

/* dns and resolv_conf. */
static int parse_dns(struct conf *c, int root, struct edge_config *e)
{
	int n, ret;
	size_t len;

	n = conf_map_find(c, root, "resolv_conf");
	if (n &&
	    (ret = conf_get_path(c, n, "resolv_conf", e->resolv_conf, sizeof(e->resolv_conf))) < 0)
		return ret;
	if (!n)
		snprintf(e->resolv_conf, sizeof(e->resolv_conf), "%s", EDGE_RESOLV_CONF);
	n = conf_map_find(c, root, "dns");
	if (!n)
		return 0;
	ret = conf_expect(c, n, "dns", CONF_SEQUENCE);
	if (ret < 0)
		return ret;
	len = conf_seq_len(c, n);
	if (len == 0 || len > EDGE_DNS_MAX)
		return conf_error(c, n,
		                  "dns has %zu entries: give 1 to %d resolvers (a resolv.conf "
		                  "reader takes no more)",
		                  len, EDGE_DNS_MAX);
	if (!e->route_all)
		return conf_error(c, n,
		                  "dns needs route_all: the resolvers are reached through the "
		                  "tunnel");
	for (size_t i = 0; i < len; i++) {
		int item = conf_seq_item(c, n, i);

		ret = conf_get_addr(c, item, "dns", AF_UNSPEC, &e->dns[i]);
		if (ret < 0)
			return ret;
		if (e->dns[i].family == AF_INET6 && !e->has_addr6)
			return conf_bad_value(
			        c, item, "dns",
			        "is IPv6, which the tunnel carries only with address6");
		for (size_t j = 0; j < i; j++)
			if (!prefix_cmp(&e->dns[j], &e->dns[i]))
				return conf_bad_value(c, item, "dns", "names a resolver twice");
	}
	e->n_dns = len;
	return 0;
}

static int edge_parse(struct conf *c, const struct edge_config *old, struct edge_config **out)
{
	struct edge_config *e = NULL;
	char sock[IFNAMSIZ + 5];
	int root = conf_root(c), n, ret;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	strcpy(e->ifname, "egress0");
	e->mtu = 1420;
	e->offload = WG_OFFLOAD_ALL;
	e->route_all = true;
	e->fwmark = 51820;
	e->table = 51820;
	e->failover_after = 15;
	e->failback = EDGE_FAILBACK_PREEMPT;
	strcpy(e->wg_socket_dir, UAPI_DIR);

	ret = conf_expect(c, root, NULL, CONF_MAPPING);
	if (ret < 0)
		goto out;
	ret = conf_map_check(c, root, edge_keys);
	if (ret < 0)
		goto out;

	n = conf_map_find(c, root, "interface");
	if (n && (ret = conf_get_ifname(c, n, "interface", e->ifname)) < 0)
		goto out;
	/* Before any key file is read: it decides how their modes are judged. */
	n = conf_map_find(c, root, "strict_key_permissions");
	if (n &&
	    (ret = conf_get_bool(c, n, "strict_key_permissions", &e->strict_key_permissions)) < 0)
		goto out;
	ret = conf_map_need(c, root, "private_key_file", &n);
	if (ret < 0 || (ret = conf_get_key_file(c, n, "private_key_file", e->strict_key_permissions,
	                                        e->priv)) < 0)
		goto out;
	ret = parse_addresses(c, root, e);
	if (ret < 0)
		goto out;
	ret = conf_get_u32_opt(c, conf_map_find(c, root, "mtu"), "mtu", 1280, WG_MTU_MAX, &e->mtu);
	if (ret < 0)
		goto out;
	n = conf_map_find(c, root, "offload");
	if (n && (ret = conf_get_offload(c, n, &e->offload)) < 0)
		goto out;
	ret = parse_route_all(c, root, e);
	if (ret < 0)
		goto out;
	ret = parse_gateways(c, root, e, old);
	if (ret < 0)
		goto out;
	ret = conf_get_u32_opt(c, conf_map_find(c, root, "persistent_keepalive"),
	                       "persistent_keepalive", 0, 65535, &e->persistent_keepalive);
	if (ret < 0)
		goto out;
	ret = conf_get_u32_opt(c, conf_map_find(c, root, "fwmark"), "fwmark", 1, UINT32_MAX,
	                       &e->fwmark);
	if (ret < 0)
		goto out;
	n = conf_map_find(c, root, "table");
	ret = conf_get_u32_opt(c, n, "table", 1, UINT32_MAX, &e->table);
	if (ret < 0)
		goto out;
	if (e->table >= 253 && e->table <= 255) {
		ret = conf_bad_value(
		        c, n, "table",
		        "is a reserved routing table (253 default, 254 main, 255 local)");
		goto out;
	}
	n = conf_map_find(c, root, "wg_socket_dir");
	snprintf(sock, sizeof(sock), "%s.sock", e->ifname);
	if (n && (ret = conf_get_sock_dir(c, n, "wg_socket_dir", sock, e->wg_socket_dir,
	                                  sizeof(e->wg_socket_dir))) < 0)
		goto out;
	ret = parse_kill_switch(c, root, e);
	if (ret < 0)
		goto out;
	ret = parse_dns(c, root, e);
	if (ret < 0)
		goto out;
	*out = e;
	e = NULL;
out:
	edge_config_free(e);
	return ret;
}

int edge_config_reload(const char *path, const struct edge_config *old, struct edge_config **out,
                       char *err, size_t errlen)
{
	struct conf *c = NULL;
	int ret;

	*out = NULL;
	ret = conf_load_file(&c, path, err, errlen);
	if (ret < 0)
		return ret;
	ret = edge_parse(c, old, out);
	conf_free(c);
	return ret;
}

int edge_config_load(const char *path, struct edge_config **out, char *err, size_t errlen)
{
	return edge_config_reload(path, NULL, out, err, errlen);
}

int edge_config_parse(const char *name, const char *buf, size_t len, struct edge_config **out,
                      char *err, size_t errlen)
{
	struct conf *c = NULL;
	int ret;

	*out = NULL;
	ret = conf_load_buffer(&c, name, NULL, buf, len, err, errlen);
	if (ret < 0)
		return ret;
	ret = edge_parse(c, NULL, out);
	conf_free(c);
	return ret;
}

void edge_config_wipe_keys(struct edge_config *c)
{
	crypto_wipe(c->priv, sizeof(c->priv));
	for (size_t i = 0; i < EDGE_GATEWAYS_MAX; i++)
		crypto_wipe(c->gws[i].psk, sizeof(c->gws[i].psk));
}

void edge_config_free(struct edge_config *c)
{
	if (!c)
		return;
	crypto_wipe(c, sizeof(*c));
	free(c);
}
