/* gatewayctl's parts: the options every command sees, asking gatewayd and
 * printing its reply, and the commands of cli_policy.c, cli_flows.c,
 * cli_status.c and cli_client.c.
 * gatewayctl.c holds the table of commands and main(). */
#ifndef EGRESS_GATEWAY_CLI_H
#define EGRESS_GATEWAY_CLI_H

#include <stdbool.h>
#include <stdio.h>

struct ctl_reply;
struct json_t;

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
	bool watch; /* flows --watch */
	/* client add's */
	const char *address, *out_dir, *endpoint;
	bool psk, qr;
	unsigned own; /* the OPT_* given */
};

/* Which of a command's own options it takes. */
enum {
	OPT_CONFIG = 1 << 0,
	OPT_STRICT = 1 << 1,
	OPT_KILL = 1 << 2,
	OPT_NFT = 1 << 3,
	OPT_FILTERS = 1 << 4, /* --client, --proto, --dst, --port, --state */
	OPT_ADDRESS = 1 << 5,
	OPT_PSK = 1 << 6,
	OPT_QR = 1 << 7,
	OPT_OUT = 1 << 8,
	OPT_ENDPOINT = 1 << 9,
	OPT_WATCH = 1 << 10,
};

/* A command: its arguments (the words after its name), what it returns is
 * the exit status. */
typedef int cli_cmd_fn(int argc, char **argv, const struct opts *o);

void cli_print_json(struct json_t *j);
/* A failure, on stdout as {"ok": false, "error": ...} with --json, on
 * stderr otherwise; returns status. */
int cli_fail(const struct opts *o, int status, const char *what, const char *msg);
/* Sends cmd (args borrowed, fd -1: none) and gets its reply: EXIT_DONE with
 * *r ok, else the status to exit with, the failure printed. */
int cli_call(const struct opts *o, const char *cmd, struct json_t *args, int fd,
             struct ctl_reply **r);
/* What ctl_call() or ctl_stream_call() returned (ret, *r, err) as the
 * status to exit with: EXIT_DONE with *r ok, else the failure printed and *r
 * freed. */
int cli_status(const struct opts *o, int ret, struct ctl_reply **r, const char *err);
/* --socket, or the default. */
const char *cli_socket(const struct opts *o);
/* Same, but a refusal too is EXIT_DONE with *r (!ok, not printed), for a
 * command that reads what a refusal's data says. */
int cli_call_reply(const struct opts *o, const char *cmd, struct json_t *args, int fd,
                   struct ctl_reply **r);
/* With --json: the reply as gatewayd sent it, {"ok": true, "data": ...}. */
void cli_print_reply(const struct ctl_reply *r);
/* "gatewayctl: MESSAGE (try gatewayctl --help)" on stderr; EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

cli_cmd_fn cli_cmd_policy_check, cli_cmd_policy_test, cli_cmd_policy_diff, cli_cmd_policy_apply,
        cli_cmd_policy_show, cli_cmd_policy_stats;
cli_cmd_fn cli_cmd_flows, cli_cmd_flows_kill;
cli_cmd_fn cli_cmd_status, cli_cmd_clients;
cli_cmd_fn cli_cmd_client_add, cli_cmd_client_remove;

#endif
