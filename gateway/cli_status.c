/* gatewayctl status and clients: see README, "gatewayctl". */
#include "gateway/cli.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tunnel/ctl.h"

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

static const char *str_or(json_t *o, const char *key, const char *none)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : none;
}

static void print_conntrack(json_t *ct)
{
	json_int_t count, max, warn;
	int warning;

	if (json_unpack(ct, "{s:I, s:I, s:I, s:b}", "count", &count, "max", &max, "warn_percent",
	                &warn, "warning", &warning) < 0) {
		printf("conntrack:   not readable in gatewayd's namespace\n");
		return;
	}
	printf("conntrack:   %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " entries", count,
	       max);
	if (max)
		printf(" (%" JSON_INTEGER_FORMAT "%%)", count * 100 / max);
	if (warning)
		printf("  WARNING: above %" JSON_INTEGER_FORMAT "%%; new flows are dropped when "
		       "it is full",
		       warn);
	printf("\n");
}

static const char *on_off(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key)) ? "on" : "off";
}

/* The offloads line, when the reply has them. */
static void print_offload(json_t *o)
{
	json_int_t rd, wr, sent, recvd, fallbacks, drops;

	if (json_unpack(o, "{s:I, s:I, s:I, s:I, s:I, s:I}", "superpackets_read", &rd,
	                "superpackets_written", &wr, "trains_sent", &sent, "trains_received",
	                &recvd, "fallbacks", &fallbacks, "tun_drops", &drops) < 0)
		return;
	printf("offloads:    tun_tso %s%s, tun_uso %s, udp_gso %s, udp_gro %s\n",
	       on_off(o, "tun_tso"),
	       json_is_true(json_object_get(o, "tun_tso")) &&
	                       !json_is_true(json_object_get(o, "tun_coalescing"))
	               ? " (reads only)"
	               : "",
	       on_off(o, "tun_uso"), on_off(o, "udp_gso"), on_off(o, "udp_gro"));
	printf("             superpackets %" JSON_INTEGER_FORMAT " read, %" JSON_INTEGER_FORMAT
	       " written; UDP trains %" JSON_INTEGER_FORMAT " sent, %" JSON_INTEGER_FORMAT
	       " received; %" JSON_INTEGER_FORMAT " fallbacks; %" JSON_INTEGER_FORMAT
	       " packets the TUN did not take\n",
	       rd, wr, sent, recvd, fallbacks, drops);
}

static int print_status(json_t *d)
{
	json_int_t uptime, port, configured, connected, rules;
	const char *version, *ifname, *pub, *source, *applied;
	json_t *policy = json_object_get(d, "policy");

	if (json_unpack(d, "{s:s, s:I, s:s, s:I, s:s, s:{s:I, s:I}}", "version", &version, "uptime",
	                &uptime, "interface", &ifname, "listen_port", &port, "public_key", &pub,
	                "clients", "configured", &configured, "connected", &connected) < 0)
		return -1;
	printf("gatewayd %s, up ", version);
	print_duration(uptime);
	printf("\ninterface:   %s\nuplink:      %s\nlisten port: %" JSON_INTEGER_FORMAT
	       "\npublic key:  %s\n",
	       ifname, str_or(d, "uplink", "any interface but the tunnel"), port, pub);
	printf("clients:     %" JSON_INTEGER_FORMAT " configured, %" JSON_INTEGER_FORMAT
	       " connected\n",
	       configured, connected);
	print_conntrack(json_object_get(d, "conntrack"));
	if (json_unpack(policy, "{s:s, s:I, s:s}", "source", &source, "rules", &rules, "applied",
	                &applied) == 0)
		printf("policy:      %s, %" JSON_INTEGER_FORMAT " rules, in force since %s\n",
		       source, rules, applied);
	print_offload(json_object_get(d, "offload"));
	return 0;
}

int cli_cmd_status(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	int status;

	status = cli_call(o, "status", NULL, -1, &r);
	if (status)
		return status;
	if (o->json)
		cli_print_reply(r);
	else if (print_status(r->data) < 0)
		status = cli_fail(o, EXIT_UNREACHABLE, NULL,
		                  "gatewayd's status reply is not understood");
	ctl_reply_free(r);
	return status;
}

/* "3m ago", "never". */
static void ago(char *buf, size_t size, json_int_t then, json_int_t now)
{
	json_int_t s = now - then;

	if (!then)
		snprintf(buf, size, "never");
	else if (s < 120)
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT "s ago", s < 0 ? 0 : s);
	else if (s < 7200)
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT "m ago", s / 60);
	else if (s < 172800)
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT "h ago", s / 3600);
	else
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT "d ago", s / 86400);
}

int cli_cmd_clients(int argc, char **argv, const struct opts *o)
{
	json_int_t now = (json_int_t)time(NULL);
	struct ctl_reply *r = NULL;
	json_t *c;
	size_t i;
	int status;

	status = cli_call(o, "clients", NULL, -1, &r);
	if (status)
		return status;
	if (o->json) {
		cli_print_reply(r);
		ctl_reply_free(r);
		return EXIT_DONE;
	}
	printf("%-16s %-15s %-6s %-22s %-10s %12s %12s %6s %8s\n", "NAME", "ADDRESS", "STATE",
	       "ENDPOINT", "HANDSHAKE", "RX", "TX", "FLOWS", "DROPS");
	json_array_foreach(r->data, i, c)
	{
		json_int_t hs, rx, tx, flows, drops;
		const char *name, *addr;
		int connected;
		char when[24];

		if (json_unpack(c, "{s:s, s:s, s:I, s:b, s:I, s:I, s:I, s:I}", "name", &name,
		                "address", &addr, "last_handshake_unix", &hs, "connected",
		                &connected, "rx_bytes", &rx, "tx_bytes", &tx, "flows", &flows,
		                "policy_drops", &drops) < 0) {
			status = cli_fail(o, EXIT_UNREACHABLE, NULL,
			                  "gatewayd's clients reply is not understood");
			break;
		}
		ago(when, sizeof(when), hs, now);
		printf("%-16s %-15s %-6s %-22s %-10s %12" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %6" JSON_INTEGER_FORMAT
		       " %8" JSON_INTEGER_FORMAT "\n",
		       name, addr, connected ? "up" : "down", str_or(c, "endpoint", "-"), when, rx,
		       tx, flows, drops);
		if (json_is_string(json_object_get(c, "address6")))
			printf("%-16s %s\n", "", str_or(c, "address6", ""));
	}
	ctl_reply_free(r);
	return status;
}
