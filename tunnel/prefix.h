/* An IPv4 or IPv6 prefix: a family, an address and a length. An address alone
 * is a prefix of the full length (32 or 128). Pure: no system state, no
 * allocation, so policy/ and the daemons share the one type. */
#ifndef EGRESS_PREFIX_H
#define EGRESS_PREFIX_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prefix {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16]; /* network byte order; the first 4 for IPv4 */
	};
	unsigned len; /* 0..32 or 0..128 */
};

/* "ADDRESS/LEN" at its longest, with the NUL. */
#define PREFIX_STRLEN (INET6_ADDRSTRLEN + 4)

/* 32 for AF_INET, 128 for AF_INET6, 0 for anything else. */
unsigned prefix_max_len(int family);

/* Parses "ADDRESS" (the full length) or "ADDRESS/LEN" of family (AF_UNSPEC:
 * either). LEN is plain decimal, no sign, no leading zero. Host bits beyond
 * LEN are kept as written (an interface address): see prefix_is_network().
 * 0, or -EINVAL with *out untouched. */
int prefix_parse(struct prefix *out, const char *s, int family);

/* A prefix of family at its full length from 4 or 16 bytes. */
struct prefix prefix_from_bytes(int family, const void *addr);

/* Clears the host bits: 10.1.2.3/8 becomes 10.0.0.0/8. */
void prefix_mask(struct prefix *p);
/* True when no bit beyond len is set. */
bool prefix_is_network(const struct prefix *p);
/* True when inner lies inside outer: the same family, inner->len >= outer->len,
 * and their first outer->len bits equal (outer's host bits are ignored). */
bool prefix_contains(const struct prefix *outer, const struct prefix *inner);
/* Total order: family (IPv4 first), then address, then length. */
int prefix_cmp(const struct prefix *a, const struct prefix *b);

/* "ADDRESS/LEN" into buf (PREFIX_STRLEN bytes suffice); returns buf. An
 * unknown family gives "?". */
char *prefix_format(const struct prefix *p, char *buf, size_t size);
/* Only "ADDRESS", whatever the length. */
char *prefix_format_addr(const struct prefix *p, char *buf, size_t size);

#endif
