/* edge.yaml: parsed and validated in full before anything is changed. */
#ifndef EGRESS_EDGE_CONFIG_H
#define EGRESS_EDGE_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunnel/prefix.h"
#include "tunnel/wg.h"

#define EDGE_ALLOW_MAX      64
#define EDGE_DNS_MAX        3 /* the nameservers a resolv.conf reader takes (glibc's MAXNS) */
#define EDGE_RESOLV_CONF    "/etc/resolv.conf"
#define EDGE_STATE_DIR      "/run/egress/edged"
#define EDGE_CONTROL_SOCKET "/run/egress/edged.sock"

#define EDGE_GATEWAYS_MAX 8

struct edge_gateway {
	/* "198.51.100.1:51820", "[2001:db8::1]:51820" or host:port */
	struct sockaddr_storage endpoint;
	socklen_t endpoint_len;
	char endpoint_text[300]; /* as written */
	uint8_t pub[32];
	bool has_psk; /* preshared_key_file */
	uint8_t psk[32];
};

enum edge_failback {
	EDGE_FAILBACK_PREEMPT, /* back to an earlier gateway once it answers, after a hold-down */
	EDGE_FAILBACK_STICKY,  /* stay until this one fails */
};

struct edge_config {
	char ifname[IFNAMSIZ];       /* interface, default "egress0" */
	uint8_t priv[32];            /* private_key_file, relative to the config file */
	bool strict_key_permissions; /* a key file others may read is an error, not a warning */
	struct prefix addr;          /* address, e.g. 100.64.0.2/32 */
	bool has_addr6;
	struct prefix addr6; /* address6 */
	unsigned mtu;        /* default 1420, 1280..9000 */
	/* offload: as gateway.yaml's, each switch default true (WG_OFFLOAD_ALL) */
	struct wg_offload offload;
	/* gateways: tried in order (or the one gateway:) */
	struct edge_gateway gws[EDGE_GATEWAYS_MAX];
	size_t n_gws;
	unsigned failover_after; /* seconds without an authenticated packet while
	                            sending, default 15, 5..3600 */
	enum edge_failback failback;
	unsigned persistent_keepalive; /* seconds, 0 = off (default), max 65535 */
	bool route_all;                /* default true */
	uint32_t fwmark;               /* fwmark, default 51820, nonzero */
	uint32_t table;                /* table, default 51820, not 0, 253, 254, 255 */
	char wg_socket_dir[108];       /* wg_socket_dir: where `wg show` finds IFNAME.sock; default
	                                  UAPI_DIR */
	/* kill_switch: default route_all; needs it, and an IP literal endpoint */
	bool kill_switch;
	/* allow: what the kill switch lets out of other interfaces than the
	 * tunnel's, address[/len][:port] (IPv6 with a port in brackets); port
	 * 0: any */
	struct edge_allow {
		struct prefix dst;
		uint16_t port;
	} allow[EDGE_ALLOW_MAX];
	size_t n_allow;
	bool allow_lan; /* allow_lan: the private subnets on link at the start too */
	/* state_dir: where edged keeps what a crash would leave (the kill
	 * switch's state), default EDGE_STATE_DIR */
	char state_dir[4096];
	/* control_socket: where `edged status` asks, default EDGE_CONTROL_SOCKET */
	char control_socket[108];
	/* dns: the resolvers while edged runs, IP addresses reached through the
	 * tunnel (needs route_all); n_dns 0: the host's own are left alone */
	struct prefix dns[EDGE_DNS_MAX];
	size_t n_dns;
	/* resolv_conf: the file edged points at them (or, when it lies under
	 * /run/systemd/resolve/, systemd-resolved), default EDGE_RESOLV_CONF */
	char resolv_conf[4096];
};

/* Conventions as gw_config_load(). */
int edge_config_load(const char *path, struct edge_config **out, char *err, size_t errlen);
/* The same for a SIGHUP of an edged running with old: a gateway's host name
 * is not resolved again but taken from old (where it must be). */
int edge_config_reload(const char *path, const struct edge_config *old, struct edge_config **out,
                       char *err, size_t errlen);
int edge_config_parse(const char *name, const char *buf, size_t len, struct edge_config **out,
                      char *err, size_t errlen);
/* As gw_config_wipe_keys(): the private key and the preshared keys. */
void edge_config_wipe_keys(struct edge_config *c);
/* Accepts NULL; wipes the keys too. */
void edge_config_free(struct edge_config *c);

#endif
