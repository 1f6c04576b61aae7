/* gatewayctl policy check|test|diff|apply|show|stats: see README, "The
 * egress policy". */
#include "gateway/cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/enforce.h"
#include "policy/policy.h"
#include "tunnel/ctl.h"

/* FILE opened for gatewayd, which reads it through the descriptor: it may
 * lie where gatewayd cannot see (another mount namespace, a private
 * directory). EXIT_DONE with *fd, or the status to exit with. */
static int open_policy(const struct opts *o, const char *path, int *fd)
{
	struct stat st;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return cli_fail(o, EXIT_REFUSED, path, strerror(errno));
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return cli_fail(o, EXIT_REFUSED, path, "not a regular file");
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
	status = cli_call(o, cmd, args, fd, r);
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
		return cli_fail(o, EXIT_REFUSED, NULL, err);
	ret = enforce_read_file(path, &buf, &len);
	if (ret < 0) {
		status = cli_fail(o, EXIT_REFUSED, path,
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
			cli_print_json(j);
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
		cli_print_json(j);
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

int cli_cmd_policy_check(int argc, char **argv, const struct opts *o)
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
		cli_print_reply(r);
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

int cli_cmd_policy_test(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args, *d, *skipped, *s;
	const char *by, *rule;
	size_t i;
	int status;

	args = json_pack("{s:s, s:s, s:s?}", "client", argv[0], "dst", argv[1], "port",
	                 argc > 2 ? argv[2] : NULL);
	status = cli_call(o, "policy.test", args, -1, &r);
	json_decref(args);
	if (status)
		return status;
	if (o->json) {
		cli_print_reply(r);
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

int cli_cmd_policy_diff(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args = json_object(), *changes;
	int status;

	status = call_file(o, "policy.diff", argv[0], args, &r);
	json_decref(args);
	if (status)
		return status;
	if (o->json) {
		cli_print_reply(r);
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

int cli_cmd_policy_apply(int argc, char **argv, const struct opts *o)
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
		cli_print_reply(r);
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

int cli_cmd_policy_show(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *args, *d;
	const char *text;
	int status;

	args = json_pack("{s:b}", "nft", o->nft);
	status = cli_call(o, "policy.show", args, -1, &r);
	json_decref(args);
	if (status)
		return status;
	d = r->data;
	if (o->json) {
		cli_print_reply(r);
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

int cli_cmd_policy_stats(int argc, char **argv, const struct opts *o)
{
	struct ctl_reply *r = NULL;
	json_t *counters, *c;
	size_t i;
	int status;

	status = cli_call(o, "policy.stats", NULL, -1, &r);
	if (status)
		return status;
	if (o->json) {
		cli_print_reply(r);
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
