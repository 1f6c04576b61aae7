/* gatewayctl: the operator's command line. A table of commands, matched
 * exactly; the ones that ask gatewayd go through its control socket
 * (tunnel/ctl.h) and print its reply for people, or as JSON with --json. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
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
};

static int cmd_help(int argc, char **argv, const struct opts *o);

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
		status = fail(o, EXIT_REFUSED, "gatewayd", (*r)->error);
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
	const char *name;
	int (*fn)(int argc, char **argv, const struct opts *o);
	bool daemon; /* asks gatewayd: takes --socket and --json */
	const char *help;
} commands[] = {
        {"status", cmd_status, true, "gatewayd's version, uptime, interface, port and clients"},
        {"genkey", cmd_genkey, false, "print a new private key (base64), like `wg genkey`"},
        {"genpsk", cmd_genpsk, false, "print a new preshared key, like `wg genpsk`"},
        {"pubkey", cmd_pubkey, false, "read a private key on stdin, print its public key"},
        {"help", cmd_help, false, "this help"},
};

static int cmd_help(int argc, char **argv, const struct opts *o)
{
	printf("usage: gatewayctl [--socket PATH] [--json] COMMAND [--socket PATH] [--json]\n"
	       "\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-8s %s\n", commands[i].name, commands[i].help);
	printf("\noptions of the commands that ask gatewayd (status):\n"
	       "  --socket PATH  gatewayd's control socket (default " GW_CONTROL_SOCKET ")\n"
	       "  --json         print gatewayd's reply as JSON: {\"ok\": true, \"data\": ...},\n"
	       "                 or {\"ok\": false, \"error\": \"...\"} on failure\n"
	       "  -h, --help     this help\n"
	       "\nexit status:\n"
	       "  0  done\n"
	       "  1  refused or invalid: gatewayd said no (not allowed, a bad request), or bad input\n"
	       "  2  usage: an unknown command or option\n"
	       "  3  gatewayd not reachable: no socket, nobody answering, no answer in time\n");
	return EXIT_DONE;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
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
		default:
			return usage_error("bad option \"%s\"",
			                   argv[optind - 1 > 0 ? optind - 1 : 0]);
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	const struct command *cmd = NULL;
	int ret;

	ret = parse_opts(argc, argv, &o, true);
	if (ret >= 0)
		return ret;
	if (optind >= argc)
		return usage_error("no command");
	argc -= optind;
	argv += optind;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[0], commands[i].name))
			cmd = &commands[i];
	if (!cmd)
		return usage_error("unknown command \"%s\"", argv[0]);
	ret = parse_opts(argc, argv, &o, false);
	if (ret >= 0)
		return ret;
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (!cmd->daemon && (o.json || o.socket))
		return usage_error("%s takes no --socket or --json", cmd->name);
	return cmd->fn(argc, argv, &o);
}
