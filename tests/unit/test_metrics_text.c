/* metrics_render: the samples of a scrape, the HELP and TYPE line of every
 * family, the escaping of label values, and what is left out when a source
 * could not be read. When promtool is on the PATH, its lint must find
 * nothing in any of the texts either (the netns test t_metrics.sh runs it on
 * a live scrape). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gateway/metrics_text.h"

static const struct metrics_client clients[] = {
        {.name = "edge1",
         .st = {.rx_bytes = 2499,
                .tx_bytes = 3100,
                .rx_packets = 4,
                .tx_packets = 5,
                .spoofed = 8,
                .handshakes = 2,
                .last_handshake_unix = 1764740000,
                .has_session = true},
         .connected = true,
         .flows = 3,
         .policy_drops = 5,
         .has_max_flows = true,
         .max_flows_refused = 7},
        /* Names in gateway.yaml cannot hold these; the text must stay well
         * formed whatever a name holds. */
        {.name = "we\"ird\\na\nme", .st = {.spoofed = 1}},
};

static const struct metrics_rule rules[] = {
        {"web", true, 3, 180},        {"no-metadata", false, 2, 120},
        {"default", false, 5, 300},   {"gateway-default", false, 1, 60},
        {"gateway-echo", true, 0, 0},
};

static struct metrics_snapshot full(void)
{
	return (struct metrics_snapshot){
	        .version = "0.1.0",
	        .start_time = 1764739000,
	        .dev = {.invalid = 10,
	                .replayed = 4,
	                .no_route = 2,
	                .cookie_replies = 6,
	                .handshake_rx = 9,
	                .handshake_failures = 3,
	                .load_events = 1,
	                .offload = {.tun_tso = true, .udp_gso = true},
	                .tun_coalescing = true,
	                .tun_super_rx = 11,
	                .tun_super_tx = 12,
	                .gso_sends = 13,
	                .gro_trains = 14,
	                .fallbacks = 1,
	                .tun_drops = 15},
	        .clients = clients,
	        .n_clients = 2,
	        .flows_ok = true,
	        .rules_ok = true,
	        .drops_ok = true,
	        .conntrack_ok = true,
	        .rules = rules,
	        .n_rules = sizeof(rules) / sizeof(rules[0]),
	        .ct_count = 12,
	        .ct_max = 262144,
	};
}

static char *render(const struct metrics_snapshot *s)
{
	char *text = NULL;
	size_t len = 0;

	CHECK_INT(metrics_render(s, &text, &len), 0);
	CHECK(text && strlen(text) == len);
	return text;
}

/* Is line one whole line of text? */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define CHECK_LINE(text, line)                                                       \
	do {                                                                         \
		bool found_ = has_line(text, line);                                  \
		CHECK(found_);                                                       \
		if (!found_)                                                         \
			fprintf(stderr, "    no line \"%s\" in:\n%s\n", line, text); \
	} while (0)

/* A label set: key="value" pairs, values with no escape but \\, \" and \n;
 * returns what follows the closing brace, or NULL. */
static const char *labels_end(const char *p)
{
	if (*p++ != '{')
		return NULL;
	while (*p != '}') {
		if (!strchr("abcdefghijklmnopqrstuvwxyz_", *p))
			return NULL;
		while (strchr("abcdefghijklmnopqrstuvwxyz_", *p))
			p++;
		if (*p++ != '=' || *p++ != '"')
			return NULL;
		for (; *p != '"'; p++) {
			if (!*p || *p == '\n')
				return NULL;
			if (*p == '\\' && !strchr("\\\"n", *++p))
				return NULL;
		}
		p++;
		if (*p == ',')
			p++;
	}
	return p + 1;
}

/* The text's shape, line by line: every family is a HELP line, then its
 * TYPE line, then its samples, and appears once; counters end in _total,
 * gauges do not; sample values are whole numbers. Returns the number of
 * lines that break a rule. */
static int problems(const char *text)
{
	char family[128] = "", seen[4096] = " ";
	const char *line = text, *end;
	int bad = 0;

	if (!*text || text[strlen(text) - 1] != '\n')
		return 1;
	for (; *line; line = end + 1) {
		char name[128], type[16], key[140];
		const char *p;
		size_t n;

		end = strchr(line, '\n');
		if (!end)
			break;
		if (sscanf(line, "# HELP %127s ", name) == 1) {
			snprintf(key, sizeof(key), " %s ", name);
			bad += strstr(seen, key) != NULL; /* a family twice */
			if (strlen(seen) + strlen(key) < sizeof(seen))
				strcat(seen, key + 1);
			snprintf(family, sizeof(family), "%s", name);
			type[0] = '\0';
			continue;
		}
		if (sscanf(line, "# TYPE %127s %15s", name, type) == 2) {
			n = strlen(name);
			bad += strcmp(name, family) != 0;
			bad += strcmp(type, "counter") && strcmp(type, "gauge");
			bad += !strcmp(type, "counter") !=
			       (n > 6 && !strcmp(name + n - 6, "_total"));
			continue;
		}
		n = strlen(family);
		p = line + n;
		if (!n || strncmp(line, family, n) || (*p != '{' && *p != ' ')) {
			bad++;
			continue;
		}
		if (*p == '{')
			p = labels_end(p);
		if (!p || *p != ' ' || strspn(p + 1, "0123456789") != (size_t)(end - p - 1))
			bad++;
	}
	return bad;
}

/* promtool's lint on text: nothing to say. Without promtool, only said. */
static void check_promtool(const char *text)
{
	char path[] = "/tmp/test_metrics_text.XXXXXX", out[4096] = "", cmd[128];
	size_t n = 0;
	FILE *f, *p;
	int fd, status;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		fprintf(stderr, "promtool not on the PATH: its lint not run\n");
		return;
	}
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics <%s 2>&1", path);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	if (p) {
		n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = '\0';
		status = pclose(p);
		CHECK_INT(status, 0);
		CHECK_STR(out, "");
	}
	unlink(path);
}

static void test_full(void)
{
	struct metrics_snapshot s = full();
	char *t = render(&s);

	if (!t)
		return;
	CHECK_LINE(t, "# HELP egress_build_info Always 1: the version of gatewayd in its label.");
	CHECK_LINE(t, "# TYPE egress_build_info gauge");
	CHECK_LINE(t, "egress_build_info{version=\"0.1.0\"} 1");
	CHECK_LINE(t, "egress_start_time_seconds 1764739000");
	CHECK_LINE(t, "egress_clients 2");
	CHECK_LINE(t, "egress_clients_connected 1");
	CHECK_LINE(t, "# TYPE egress_client_rx_bytes_total counter");
	CHECK_LINE(t, "egress_client_rx_bytes_total{client=\"edge1\"} 2499");
	CHECK_LINE(t, "egress_client_tx_bytes_total{client=\"edge1\"} 3100");
	CHECK_LINE(t, "egress_client_rx_packets_total{client=\"edge1\"} 4");
	CHECK_LINE(t, "egress_client_tx_packets_total{client=\"edge1\"} 5");
	CHECK_LINE(t, "egress_client_handshakes_total{client=\"edge1\"} 2");
	CHECK_LINE(t,
	           "egress_client_last_handshake_timestamp_seconds{client=\"edge1\"} 1764740000");
	CHECK_LINE(t, "egress_client_connected{client=\"edge1\"} 1");
	CHECK_LINE(t, "egress_client_connected{client=\"we\\\"ird\\\\na\\nme\"} 0");
	CHECK_LINE(t, "egress_client_spoofed_packets_total{client=\"edge1\"} 8");
	CHECK_LINE(t, "egress_client_active_flows{client=\"edge1\"} 3");
	CHECK_LINE(t, "egress_client_policy_drops_total{client=\"edge1\"} 5");
	CHECK_LINE(t, "egress_collector_success{collector=\"drops\"} 1");
	CHECK_LINE(t, "egress_client_active_flows{client=\"we\\\"ird\\\\na\\nme\"} 0");
	/* only the clients with a max_flows */
	CHECK_LINE(t, "egress_client_max_flows_refused_total{client=\"edge1\"} 7");
	CHECK(!strstr(t, "egress_client_max_flows_refused_total{client=\"we"));
	CHECK_LINE(t, "egress_policy_rule_hits_total{rule=\"web\",action=\"allow\"} 3");
	CHECK_LINE(t, "egress_policy_rule_hits_total{rule=\"no-metadata\",action=\"deny\"} 2");
	CHECK_LINE(t, "egress_policy_rule_hits_total{rule=\"gateway-echo\",action=\"allow\"} 0");
	CHECK_LINE(t, "egress_policy_rule_bytes_total{rule=\"default\",action=\"deny\"} 300");
	/* the reasons: spoofed over the clients, bad_packet without the
	 * replays, policy over the deny rules and defaults */
	CHECK_LINE(t, "egress_dropped_packets_total{reason=\"spoofed_source\"} 9");
	CHECK_LINE(t, "egress_dropped_packets_total{reason=\"replay\"} 4");
	CHECK_LINE(t, "egress_dropped_packets_total{reason=\"bad_packet\"} 6");
	CHECK_LINE(t, "egress_dropped_packets_total{reason=\"no_peer\"} 2");
	CHECK_LINE(t, "egress_dropped_packets_total{reason=\"policy\"} 8");
	CHECK_LINE(t, "egress_handshake_messages_total 9");
	CHECK_LINE(t, "egress_handshake_failures_total 3");
	CHECK_LINE(t, "egress_cookie_replies_total 6");
	CHECK_LINE(t, "egress_load_events_total 1");
	CHECK_LINE(t, "egress_under_load 0");
	CHECK_LINE(t, "egress_offload_enabled{offload=\"tun_tso\"} 1");
	CHECK_LINE(t, "egress_offload_enabled{offload=\"tun_uso\"} 0");
	CHECK_LINE(t, "egress_offload_enabled{offload=\"udp_gso\"} 1");
	CHECK_LINE(t, "egress_offload_enabled{offload=\"udp_gro\"} 0");
	CHECK_LINE(t, "egress_offload_enabled{offload=\"tun_coalescing\"} 1");
	CHECK_LINE(t, "egress_offload_superpackets_total{direction=\"read\"} 11");
	CHECK_LINE(t, "egress_offload_superpackets_total{direction=\"written\"} 12");
	CHECK_LINE(t, "egress_offload_udp_trains_total{direction=\"sent\"} 13");
	CHECK_LINE(t, "egress_offload_udp_trains_total{direction=\"received\"} 14");
	CHECK_LINE(t, "egress_offload_fallbacks_total 1");
	CHECK_LINE(t, "egress_tun_drops_total 15");
	CHECK_LINE(t, "egress_conntrack_entries 12");
	CHECK_LINE(t, "egress_conntrack_entries_limit 262144");
	CHECK_LINE(t, "egress_collector_success{collector=\"flows\"} 1");
	CHECK_LINE(t, "egress_collector_success{collector=\"policy\"} 1");
	CHECK_LINE(t, "egress_collector_success{collector=\"conntrack\"} 1");
	CHECK_INT(problems(t), 0);
	check_promtool(t);
	/* the same snapshot, the same text */
	{
		char *again = render(&s);

		CHECK_STR(again, t);
		free(again);
	}
	free(t);
}

/* A source that failed: its families go, the collector says 0, the rest stays. */
static void test_sources_missing(void)
{
	struct metrics_snapshot s = full();
	char *t;

	s.flows_ok = s.rules_ok = s.drops_ok = s.conntrack_ok = false;
	t = render(&s);
	if (!t)
		return;
	CHECK(!strstr(t, "# TYPE egress_client_active_flows"));
	CHECK(!strstr(t, "egress_client_max_flows_refused_total"));
	CHECK(!strstr(t, "# TYPE egress_client_policy_drops_total"));
	CHECK_LINE(t, "egress_collector_success{collector=\"drops\"} 0");
	CHECK(!strstr(t, "egress_policy_rule"));
	CHECK(!strstr(t, "reason=\"policy\""));
	CHECK(!strstr(t, "egress_conntrack_entries"));
	CHECK_LINE(t, "egress_collector_success{collector=\"flows\"} 0");
	CHECK_LINE(t, "egress_collector_success{collector=\"policy\"} 0");
	CHECK_LINE(t, "egress_collector_success{collector=\"conntrack\"} 0");
	CHECK_LINE(t, "egress_client_rx_bytes_total{client=\"edge1\"} 2499");
	CHECK_LINE(t, "egress_dropped_packets_total{reason=\"replay\"} 4");
	CHECK_INT(problems(t), 0);
	check_promtool(t);
	free(t);
}

/* No clients, no counters yet: every family still has its HELP and TYPE. */
static void test_empty(void)
{
	struct metrics_snapshot s = {.version = "0.1.0", .flows_ok = true, .rules_ok = true};
	char *t = render(&s);

	if (!t)
		return;
	CHECK_LINE(t, "# TYPE egress_client_rx_bytes_total counter");
	CHECK(!strstr(t, "egress_client_rx_bytes_total{"));
	CHECK_LINE(t, "egress_clients 0");
	CHECK_LINE(t, "egress_dropped_packets_total{reason=\"policy\"} 0");
	CHECK_INT(problems(t), 0);
	check_promtool(t);
	free(t);
}

/* The structure check itself, on texts that break each of its rules once. */
static void test_problems(void)
{
	static const char *const broken[] = {
	        "x 1\n",                                                    /* no family */
	        "# HELP a_total h\n# TYPE a_total gauge\na_total 1\n",      /* a gauge's _total */
	        "# HELP a h\n# TYPE a counter\na 1\n",                      /* a counter without */
	        "# HELP a h\n# TYPE a gauge\na{l=\"x\\q\"} 1\n",            /* a bad escape */
	        "# HELP a h\n# TYPE a gauge\na{l=\"x} 1\n",                 /* unterminated */
	        "# HELP a h\n# TYPE a gauge\na 1.5\n",                      /* not whole */
	        "# HELP a h\n# TYPE a gauge\n# HELP a h\n# TYPE a gauge\n", /* twice */
	        "# HELP a h\n# TYPE b gauge\n",                             /* TYPE of another */
	        "# HELP a h\n# TYPE a gauge\nab 1\n",                       /* another's sample */
	        "# HELP a h\n# TYPE a gauge\na 1",                          /* no last newline */
	};

	CHECK_INT(problems("# HELP a h\n# TYPE a gauge\na{l=\"x\\\\\\\"\\n\",m=\"\"} 1\n"), 0);
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		int n = problems(broken[i]);

		CHECK(n > 0);
		if (!n)
			fprintf(stderr, "    passed: %s\n", broken[i]);
	}
}

int main(void)
{
	test_problems();
	test_full();
	test_sources_missing();
	test_empty();
	return check_done("test_metrics_text");
}
