/* gatewayd: the tunnel endpoint of many edges. main() is the list of steps:
 * read the configuration, bring up the TUN, turn on forwarding, install the
 * nft table, accept the clients' handshakes, and on SIGTERM/SIGINT undo each
 * step in reverse. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
#include "gateway/control.h"
#include "gateway/enforce.h"
#include "gateway/flowlog.h"
#include "gateway/metrics.h"
#include "gateway/nft.h"
#include "gateway/roster.h"
#include "policy/policy.h"
#include "tunnel/log.h"
#include "tunnel/loop.h"
#include "tunnel/daemon.h"
#include "tunnel/netdev.h"
#include "tunnel/nl.h"
#include "tunnel/prefix.h"
#include "tunnel/sysctl.h"
#include "tunnel/tun.h"
#include "tunnel/uapi.h"
#include "tunnel/wg.h"
#include "tunnel/worker.h"

#define DEFAULT_CONFIG "/etc/egress/gateway.yaml"

static const char usage[] =
        "usage: gatewayd [-c FILE] [-n] [-v]\n"
        "\n"
        "The egress gateway: terminates the WireGuard tunnels of the clients named\n"
        "in FILE, forwards their packets and MASQUERADEs them out of the uplink.\n"
        "Runs in the foreground and logs to stderr; SIGTERM or SIGINT stops it and\n"
        "removes its TUN device and nft table (a signal that arrives while it starts\n"
        "takes effect once it has started); SIGHUP re-reads FILE's clients and the\n"
        "policy file, all or nothing (an invalid one changes nothing, and says why;\n"
        "unchanged clients keep their sessions; other settings take a restart), and\n"
        "opens the flow log again (for logrotate); SIGUSR1 logs each client's\n"
        "counters and the flow log's. It refuses to start on an invalid policy file.\n"
        "\n"
        "  -c FILE   configuration (default " DEFAULT_CONFIG ")\n"
        "  -n        check the configuration and its policy file, print\n"
        "            \"configuration OK\" and exit\n"
        "  -v        log debug messages too\n"
        "  -h        this help\n";

/* With IPv6 forwarding on, an interface with accept_ra=1 ignores router
 * advertisements: an uplink that learned its IPv6 default route from them
 * loses it when the route expires. Only 2 keeps them coming. */
static void check_accept_ra(const char *uplink)
{
	char path[64], v[16];

	if (!uplink[0])
		return;
	snprintf(path, sizeof(path), "net/ipv6/conf/%s/accept_ra", uplink);
	if (sysctl_read(path, v, sizeof(v)) >= 0 && strcmp(v, "1") == 0)
		log_warnx("uplink %s ignores router advertisements while IPv6 forwarding is on "
		          "(accept_ra=1): if its IPv6 default route comes from them, it will "
		          "expire; net.ipv6.conf.%s.accept_ra=2 keeps them coming",
		          uplink, uplink);
}

/* The daemon's state: what each step of main() made, for the ones after it,
 * the control socket and the signals, and for undoing them. */
struct gateway {
	struct gw_config *cfg;
	struct nl *nl;
	int tun_fd;
	unsigned tun_offloads; /* TUN_F_* the TUN was opened with */
	struct wg_device *dev;
	struct sysctl_saved fwd4, fwd6;
	/* conntrack's accounting, start times and a DESTROY event for every
	 * entry, for `gatewayctl flows` */
	struct sysctl_saved ct_acct, ct_tstamp, ct_events;
	struct nft_owner *nft;
	struct enforce *policy; /* the table is installed when this is set */
	struct loop *loop;
	struct worker *worker;   /* policy changes, off the data path */
	struct roster *roster;   /* the client list, changed on SIGHUP */
	struct flowlog *flowlog; /* the flow log, and the events of flows --watch */
	struct control *ctl;
	const char *config_path;
	struct uapi_server *uapi; /* wg show */
	struct metrics *metrics;  /* NULL without metrics_listen */
	uint64_t started;
};

/* SIGUSR1. */
static void report(void *arg)
{
	struct gateway *g = arg;

	wg_device_log_stats(g->dev);
	flowlog_report(g->flowlog);
}

/* SIGHUP: gateway.yaml's clients and the policy file again, all or
 * nothing, on the worker thread like an apply. */
static void reload(void *arg)
{
	struct gateway *g = arg;

	flowlog_reopen(g->flowlog);
	roster_reload(g->roster);
}

static int add_clients(struct wg_device *dev, const struct gw_config *cfg)
{
	for (size_t i = 0; i < cfg->n_clients; i++) {
		if (!roster_add_peer(dev, &cfg->clients[i])) {
			log_err("client %s", cfg->clients[i].name);
			return -errno;
		}
	}
	return 0;
}

/* 2. The TUN with the gateway's addresses: the kernel routes the client
 *    subnet to it. */
static int start_tun(struct gateway *g)
{
	const struct gw_config *cfg = g->cfg;
	struct prefix addrs[2] = {cfg->addr, cfg->addr6};
	int ifindex;

	g->nl = nl_open();
	if (!g->nl) {
		log_err("rtnetlink");
		return -1;
	}
	g->tun_fd = netdev_up(g->nl, cfg->ifname, cfg->mtu, addrs, cfg->has_addr6 ? 2 : 1,
	                      netdev_tun_want(&cfg->offload), &g->tun_offloads, &ifindex);
	return g->tun_fd < 0 ? -1 : 0;
}

/* 3. The device and its clients; the UDP port is taken before the kernel
 *    starts forwarding for us. */
static int start_device(struct gateway *g)
{
	g->dev = wg_device_new(&(struct wg_device_params){
	        .private_key = g->cfg->priv,
	        .tun_fd = g->tun_fd,
	        .mtu = g->cfg->mtu,
	        .listen_port = g->cfg->listen_port,
	        .load_threshold = g->cfg->load_threshold,
	        .time_divisor = daemon_time_divisor(),
	        .offload = g->cfg->offload,
	        .tun_offloads = g->tun_offloads,
	});
	if (!g->dev) {
		log_err("cannot listen on UDP port %u", g->cfg->listen_port);
		return -1;
	}
	if (add_clients(g->dev, g->cfg) < 0)
		return -1;
	/* The device holds its own copies now: one copy of each key is enough. */
	gw_config_wipe_keys(g->cfg);
	return 0;
}

/* 3b. The metrics' TCP port, taken with the UDP one: a port in use stops the
 *     start before forwarding and the table. Served from step 5 on. */
static int start_metrics(struct gateway *g)
{
	return metrics_open(&g->metrics, g->cfg) < 0 ? -1 : 0;
}

/* 4. Forwarding, and the nft table with the policy in one transaction. */
static int start_table(struct gateway *g)
{
	const struct gw_config *cfg = g->cfg;
	char *msg = NULL, net[PREFIX_STRLEN];
	int e;

	e = sysctl_set_saved(&g->fwd4, "1");
	if (!e && cfg->has_addr6)
		e = sysctl_set_saved(&g->fwd6, "1");
	if (e) {
		errno = -e;
		log_err("cannot turn on forwarding");
		return -1;
	}
	if (cfg->has_addr6)
		check_accept_ra(cfg->uplink);
	e = nft_open(&g->nft);
	if (!e)
		e = enforce_start(&g->policy, cfg, g->nft, &msg);
	if (e == -EPERM || e == -EOPNOTSUPP) {
		log_errx("cannot install nft table inet %s: a table of that name exists and is not "
		         "ours (%s gatewayd in this network namespace?); not taking it over",
		         NFT_TABLE, e == -EPERM ? "another" : "made by hand, or an older");
		free(msg);
		return -1;
	}
	if (e) {
		log_errx("cannot install nft table inet %s: %s", NFT_TABLE,
		         msg ? msg : strerror(-e));
		free(msg);
		return -1;
	}
	/* The rule matches the name, so a later interface of that name works;
	 * but a typo would masquerade nothing, which deserves a word. */
	if (cfg->uplink[0] && nl_link_index(cfg->uplink) < 0)
		log_warnx("uplink %s does not exist (yet): nothing is masqueraded until it does",
		          cfg->uplink);
	log_info("installed nft table inet %s (MASQUERADE of %s%s%s)", NFT_TABLE,
	         prefix_format(&cfg->addr, net, sizeof(net)), cfg->uplink[0] ? " out of " : "",
	         cfg->uplink);
	log_info("policy %s in force (%zu rules)", enforce_source(g->policy),
	         policy_rule_count(enforce_policy(g->policy)));
	/* After the table: its ct expressions have loaded conntrack, whose
	 * knobs exist from then on. Flows work without them, only with less
	 * to show. */
	struct sysctl_saved *ct[] = {&g->ct_acct, &g->ct_tstamp, &g->ct_events};
	for (size_t i = 0; i < sizeof(ct) / sizeof(ct[0]); i++) {
		e = sysctl_set_saved(ct[i], "1");
		if (e)
			log_warnx("cannot set %s to 1: %s; flows show less", ct[i]->path,
			          strerror(-e));
	}
	return 0;
}

/* The flow log's names, from the policies in force: called from its
 * thread (enforce's are thread-safe). */
static int client_name(void *arg, uint32_t mark, char *buf, size_t len)
{
	return enforce_client_name(arg, mark, buf, len);
}

static int rule_name(void *arg, uint32_t id, char *buf, size_t len)
{
	return enforce_rule_name(arg, id, buf, len);
}

/* EGRESS_TEST_FLOWLOG_RCVBUF: for tests only, a small event socket that
 * overruns (and resyncs) at a burst of flows; 0 when unset. */
static int test_rcvbuf(void)
{
	const char *s = getenv("EGRESS_TEST_FLOWLOG_RCVBUF");
	char *end;
	long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1024 || v > (1 << 30))
		fatalx("EGRESS_TEST_FLOWLOG_RCVBUF: \"%s\" is not a number of bytes from 1024", s);
	log_warnx("EGRESS_TEST_FLOWLOG_RCVBUF=%ld: the flow log's event socket is that small; for "
	          "tests only, it will overrun",
	          v);
	return (int)v;
}

/* The flow log, and the listener that flows --watch uses: its own thread. */
static int start_flowlog(struct gateway *g)
{
	const struct gw_config *cfg = g->cfg;

	return flowlog_new(&g->flowlog, g->loop,
	                   &(struct flowlog_params){
	                           .path = cfg->flow_log,
	                           .log_new = cfg->flow_log_new,
	                           .tag = cfg->mark_tag,
	                           .mask = ~cfg->mark_id_mask,
	                           .rcvbuf = test_rcvbuf(),
	                           .client_name = client_name,
	                           .rule_name = rule_name,
	                           .arg = g->policy,
	                   }) < 0
	               ? -1
	               : 0;
}

/* 5. The loop, its signals, the control socket and the metrics. */
static int start_loop(struct gateway *g)
{
	int e;

	g->loop = loop_new();
	if (!g->loop ||
	    daemon_signals(g->loop,
	                   &(struct daemon_signals){.reload = reload, .report = report, .arg = g}) <
	            0 ||
	    wg_device_attach(g->dev, g->loop) < 0) {
		log_err("event loop");
		return -1;
	}
	e = worker_new(&g->worker, g->loop);
	if (e < 0) {
		errno = -e;
		log_err("worker thread");
		return -1;
	}
	if (roster_new(&g->roster, g->cfg, g->config_path, g->dev, g->policy, g->worker) < 0) {
		log_errx("out of memory");
		return -1;
	}
	if (start_flowlog(g) < 0)
		return -1;
	if (control_open(&g->ctl, g->loop,
	                 &(struct control_view){.cfg = g->cfg,
	                                        .dev = g->dev,
	                                        .started = g->started,
	                                        .policy = g->policy,
	                                        .worker = g->worker,
	                                        .roster = g->roster,
	                                        .flowlog = g->flowlog}) < 0)
		return -1;
	if (metrics_attach(g->metrics, g->loop,
	                   &(struct metrics_view){.cfg = g->cfg,
	                                          .dev = g->dev,
	                                          .policy = g->policy,
	                                          .worker = g->worker}) < 0)
		return -1;
	log_info("listening on UDP port %u, interface %s, %zu clients", wg_device_port(g->dev),
	         g->cfg->ifname, g->cfg->n_clients);
	return 0;
}

/* 6. `wg show`: the interface's socket where wg(8) looks for it. */
static int start_uapi(struct gateway *g)
{
	char err[256];
	int e;

	e = uapi_open(&g->uapi, g->loop,
	              &(struct uapi_params){.dir = g->cfg->wg_socket_dir,
	                                    .ifname = g->cfg->ifname,
	                                    .dev = g->dev},
	              err, sizeof(err));
	if (e < 0) {
		log_errx("wg show socket: %s%s", err,
		         e == -EADDRINUSE ? " (a WireGuard interface of that name is running)"
		                          : "");
		return -1;
	}
	log_info("wg show socket %s/%s.sock", g->cfg->wg_socket_dir, g->cfg->ifname);
	return 0;
}

/* Undo in reverse; each step is safe when its start never happened. */
static void stop(struct gateway *g)
{
	int e;

	/* The worker first: the job it runs finishes and answers, the waiting
	 * ones are told gatewayd stops, then the sockets go. */
	worker_free(g->worker);
	metrics_close(g->metrics);
	roster_free(g->roster);
	/* The watchers' streams get their last part, then the listener goes. */
	control_close(g->ctl);
	flowlog_free(g->flowlog);
	uapi_close(g->uapi);
	if (g->policy) {
		e = nft_remove(g->nft);
		if (e)
			log_warnx("cannot remove nft table inet %s: %s", NFT_TABLE, strerror(-e));
		else
			log_info("removed nft table inet %s", NFT_TABLE);
	}
	enforce_free(g->policy);
	sysctl_restore(&g->ct_events);
	sysctl_restore(&g->ct_tstamp);
	sysctl_restore(&g->ct_acct);
	sysctl_restore(&g->fwd6);
	sysctl_restore(&g->fwd4);
	nft_close(g->nft);
	loop_free(g->loop);
	wg_device_free(g->dev);
	tun_close(g->tun_fd);
	nl_close(g->nl);
	gw_config_free(g->cfg);
}

/* -n: the configuration has parsed; the policy file it names must too. */
static int check_policy(const struct gw_config *cfg)
{
	char *msg = NULL;
	bool builtin;

	if (enforce_check_file(cfg, &builtin, &msg) < 0) {
		fprintf(stderr, "gatewayd: %s\n", msg ? msg : "out of memory");
		free(msg);
		return 1;
	}
	if (msg)
		fprintf(stderr, "%s\n", msg);
	free(msg);
	printf("configuration OK\n");
	fprintf(stderr, "gatewayd: policy: %s\n",
	        builtin ? "the built-in one (no policy_file)" : cfg->policy_file);
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = DEFAULT_CONFIG;
	struct gateway g = {
	        .tun_fd = -1,
	        .fwd4 = {.path = "net/ipv4/ip_forward"},
	        .fwd6 = {.path = "net/ipv6/conf/all/forwarding"},
	        .ct_acct = {.path = "net/netfilter/nf_conntrack_acct"},
	        .ct_tstamp = {.path = "net/netfilter/nf_conntrack_timestamp"},
	        .ct_events = {.path = "net/netfilter/nf_conntrack_events"},
	        .started = wg_now(),
	};
	char err[512];
	bool check_only = false;
	int opt, rc = 1;

	log_set_ident("gatewayd");
	daemon_hold_signals();
	opt = daemon_options(argc, argv, "gatewayd", usage, &config_path, &check_only);
	if (opt >= 0)
		return opt;

	/* 1. The whole configuration, before anything changes. */
	g.config_path = config_path;
	if (gw_config_load(config_path, &g.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "gatewayd: %s\n", err);
		return 1;
	}
	if (check_only) {
		rc = check_policy(g.cfg);
		goto out;
	}
	if (start_tun(&g) < 0 || start_device(&g) < 0 || start_metrics(&g) < 0 ||
	    start_table(&g) < 0 || start_loop(&g) < 0 || start_uapi(&g) < 0)
		goto out;
	daemon_ready("serving");
	if (loop_run(g.loop) < 0) {
		log_err("event loop");
		goto out;
	}
	rc = 0;
out:
	daemon_stopping();
	stop(&g);
	return rc;
}
