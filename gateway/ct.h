/* The conntrack entries of the gateway's namespace: found by ct mark, chosen
 * by the caller, deleted. For `gatewayctl policy apply --kill-denied`: the
 * flows a new policy denies were accepted under the old one and would go on
 * as established; deleting their entries makes their next packet a new flow,
 * which the new policy decides. Also listed (`gatewayctl flows`), and
 * followed as they come and go (ctnetlink's events, for the flow log). */
#ifndef EGRESS_GATEWAY_CT_H
#define EGRESS_GATEWAY_CT_H

#include <stdbool.h>
#include <stddef.h>
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

/* "tcp", "udp", "icmp" or "icmpv6"; NULL for another protocol number. */
const char *ct_proto_name(uint8_t proto);

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
	uint64_t stop_ns;                /* the same, of its end: DESTROY events only, else 0 */
	uint32_t id;                     /* conntrack's id of the entry (0: none given) */
	/* ct label bits 0..31: the id of the policy rule that allowed the
	 * flow, bit i of the label being bit i of the id; 0: no stamp. The
	 * kernel sends labels in dumps and in the NEW event of a flow stamped
	 * before it was confirmed, never in DESTROY events. */
	uint32_t rule_id;
};

/* Calls fn for each entry, IPv4 and IPv6, whose mark & mask == tag (the
 * kernel filters the dump by mark). fn returns 0 to go on, or a negative
 * errno that stops the walk and is returned. e is valid during the call.
 * 0, or -errno as ct_kill() has them. */
typedef int ct_list_fn(void *arg, const struct ct_entry *e);
int ct_list(uint32_t tag, uint32_t mask, ct_list_fn *fn, void *arg);

/* ---- events */

enum ct_event {
	CT_EVENT_NEW = 1, /* a new entry, confirmed */
	CT_EVENT_UPDATE,  /* a change to one (not subscribed to by ct_events_open) */
	CT_EVENT_DESTROY, /* an entry gone, with its last counters and its end */
};

/* A socket that receives conntrack's NEW and DESTROY events of the calling
 * thread's network namespace, non-blocking. Reliable: NETLINK_BROADCAST_ERROR
 * is on (and NETLINK_NO_ENOBUFS off), so a DESTROY event that finds the
 * socket full keeps its entry on the kernel's dying list until it is
 * delivered, and an overrun is reported as ENOBUFS by ct_events_read(). Its
 * receive buffer is rcvbuf bytes (SO_RCVBUFFORCE, or SO_RCVBUF without the
 * capability for it). The kernel drops the events of entries whose mark &
 * mask != tag before they are queued (a BPF filter); *filtered says whether
 * it could be attached (ct_events_parse() checks again either way). The fd,
 * or -errno: -EPERM without CAP_NET_ADMIN, another from socket() or bind(). */
int ct_events_open(uint32_t tag, uint32_t mask, int rcvbuf, bool *filtered);
/* One message from the socket into buf: its length (> 0); 0 for one that
 * did not come from the kernel (ignored); -EAGAIN when none is waiting;
 * -ENOBUFS when events were lost since the last read (the socket goes on);
 * another -errno from recvfrom(). */
int ct_events_read(int fd, void *buf, size_t len);

/* Called for each conntrack entry of a message; e is valid during the call.
 * 0 to go on, or a negative errno that stops the walk and is returned. */
typedef int ct_event_fn(void *arg, enum ct_event type, const struct ct_entry *e);
/* Decodes what ct_events_read() gave (outside input: every length is
 * checked): each ctnetlink entry message whose mark & mask == tag, IPv4 or
 * IPv6, goes to fn; messages of other kinds are skipped. The number of
 * entries given to fn (>= 0); -EBADMSG at the first message whose length,
 * header or attributes are malformed (those before it were given); -ENOMEM;
 * or what fn returned. */
int ct_events_parse(const void *buf, size_t len, uint32_t tag, uint32_t mask, ct_event_fn *fn,
                    void *arg);

#endif
