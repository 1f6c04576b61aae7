/* Onboarding a client, the pure part: gateway.yaml's client list edited as
 * text (so its comments and layout stay), the next free tunnel address, and
 * what a new edge is given (a wg-quick configuration for stock WireGuard
 * clients, an edge.yaml for edged). No daemon state, no files, no sockets:
 * gatewayd reads and writes the files, gatewayctl renders what it prints. */
#ifndef EGRESS_GATEWAY_ONBOARD_H
#define EGRESS_GATEWAY_ONBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/prefix.h"

struct gw_config;

/* A client entry to add to gateway.yaml. */
struct onboard_client {
	const char *name;   /* a client name, as gateway.yaml takes it */
	uint8_t pub[32];    /* its public key */
	struct prefix addr; /* its IPv4 address (length 32) */
	bool has_addr6;
	struct prefix addr6;  /* its IPv6 address (length 128), when has_addr6 */
	const char *psk_file; /* preshared_key_file as it is to be written; NULL: none */
};

/* gateway.yaml's text with c appended to its clients: list, in the style of
 * the list's last entry (its indentation, block or flow mapping); a list
 * that is empty, null or missing becomes a block list indented two spaces
 * under "clients:". The entry goes after the last line of the last entry
 * and the comment lines indented deeper than its "-" that follow it; every
 * other byte stays as it was (CRLF line ends are kept). The result is
 * parsed (without reading key files) before it is returned, and must give
 * the same configuration with c as its last client.
 *
 * 0 with *out (malloc'd, *outlen bytes, NUL-terminated), or -errno with one
 * line in err: -EINVAL when text is not a valid gateway.yaml (its message)
 * or holds what cannot be edited safely (a non-empty flow-style list, a
 * flow-style top level, anchors or aliases, block scalars, tabs in the
 * list, line breaks other than LF or CRLF, a byte-order mark other than
 * UTF-8's) or c does not fit the configuration (an address outside the
 * subnet, say: the parser's message); -EEXIST when c's name or public key
 * is already a client's, -EADDRINUSE when its address or address6 is;
 * -ENOMEM. */
int onboard_yaml_add_client(const char *text, size_t len, const struct onboard_client *c,
                            char **out, size_t *outlen, char *err, size_t errlen);

/* gateway.yaml's text without the client called name: the lines of its
 * entry, the comment lines directly above it whose '#' is at the column of
 * its "-" (they describe it), and the comment lines directly after it that
 * are indented deeper than its "-" (they sit inside it). A blank line ends
 * either run; everything else stays byte for byte. Removing the last
 * client leaves "clients:" with no value, which parses as no clients. The
 * result is checked as onboard_yaml_add_client()'s.
 *
 * 0 with *out as above, -ENOENT when no client has that name, or -EINVAL /
 * -ENOMEM as above. */
int onboard_yaml_remove_client(const char *text, size_t len, const char *name, char **out,
                               size_t *outlen, char *err, size_t errlen);

/* An index of one gateway.yaml text: the text, its parse (without key
 * files) and where each client's entry lies, so that an edit of that same
 * text needs no parse. At 60,000 clients libyaml alone takes 0.3 s over the
 * text, and a full edit parses it four times; an indexed one copies it.
 * onboard_index_add() and onboard_index_remove() give byte for byte what
 * onboard_yaml_add_client() and onboard_yaml_remove_client() give for the
 * index's text (tests/fuzz/fuzz_onboard.c checks this), and the index of
 * what they give.
 *
 * onboard_index_new(): the text checked as onboard_yaml_add_client()
 * checks it, then indexed. 0 with *ix; -EINVAL with err when the text is not
 * one the index takes: any the full edit refuses, and also a clients list
 * that is not a block list with at least one entry, a text whose last line
 * has no line break, or a tab anywhere from "clients:" on (each is left to
 * the full edit); -ENOMEM. Its parse takes relative paths from dir (NULL:
 * the current directory), as gatewayd's from the file's directory. */
struct onboard_index;
int onboard_index_new(const char *text, size_t len, const char *dir, struct onboard_index **ix,
                      char *err, size_t errlen);
/* NULL is fine. */
void onboard_index_free(struct onboard_index *ix);
/* Whether text is the index's, byte for byte. */
bool onboard_index_is(const struct onboard_index *ix, const char *text, size_t len);
/* The index's text (NUL-terminated), its length in *len. */
const char *onboard_index_text(const struct onboard_index *ix, size_t *len);
/* The index's text as parsed without key files. */
const struct gw_config *onboard_index_config(const struct onboard_index *ix);
/* onboard_yaml_add_client() of the index's text: the same text, the same
 * refusals (what the parser says of the new entry without its line and
 * column, as only the entry is parsed), and *next, the index of *out. */
int onboard_index_add(const struct onboard_index *ix, const struct onboard_client *c, char **out,
                      size_t *outlen, struct onboard_index **next, char *err, size_t errlen);
/* onboard_yaml_remove_client() of the index's text likewise; *next is NULL
 * when no client is left (that text is one for the full edit). */
int onboard_index_remove(const struct onboard_index *ix, const char *name, char **out,
                         size_t *outlen, struct onboard_index **next, char *err, size_t errlen);

/* The lowest free client address of cfg's IPv4 subnet: neither the
 * network, the broadcast nor the gateway's own address, no client's, and
 * its host id fitting mark_id_mask. With address6 on the gateway, the
 * IPv6 address of the same host id (onboard_address6_of()) must be free
 * too, and *addr6 gets it (*has_addr6 true). O(clients + subnet / 64).
 * 0, -ENOSPC when no address is free, -ENOMEM. */
int onboard_next_address(const struct gw_config *cfg, struct prefix *addr, bool *has_addr6,
                         struct prefix *addr6);

/* The IPv6 address paired with the client address addr: the gateway's
 * IPv6 subnet with addr's host id in its low bits (100.64.0.7 in a /24 and
 * fd00:64::1/64 give fd00:64::7). 0, -ENODATA when the gateway has no
 * address6, -ERANGE when the id does not fit the IPv6 subnet's host bits. */
int onboard_address6_of(const struct gw_config *cfg, const struct prefix *addr,
                        struct prefix *addr6);

/* What a new edge needs to reach the gateway. */
struct onboard_edge {
	const char *name;
	uint8_t priv[32]; /* the edge's private key */
	bool has_psk;
	uint8_t psk[32];
	struct prefix addr; /* length 32 */
	bool has_addr6;
	struct prefix addr6; /* length 128 */
	uint8_t gw_pub[32];
	const char *endpoint; /* the gateway's HOST:PORT */
	unsigned mtu;
};

/* Enough for either rendering below with the longest endpoint. */
#define ONBOARD_TEXT_MAX 2048

/* A wg-quick configuration: [Interface] with PrivateKey, Address (v4/32,
 * v6/128) and MTU; [Peer] with the gateway's PublicKey, PresharedKey when
 * any, Endpoint, AllowedIPs 0.0.0.0/0 (and ::/0 with address6) and
 * PersistentKeepalive 25 (a phone behind NAT stays reachable for replies).
 * Into buf (the caller wipes it: it holds the private key); returns its
 * length, or -ENOSPC when size is too small. */
int onboard_wg_quick_conf(const struct onboard_edge *e, char *buf, size_t size);
/* An edge.yaml for edged, its key files named relative to it: key_file
 * holds the private key, psk_file (NULL without a psk) the preshared key.
 * Returns its length, -ENOSPC, or -EINVAL for a path that YAML cannot
 * hold. */
int onboard_edge_yaml(const struct onboard_edge *e, const char *key_file, const char *psk_file,
                      char *buf, size_t size);

#endif
