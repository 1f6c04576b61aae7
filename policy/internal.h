/* Inside policy/: the parsed and compiled form that parse.c builds and
 * eval.c, reach.c and render.c read. */
#ifndef EGRESS_POLICY_INTERNAL_H
#define EGRESS_POLICY_INTERNAL_H

#include "policy/policy.h"
#include "policy/ranges.h"

#define CLIENT_NAME_MAX 31

struct pclient {
	char name[CLIENT_NAME_MAX + 1];
	uint32_t mark;
	struct prefix *addrs;
	size_t n_addrs;
	int limit; /* index into policy->limits, -1: none */
};

/* Family index of the per-family arrays: 0 IPv4, 1 IPv6. */
#define F4        0
#define F6        1
#define fam_of(i) ((i) == F4 ? AF_INET : AF_INET6)

struct prule {
	char name[POLICY_NAME_MAX + 1];
	unsigned line, col; /* of its name, for warnings */
	uint32_t id;        /* policy.c: stamped on the flows it allows */
	bool allow;
	bool *from; /* one per client */
	bool from_any;
	bool to_gateway;
	struct ranges to[2];     /* forwarded destinations, normalized */
	struct ranges except[2]; /* normalized */
	bool all_ports;          /* no ports: every protocol */
	struct ranges ports;     /* the PS_* space; all of it when all_ports */
};

struct plimit {
	unsigned line, col;
	uint64_t bytes;     /* per second, each direction; 0: no bandwidth limit */
	char rate[24];      /* as written: 50mbit */
	uint32_t max_flows; /* 0: none */
};

struct ptest {
	unsigned line, col;
	struct policy_flow flow; /* flow.client points into clients[] */
	char dst[64], port[24];  /* as written, for messages */
	bool expect_allow;
};

struct policy {
	char *name; /* the file, in messages */
	struct pclient *clients;
	size_t n_clients;
	struct prefix *tunnel, *ifaddrs;
	size_t n_tunnel, n_ifaddrs;
	bool ifaddrs_known;

	bool default_allow;
	struct prule *rules;
	size_t n_rules;
	/* render.c's runs: for each rule, the length of the run that starts
	 * there, 0 for none; SIZE_MAX for a rule inside a run. */
	size_t *run;
	/* chains.c: for each client, the chains of its rules, CHAIN_ANY or
	 * CHAIN_OWN or the index of a shared pair; each shared pair's first
	 * client, whose rules it holds. */
	int *chain_of;
	size_t *chain_first;
	size_t n_chains;
	size_t *by_mark; /* policy.c: the clients' indexes, sorted by mark */
	size_t *by_name; /* and sorted by name */
	struct plimit *limits;
	size_t n_limits;
	struct ptest *tests;
	size_t n_tests;

	struct ranges internet[2]; /* what `internet` is under this env */
	char **warnings;
	size_t n_warnings;
};

struct conf;

/* parse.c: the document into p, whose env is already copied. */
int policy_parse_conf(struct policy *p, struct conf *c);
/* policy.c */
int policy_warn(struct policy *p, unsigned line, unsigned col, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
int policy_copy_env(struct policy *p, const struct policy_env *env);
/* -1 when name is no client of p */
int policy_client_index(const struct policy *p, const char *name);
/* render.c: p->run. 0 or -ENOMEM. */
int policy_find_runs(struct policy *p);
/* chains.c: p->chain_of, chain_first and n_chains. 0 or -ENOMEM. */
#define CHAIN_ANY (-1) /* policy_fwd_any and policy_in_any */
#define CHAIN_OWN (-2) /* fwd_NAME and in_NAME: a max_flows check */
int policy_find_chains(struct policy *p);
/* reach.c: the unreachable-rule and unused-limit warnings. */
int policy_check_reach(struct policy *p);
/* parse.c: the port word "tcp/443" into one flow's proto and port. */
int policy_port_word(const char *s, uint8_t *proto, uint16_t *port);

#endif
