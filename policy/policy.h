/* The egress policy: who may reach what, from one YAML file.
 *
 * Parsed and validated against the clients and the gateway's addresses the
 * caller gives (struct policy_env), compiled into the nft text of the policy's
 * part of table inet egress, and evaluated flow by flow: which rule decides,
 * and why each earlier one did not. Pure: no sockets, no kernel, no daemon
 * code; nothing is read but the file named to policy_load(). */
#ifndef EGRESS_POLICY_H
#define EGRESS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel/prefix.h"

struct policy;

#define POLICY_NAME_MAX 64 /* a rule's name; groups and clients: 31 */

/* A client as gateway.yaml names it. */
struct policy_client {
	const char *name;           /* [A-Za-z0-9_.-], 1..31 characters */
	uint32_t mark;              /* the ct mark gatewayd gives its flows (nft_client_mark) */
	const struct prefix *addrs; /* its tunnel addresses (the full length) */
	size_t n_addrs;
};

/* What the policy is checked and compiled against; copied by the parser, so
 * the caller's arrays need not outlive the call. */
struct policy_env {
	const struct policy_client *clients;
	size_t n_clients;
	/* The gateway's own addresses on the TUN, with the tunnel subnets'
	 * lengths: part of `gateway`, the target of the built-in ICMP echo, and
	 * networks `internet` leaves out. Known offline, from gateway.yaml. */
	const struct prefix *tunnel;
	size_t n_tunnel;
	/* The addresses on the gateway's other interfaces, with their lengths:
	 * the rest of `gateway`, and networks `internet` leaves out. Only a
	 * running gatewayd knows them; offline, ifaddrs_known is false and every
	 * verdict says it was reached without them. */
	const struct prefix *ifaddrs;
	size_t n_ifaddrs;
	bool ifaddrs_known;
};

/* Parsing. Each returns 0 and a new *out (policy_free), or -EINVAL with one
 * line in err, "FILE:LINE:COL: MESSAGE" quoting the bad value; -ENOMEM;
 * policy_load() also -errno when the file cannot be read. name stands for the
 * file in messages. A policy whose tests: fail still parses: see
 * policy_run_tests(). */
int policy_parse(struct policy **out, const char *name, const char *buf, size_t len,
                 const struct policy_env *env, char *err, size_t errlen);
int policy_load(struct policy **out, const char *path, const struct policy_env *env, char *err,
                size_t errlen);
/* The policy in force without a policy file: `internet` and DNS to the
 * gateway for every client, the rest denied. Its YAML is policy_builtin_text(). */
int policy_builtin(struct policy **out, const struct policy_env *env);
const char *policy_builtin_text(void);
void policy_free(struct policy *p);

/* Warnings, "FILE:LINE:COL: warning: ..." each: rules that can never match
 * because earlier ones decide all their traffic, limits that reach no client.
 * The caller prints them, or refuses the policy (--strict). */
size_t policy_warning_count(const struct policy *p);
const char *policy_warning(const struct policy *p, size_t i);
/* False when `internet` and `gateway` were evaluated without the gateway's
 * interface addresses (env.ifaddrs_known was false). */
bool policy_ifaddrs_known(const struct policy *p);

/* The rules in file order: their count, and rule i's name (NULL past the
 * end). */
size_t policy_rule_count(const struct policy *p);
const char *policy_rule_name(const struct policy *p, size_t i);
/* Every flow a policy allows carries an id in its conntrack labels, so the
 * rule that let it through is known for as long as the flow lives: bits
 * 0..31 of the labels hold it (bit k is bit k of the id), set on the flow's
 * first packet. An allowing rule's id is a function of its name alone (see
 * policy.c), the same in every policy and every run; POLICY_ID_DEFAULT marks
 * a flow the default allowed, POLICY_ID_NONE (no bit set) one stamped by no
 * policy. policy_rule_id() is POLICY_ID_NONE past the end. */
/* Every refusal of the policy counts in this set of the table, under the
 * refused client's mark (a counter per element; the kernel adds one at a
 * client's first refusal, up to the size). */
#define POLICY_DROPS_SET  "policy_drops"
#define POLICY_DROPS_SIZE "65536"

#define POLICY_ID_NONE       0u
#define POLICY_ID_DEFAULT    1u
#define POLICY_ID_LABEL_BITS 32
uint32_t policy_rule_id(const struct policy *p, size_t i);
/* Whether rule i's from: names client, by its name or through a group (not
 * `any`): the client cannot go while the rule stays. */
bool policy_rule_names(const struct policy *p, size_t i, const char *client);
/* Whether rule i allows (false past the end), and whether the default
 * does: what a rule's counter counts, for the gateway's metrics. */
bool policy_rule_allows(const struct policy *p, size_t i);
bool policy_default_allows(const struct policy *p);
/* The client whose flows carry mark, or NULL. */
const char *policy_client_by_mark(const struct policy *p, uint32_t mark);
/* The clients in the order of their marks: i from 0 to policy_client_count()
 * - 1, the name returned and the mark in *mark. */
size_t policy_client_count(const struct policy *p);
const char *policy_client_at(const struct policy *p, size_t i, uint32_t *mark);

/* A flow to decide: the first packet of a connection. */
struct policy_flow {
	const char *client;
	struct prefix dst; /* an address: len is the full length */
	uint8_t proto;     /* IPPROTO_TCP, _UDP, _ICMP (an echo), _ICMPV6 (an echo); 0: none */
	uint16_t port;     /* TCP and UDP: 1..65535 */
};

/* From the words of `gatewayctl policy test CLIENT DST [PROTO/PORT]` and of a
 * tests: entry: DST an address, port NULL or "tcp/443", "udp/53", "icmp",
 * "icmpv6". 0 or -EINVAL. */
int policy_flow_parse(struct policy_flow *f, const char *client, const char *dst, const char *port);

/* Why a rule did not decide a flow. */
enum policy_miss {
	POLICY_MISS_CLIENT = 1, /* the flow's client is not in from: */
	POLICY_MISS_DEST,       /* the destination is not in to: */
	POLICY_MISS_EXCEPT,     /* ... but in except: */
	POLICY_MISS_PORT,       /* the protocol or port is not in ports: */
	POLICY_MISS_GATEWAY,    /* the destination is the gateway host; to: does not name gateway */
};
const char *policy_miss_str(enum policy_miss why);

enum policy_by {
	POLICY_BY_RULE = 1,     /* a rule of the file */
	POLICY_BY_DEFAULT,      /* default: */
	POLICY_BY_GATEWAY_ECHO, /* the built-in ICMP echo to the gateway's tunnel address */
	POLICY_BY_GATEWAY_DENY, /* the gateway host, which no rule naming gateway opened */
};

struct policy_decision {
	bool allow;
	enum policy_by by;
	size_t rule;      /* the rule's index, when by POLICY_BY_RULE */
	const char *name; /* its name; "default", "gateway-echo" or "gateway" otherwise */
	bool to_gateway;  /* the destination is the gateway host (the input hook) */
	bool ifaddrs_known;
};

/* Decides f as the compiled rules would: first match wins, then the default.
 * explain, if not NULL, is called once for each rule before the deciding one,
 * in order, with the reason it did not match. 0, -ENOENT for a client the
 * policy does not know, -EINVAL for a malformed flow. */
typedef void policy_explain_fn(void *arg, size_t rule, const char *name, enum policy_miss why);
int policy_decide(const struct policy *p, const struct policy_flow *f, struct policy_decision *d,
                  policy_explain_fn *explain, void *arg);

/* The file's tests: block. Calls fail (if not NULL) with one line per failing
 * test, "FILE:LINE:COL: test failed: alice to 169.254.169.254 tcp/80: expected
 * allow, got deny by rule \"no-metadata\"". Returns the number that failed. */
size_t policy_test_count(const struct policy *p);
size_t policy_run_tests(const struct policy *p, void (*fail)(void *arg, const char *msg),
                        void *arg);

/* Compilation, for inside `table inet egress { ... }`, in two parts, each a
 * malloc'd string for the caller (free), 0 or -ENOMEM, -EINVAL (a bad tun):
 *
 * objects: the stateful objects, named counters (one per rule, the defaults
 * and each client's flow limit), limits (bandwidth, per client and direction)
 * and flow-count sets (max_flows). Declaring an object that exists keeps it as
 * it is, so every apply declares them all again; a value that cannot change
 * under an existing object (a rate, a max_flows) is part of its name, so a new
 * value is a new object and the old one is left for the caller to delete.
 *
 * rules: everything else, sets of destinations, verdict maps and chains, among
 * them two base chains of their own, policy_forward (hook forward, priority
 * filter + 10, after the gateway's own forward chain has set the ct mark) and
 * policy_input (hook input). An apply deletes the previous policy's
 * (policy_render_delete) and declares these in the same transaction. tun is
 * the TUN device's name. */
int policy_render_objects(const struct policy *p, char **text);
int policy_render_rules(const struct policy *p, const char *tun, char **text);
/* "delete ..." commands for what policy_render_rules() declared, in an order
 * the kernel accepts in one transaction. */
int policy_render_delete(const struct policy *p, char **text);
/* "delete ..." commands for the objects of old that now has not. */
int policy_render_stale(const struct policy *old, const struct policy *now, char **text);
/* The one transaction that replaces old by now in a table that holds old:
 * now's objects (those old had too are kept as they are), old's rules out,
 * now's in, the objects only old had out. */
int policy_render_replace(const struct policy *old, const struct policy *now, const char *tun,
                          char **text);

/* What applying now over old would change, one line each, in this order:
 *   default: deny -> allow
 *   then now's rules in order, each either
 *   + rule "NAME" (allow, position N)          only in now; N counts from 1
 *   or, for a rule of the same name in both, one line per aspect that differs:
 *   ~ rule "NAME": action deny -> allow
 *   ~ rule "NAME": from changed                (also to, except, ports)
 *   ~ rule "NAME": moved from position A to B  (its index among the rules both
 *                                               have differs; A in old, B in now)
 *   then the rules only in old, in old's order:
 *   - rule "NAME"
 *   then the limit each client takes, clients in now's order, then those only
 *   in old:
 *   + limit for CLIENT: bandwidth 50mbit, max_flows 500   (the parts it has)
 *   - limit for CLIENT
 *   ~ limit for CLIENT: bandwidth 50mbit -> none          (and/or max_flows)
 * Compares what the rules and limits mean, not how they are written: clients
 * by name, destinations and ports as the sets they cover, bandwidth in bytes.
 * The tests: block is not compared. 0 (and *n 0 when nothing changes) or
 * -ENOMEM; *lines, each line and the array, is the caller's: policy_diff_free(). */
int policy_diff(const struct policy *old, const struct policy *now, char ***lines, size_t *n);
void policy_diff_free(char **lines, size_t n);

#endif
