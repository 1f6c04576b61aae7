/* The kill switch: an nftables table of edged's own, table inet egress-edge,
 * that drops every packet leaving an interface other than the tunnel's,
 * from this host (hook output) and through it (hook forward: containers and
 * VMs behind it), except
 *   - the tunnel's own UDP to a gateway endpoint, from the socket carrying
 *     edged's fwmark;
 *   - neighbour discovery, router solicitation and DHCP, v4 and v6;
 *   - the allow entries of edge.yaml (management: ssh to the edge, say).
 * DNS (port 53 and 853, TCP and UDP) goes nowhere but through the tunnel,
 * not even to an allow entry; with dns in edge.yaml, only to those
 * resolvers. The tunnel interface is matched by name, so
 * the table may stand before the TUN exists and after it is gone.
 *
 * Unlike gatewayd's table, this one has no owner: a killed edged must leave
 * the host closed, not open. What finds and ends it after a crash is the
 * state file (killswitch_state_*), and `edged --down`. Other tables are
 * never touched. */
#ifndef EGRESS_EDGE_KILLSWITCH_H
#define EGRESS_EDGE_KILLSWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "edge/config.h"

#define KS_TABLE "egress-edge"

struct ks_params {
	const char *ifname;                  /* the tunnel's, [A-Za-z0-9_.-] */
	uint32_t fwmark;                     /* the tunnel socket's, nonzero */
	const struct edge_gateway *gateways; /* their endpoints: AF_INET or AF_INET6 */
	size_t n_gateways;
	const struct edge_allow *allow;
	size_t n_allow;
	const struct prefix *lan; /* allow_lan: the private on-link subnets */
	size_t n_lan;
	const struct prefix *dns; /* dns: the only resolvers DNS may reach, even
	                             through the tunnel (none: any there) */
	size_t n_dns;
};

/* The kill switch's params from edge.yaml: every gateway, the allow entries
 * and the resolvers (not allow_lan's subnets, found at run time). */
struct ks_params ks_params_of(const struct edge_config *cfg);

/* Pure: one transaction that puts the table in place of any table inet
 * egress-edge there is (a crashed edged's, a lockdown's), with no moment in
 * between without it: "table inet egress-edge {}", "delete table ...", then
 * the table. 0 with *text (free), -EINVAL for an interface name nft could
 * not quote or a gateway of another family, -ENOMEM. */
int ks_render(const struct ks_params *p, char **text);

/* Whether the network p lies inside a private range, the ones allow_lan
 * takes: RFC 1918, 169.254.0.0/16, fc00::/7 (ULA) and fe80::/10. */
bool ks_private(const struct prefix *p);

/* allow_lan: the subnets of the addresses of every interface but lo and
 * skip (the TUN's index), network and length, those ks_private() takes,
 * into out (at most max, each once). The others are logged, once each,
 * as not allowed: an on-link public prefix is never let out (LocalNet).
 * The number found, or -errno. */
struct nl;
int ks_lan_prefixes(struct nl *nl, unsigned skip, struct prefix *out, size_t max);

/* Runs text (ks_render's) through libnftables in a context of its own. 0,
 * or -errno with nft's message in err. */
int ks_apply(const char *text, char *err, size_t errlen);
/* Deletes the table if there is one. 0, or -errno with err. */
int ks_remove(char *err, size_t errlen);
/* 1 when the table exists, 0 when not, -errno. */
int ks_present(void);

/* The state a clean stop would undo, kept in STATE_DIR/killswitch, written
 * before the table goes in and removed after it has gone: who put it there
 * (pid; a lockdown's is gone at once) and what src_valid_mark was before
 * edged set it ("" when edged did not). */
struct ks_state {
	pid_t pid;
	char src_valid_mark[16];
};
/* Creates dir (and its parents, 0700) if needed; written atomically. 0 or
 * -errno. */
int ks_state_write(const char *dir, const struct ks_state *s);
/* 0 with *s, -ENOENT when there is none, -EINVAL when the file is not one
 * of ours (its content is never acted on then), -errno. */
int ks_state_read(const char *dir, struct ks_state *s);
/* Pure: the file's text as ks_state_read() takes it. */
int ks_state_parse(const char *buf, size_t len, struct ks_state *s);
/* 0, also when there was none; -errno. */
int ks_state_remove(const char *dir);
/* Whether pid is a running edged (its /proc/PID/comm), not this process. */
bool ks_state_owner_running(const struct ks_state *s);

#endif
