/* gatewayctl: the operator's command line. A table of commands, matched
 * exactly; the ones that ask gatewayd go through its control socket
 * (tunnel/ctl.h) and print its reply for people, or as JSON with --json. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/enforce.h"
#include "policy/policy.h"
#include "tunnel/ctl.h"
#include "tunnel/key.h"

/* The exit statuses, as --help and the README state them. */
enum {
	EXIT_DONE = 0,
	EXIT_REFUSED = 1, /* gatewayd refused the request, or the input is invalid */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3, /* no gatewayd answers on the socket */
};

struct opts {
	const char *socket; /* NULL: GW_CONTROL_SOCKET */
	bool json;
	/* the policy commands' own */
	const char *config; /* check: offline, against this gateway.yaml */
	bool strict, kill_denied, nft;
	/* the flows commands' filters */
	const char *client, *proto, *dst, *port, *state;
	unsigned own; /* the OPT_* given */
};

/* Which of a command's own options it takes. */
enum {
	OPT_CONFIG = 1 << 0,
	OPT_STRICT = 1 << 1,
	OPT_KILL = 1 << 2,
	OPT_NFT = 1 << 3,
	OPT_FILTERS = 1 << 4, /* --client, --proto, --dst, --port, --state */
};

static int cmd_help(int argc, char **argv, const struct opts *o);
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- asking gatewayd */

static void print_json(json_t *j)
{
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (t)
		printf("%s\n", t);
	free(t);
}

/* A failure, on stdout as {"ok": false, "error": ...} with --json, on
 * stderr otherwise; returns status. */
static int fail(const struct opts *o, int status, const char *what, const char *msg)
{
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s}", "ok", 0, "error", msg);

		print_json(j);
		json_decref(j);
	} else {
		fprintf(stderr, "gatewayctl: %s%s%s\n", what ? what : "", what ? ": " : "", msg);
		if (status == EXIT_UNREACHABLE)
			fprintf(stderr,
			        "gatewayctl: is gatewayd running? (its socket: --socket PATH, "
			        "default " GW_CONTROL_SOCKET ")\n");
	}
	return status;
}

/* Sends cmd and gets its reply: EXIT_DONE with *r ok, else the status to
 * exit with, the failure printed. */
static int call(const struct opts *o, const char *cmd, json_t *args, int fd, struct ctl_reply **r)
{
	char err[512];
	int ret, status;

	ret = ctl_call(o->socket ? o->socket : GW_CONTROL_SOCKET, cmd, args, fd, 0, r, err,
	               sizeof(err));
	if (ret == 0 && (*r)->ok)
		return EXIT_DONE;
	if (ret == 0) {
		json_t *lines = json_object_get((*r)->data, "messages"), *line;
		size_t i;

		/* A refusal with several lines (a policy's errors) has them all
		 * in data.messages; error holds the first ones only. */
		if (!o->json && json_array_size(lines)) {
			json_array_foreach(lines, i, line)
			        fprintf(stderr, "%s\n", json_string_value(line));
			status = EXIT_REFUSED;
		} else if (o->json && lines) {
			json_t *j = json_pack("{s:b, s:s, s:O}", "ok", 0, "error", (*r)->error,
			                      "messages", lines);

			print_json(j);
			json_decref(j);
			status = EXIT_REFUSED;
		} else {
			status = fail(o, EXIT_REFUSED, "gatewayd", (*r)->error);
		}
		ctl_reply_free(*r);
		*r = NULL;
		return status;
	}
	/* The socket file's mode, or a request too large: nothing to retry. */
	status = ret == -EACCES || ret == -EPERM || ret == -EMSGSIZE ? EXIT_REFUSED
	                                                             : EXIT_UNREACHABLE;
	return fail(o, status, NULL, err);
}

/* With --json: the reply as gatewayd sent it, {"ok": true, "data": ...}. */
static void print_reply(const struct ctl_reply *r)
{
	json_t *j = json_pack("{s:b, s:O?}", "ok", 1, "data", r->data);

	print_json(j);
	json_decref(j);
}

static void print_duration(json_int_t s)
{
	json_int_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60;

	if (d)
		printf("%" JSON_INTEGER_FORMAT "d ", d);
	if (d || h)
		printf("%" JSON_INTEGER_FORMAT "h ", h);
	if (d || h || m)
		printf("%" JSON_INTEGER_FORMAT "m ", m);
	printf("%" JSON_INTEGER_FORMAT "s", s % 60);
}

static int cmd_status(int argc, char **argv, const struct opts *o)
{
	json_int_t uptime, port, configured, connected;
	const char *version, *ifname;
	struct ctl_reply *r = NULL;
	int status;

	status = call(o, "status", NULL, -1, &r);
	if (status)
		return status;
	if (o->json) {
		print_reply(r);
	} else if (json_unpack(r->data, "{s:s, s:I, s:s, s:I, s:{s:I, s:I}}", "version", &version,
	                       "uptime", &uptime, "interface", &ifname, "listen_port", &port,
	                       "clients", "configured", &configured, "connected", &connected) < 0) {
		status = fail(o, EXIT_UNREACHABLE, NULL,
		              "gatewayd's status reply is not understood");
	} else {
		printf("gatewayd %s, up ", version);
		print_duration(uptime);
		printf("\ninterface:   %s\nlisten port: %" JSON_INTEGER_FORMAT "\n", ifname, port);
		printf("clients:     %" JSON_INTEGER_FORMAT " configured, %" JSON_INTEGER_FORMAT
		       " connected\n",
		       configured, connected);
	}
	ctl_reply_free(r);
	return status;
}

/* ---- the policy */

/* FILE opened for gatewayd, which reads it through the descriptor: it may
 * lie where gatewayd cannot see (another mount namespace, a private
 * directory). EXIT_DONE with *fd, or the status to exit with. */
static int open_policy(const struct opts *o, const char *path, int *fd)
{
	struct stat st;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return fail(o, EXIT_REFUSED, path, strerror(errno));
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return fail(o, EXIT_REFUSED, path, "not a regular file");
	}
	return EXIT_DONE;
}

/* Asks cmd about the policy file path; args gets its name. */
static int call_file(const struct opts *o, const char *cmd, const char *path, json_t *args,
                     struct ctl_reply **r)
{
	int fd, status;

	status = open_policy(o, path, &fd);
	if (status)
		return status;
	json_object_set_new(args, "name", json_string(path));
	status = call(o, cmd, args, fd, r);
	close(fd);
	return status;
}

static void print_lines(FILE *f, json_t *lines)
{
	json_t *line;
	size_t i;

	json_array_foreach(lines, i, line) fprintf(f, "%s\n", json_string_value(line));
}

/* check offline: the clients of --config, the interfaces' addresses
 * unknown. */
static int check_offline(const struct opts *o, const char *path)
{
	struct enforce_env *env = NULL;
	struct gw_config *cfg = NULL;
	struct policy *p = NULL;
	char err[512], *buf = NULL, *msg = NULL;
	size_t len;
	int ret, status = EXIT_REFUSED;

	if (gw_config_load(o->config, &cfg, err, sizeof(err)) < 0)
		return fail(o, EXIT_REFUSED, NULL, err);
	ret = enforce_read_file(path, &buf, &len);
	if (ret < 0) {
		status = fail(o, EXIT_REFUSED, path,
		              ret == -EFBIG ? "larger than 16 MiB" : strerror(-ret));
		goto out;
	}
	ret = enforce_env_new(&env, cfg, false);
	if (!ret)
		ret = enforce_parse(enforce_env_get(env), path, buf, len, o->strict, &p, &msg);
	if (ret < 0) {
		if (o->json) {
			json_t *j = json_pack("{s:b, s:s, s:o}", "ok", 0, "error",
			                      msg ? msg : strerror(-ret), "messages", json_array());
			char *save = NULL, *line;

			for (line = msg ? strtok_r(msg, "\n", &save) : NULL; line;
			     line = strtok_r(NULL, "\n", &save))
				json_array_append_new(json_object_get(j, "messages"),
				                      json_string(line));
			print_json(j);
			json_decref(j);
		} else {
			fprintf(stderr, "%s\n", msg ? msg : strerror(-ret));
		}
		goto out;
	}
	if (o->json) {
		json_t *w = json_array(), *j;
		char *save = NULL, *line;

		for (line = msg ? strtok_r(msg, "\n", &save) : NULL; line;
		     line = strtok_r(NULL, "\n", &save))
			json_array_append_new(w, json_string(line));
		j = json_pack("{s:b, s:{s:s, s:I, s:I, s:b, s:o}}", "ok", 1, "data", "file", path,
		              "rules", (json_int_t)policy_rule_count(p), "tests",
		              (json_int_t)policy_test_count(p), "ifaddrs_known", 0, "warnings", w);
		print_json(j);
		json_decref(j);
	} else {
		if (msg)
			fprintf(stderr, "%s\n", msg);
		printf("%s: policy OK (%zu rules, %zu tests passed)\n", path, policy_rule_count(p),
		       policy_test_count(p));
		printf("offline: `internet` and `gateway` were taken without the gateway's interface "
		       "addresses; gatewayd's apply decides with them\n");
	}
	status = EXIT_DONE;
out:
	policy_free(p);
	free(msg);
	free(buf);
	enforce_env_free(env);
	gw_config_free(cfg);
	return status;
}

static int cmd_policy_check(int argc, char **argv, const struct opts *o)
{
	json_t *args, *d;
	struct ctl_reply *r = NULL;
	int status;

	if (o->config)
		return check_offline(o, argv[0]);
	args = json_pack("{s:b}", "strict", o->strict);
	status = call_file(o, "policy.check", argv[0], args, &r);
	json_decref(args);
	if (status == EXIT_UNREACHABLE && !o->json)
		fprintf(stderr, "gatewayctl: without gatewayd: policy check FILE --config "
		                "gateway.yaml\n");
	if (status)
		return status;
	d = r->data;
	if (o->json) {
		print_reply(r);
	} else {
		print_lines(stderr, json_object_get(d, "warnings"));
		printf("%s: policy OK (%" JSON_INTEGER_FORMAT " rules, %" JSON_INTEGER_FORMAT
		       " tests passed)\n",
		       argv[0], json_integer_value(json_object_get(d, "rules")),
		       json_integer_value(json_object_get(d, "tests")));
	}
	ctl_reply_free(r);
	return EXIT_DONE;
}

static int cmd_policy_test(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args, *d, *skipped, *s;
	const char *by, *rule;
	size_t i;
	int status;

	args = json_pack("{s:s, s:s, s:s?}", "client", argv[0], "dst", argv[1], "port",
	                 argc > 2 ? argv[2] : NULL);
	status = call(o, "policy.test", args, -1, &r);
	json_decref(args);
	if (status)
		return status;
	if (o->json) {
		print_reply(r);
		ctl_reply_free(r);
		return EXIT_DONE;
	}
	d = r->data;
	by = json_string_value(json_object_get(d, "by"));
	rule = json_string_value(json_object_get(d, "rule"));
	printf("%s to %s%s%s: %s ", argv[0], argv[1], argc > 2 ? " " : "", argc > 2 ? argv[2] : "",
	       json_is_true(json_object_get(d, "allow")) ? "allow" : "deny");
	if (by && !strcmp(by, "rule"))
		printf("by rule \"%s\"\n", rule ? rule : "?");
	else if (by && !strcmp(by, "default"))
		printf("by default\n");
	else if (by && !strcmp(by, "gateway-echo"))
		printf("by the built-in ICMP echo to the gateway's tunnel address\n");
	else
		printf("by gateway: the gateway host, which no rule naming gateway opens\n");
	skipped = json_object_get(d, "skipped");
	json_array_foreach(skipped, i, s)
	        printf("  rule \"%s\": %s\n", json_string_value(json_object_get(s, "rule")),
	               json_string_value(json_object_get(s, "why")));
	ctl_reply_free(r);
	return EXIT_DONE;
}

static int cmd_policy_diff(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args = json_object(), *changes;
	int status;

	status = call_file(o, "policy.diff", argv[0], args, &r);
	json_decref(args);
	if (status)
		return status;
	if (o->json) {
		print_reply(r);
	} else {
		print_lines(stderr, json_object_get(r->data, "warnings"));
		changes = json_object_get(r->data, "changes");
		if (json_array_size(changes))
			print_lines(stdout, changes);
		else
			printf("no changes\n");
	}
	ctl_reply_free(r);
	return EXIT_DONE;
}

static int cmd_policy_apply(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args, *d;
	json_int_t killed;
	int status;

	args = json_pack("{s:b}", "kill_denied", o->kill_denied);
	status = call_file(o, "policy.apply", argv[0], args, &r);
	json_decref(args);
	if (status)
		return status;
	d = r->data;
	if (o->json) {
		print_reply(r);
	} else {
		print_lines(stderr, json_object_get(d, "warnings"));
		printf("applied %s (%" JSON_INTEGER_FORMAT " rules)\n", argv[0],
		       json_integer_value(json_object_get(d, "rules")));
		killed = json_integer_value(json_object_get(d, "killed"));
		if (o->kill_denied && killed >= 0)
			printf("ended %" JSON_INTEGER_FORMAT " flows the policy now denies\n",
			       killed);
	}
	ctl_reply_free(r);
	return EXIT_DONE;
}

static int cmd_policy_show(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args, *d;
	const char *text;
	int status;

	args = json_pack("{s:b}", "nft", o->nft);
	status = call(o, "policy.show", args, -1, &r);
	json_decref(args);
	if (status)
		return status;
	d = r->data;
	if (o->json) {
		print_reply(r);
	} else if (o->nft) {
		text = json_string_value(json_object_get(d, "nft"));
		fputs(text ? text : "", stdout);
	} else {
		if (json_is_true(json_object_get(d, "builtin")))
			printf("# built-in policy (no policy_file), in force since %s\n",
			       json_string_value(json_object_get(d, "applied")));
		else
			printf("# %s, applied %s\n",
			       json_string_value(json_object_get(d, "source")),
			       json_string_value(json_object_get(d, "applied")));
		text = json_string_value(json_object_get(d, "yaml"));
		fputs(text ? text : "", stdout);
		printf("# and always: ICMP echo to the gateway's tunnel addresses (gateway-echo)\n");
	}
	ctl_reply_free(r);
	return EXIT_DONE;
}

static int cmd_policy_stats(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *counters, *c;
	size_t i;
	int status;

	status = call(o, "policy.stats", NULL, -1, &r);
	if (status)
		return status;
	if (o->json) {
		print_reply(r);
		ctl_reply_free(r);
		return EXIT_DONE;
	}
	printf("applied: %s (%s)\n", json_string_value(json_object_get(r->data, "applied")),
	       json_string_value(json_object_get(r->data, "source")));
	printf("%-40s %14s %16s\n", "RULE", "PACKETS", "BYTES");
	counters = json_object_get(r->data, "counters");
	json_array_foreach(counters, i, c)
	{
		const char *kind = json_string_value(json_object_get(c, "kind"));
		const char *name = json_string_value(json_object_get(c, "name"));
		char label[96];

		if (kind && !strcmp(kind, "max_flows"))
			snprintf(label, sizeof(label), "max_flows of %s (refused)", name);
		else
			snprintf(label, sizeof(label), "%s", name ? name : "?");
		printf("%-40s %14" JSON_INTEGER_FORMAT " %16" JSON_INTEGER_FORMAT "\n", label,
		       json_integer_value(json_object_get(c, "packets")),
		       json_integer_value(json_object_get(c, "bytes")));
	}
	ctl_reply_free(r);
	return EXIT_DONE;
}

/* ---- flows */

/* The filters as the request's args; NULL and the status in *status when
 * one is malformed. */
static json_t *filter_args(const struct opts *o, int *status)
{
	json_t *a = json_pack("{s:s*, s:s*, s:s*, s:s*}", "client", o->client, "proto", o->proto,
	                      "dst", o->dst, "state", o->state);

	*status = EXIT_DONE;
	if (a && o->port) {
		char *end;
		long p = strtol(o->port, &end, 10);

		if (!o->port[0] || *end || p < 1 || p > 65535) {
			json_decref(a);
			*status = usage_error("--port \"%s\" is not a port 1-65535", o->port);
			return NULL;
		}
		json_object_set_new(a, "port", json_integer(p));
	}
	return a;
}

/* "ADDR:PORT", or "[ADDR]:PORT" for IPv6; the address alone without a
 * port. */
static const char *endpoint(json_t *f, const char *addr_key, const char *port_key, char *buf,
                            size_t size)
{
	const char *a = json_string_value(json_object_get(f, addr_key));
	json_int_t p = json_integer_value(json_object_get(f, port_key));
	bool v6 = a && strchr(a, ':');

	if (!a)
		snprintf(buf, size, "-");
	else if (!p)
		snprintf(buf, size, "%s", a);
	else
		snprintf(buf, size, "%s%s%s:%" JSON_INTEGER_FORMAT, v6 ? "[" : "", a, v6 ? "]" : "",
		         p);
	return buf;
}

static int cmd_flows(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args, *f;
	size_t i;
	int status;

	args = filter_args(o, &status);
	if (!args)
		return status;
	status = call(o, "flows", args, -1, &r);
	json_decref(args);
	if (status)
		return status;
	if (o->json) {
		print_reply(r);
		ctl_reply_free(r);
		return EXIT_DONE;
	}
	printf("%-12s %-6s %-22s %-22s %-22s %-11s %10s %12s %10s %12s %6s %s\n", "CLIENT", "PROTO",
	       "SOURCE", "DESTINATION", "NAT SOURCE", "STATE", "PKTS OUT", "BYTES OUT", "PKTS IN",
	       "BYTES IN", "AGE", "RULE");
	json_array_foreach(r->data, i, f)
	{
		char src[64], dst[64], nat[64], age[24];
		json_int_t a = json_integer_value(json_object_get(f, "age_s"));
		const char *rule = json_string_value(json_object_get(f, "rule"));

		if (a >= 0)
			snprintf(age, sizeof(age), "%" JSON_INTEGER_FORMAT "s", a);
		else
			snprintf(age, sizeof(age), "-");
		printf("%-12s %-6s %-22s %-22s %-22s %-11s %10" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %6s %s\n",
		       json_string_value(json_object_get(f, "client")),
		       json_string_value(json_object_get(f, "proto")),
		       endpoint(f, "src", "sport", src, sizeof(src)),
		       endpoint(f, "dst", "dport", dst, sizeof(dst)),
		       endpoint(f, "nat_src", "nat_sport", nat, sizeof(nat)),
		       json_string_value(json_object_get(f, "state")),
		       json_integer_value(json_object_get(f, "packets_out")),
		       json_integer_value(json_object_get(f, "bytes_out")),
		       json_integer_value(json_object_get(f, "packets_in")),
		       json_integer_value(json_object_get(f, "bytes_in")), age, rule ? rule : "-");
	}
	ctl_reply_free(r);
	return EXIT_DONE;
}

static int cmd_flows_kill(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args;
	int status;

	args = filter_args(o, &status);
	if (!args)
		return status;
	status = call(o, "flows.kill", args, -1, &r);
	json_decref(args);
	if (status)
		return status;
	if (o->json)
		print_reply(r);
	else
		printf("ended %" JSON_INTEGER_FORMAT " flows\n",
		       json_integer_value(json_object_get(r->data, "killed")));
	ctl_reply_free(r);
	return EXIT_DONE;
}

/* ---- keys, without gatewayd */

static int cmd_genkey(int argc, char **argv, const struct opts *o)
{
	return key_cmd_genkey(stdout);
}

static int cmd_genpsk(int argc, char **argv, const struct opts *o)
{
	return key_cmd_genpsk(stdout);
}

static int cmd_pubkey(int argc, char **argv, const struct opts *o)
{
	return key_cmd_pubkey(stdin, stdout);
}

static const struct command {
	const char *name, *sub; /* sub: the second word, or NULL */
	int (*fn)(int argc, char **argv, const struct opts *o);
	bool daemon;     /* asks gatewayd: takes --socket and --json */
	unsigned opts;   /* its own options, OPT_* */
	int min, max;    /* its arguments */
	const char *use; /* what follows its name */
	const char *help;
} commands[] = {
        {"status", NULL, cmd_status, true, 0, 0, 0, "",
         "gatewayd's version, uptime, interface, port and clients"},
        {"policy", "check", cmd_policy_check, true, OPT_CONFIG | OPT_STRICT, 1, 1,
         "FILE [--strict] [--config gateway.yaml]",
         "validate FILE and run its tests, as gatewayd sees it (or offline: --config)"},
        {"policy", "test", cmd_policy_test, true, 0, 2, 3, "CLIENT DST [PROTO/PORT]",
         "which rule of the policy in force decides that flow, and why"},
        {"policy", "diff", cmd_policy_diff, true, 0, 1, 1, "FILE",
         "what applying FILE would change, rule by rule and limit by limit"},
        {"policy", "apply", cmd_policy_apply, true, OPT_KILL, 1, 1, "FILE [--kill-denied]",
         "put FILE in force atomically; it becomes policy_file"},
        {"policy", "show", cmd_policy_show, true, OPT_NFT, 0, 0, "[--nft]",
         "the policy in force, or with --nft the table's nft text"},
        {"policy", "stats", cmd_policy_stats, true, 0, 0, 0, "",
         "packets and bytes per rule and default; applies keep them"},
        {"flows", "kill", cmd_flows_kill, true, OPT_FILTERS, 0, 0, "[FILTERS]",
         "end the matching flows (both directions of a TCP connection)"},
        {"flows", NULL, cmd_flows, true, OPT_FILTERS, 0, 0, "[FILTERS]",
         "the clients' conntrack entries: who, where to, NAT, state, bytes, rule"},
        {"genkey", NULL, cmd_genkey, false, 0, 0, 0, "",
         "print a new private key (base64), like `wg genkey`"},
        {"genpsk", NULL, cmd_genpsk, false, 0, 0, 0, "",
         "print a new preshared key, like `wg genpsk`"},
        {"pubkey", NULL, cmd_pubkey, false, 0, 0, 0, "",
         "read a private key on stdin, print its public key"},
        {"help", NULL, cmd_help, false, 0, 0, 0, "", "this help"},
};

static int cmd_help(int argc, char **argv, const struct opts *o)
{
	printf("usage: gatewayctl [--socket PATH] [--json] COMMAND [ARGS] [OPTIONS]\n"
	       "\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		char use[128];

		snprintf(use, sizeof(use), "%s%s%s%s%s", c->name, c->sub ? " " : "",
		         c->sub ? c->sub : "", c->use[0] ? " " : "", c->use);
		if (strlen(use) > 24)
			printf("  %s\n  %-24s %s\n", use, "", c->help);
		else
			printf("  %-24s %s\n", use, c->help);
	}
	printf("\noptions of the commands that ask gatewayd:\n"
	       "  --socket PATH  gatewayd's control socket (default " GW_CONTROL_SOCKET ")\n"
	       "  --json         print gatewayd's reply as JSON: {\"ok\": true, \"data\": ...},\n"
	       "                 or {\"ok\": false, \"error\": \"...\"} on failure\n"
	       "  -h, --help     this help\n"
	       "\npolicy options:\n"
	       "  --config FILE  policy check without gatewayd: client names from FILE\n"
	       "                 (gateway.yaml); `internet` and `gateway` without the gateway's\n"
	       "                 interface addresses, which the output says\n"
	       "  --strict       policy check: warnings (rules that never match) are errors\n"
	       "  --kill-denied  policy apply: end the established flows the new policy denies\n"
	       "  --nft          policy show: the nft text of table inet egress\n"
	       "\nflows filters (FILTERS), all optional, all must match:\n"
	       "  --client NAME  one client's flows (selected in the kernel by its mark)\n"
	       "  --proto P      tcp, udp, icmp or icmpv6\n"
	       "  --dst CIDR     original destination inside CIDR (an address: that one)\n"
	       "  --port N       original destination port\n"
	       "  --state S      conntrack state: ESTABLISHED, TIME_WAIT, ... (TCP), or\n"
	       "                 UNREPLIED, REPLIED, ASSURED (others)\n"
	       "\nexit status:\n"
	       "  0  done\n"
	       "  1  refused or invalid: gatewayd said no (not allowed, a bad request, an\n"
	       "     invalid policy or one whose tests fail), or bad input\n"
	       "  2  usage: an unknown command or option\n"
	       "  3  gatewayd not reachable: no socket, nobody answering, no answer in time\n");
	return EXIT_DONE;
}

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gatewayctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try gatewayctl --help)\n");
	return EXIT_USAGE;
}

/* Options before the command (until the first non-option) or after it
 * (all of argv); -1 to go on, or the status to exit with. */
static int parse_opts(int argc, char **argv, struct opts *o, bool in_order)
{
	static const struct option longopts[] = {
	        {"socket", required_argument, NULL, 's'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {"config", required_argument, NULL, 'c'},
	        {"strict", no_argument, NULL, 'S'},
	        {"kill-denied", no_argument, NULL, 'k'},
	        {"nft", no_argument, NULL, 'n'},
	        {"client", required_argument, NULL, 'C'},
	        {"proto", required_argument, NULL, 'P'},
	        {"dst", required_argument, NULL, 'D'},
	        {"port", required_argument, NULL, 'O'},
	        {"state", required_argument, NULL, 'T'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	optind = 0; /* glibc: start afresh, for the second call */
	opterr = 0;
	while ((c = getopt_long(argc, argv, in_order ? "+h" : "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			return cmd_help(0, NULL, o);
		case 'c':
			o->config = optarg;
			o->own |= OPT_CONFIG;
			break;
		case 'S':
			o->strict = true;
			o->own |= OPT_STRICT;
			break;
		case 'k':
			o->kill_denied = true;
			o->own |= OPT_KILL;
			break;
		case 'n':
			o->nft = true;
			o->own |= OPT_NFT;
			break;
		case 'C':
		case 'P':
		case 'D':
		case 'O':
		case 'T':
			*(c == 'C'   ? &o->client
			  : c == 'P' ? &o->proto
			  : c == 'D' ? &o->dst
			  : c == 'O' ? &o->port
			             : &o->state) = optarg;
			o->own |= OPT_FILTERS;
			break;
		default:
			return usage_error("bad option \"%s\"",
			                   argv[optind - 1 > 0 ? optind - 1 : 0]);
		}
	}
	return -1;
}

/* The command argv names (one word, or two), or NULL. */
static const struct command *find(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];

		if (strcmp(argv[0], c->name))
			continue;
		if (!c->sub || (argc > 1 && !strcmp(argv[1], c->sub)))
			return c;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	const struct command *cmd;
	int ret, words, nargs;

	ret = parse_opts(argc, argv, &o, true);
	if (ret >= 0)
		return ret;
	if (o.own)
		return usage_error("%s goes after the command it belongs to", argv[optind - 1]);
	if (optind >= argc)
		return usage_error("no command");
	argc -= optind;
	argv += optind;
	cmd = find(argc, argv);
	if (!cmd && !strcmp(argv[0], "policy"))
		return usage_error(argc > 1 ? "unknown policy command \"%s\"" : "policy what?%s",
		                   argc > 1 ? argv[1] : "");
	if (!cmd)
		return usage_error("unknown command \"%s\"", argv[0]);
	/* getopt_long moves the arguments after the options: argv[optind..]. */
	ret = parse_opts(argc, argv, &o, false);
	if (ret >= 0)
		return ret;
	words = cmd->sub ? 2 : 1;
	nargs = argc - optind - (words - 1);
	if (nargs < cmd->min || nargs > cmd->max)
		return usage_error("%s%s%s takes %s%s", cmd->name, cmd->sub ? " " : "",
		                   cmd->sub ? cmd->sub : "",
		                   cmd->use[0] ? cmd->use : "no arguments",
		                   nargs > cmd->max ? " (too many arguments)" : "");
	if (o.own & ~cmd->opts) {
		static const char *const names[] = {"--config", "--strict", "--kill-denied",
		                                    "--nft",
		                                    "--client/--proto/--dst/--port/--state"};
		unsigned bad = o.own & ~cmd->opts, i = 0;

		while (!(bad & (1u << i)))
			i++;
		return usage_error("%s%s%s does not take %s", cmd->name, cmd->sub ? " " : "",
		                   cmd->sub ? cmd->sub : "", names[i]);
	}
	if (!cmd->daemon && (o.json || o.socket))
		return usage_error("%s takes no --socket or --json", cmd->name);
	return cmd->fn(nargs, argv + optind + words - 1, &o);
}
