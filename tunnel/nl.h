/* rtnetlink for the tunnel's own interface: link MTU and state, addresses,
 * routes and FIB rules (the wg-quick recipe), and dumps of them so a daemon
 * can put back on exit exactly what it found.
 *
 * Each operation is one request with NLM_F_ACK; the kernel's error comes back
 * as -errno. Messages are built and parsed by separate pure functions
 * (nl_*_build / nl_*_parse) that need no socket and no privilege; the caller
 * owns the buffers. A struct nl is one blocking NETLINK_ROUTE socket, not
 * thread-safe. */
#ifndef EGRESS_NL_H
#define EGRESS_NL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/prefix.h"

struct nl;
struct nlmsghdr;

/* Enough for any message nl_*_build() makes. Buffers must be 4-byte aligned. */
#define NL_MSG_SIZE 512

/* An interface address (RTM_NEWADDR/RTM_DELADDR). */
struct nl_addr {
	/* AF_INET or AF_INET6; the address, sent as IFA_LOCAL and IFA_ADDRESS
	 * (no peer), with its host bits; len is ifa_prefixlen */
	struct prefix addr;
	uint32_t ifindex;
	uint32_t flags; /* IFA_F_*; the build adds IFA_F_NODAD for IPv6 */
};

/* A route (RTM_NEWROUTE/RTM_DELROUTE). A gateway/prefsrc of family 0
 * (AF_UNSPEC), oif 0 and priority 0 mean "absent". Multipath routes parse
 * without their nexthops. */
struct nl_route {
	/* AF_INET or AF_INET6, the route's family; len is rtm_dst_len, and the
	 * address (RTA_DST) is sent only when len is not 0 */
	struct prefix dst;
	uint8_t protocol;      /* RTPROT_*; RTPROT_BOOT is what `ip route add` uses */
	uint8_t scope;         /* RT_SCOPE_*; RT_SCOPE_LINK for an IPv4 route with no gateway */
	uint8_t type;          /* RTN_*; 0 is sent as RTN_UNICAST */
	uint32_t table;        /* RT_TABLE_MAIN or any id up to 2^32-1 */
	uint32_t oif;          /* ifindex */
	uint32_t priority;     /* metric */
	struct prefix gateway; /* of dst's family, its len unused; parsed at the full length */
	struct prefix prefsrc; /* the same */
};

/* A FIB rule (RTM_NEWRULE/RTM_DELRULE), the selectors `ip rule` has for
 * wg-quick's recipe. Selectors not listed here (from/to, iif/oif, ...) are
 * neither sent nor parsed. */
struct nl_rule {
	uint8_t family;    /* AF_INET or AF_INET6 */
	uint8_t action;    /* FR_ACT_*; 0 is sent as FR_ACT_TO_TBL */
	uint8_t protocol;  /* RTPROT_*; who added the rule, 0 = unspecified */
	bool invert;       /* FIB_RULE_INVERT: "not fwmark ..." */
	uint32_t priority; /* 0 on add lets the kernel pick; the kernel's rule 0 parses as 0 */
	uint32_t table;
	uint32_t fwmark;
	uint32_t fwmask;            /* 0 = no fwmark selector; 0xffffffff = the exact mark */
	int32_t suppress_prefixlen; /* -1 = none; 0 = "suppress_prefixlength 0" */
};

/* Opens and binds a NETLINK_ROUTE socket (close-on-exec). Returns NULL with
 * errno set on failure. */
struct nl *nl_open(void);
/* Closes the socket and frees @nl; NULL is accepted. */
void nl_close(struct nl *nl);

/* Returns the ifindex (> 0) of interface @name, or -errno (-ENODEV if none). */
int nl_link_index(const char *name);
/* Sets the MTU of @ifindex. Returns 0 or -errno. */
int nl_link_set_mtu(struct nl *nl, uint32_t ifindex, uint32_t mtu);
/* Sets @ifindex administratively up or down. Returns 0 or -errno. */
int nl_link_set_up(struct nl *nl, uint32_t ifindex, bool up);

/* Add fails with -EEXIST if the object is there already; delete fails with
 * -ESRCH (routes, -ENOENT for rules, -EADDRNOTAVAIL for addresses) if not.
 * -EINVAL if the struct is malformed (family, prefix length, mask).
 * Rules, as the kernel treats them: added with priority 0, each add gets a
 * fresh priority, so the same rule added twice is two rules (no -EEXIST);
 * deleted with priority 0, the kernel removes the first rule matching the
 * given selectors and ignores invert, so "not fwmark X" can remove a
 * "fwmark X" rule. Delete by the priority a dump reports. */
int nl_addr_add(struct nl *nl, const struct nl_addr *a);
int nl_addr_del(struct nl *nl, const struct nl_addr *a);
int nl_route_add(struct nl *nl, const struct nl_route *r);
int nl_route_del(struct nl *nl, const struct nl_route *r);
int nl_rule_add(struct nl *nl, const struct nl_rule *r);
int nl_rule_del(struct nl *nl, const struct nl_rule *r);

/* Dumps call @cb once per object of @family (AF_INET, AF_INET6, or AF_UNSPEC
 * for both), in the kernel's order, every table for routes. A negative
 * return of @cb stops the calls (the rest of the dump is still drained) and
 * becomes the dump's return. Returns 0, the callback's error, -EINTR if the
 * kernel flagged the dump inconsistent (it changed meanwhile: retry), or
 * -errno. */
typedef int (*nl_addr_cb)(const struct nl_addr *a, void *arg);
typedef int (*nl_route_cb)(const struct nl_route *r, void *arg);
typedef int (*nl_rule_cb)(const struct nl_rule *r, void *arg);
int nl_addr_dump(struct nl *nl, int family, nl_addr_cb cb, void *arg);
int nl_route_dump(struct nl *nl, int family, nl_route_cb cb, void *arg);
int nl_rule_dump(struct nl *nl, int family, nl_rule_cb cb, void *arg);

/* Build a request of @type (RTM_NEW* with NLM_F_CREATE|NLM_F_EXCL, or
 * RTM_DEL*) into @buf of @size bytes, with NLM_F_REQUEST|NLM_F_ACK and
 * sequence 0 (the sender sets it). Return the message, or NULL with errno
 * EINVAL (bad type or struct) or EMSGSIZE (@size too small). */
struct nlmsghdr *nl_addr_build(void *buf, size_t size, uint16_t type, const struct nl_addr *a);
struct nlmsghdr *nl_route_build(void *buf, size_t size, uint16_t type, const struct nl_route *r);
struct nlmsghdr *nl_rule_build(void *buf, size_t size, uint16_t type, const struct nl_rule *r);

/* Parse an RTM_NEW* or RTM_DEL* message whose nlmsg_len bytes are readable
 * (as mnl_cb_run() guarantees). Every attribute read is validated first;
 * unknown attributes are skipped. Return 0, -EINVAL for a malformed message
 * (wrong type, short header, an attribute overrunning the message, an
 * attribute of the wrong size, a prefix length too long for the family),
 * or -EAFNOSUPPORT for a family other than AF_INET/AF_INET6 (dumps skip
 * those); @out is then unspecified. */
int nl_addr_parse(const struct nlmsghdr *nlh, struct nl_addr *out);
int nl_route_parse(const struct nlmsghdr *nlh, struct nl_route *out);
int nl_rule_parse(const struct nlmsghdr *nlh, struct nl_rule *out);

#endif
