/* The policy in force: table inet egress as a whole (the gateway's own
 * chains from gateway.yaml, and the policy compiled by policy/), installed at
 * start in one transaction, replaced by an apply in another that keeps the
 * policy's stateful objects, and the policy file that a restart reads again.
 *
 * Also what gatewayctl needs without a daemon: the policy_env of a
 * configuration, and a candidate policy parsed and tested against it. */
#ifndef EGRESS_GATEWAY_ENFORCE_H
#define EGRESS_GATEWAY_ENFORCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct enforce;
struct ct_flow;
struct enforce_env;
struct gw_config;
struct nft_owner;
struct policy;
struct policy_decision;
struct policy_env;

/* The largest policy file taken, from disk or over the control socket. */
#define ENFORCE_FILE_MAX (16u * 1024 * 1024)

/* What a policy of cfg is checked and compiled against: its clients and
 * tunnel addresses, and with ifaddrs the addresses on this host's other
 * interfaces now (getifaddrs). 0 or -errno; the env holds copies of what it
 * needs, so cfg may go first. */
int enforce_env_new(struct enforce_env **out, const struct gw_config *cfg, bool ifaddrs);
const struct policy_env *enforce_env_get(const struct enforce_env *e);
void enforce_env_free(struct enforce_env *e);

/* A candidate policy: buf parsed against env, its tests: run, and with strict
 * its warnings made errors. 0 with *out (policy_free); -EINVAL with *msg
 * saying why: one line per problem, "FILE:LINE:COL: ..."; -ENOMEM. *msg is
 * malloc'd (free), NULL when there is nothing to say. */
int enforce_parse(const struct policy_env *env, const char *name, const char *buf, size_t len,
                  bool strict, struct policy **out, char **msg);

/* Reads path whole (at most ENFORCE_FILE_MAX bytes): 0 with *buf (malloc'd,
 * NUL-terminated) and *len, or -errno: -ENOENT, -EFBIG, -EISDIR, ... */
int enforce_read_file(const char *path, char **buf, size_t *len);

/* Start: cfg->policy_file, or the built-in policy when that file does not
 * exist, installed with the gateway's chains in one transaction that creates
 * the table (nft_apply). 0, or -errno with *msg (malloc'd) saying why: an
 * invalid policy (file:line:col), a failing test, the kernel's refusal;
 * -EPERM and -EOPNOTSUPP as nft_apply() has them. cfg and nft are the
 * caller's and must outlive the enforce. */
int enforce_start(struct enforce **out, const struct gw_config *cfg, struct nft_owner *nft,
                  char **msg);
/* What start would load, checked without the kernel (gatewayd -n): 0 with
 * *builtin telling whether that is the built-in policy, and warnings in
 * *msg; or -errno with *msg saying why. */
int enforce_check_file(const struct gw_config *cfg, bool *builtin, char **msg);
/* Accepts NULL. Leaves the table as it is: it goes with the nft owner. */
void enforce_free(struct enforce *e);

/* An apply, in two halves: the slow one for a worker thread, which only
 * reads e, and the quick one for the loop's thread, which records the
 * result in e. Between the two the kernel has the new policy and e still
 * the old; the next change must not be prepared before the last one is
 * committed (tunnel/worker.h runs them in that order).
 *
 * enforce_apply_prepare: name and buf as a policy file of that name, parsed
 * against the daemon's view now and tested, replace the policy in force in
 * one transaction that keeps counters, limits and flow counts, then become
 * policy_file (written to a temporary file first and renamed into place
 * after the kernel took it, the file before kept as policy_file.prev). With
 * kill_denied, the conntrack entries of the clients' flows the new policy
 * denies are deleted, *killed says how many (-1: not asked, or failed).
 * Nothing changes unless all of it works: 0 with *out, or -errno with *msg
 * (an invalid policy, a failing test, the kernel's refusal, a policy file
 * that cannot be written). After 0, *msg may hold warnings, one per line. */
struct enforce_change;
int enforce_apply_prepare(const struct enforce *e, const char *name, const char *buf, size_t len,
                          bool kill_denied, struct enforce_change **out, long *killed, char **msg);
/* SIGHUP: policy_file read again (a missing file: the built-in policy) and
 * put in the kernel the same way, all or nothing; the file stays as it is. */
int enforce_reload_prepare(const struct enforce *e, struct enforce_change **out, char **msg);
/* The change becomes the policy in force in e; takes c. */
/* A new client list (SIGHUP, client add or remove): cfg's clients in the
 * kernel in place of e's, with the policy in force (reread: policy_file,
 * read again) compiled against them, in one transaction. Refused, with the
 * policy's message, when the policy names a client cfg does not have. cfg
 * must differ from e's configuration in its clients only, and become it
 * (its clients moved into it) before enforce_commit(). delta says which
 * clients go and which come (a changed one in both), the ones whose map
 * elements change: at 60,000 clients comparing the lists would cost more
 * than the rest of the change. */
struct enforce_delta {
	const struct gw_client *const *gone, *const *added;
	size_t n_gone, n_added;
};
int enforce_clients_prepare(const struct enforce *e, const struct gw_config *cfg, bool reread,
                            const struct enforce_delta *delta, struct enforce_change **out,
                            char **msg);
void enforce_commit(struct enforce *e, struct enforce_change *c);
/* Accepts NULL: a change that will not be committed (the daemon stops). */
void enforce_change_free(struct enforce_change *c);

/* How p decides a conntrack entry's flow (struct ct_flow, gateway/ct.h), as
 * its rules saw the first packet: false when the mark is no client's of p
 * (*client NULL) or the flow cannot be decided; true with *client and *d. */
bool enforce_decide_ct(const struct policy *p, const struct ct_flow *f, const char **client,
                       struct policy_decision *d);

/* The policy in force, for show, test and stats. */
const struct policy *enforce_policy(const struct enforce *e);
const char *enforce_yaml(const struct enforce *e); /* the file's text, or the built-in's */
bool enforce_builtin(const struct enforce *e);
const char *enforce_source(const struct enforce *e); /* the file it came from, or "built-in" */
time_t enforce_applied(const struct enforce *e);     /* when it was put in force */
/* The whole table's text as gatewayd has it, with the clients and the
 * policy in force, rendered now (tens of ms at 60,000 clients, so not on
 * every change): 0 with *text (free), or -ENOMEM. */
int enforce_table_text(const struct enforce *e, char **text);
/* The nft owner, for reading the table (counters). */
struct nft_owner *enforce_nft(const struct enforce *e);

/* The name of the rule whose id (policy.h) a flow's labels carry: of any
 * policy put in force by this gatewayd, "default" for POLICY_ID_DEFAULT.
 * 0, or -ENOENT for an id no such policy had (a flow from before this
 * gatewayd started, under a rule renamed or removed since). Safe from any
 * thread. */
int enforce_rule_name(struct enforce *e, uint32_t id, char *buf, size_t len);

/* The name of the client whose flows carry mark: of any policy put in
 * force by this gatewayd (a client removed since keeps its name, until a
 * new one takes its mark). 0, or -ENOENT. Safe from any thread. */
int enforce_client_name(struct enforce *e, uint32_t mark, char *buf, size_t len);

#endif
