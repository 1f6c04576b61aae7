/* The text of a scrape: see metrics_text.h. Names follow Prometheus'
 * conventions (promtool check metrics finds nothing): a counter ends in
 * _total, a unit is in the name in its base unit (_bytes, _seconds), and
 * labels are bounded: one series per client, per rule, per reason. */
#include "gateway/metrics_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* s as a HELP text (quote false) or a label value (quote true). */
static void put_escaped(FILE *f, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '"' && quote)
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	put_escaped(f, help, false);
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

/* One sample with up to two labels (k1 and k2 NULL: none). */
static void sample(FILE *f, const char *name, const char *k1, const char *v1, const char *k2,
                   const char *v2, uint64_t value)
{
	fputs(name, f);
	if (k1) {
		fprintf(f, "{%s=\"", k1);
		put_escaped(f, v1, true);
		fputc('"', f);
		if (k2) {
			fprintf(f, ",%s=\"", k2);
			put_escaped(f, v2, true);
			fputc('"', f);
		}
		fputc('}', f);
	}
	fprintf(f, " %llu\n", (unsigned long long)value);
}

static void gauge(FILE *f, const char *name, const char *help, uint64_t value)
{
	family(f, name, "gauge", help);
	sample(f, name, NULL, NULL, NULL, NULL, value);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t value)
{
	family(f, name, "counter", help);
	sample(f, name, NULL, NULL, NULL, NULL, value);
}

/* ---- per client: one table, so each family's name, type, help and value
 * are written once, side by side */

static uint64_t c_connected(const struct metrics_client *c)
{
	return c->connected;
}
static uint64_t c_rx_bytes(const struct metrics_client *c)
{
	return c->st.rx_bytes;
}
static uint64_t c_tx_bytes(const struct metrics_client *c)
{
	return c->st.tx_bytes;
}
static uint64_t c_rx_packets(const struct metrics_client *c)
{
	return c->st.rx_packets;
}
static uint64_t c_tx_packets(const struct metrics_client *c)
{
	return c->st.tx_packets;
}
static uint64_t c_handshakes(const struct metrics_client *c)
{
	return c->st.handshakes;
}
static uint64_t c_last_handshake(const struct metrics_client *c)
{
	return c->st.last_handshake_unix;
}
static uint64_t c_spoofed(const struct metrics_client *c)
{
	return c->st.spoofed;
}
static uint64_t c_flows(const struct metrics_client *c)
{
	return c->flows;
}
static uint64_t c_policy_drops(const struct metrics_client *c)
{
	return c->policy_drops;
}
static uint64_t c_max_flows_refused(const struct metrics_client *c)
{
	return c->max_flows_refused;
}

enum client_needs { ALWAYS, FLOWS, DROPS, MAX_FLOWS };

static const struct client_family {
	const char *name, *type;
	uint64_t (*value)(const struct metrics_client *c);
	enum client_needs needs;
	const char *help;
} client_families[] = {
        {"egress_client_connected", "gauge", c_connected, ALWAYS,
         "1 when an authenticated packet came from the client within the last 180 s (as "
         "gatewayctl clients says), else 0."},
        {"egress_client_rx_bytes_total", "counter", c_rx_bytes, ALWAYS,
         "Bytes of inner packets received from the client through the tunnel and written to "
         "the TUN."},
        {"egress_client_tx_bytes_total", "counter", c_tx_bytes, ALWAYS,
         "Bytes of inner packets sent to the client through the tunnel."},
        {"egress_client_rx_packets_total", "counter", c_rx_packets, ALWAYS,
         "Inner packets received from the client and written to the TUN."},
        {"egress_client_tx_packets_total", "counter", c_tx_packets, ALWAYS,
         "Inner packets sent to the client."},
        {"egress_client_handshakes_total", "counter", c_handshakes, ALWAYS,
         "Handshakes completed with the client (a new session every two minutes while in use)."},
        {"egress_client_last_handshake_timestamp_seconds", "gauge", c_last_handshake, ALWAYS,
         "When the client's last handshake completed, in seconds since the epoch; 0: never."},
        {"egress_client_spoofed_packets_total", "counter", c_spoofed, ALWAYS,
         "The client's packets dropped because their source was not its tunnel address."},
        {"egress_client_active_flows", "gauge", c_flows, FLOWS,
         "The client's conntrack entries now, TCP connections in TIME_WAIT or CLOSE left out."},
        {"egress_client_policy_drops_total", "counter", c_policy_drops, DROPS,
         "Packets of the client's that the policy refused (a deny rule or default, the gateway "
         "host's default)."},
        {"egress_client_max_flows_refused_total", "counter", c_max_flows_refused, MAX_FLOWS,
         "Packets of new connections refused because the client was at its max_flows (clients "
         "with a max_flows only)."},
};

static void clients(FILE *f, const struct metrics_snapshot *s)
{
	const size_t n = sizeof(client_families) / sizeof(client_families[0]);

	for (size_t i = 0; i < n; i++) {
		const struct client_family *cf = &client_families[i];

		if ((cf->needs == FLOWS && !s->flows_ok) || (cf->needs == DROPS && !s->drops_ok) ||
		    (cf->needs == MAX_FLOWS && !s->rules_ok))
			continue;
		family(f, cf->name, cf->type, cf->help);
		for (size_t j = 0; j < s->n_clients; j++) {
			const struct metrics_client *c = &s->clients[j];

			if (cf->needs != MAX_FLOWS || c->has_max_flows)
				sample(f, cf->name, "client", c->name, NULL, NULL, cf->value(c));
		}
	}
}

/* ---- the policy, the drops, the device */

static void rules(FILE *f, const struct metrics_snapshot *s)
{
	static const char hits[] = "egress_policy_rule_hits_total";
	static const char bytes[] = "egress_policy_rule_bytes_total";

	family(f, hits, "counter",
	       "Packets the policy rule decided: the first packet of each new flow it matched "
	       "(established flows are accepted before the rules).");
	for (size_t i = 0; i < s->n_rules; i++)
		sample(f, hits, "rule", s->rules[i].name, "action",
		       s->rules[i].allow ? "allow" : "deny", s->rules[i].packets);
	family(f, bytes, "counter", "Bytes of the packets in egress_policy_rule_hits_total.");
	for (size_t i = 0; i < s->n_rules; i++)
		sample(f, bytes, "rule", s->rules[i].name, "action",
		       s->rules[i].allow ? "allow" : "deny", s->rules[i].bytes);
}

static void drops(FILE *f, const struct metrics_snapshot *s)
{
	static const char name[] = "egress_dropped_packets_total";
	uint64_t spoofed = 0, policy = 0;

	for (size_t i = 0; i < s->n_clients; i++)
		spoofed += s->clients[i].st.spoofed;
	for (size_t i = 0; i < s->n_rules; i++)
		if (!s->rules[i].allow)
			policy += s->rules[i].packets;
	family(f, name, "counter",
	       "Packets dropped, by reason: spoofed_source (a client's packet whose source was not "
	       "its tunnel address), replay (a data message whose counter was seen before or is "
	       "behind the replay window), bad_packet (any other datagram that was no valid "
	       "message, or carried no packet to deliver), no_peer (a packet from the TUN for no "
	       "client), policy (packets a deny rule or a deny default rejected).");
	sample(f, name, "reason", "spoofed_source", NULL, NULL, spoofed);
	sample(f, name, "reason", "replay", NULL, NULL, s->dev.replayed);
	/* replayed is part of invalid, both read at the same moment */
	sample(f, name, "reason", "bad_packet", NULL, NULL,
	       s->dev.invalid >= s->dev.replayed ? s->dev.invalid - s->dev.replayed : 0);
	sample(f, name, "reason", "no_peer", NULL, NULL, s->dev.no_route);
	if (s->rules_ok)
		sample(f, name, "reason", "policy", NULL, NULL, policy);
}

static void device(FILE *f, const struct metrics_snapshot *s)
{
	counter(f, "egress_handshake_messages_total",
	        "Handshake messages (initiations, responses) received with a valid mac1.",
	        s->dev.handshake_rx);
	counter(f, "egress_handshake_failures_total",
	        "Handshake messages with a valid mac1 that made no session: unknown key, failed "
	        "decryption, stale timestamp, too soon after the last, or no handshake to answer.",
	        s->dev.handshake_failures);
	counter(f, "egress_cookie_replies_total",
	        "Cookie replies sent instead of a handshake while under load.",
	        s->dev.cookie_replies);
	counter(f, "egress_load_events_total", "Times the gateway went under load.",
	        s->dev.load_events);
	gauge(f, "egress_under_load", "1 while the gateway is under load (answering with cookies).",
	      s->dev.under_load);
}

static void offloads(FILE *f, const struct metrics_snapshot *s)
{
	static const char on[] = "egress_offload_enabled",
	                  super[] = "egress_offload_superpackets_total",
	                  trains[] = "egress_offload_udp_trains_total";
	const struct wg_offload *o = &s->dev.offload;

	family(f, on, "gauge",
	       "1 for each offload in use: tun_tso, tun_uso, udp_gso, udp_gro (offload: in "
	       "gateway.yaml, less what the kernel refused), and tun_coalescing (superpackets "
	       "written into the TUN: tun_tso until a write was refused).");
	sample(f, on, "offload", "tun_tso", NULL, NULL, o->tun_tso);
	sample(f, on, "offload", "tun_uso", NULL, NULL, o->tun_uso);
	sample(f, on, "offload", "udp_gso", NULL, NULL, o->udp_gso);
	sample(f, on, "offload", "udp_gro", NULL, NULL, o->udp_gro);
	sample(f, on, "offload", "tun_coalescing", NULL, NULL, s->dev.tun_coalescing);
	family(f, super, "counter",
	       "TUN superpackets: read (split into MTU segments before encryption) and written "
	       "(decrypted packets of a flow coalesced).");
	sample(f, super, "direction", "read", NULL, NULL, s->dev.tun_super_rx);
	sample(f, super, "direction", "written", NULL, NULL, s->dev.tun_super_tx);
	family(f, trains, "counter",
	       "UDP trains: sends of several datagrams with UDP_SEGMENT, and receives of several "
	       "with UDP_GRO.");
	sample(f, trains, "direction", "sent", NULL, NULL, s->dev.gso_sends);
	sample(f, trains, "direction", "received", NULL, NULL, s->dev.gro_trains);
	counter(f, "egress_offload_fallbacks_total",
	        "Offloads turned off: refused by the kernel at the start, or a superpacket write "
	        "or UDP train it refused later.",
	        s->dev.fallbacks);
	counter(f, "egress_tun_drops_total",
	        "Packets the TUN did not take, and superpackets read from it that did not split.",
	        s->dev.tun_drops);
}

static void collectors(FILE *f, const struct metrics_snapshot *s)
{
	static const char name[] = "egress_collector_success";

	family(f, name, "gauge",
	       "1 when this scrape could read the source, else 0 and its metrics are left out: "
	       "flows (conntrack, for egress_client_active_flows), policy (the nft counters), "
	       "drops (the table's drop set, for egress_client_policy_drops_total), conntrack "
	       "(nf_conntrack_count and nf_conntrack_max).");
	sample(f, name, "collector", "flows", NULL, NULL, s->flows_ok);
	sample(f, name, "collector", "policy", NULL, NULL, s->rules_ok);
	sample(f, name, "collector", "drops", NULL, NULL, s->drops_ok);
	sample(f, name, "collector", "conntrack", NULL, NULL, s->conntrack_ok);
}

int metrics_render(const struct metrics_snapshot *s, char **text, size_t *len)
{
	size_t connected = 0;
	int failed;
	FILE *f;

	*text = NULL;
	*len = 0;
	f = open_memstream(text, len);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_clients; i++)
		connected += s->clients[i].connected;
	family(f, "egress_build_info", "gauge", "Always 1: the version of gatewayd in its label.");
	sample(f, "egress_build_info", "version", s->version, NULL, NULL, 1);
	gauge(f, "egress_start_time_seconds", "When gatewayd started, in seconds since the epoch.",
	      s->start_time);
	gauge(f, "egress_clients", "Clients in gateway.yaml.", s->n_clients);
	gauge(f, "egress_clients_connected",
	      "Clients with an authenticated packet within the last 180 s.", connected);
	clients(f, s);
	if (s->rules_ok)
		rules(f, s);
	drops(f, s);
	device(f, s);
	offloads(f, s);
	if (s->conntrack_ok) {
		gauge(f, "egress_conntrack_entries",
		      "Conntrack entries in gatewayd's network namespace (nf_conntrack_count).",
		      s->ct_count);
		gauge(f, "egress_conntrack_entries_limit",
		      "The most conntrack entries the namespace takes (nf_conntrack_max).",
		      s->ct_max);
	}
	collectors(f, s);
	failed = ferror(f);
	if (fclose(f) || failed) {
		free(*text);
		*text = NULL;
		*len = 0;
		return -ENOMEM;
	}
	return 0;
}
