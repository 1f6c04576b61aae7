/* The conntrack entries of the gateway's namespace: found by ct mark, chosen
 * by the caller, deleted. For `gatewayctl policy apply --kill-denied`: the
 * flows a new policy denies were accepted under the old one and would go on
 * as established; deleting their entries makes their next packet a new flow,
 * which the new policy decides. */
#ifndef EGRESS_GATEWAY_CT_H
#define EGRESS_GATEWAY_CT_H

#include <stdbool.h>
#include <stdint.h>

#include "tunnel/prefix.h"

/* A conntrack entry as its original direction saw it (before NAT). */
struct ct_flow {
	uint32_t mark;
	uint8_t proto;          /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, or any other layer 4 number */
	struct prefix src, dst; /* addresses: len is the full length */
	uint16_t sport, dport;  /* host byte order; 0 for a protocol without ports (ICMP) */
	const char *state;      /* TCP: "ESTABLISHED", "TIME_WAIT", ...; otherwise
	                         * "UNREPLIED", "REPLIED" or "ASSURED" */
};

/* Whether to delete the entry f describes. Called once per entry, before any
 * is deleted; f is only valid during the call. */
typedef bool ct_select_fn(void *arg, const struct ct_flow *f);

/* Deletes every conntrack entry, IPv4 and IPv6, of the calling thread's
 * network namespace whose mark & mask == tag (the kernel filters the dump by
 * mark, so other entries are never even read) and for which select returns
 * true. The entries are deleted by tuple after the whole dump: one that
 * vanished meanwhile is neither an error nor counted; one that a new entry
 * of the same tuple replaced meanwhile is deleted and counted (for
 * --kill-denied, the same flow to the same denied destination). Returns the
 * number deleted (>= 0), or -errno: -EPERM without CAP_NET_ADMIN, -ENOMEM,
 * another from opening ctnetlink or from the kernel. On an error during the
 * deletes, those done stay done. */
int ct_kill(uint32_t tag, uint32_t mask, ct_select_fn *select, void *arg);

/* One entry as `gatewayctl flows` shows it. */
struct ct_entry {
	struct ct_flow flow;             /* the original direction: the client's */
	struct prefix nat_src;           /* the source after NAT: the reply's destination */
	uint16_t nat_sport;              /* 0 without ports */
	const char *state;               /* TCP: "ESTABLISHED", "TIME_WAIT", ...; otherwise
	                                  * "UNREPLIED", "REPLIED" or "ASSURED" */
	uint64_t packets_out, bytes_out; /* the original direction, at the IP layer */
	uint64_t packets_in, bytes_in;   /* 0 without nf_conntrack_acct */
	uint64_t start_ns;               /* CLOCK_REALTIME; 0 without nf_conntrack_timestamp */
};

/* Calls fn for each entry, IPv4 and IPv6, whose mark & mask == tag (the
 * kernel filters the dump by mark). fn returns 0 to go on, or a negative
 * errno that stops the walk and is returned. e is valid during the call.
 * 0, or -errno as ct_kill() has them. */
typedef int ct_list_fn(void *arg, const struct ct_entry *e);
int ct_list(uint32_t tag, uint32_t mask, ct_list_fn *fn, void *arg);

#endif
