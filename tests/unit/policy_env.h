/* The gateway the policy tests check against: three clients, alice and carol
 * with IPv6 too, the tunnel's addresses, and an uplink in 198.51.100.0/24 and
 * 2001:db8:100::/64 that only a running gatewayd would know (online()). */
#ifndef EGRESS_TEST_POLICY_ENV_H
#define EGRESS_TEST_POLICY_ENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "policy/policy.h"

static inline struct prefix env_prefix(const char *s)
{
	struct prefix p;

	memset(&p, 0, sizeof(p));
	if (prefix_parse(&p, s, AF_UNSPEC) < 0) {
		fprintf(stderr, "policy_env.h: bad prefix %s\n", s);
		abort();
	}
	return p;
}

static struct prefix env_alice[2], env_bob[1], env_carol[2], env_tunnel[2], env_ifaddrs[2];
static struct policy_client env_clients[3];

/* Offline: what `gatewayctl policy check --config gateway.yaml` knows. */
static inline struct policy_env offline(void)
{
	struct policy_env e;

	env_alice[0] = env_prefix("100.64.0.2");
	env_alice[1] = env_prefix("fd00:6567::2");
	env_bob[0] = env_prefix("100.64.0.3");
	env_carol[0] = env_prefix("100.64.0.4");
	env_carol[1] = env_prefix("fd00:6567::4");
	env_tunnel[0] = env_prefix("100.64.0.1/24");
	env_tunnel[1] = env_prefix("fd00:6567::1/64");
	env_ifaddrs[0] = env_prefix("198.51.100.1/24");
	env_ifaddrs[1] = env_prefix("2001:db8:100::1/64");
	env_clients[0] = (struct policy_client){"alice", 0x45670002, env_alice, 2};
	env_clients[1] = (struct policy_client){"bob", 0x45670003, env_bob, 1};
	env_clients[2] = (struct policy_client){"carol", 0x45670004, env_carol, 2};
	memset(&e, 0, sizeof(e));
	e.clients = env_clients;
	e.n_clients = 3;
	e.tunnel = env_tunnel;
	e.n_tunnel = 2;
	return e;
}

/* The running daemon's view: its uplink's addresses too. */
static inline struct policy_env online(void)
{
	struct policy_env e = offline();

	e.ifaddrs = env_ifaddrs;
	e.n_ifaddrs = 2;
	e.ifaddrs_known = true;
	return e;
}

static inline char *read_data(const char *name)
{
	return check_read_data(name);
}

#endif
