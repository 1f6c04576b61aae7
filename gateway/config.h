/* gateway.yaml: parsed and validated in full before anything is changed. */
#ifndef EGRESS_GATEWAY_CONFIG_H
#define EGRESS_GATEWAY_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tunnel/prefix.h"
#include "tunnel/wg.h"

#define GW_NAME_MAX 32 /* a client name: [A-Za-z0-9_.-], 1..31 characters */
/* endpoint's buffer: a DNS name (253), or an IPv6 address in brackets, then
 * ":65535" and the NUL */
#define GW_ENDPOINT_MAX 262

struct gw_client {
	char name[GW_NAME_MAX];
	uint8_t pub[32];
	bool has_psk;
	uint8_t psk[32];
	struct prefix addr; /* length 32, inside the gateway's IPv4 subnet */
	bool has_addr6;
	/* length 128, inside the IPv6 subnet; only when the gateway has address6 */
	struct prefix addr6;
	uint32_t id; /* host part of addr: never its position in the list */
};

struct gw_config {
	char ifname[IFNAMSIZ];       /* interface, default "egress0" */
	uint16_t listen_port;        /* default 51820 */
	uint8_t priv[32];            /* from private_key_file, relative to the config file */
	bool strict_key_permissions; /* a key file others may read is an error, not a warning */
	/* address: the gateway's own tunnel address, its host bits kept; len
	 * is the client subnet's */
	struct prefix addr;
	bool has_addr6;
	struct prefix addr6;   /* address6, the same for IPv6 */
	char uplink[IFNAMSIZ]; /* "" when absent: MASQUERADE out of any interface */
	unsigned mtu;          /* default 1420, 1280..9000 */
	uint32_t mark_tag;     /* mark_tag, default 0x45670000; no bits inside mark_id_mask */
	uint32_t mark_id_mask; /* mark_id_mask, default 0x0000ffff; low bits, contiguous */
	/* load_threshold, 1..WG_BATCH: handshake messages in a full receive
	 * that put the device under load; 0 when absent (the device's default) */
	uint32_t load_threshold;
	/* offload: what the device may use, each switch default true
	 * (WG_OFFLOAD_ALL); tun_uso without tun_tso is taken, and unused */
	struct wg_offload offload;
	/* conntrack_warn_percent, 1..100 (default GW_CONNTRACK_WARN): status
	 * warns when conntrack's table is fuller than this */
	uint32_t conntrack_warn_percent;
	size_t n_clients;
	struct gw_client *clients;
	char control_socket[108]; /* control_socket: a unix socket path (sun_path) */
	char control_group[64];   /* control_group, "" when absent: root only */
	/* wg_socket_dir: where `wg show` finds IFNAME.sock; default UAPI_DIR */
	char wg_socket_dir[108];
	/* policy_file, relative to the config file's directory; absent:
	 * GW_POLICY_FILE there. A file that does not exist means the built-in
	 * policy. */
	char policy_file[4096];
	/* flow_log: "" when absent (no log), "-" for stderr, otherwise a path
	 * relative to the config file's directory. */
	char flow_log[4096];
	bool flow_log_new; /* flow_log_new: a line per new flow too */
	/* endpoint, "" when absent: HOST:PORT where clients reach the gateway,
	 * for the configurations `gatewayctl client add` prints; never resolved */
	char endpoint[GW_ENDPOINT_MAX];
	/* metrics_listen: the TCP address /metrics is served on, a numeric
	 * IPv4 or IPv6 address and a port; metrics_listen_len is 0 when the
	 * key is absent (no metrics) */
	struct sockaddr_storage metrics_listen;
	socklen_t metrics_listen_len;
};

#define GW_CONTROL_SOCKET "/run/egress/gatewayd.sock"
#define GW_POLICY_FILE    "policy.yaml"
#define GW_CONNTRACK_WARN 80

/* Reads and validates path. On failure returns -EINVAL (or -errno for the file
 * itself) and writes one line to err naming "path:line:column: " and quoting
 * the bad value. *out is owned by the caller (gw_config_free). */
int gw_config_load(const char *path, struct gw_config **out, char *err, size_t errlen);
/* Same, from a buffer; name stands in for the path in messages and relative
 * key paths are taken from the current directory. For tests and fuzzing. */
int gw_config_parse(const char *name, const char *buf, size_t len, struct gw_config **out,
                    char *err, size_t errlen);
/* gw_config_parse_flags()'s flags. */
enum {
	/* Read no key file: priv and every psk stay zero (has_psk still says
	 * which clients name one), and a client's key is not compared with the
	 * gateway's own. For checking an edit of the text (gateway/onboard.c)
	 * where the key files may not exist yet or are not readable. */
	GW_CONFIG_NO_KEY_FILES = 1 << 0,
};
/* gw_config_parse() with flags; dir is where relative paths start (NULL:
 * the current directory). */
int gw_config_parse_flags(const char *name, const char *dir, const char *buf, size_t len,
                          unsigned flags, struct gw_config **out, char *err, size_t errlen);
/* NULL when s is HOST:PORT as endpoint takes it (an IPv4 address, an IPv6
 * address in brackets or a host name; a port 1-65535), else why not, as
 * the end of a sentence that quotes s ("is not HOST:PORT (...)"). */
const char *gw_endpoint_problem(const char *s);
/* Wipes the private key and every preshared key (they read as zeros after),
 * for when the device holds its own copies; the rest stays usable. */
void gw_config_wipe_keys(struct gw_config *c);
/* Accepts NULL; wipes the keys too. */
void gw_config_free(struct gw_config *c);

#endif
