/* Inside policy/: sets of 128-bit numbers as sorted lists of closed ranges.
 * Addresses (IPv4 in the low 32 bits), and the protocol/port space a rule's
 * ports: cover. Also the regions the unreachable-rule check keeps: address
 * ranges each carrying the port space earlier rules cover there. */
#ifndef EGRESS_POLICY_RANGES_H
#define EGRESS_POLICY_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/prefix.h"

struct u128 {
	uint64_t hi, lo;
};

struct range {
	struct u128 lo, hi; /* inclusive */
};

/* After ranges_normalize(): sorted, no two overlapping or adjacent. */
struct ranges {
	struct range *v;
	size_t n, cap;
};

/* The protocol/port space, one number per (protocol, port). */
#define PS_TCP    0u      /* + port, 0..65535 */
#define PS_UDP    65536u  /* + port */
#define PS_ICMP   131072u /* an ICMP echo */
#define PS_ICMPV6 131073u
#define PS_OTHER  131074u /* any other protocol */
#define PS_MAX    PS_OTHER

int u128_cmp(struct u128 a, struct u128 b);
struct u128 u128_of(uint64_t lo);
/* The largest address of family: 2^32 - 1 or 2^128 - 1. */
struct u128 u128_max(int family);
/* The address of p (host bits included) and back. */
struct u128 u128_from_prefix(const struct prefix *p);
struct prefix u128_to_addr(int family, struct u128 a);

void ranges_init(struct ranges *r);
void ranges_free(struct ranges *r);
/* Appends [lo, hi] (lo <= hi); the list needs ranges_normalize() after. */
int ranges_add(struct ranges *r, struct u128 lo, struct u128 hi);
int ranges_add_prefix(struct ranges *r, const struct prefix *p);
/* Sorts and merges overlapping and adjacent ranges. */
void ranges_normalize(struct ranges *r);
int ranges_copy(struct ranges *dst, const struct ranges *src);
/* out = a minus b; both normalized, out normalized. out must differ from both. */
int ranges_subtract(struct ranges *out, const struct ranges *a, const struct ranges *b);
/* Whether some number of r lies in [lo, hi]. */
bool ranges_overlap(const struct ranges *r, struct u128 lo, struct u128 hi);
bool ranges_has(const struct ranges *r, struct u128 x);
/* Whether every number of a is in b (both normalized). */
bool ranges_within(const struct ranges *a, const struct ranges *b);
bool ranges_equal(const struct ranges *a, const struct ranges *b);
/* Whether [lo, hi] is one prefix of family; *len is then its length. */
bool range_is_prefix(int family, struct u128 lo, struct u128 hi, unsigned *len);

/* An address axis: pieces of addresses, each with the ports covered there. */
struct region_piece {
	struct u128 lo, hi;
	struct ranges ports;
};
struct region {
	struct region_piece *v;
	size_t n, cap;
};

void region_init(struct region *r);
void region_free(struct region *r);
/* Whether every (address in addrs, port in ports) is covered. */
bool region_covers(const struct region *r, const struct ranges *addrs, const struct ranges *ports);
/* Covers addrs x ports as well. 0 or -ENOMEM. */
int region_add(struct region *r, const struct ranges *addrs, const struct ranges *ports);

#endif
