/* A small layer over libyaml's document API for the daemons' YAML files:
 * load a whole document, check a mapping's keys against the known ones, and
 * read typed values. Every error is one line, "FILE:LINE:COL: MESSAGE" (1-based),
 * quoting the bad value, written to the buffer given to conf_load_*(); the
 * functions then return -EINVAL. Nodes are named by their libyaml node id
 * (an int > 0) so callers never see libyaml's types. */
#ifndef EGRESS_CONF_H
#define EGRESS_CONF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf;
struct prefix; /* tunnel/prefix.h */

enum conf_type { CONF_SCALAR = 1, CONF_SEQUENCE, CONF_MAPPING };

/* Loads the one document of path; relative paths in it are taken from path's
 * directory. -errno when the file cannot be read, -EINVAL on a YAML error or
 * an empty file; the message goes to err. The buffer err stays in use for
 * every later error of *out, which the caller frees with conf_free(). */
int conf_load_file(struct conf **out, const char *path, char *err, size_t errlen);
/* Same from a buffer (need not be NUL-terminated); name stands in for the
 * file name in messages, dir for its directory (NULL: the current one). */
int conf_load_buffer(struct conf **out, const char *name, const char *dir, const char *buf,
                     size_t len, char *err, size_t errlen);
void conf_free(struct conf *c);

/* The document's top node, always a node that exists. */
int conf_root(const struct conf *c);
/* 0 when node is of type t; otherwise -EINVAL and "KEY: expected a mapping,
 * found a scalar" (key may be NULL for the top level). */
int conf_expect(struct conf *c, int node, const char *key, enum conf_type t);
/* True for an empty plain scalar, "~" or "null": a key given no value. */
bool conf_is_null(const struct conf *c, int node);

/* Checks the keys of a mapping against a NULL-terminated list: every key must
 * be a scalar, known and present once. */
int conf_map_check(struct conf *c, int map, const char *const *known);
/* The value of key in map (checked with conf_map_check() first), 0 if absent. */
int conf_map_find(const struct conf *c, int map, const char *key);
/* Same, but absence is an error naming the mapping's position:
 * "missing required key \"KEY\"". *node is the value on success. */
int conf_map_need(struct conf *c, int map, const char *key, int *node);

/* For a mapping whose keys are the user's (checked with conf_expect() first,
 * keys not checked at all): its number of pairs and the key and value nodes of
 * the i-th (i < length), or 0 for both. */
size_t conf_map_len(const struct conf *c, int map);
void conf_map_pair(const struct conf *c, int map, size_t i, int *key, int *value);

/* A sequence's length and its i-th item (i < length). The node must have
 * passed conf_expect(..., CONF_SEQUENCE). */
size_t conf_seq_len(const struct conf *c, int seq);
int conf_seq_item(const struct conf *c, int seq, size_t i);

/* Line and column of node, 1-based, for messages such as "first at line 9"
 * and for the caller's own FILE:LINE:COL warnings. */
unsigned conf_line(const struct conf *c, int node);
unsigned conf_column(const struct conf *c, int node);

/* The typed getters. key names the value in the message. Each checks the node
 * is a scalar without NUL bytes. */
/* The scalar itself, NUL-terminated, valid until conf_free(). */
int conf_get_scalar(struct conf *c, int node, const char *key, const char **val);
/* A string of at most size - 1 bytes, NUL-terminated into buf. */
int conf_get_str(struct conf *c, int node, const char *key, char *buf, size_t size);
/* Decimal or 0x hexadecimal, in min..max. */
int conf_get_uint(struct conf *c, int node, const char *key, uint64_t min, uint64_t max,
                  uint64_t *out);
/* 1..65535. */
int conf_get_port(struct conf *c, int node, const char *key, uint16_t *out);
/* "true" or "false", nothing else. */
int conf_get_bool(struct conf *c, int node, const char *key, bool *out);
/* An address alone, of family AF_INET, AF_INET6 or AF_UNSPEC (either): *out
 * is a prefix of the full length (32 or 128). */
int conf_get_addr(struct conf *c, int node, const char *key, int family, struct prefix *out);
/* "ADDR/LEN" with LEN required, as prefix_parse() reads it; host bits may be
 * set (an interface address) and are kept. */
int conf_get_prefix(struct conf *c, int node, const char *key, int family, struct prefix *out);
/* The file's name as messages give it. */
const char *conf_file_name(const struct conf *c);
/* Same into a uint32_t, but node 0 (the key is absent) is no error and leaves
 * *out as it was: for optional values with a default set before. */
int conf_get_u32_opt(struct conf *c, int node, const char *key, uint32_t min, uint32_t max,
                     uint32_t *out);
/* The one rule for names that end up in nft text, logs and JSON (client and
 * rule names, interface names): 1..max bytes of letters, digits, '_', '.' and
 * '-', so they mean nothing to nft, a shell or a '#' comment. */
bool conf_name_ok(const char *s, size_t max);
/* HOST:PORT as the configurations write an endpoint: "198.51.100.1:51820",
 * "[2001:db8::1]:51820" or "host.example:51820". Splits buf in place into
 * *host (without brackets; *bracketed for an IPv6 literal) and *port. NULL,
 * or why not, as the end of a sentence that quotes the value. The address
 * itself is the caller's to check (conf_is_hostname, inet_pton). */
#define CONF_ENDPOINT_FORM "is not HOST:PORT (like 198.51.100.1:51820 or [2001:db8::1]:51820)"
const char *conf_split_endpoint(char *buf, char **host, bool *bracketed, uint16_t *port);
/* A host name: letters, digits, '-' and '.', a letter among them (all
 * digits and dots is a mistyped IPv4 address), at most 253 bytes. */
bool conf_is_hostname(const char *s);
/* A network interface name as the kernel takes it: 1..IFNAMSIZ-1 bytes, no
 * '/', ':' or whitespace, not "." or "..". buf has IFNAMSIZ bytes. */
int conf_get_ifname(struct conf *c, int node, const char *key, char *buf);
/* A path; a relative one is joined to the config file's directory. */
int conf_get_path(struct conf *c, int node, const char *key, char *buf, size_t size);
/* path as conf_get_path() takes it, for a default: 0 or -ENAMETOOLONG. */
int conf_path_join(const struct conf *c, const char *path, char *buf, size_t size);
/* A directory (as conf_get_path()) for a socket file named file: the path
 * of the socket, DIR/file, must fit a unix socket address (107 bytes). */
int conf_get_sock_dir(struct conf *c, int node, const char *key, const char *file, char *buf,
                      size_t size);

/* The two getters of WireGuard keys live in conf_key.c, part of egress_tunnel
 * rather than egress_conf: they need tunnel/key.c, and with it libcrypto,
 * which egress_conf's users (policy/) must not pull in. */
/* A WireGuard key in base64 (44 characters). */
int conf_get_key(struct conf *c, int node, const char *key, uint8_t out[32]);
/* A key read from the regular file named by the path (as conf_get_path()).
 * A file that group or others may access is logged as a warning, naming it
 * and its mode, or with strict refused like any bad value (out is then
 * wiped). */
int conf_get_key_file(struct conf *c, int node, const char *key, bool strict, uint8_t out[32]);

/* offload: (tunnel/wg.h) from a mapping of the four switches, each optional
 * and left as *o has it unless given. tun_uso without tun_tso is no error:
 * UDP segmentation rides on the virtio-net header TSO opens the TUN with,
 * so the device leaves it off. Also in egress_tunnel (conf_key.c). */
struct wg_offload;
int conf_get_offload(struct conf *c, int node, struct wg_offload *o);

/* For the caller's own checks: writes "FILE:LINE:COL: " and the message for
 * node, returns -EINVAL. */
int conf_error(struct conf *c, int node, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Same, the message being "KEY: \"VALUE\" " followed by fmt, the scalar
 * quoted with non-printable bytes escaped and long values cut short. */
int conf_bad_value(struct conf *c, int node, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* The value of a scalar node as conf_bad_value() quotes it (without the
 * quotes); "" for any other node. */
#define CONF_QUOTE_SIZE 264
void conf_quote(const struct conf *c, int node, char buf[CONF_QUOTE_SIZE]);

#endif
