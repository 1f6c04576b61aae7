/* gatewayctl: the operator's command line. A table of commands, matched
 * exactly; the ones that ask gatewayd go through its control socket
 * (tunnel/ctl.h, gateway/cli.c) and print its reply for people, or as JSON
 * with --json. The policy, flows and client commands are in cli_policy.c,
 * cli_flows.c and cli_client.c. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/cli.h"
#include "gateway/config.h"
#include "tunnel/ctl.h"
#include "tunnel/key.h"

static int cmd_help(int argc, char **argv, const struct opts *o);

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
        {"status", NULL, cli_cmd_status, true, 0, 0, 0, "",
         "gatewayd's version, uptime, uplink, clients, conntrack use and policy"},
        {"clients", NULL, cli_cmd_clients, true, 0, 0, 0, "",
         "each client: addresses, connected, endpoint, handshake, bytes, flows, drops"},
        {"policy", "check", cli_cmd_policy_check, true, OPT_CONFIG | OPT_STRICT, 1, 1,
         "FILE [--strict] [--config gateway.yaml]",
         "validate FILE and run its tests, as gatewayd sees it (or offline: --config)"},
        {"policy", "test", cli_cmd_policy_test, true, 0, 2, 3, "CLIENT DST [PROTO/PORT]",
         "which rule of the policy in force decides that flow, and why"},
        {"policy", "diff", cli_cmd_policy_diff, true, 0, 1, 1, "FILE",
         "what applying FILE would change, rule by rule and limit by limit"},
        {"policy", "apply", cli_cmd_policy_apply, true, OPT_KILL, 1, 1, "FILE [--kill-denied]",
         "put FILE in force atomically; it becomes policy_file"},
        {"policy", "show", cli_cmd_policy_show, true, OPT_NFT, 0, 0, "[--nft]",
         "the policy in force, or with --nft the table's nft text"},
        {"policy", "stats", cli_cmd_policy_stats, true, 0, 0, 0, "",
         "packets and bytes per rule and default; applies keep them"},
        {"flows", "kill", cli_cmd_flows_kill, true, OPT_FILTERS, 0, 0, "[FILTERS]",
         "end the matching flows (both directions of a TCP connection)"},
        {"flows", NULL, cli_cmd_flows, true, OPT_FILTERS | OPT_WATCH, 0, 0, "[--watch] [FILTERS]",
         "the clients' conntrack entries: who, where to, NAT, state, bytes, rule; or with "
         "--watch, each flow's start and end as they come"},
        {"client", "add", cli_cmd_client_add, true,
         OPT_CONFIG | OPT_ADDRESS | OPT_PSK | OPT_QR | OPT_OUT | OPT_ENDPOINT, 1, 1,
         "NAME [--address IP] [--psk] [--qr] [--out DIR] [--endpoint HOST:PORT]",
         "a new client: keys made here, gateway.yaml and gatewayd updated, its wg-quick "
         "configuration printed once"},
        {"client", "remove", cli_cmd_client_remove, true, OPT_CONFIG, 1, 1, "NAME",
         "remove the client from gateway.yaml and gatewayd, ending its flows"},
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
	       "\nclient options:\n"
	       "  --address IP   client add: this tunnel address (default: the lowest free one)\n"
	       "  --psk          client add: a preshared key too (NAME.psk beside gateway.yaml)\n"
	       "  --qr           client add: the configuration as a QR code too, for a phone\n"
	       "                 (light modules drawn: for light text on a dark background)\n"
	       "  --out DIR      client add: write DIR/edge.yaml and edge.key for edged, and\n"
	       "                 DIR/NAME.conf (and NAME.psk); never over existing files\n"
	       "  --endpoint H:P client add: the gateway's address for the client (default:\n"
	       "                 endpoint: in gateway.yaml)\n"
	       "  --config FILE  client add/remove: gatewayd's gateway.yaml, for its\n"
	       "                 control_socket and endpoint (read without its key files)\n"
	       "\nflows options:\n"
	       "  --watch        follow new and ended flows live, a line each (the flow log's\n"
	       "                 lines with --json), until interrupted; takes the filters\n"
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
	       "     invalid policy or one whose tests fail, a client name taken), or bad\n"
	       "     input (no endpoint, an --out file that exists)\n"
	       "  2  usage: an unknown command or option\n"
	       "  3  gatewayd not reachable: no socket, nobody answering, no answer in time\n");
	return EXIT_DONE;
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
	        {"address", required_argument, NULL, 'a'},
	        {"psk", no_argument, NULL, 'p'},
	        {"qr", no_argument, NULL, 'q'},
	        {"out", required_argument, NULL, 'o'},
	        {"endpoint", required_argument, NULL, 'e'},
	        {"watch", no_argument, NULL, 'w'}, /* flows */
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
		case 'w':
			o->watch = true;
			o->own |= OPT_WATCH;
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
		case 'a':
			o->address = optarg;
			o->own |= OPT_ADDRESS;
			break;
		case 'p':
			o->psk = true;
			o->own |= OPT_PSK;
			break;
		case 'q':
			o->qr = true;
			o->own |= OPT_QR;
			break;
		case 'o':
			o->out_dir = optarg;
			o->own |= OPT_OUT;
			break;
		case 'e':
			o->endpoint = optarg;
			o->own |= OPT_ENDPOINT;
			break;
		default:
			return cli_usage_error("bad option \"%s\"",
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
		return cli_usage_error("%s goes after the command it belongs to", argv[optind - 1]);
	if (optind >= argc)
		return cli_usage_error("no command");
	argc -= optind;
	argv += optind;
	cmd = find(argc, argv);
	if (!cmd && (!strcmp(argv[0], "policy") || !strcmp(argv[0], "client")))
		return cli_usage_error(argc > 1 ? "unknown %s command \"%s\"" : "%s what?%s",
		                       argv[0], argc > 1 ? argv[1] : "");
	if (!cmd)
		return cli_usage_error("unknown command \"%s\"", argv[0]);
	/* getopt_long moves the arguments after the options: argv[optind..]. */
	ret = parse_opts(argc, argv, &o, false);
	if (ret >= 0)
		return ret;
	words = cmd->sub ? 2 : 1;
	nargs = argc - optind - (words - 1);
	if (nargs < cmd->min || nargs > cmd->max)
		return cli_usage_error("%s%s%s takes %s%s", cmd->name, cmd->sub ? " " : "",
		                       cmd->sub ? cmd->sub : "",
		                       cmd->use[0] ? cmd->use : "no arguments",
		                       nargs > cmd->max ? " (too many arguments)" : "");
	if (o.own & ~cmd->opts) {
		/* in the order of the OPT_* bits */
		static const char *const names[] = {"--config",
		                                    "--strict",
		                                    "--kill-denied",
		                                    "--nft",
		                                    "--client/--proto/--dst/--port/--state",
		                                    "--address",
		                                    "--psk",
		                                    "--qr",
		                                    "--out",
		                                    "--endpoint",
		                                    "--watch"};
		unsigned bad = o.own & ~cmd->opts, i = 0;

		while (!(bad & (1u << i)))
			i++;
		return cli_usage_error("%s%s%s does not take %s", cmd->name, cmd->sub ? " " : "",
		                       cmd->sub ? cmd->sub : "", names[i]);
	}
	if (!cmd->daemon && (o.json || o.socket))
		return cli_usage_error("%s takes no --socket or --json", cmd->name);
	return cmd->fn(nargs, argv + optind + words - 1, &o);
}
