/* libFuzzer target for policy files: any input is parsed against a fixed
 * gateway (three clients, an uplink), and must give a policy or one error
 * line, never a crash or a leak. What parses is also compiled (every
 * renderer), its tests: run, and flows decided, some at addresses the input
 * names, so the evaluator walks the same rules and sets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct prefix P(const char *s) {
	struct prefix p;

	memset(&p, 0, sizeof(p));
	if (prefix_parse(&p, s, AF_UNSPEC) < 0)
		abort();
	return p;
}

/* The message of a failed parse is one terminated line. */
static void
check_err(const char *err, size_t size)
{
	if (!memchr(err, '\0', size) || strchr(err, '\n'))
		__builtin_trap();
}

static void ignore(void *arg, const char *msg)
{
	if (!msg || strchr(msg, '\n'))
		__builtin_trap();
}

static void explain(void *arg, size_t rule, const char *name, enum policy_miss why)
{
	if (!name || !policy_miss_str(why))
		__builtin_trap();
}

static void render(const struct policy *p)
{
	char *t = NULL;

	if (policy_render_objects(p, &t) == 0)
		free(t);
	if (policy_render_rules(p, "egress0", &t) == 0)
		free(t);
	if (policy_render_delete(p, &t) == 0)
		free(t);
	if (policy_render_stale(p, p, &t) == 0) {
		if (t[0]) /* a policy has every object it has */
			__builtin_trap();
		free(t);
	}
}

/* Flows to fixed addresses, and to each 4- or 16-byte window of the input
 * read as an address (a few only, to stay fast). */
static void decide(const struct policy *p, const uint8_t *data, size_t size)
{
	static const char *const dsts[] = {"203.0.113.80", "198.51.100.1", "100.64.0.1",
	                                   "10.0.0.1",     "2001:db8::1",  "fd00:6567::1"};
	static const char *const clients[] = {"alice", "bob", "carol"};
	static const char *const ports[] = {NULL, "tcp/443", "udp/53", "icmp", "icmpv6"};
	struct policy_decision d;
	struct policy_flow f;
	size_t i, j, k;

	for (i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++)
		for (j = 0; j < sizeof(ports) / sizeof(ports[0]); j++)
			if (policy_flow_parse(&f, clients[(i + j) % 3], dsts[i], ports[j]) == 0 &&
			    policy_decide(p, &f, &d, explain, NULL) < 0)
				__builtin_trap();
	for (k = 0; k + 16 <= size && k < 64; k += 16) {
		f.client = clients[data[k] % 3];
		f.dst = prefix_from_bytes(data[k + 1] & 1 ? AF_INET6 : AF_INET, data + k);
		f.proto = (data[k + 2] & 1) ? 6 : 17;
		f.port = (uint16_t)(data[k + 3] << 8 | data[k + 4]);
		if (!f.port)
			f.port = 1;
		if (policy_decide(p, &f, &d, explain, NULL) < 0)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prefix alice[2] = {P("100.64.0.2"), P("fd00:6567::2")}, bob[1] = {P("100.64.0.3")},
	              carol[1] = {P("100.64.0.4")};
	struct prefix tunnel[2] = {P("100.64.0.1/24"), P("fd00:6567::1/64")};
	struct prefix ifaddrs[2] = {P("198.51.100.1/24"), P("2001:db8:100::1/64")};
	struct policy_client clients[3] = {
	        {"alice", 0x45670002, alice, 2},
	        {"bob", 0x45670003, bob, 1},
	        {"carol", 0x45670004, carol, 1},
	};
	struct policy_env env = {
	        .clients = clients,
	        .n_clients = 3,
	        .tunnel = tunnel,
	        .n_tunnel = 2,
	        .ifaddrs = ifaddrs,
	        .n_ifaddrs = 2,
	        .ifaddrs_known = true,
	};
	struct policy *p = NULL;
	char err[256];
	size_t i;

	if (policy_parse(&p, "fuzz.yaml", (const char *)data, size, &env, err, sizeof(err)) < 0) {
		check_err(err, sizeof(err));
		return 0;
	}
	for (i = 0; i < policy_warning_count(p); i++)
		if (strchr(policy_warning(p, i), '\n'))
			__builtin_trap();
	policy_run_tests(p, ignore, NULL);
	render(p);
	decide(p, data, size);
	policy_free(p);
	return 0;
}
