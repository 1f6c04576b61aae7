/* gatewayctl asking gatewayd, and printing what it says: see cli.h. */
#include "gateway/cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
#include "tunnel/ctl.h"

void cli_print_json(json_t *j)
{
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (t)
		printf("%s\n", t);
	free(t);
}

/* A failure, on stdout as {"ok": false, "error": ...} with --json, on
 * stderr otherwise; returns status. */
int cli_fail(const struct opts *o, int status, const char *what, const char *msg)
{
	if (o->json) {
		json_t *j = json_pack("{s:b, s:s}", "ok", 0, "error", msg);

		cli_print_json(j);
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

const char *cli_socket(const struct opts *o)
{
	return o->socket ? o->socket : GW_CONTROL_SOCKET;
}

int cli_status(const struct opts *o, int ret, struct ctl_reply **r, const char *err)
{
	json_t *lines, *line;
	size_t i;
	int status;

	if (ret < 0) {
		/* The socket file's mode, or a request too large: nothing to
		 * retry. */
		status = ret == -EACCES || ret == -EPERM || ret == -EMSGSIZE ? EXIT_REFUSED
		                                                             : EXIT_UNREACHABLE;
		return cli_fail(o, status, NULL, err);
	}
	if ((*r)->ok)
		return EXIT_DONE;
	/* A refusal with several lines (a policy's errors) has them all in
	 * data.messages; error holds the first ones only. */
	lines = json_object_get((*r)->data, "messages");
	if (!o->json && json_array_size(lines)) {
		json_array_foreach(lines, i, line) fprintf(stderr, "%s\n", json_string_value(line));
		status = EXIT_REFUSED;
	} else if (o->json && lines) {
		json_t *j = json_pack("{s:b, s:s, s:O}", "ok", 0, "error", (*r)->error, "messages",
		                      lines);

		cli_print_json(j);
		json_decref(j);
		status = EXIT_REFUSED;
	} else {
		status = cli_fail(o, EXIT_REFUSED, "gatewayd", (*r)->error);
	}
	ctl_reply_free(*r);
	*r = NULL;
	return status;
}

/* Sends cmd and gets its reply, ok or not: EXIT_DONE with *r, else the
 * status to exit with, the failure printed. */
int cli_call_reply(const struct opts *o, const char *cmd, json_t *args, int fd,
                   struct ctl_reply **r)
{
	char err[512];
	int ret;

	ret = ctl_call(cli_socket(o), cmd, args, fd, 0, r, err, sizeof(err));
	return ret == 0 ? EXIT_DONE : cli_status(o, ret, r, err);
}

/* Sends cmd and gets its reply: EXIT_DONE with *r ok, else the status to
 * exit with, the failure printed. */
int cli_call(const struct opts *o, const char *cmd, json_t *args, int fd, struct ctl_reply **r)
{
	char err[512];
	int ret;

	ret = ctl_call(cli_socket(o), cmd, args, fd, 0, r, err, sizeof(err));
	return cli_status(o, ret, r, err);
}

/* With --json: the reply as gatewayd sent it, {"ok": true, "data": ...}. */
void cli_print_reply(const struct ctl_reply *r)
{
	json_t *j = json_pack("{s:b, s:O?}", "ok", 1, "data", r->data);

	cli_print_json(j);
	json_decref(j);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gatewayctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try gatewayctl --help)\n");
	return EXIT_USAGE;
}
