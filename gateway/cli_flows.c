/* gatewayctl flows [kill] and flows --watch: see README, "gatewayctl
 * flows". */
#include "gateway/cli.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/ctl.h"

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
			*status = cli_usage_error("--port \"%s\" is not a port 1-65535", o->port);
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

static const char *str(json_t *f, const char *key)
{
	const char *s = json_string_value(json_object_get(f, key));

	return s ? s : "-";
}

/* One event of a watch: the flow log's line as it is, or for people. */
static int print_event(void *arg, json_t *ev)
{
	const struct opts *o = arg;
	const char *kind = str(ev, "event"), *t = str(ev, "time");
	char src[64], dst[64], nat[64], dur[24];
	json_int_t ms = json_integer_value(json_object_get(ev, "duration_ms"));

	if (o->json) {
		char *line = json_dumps(ev, JSON_COMPACT);

		if (line)
			printf("%s\n", line);
		free(line);
	} else if (!strcmp(kind, "watching")) {
		printf("%-12s %-5s %-12s %-6s %-22s %-22s %-22s %-11s %12s %12s %9s %-8s %s\n",
		       "TIME", "EVENT", "CLIENT", "PROTO", "SOURCE", "DESTINATION", "NAT SOURCE",
		       "STATE", "BYTES OUT", "BYTES IN", "DURATION", "REASON", "RULE");
	} else {
		if (json_is_integer(json_object_get(ev, "duration_ms")))
			snprintf(dur, sizeof(dur), "%" JSON_INTEGER_FORMAT ".%03ds", ms / 1000,
			         (int)(ms % 1000));
		else
			snprintf(dur, sizeof(dur), "-");
		/* the time of day, to the millisecond: the date is in --json */
		printf("%-12.12s %-5s %-12s %-6s %-22s %-22s %-22s %-11s %12" JSON_INTEGER_FORMAT
		       " %12" JSON_INTEGER_FORMAT " %9s %-8s %s\n",
		       strlen(t) > 11 ? t + 11 : t, kind, str(ev, "client"), str(ev, "proto"),
		       endpoint(ev, "src", "sport", src, sizeof(src)),
		       endpoint(ev, "dst", "dport", dst, sizeof(dst)),
		       endpoint(ev, "nat_src", "nat_sport", nat, sizeof(nat)), str(ev, "state"),
		       json_integer_value(json_object_get(ev, "bytes_out")),
		       json_integer_value(json_object_get(ev, "bytes_in")), dur, str(ev, "reason"),
		       str(ev, "rule"));
	}
	/* Each line as it comes, whoever reads it (a pipe is block-buffered). */
	fflush(stdout);
	return 0;
}

static void on_stop_signal(int signo)
{
	(void)signo; /* it interrupts the read, which is all it has to do */
}

/* flows --watch: until SIGINT or SIGTERM (exit 0), or gatewayd ends it. */
static int watch(const struct opts *o, json_t *args)
{
	struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART */
	struct ctl_reply *r = NULL;
	char err[512];
	int ret, status;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = ctl_stream_call(cli_socket(o), "flows.watch", args, -1, print_event, (void *)o, &r,
	                      err, sizeof(err));
	if (ret == -EINTR)
		return EXIT_DONE;
	status = cli_status(o, ret, &r, err);
	if (status == EXIT_DONE && !o->json)
		fprintf(stderr, "gatewayctl: gatewayd ended the watch (it stops)\n");
	ctl_reply_free(r);
	return status;
}

int cli_cmd_flows(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args, *f;
	size_t i;
	int status;

	args = filter_args(o, &status);
	if (!args)
		return status;
	if (o->watch) {
		status = watch(o, args);
		json_decref(args);
		return status;
	}
	status = cli_call(o, "flows", args, -1, &r);
	json_decref(args);
	if (status)
		return status;
	if (o->json) {
		cli_print_reply(r);
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

int cli_cmd_flows_kill(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args;
	int status;

	args = filter_args(o, &status);
	if (!args)
		return status;
	status = cli_call(o, "flows.kill", args, -1, &r);
	json_decref(args);
	if (status)
		return status;
	if (o->json)
		cli_print_reply(r);
	else
		printf("ended %" JSON_INTEGER_FORMAT " flows\n",
		       json_integer_value(json_object_get(r->data, "killed")));
	ctl_reply_free(r);
	return EXIT_DONE;
}
