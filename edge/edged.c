/* edged: the edge's tunnel client. main() is the list of steps: read the
 * configuration, bring up the TUN, the kill switch, routes through it and the
 * resolvers, connect to the gateway, and on SIGTERM/SIGINT put everything back
 * exactly as it was. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge/config.h"
#include "edge/dns.h"
#include "edge/failover.h"
#include "edge/killswitch.h"
#include "edge/route.h"
#include "edge/status.h"
#include "tunnel/crypto.h"
#include "tunnel/ctl.h"
#include "tunnel/key.h"
#include "tunnel/log.h"
#include "tunnel/loop.h"
#include "tunnel/daemon.h"
#include "tunnel/netdev.h"
#include "tunnel/nl.h"
#include "tunnel/prefix.h"
#include "tunnel/tun.h"
#include "tunnel/uapi.h"
#include "tunnel/wg.h"

#define DEFAULT_CONFIG "/etc/egress/edge.yaml"
#define SRC_VALID_MARK "net/ipv4/conf/all/src_valid_mark"

static const char usage[] =
        "usage: edged [-c FILE] [-n] [-v]\n"
        "       edged --lockdown | --down [-c FILE] [-v]\n"
        "       edged status [--json] [-c FILE] [--socket PATH]\n"
        "       edged genkey | genpsk | pubkey\n"
        "\n"
        "The egress edge: a WireGuard tunnel to the gateway named in FILE (or the\n"
        "first of its gateways that answers, failing over and back), with the\n"
        "default route through it (route_all) and, with kill_switch (on by default\n"
        "with route_all), nothing let out of any other interface but the tunnel's\n"
        "own packets (nft table inet egress-edge). With dns, those resolvers are\n"
        "the host's while it runs (resolv_conf rewritten, or systemd-resolved).\n"
        "Runs in the foreground and logs to stderr; SIGTERM or SIGINT stops it,\n"
        "restores routes, rules and resolv_conf and removes the kill switch (a\n"
        "signal that arrives while it starts takes effect once it has started).\n"
        "Killed otherwise, it leaves the kill switch in place: the host stays\n"
        "closed until edged starts again or --down.\n"
        "SIGHUP re-reads gateways, allow, allow_lan and dns (all or nothing);\n"
        "SIGUSR1 logs its counters.\n"
        "\n"
        "  -c FILE     configuration (default " DEFAULT_CONFIG ")\n"
        "  -n          check the configuration, print \"configuration OK\" and exit\n"
        "  -v          log debug messages too\n"
        "  -h          this help\n"
        "  --lockdown  put the kill switch in place and exit (for a unit before the\n"
        "              network comes up); edged's start takes it over\n"
        "  --down      after a crash or --lockdown: remove the kill switch and the\n"
        "              rules a killed edged left and put its resolv_conf back,\n"
        "              from the state in state_dir;\n"
        "              refused while edged runs (stop it with SIGTERM)\n"
        "  status      ask the running edged (control_socket) how it is: connecting,\n"
        "              connected or failed over, its gateway, last handshake, bytes,\n"
        "              kill switch;\n"
        "              \"locked down\" when none runs and its kill switch is in place\n"
        "  genkey      print a new private key (base64), like `wg genkey`\n"
        "  genpsk      print a new preshared key, like `wg genpsk`\n"
        "  pubkey      read a private key on stdin, print its public key\n";

/* The state in cfg's state_dir, when another edged is not running on it:
 * 0 (with *stale when a dead edged or a lockdown left it), -EBUSY (said),
 * or -errno (said). */
static int check_state(const struct edge_config *cfg, struct ks_state *st, bool *stale)
{
	int e = ks_state_read(cfg->state_dir, st);

	*stale = false;
	if (e == -ENOENT)
		return 0;
	if (e == -EINVAL) {
		log_errx("%s/killswitch is not edged's state file: left alone; remove it by hand",
		         cfg->state_dir);
		return e;
	}
	if (e < 0) {
		errno = -e;
		log_err("cannot read %s/killswitch", cfg->state_dir);
		return e;
	}
	if (ks_state_owner_running(st)) {
		log_errx("edged (pid %ld) is running with state_dir %s", (long)st->pid,
		         cfg->state_dir);
		return -EBUSY;
	}
	*stale = true;
	return 0;
}

/* What a killed edged left: its rules, and src_valid_mark as it found it. */
static void clean_stale(struct nl *nl, const struct edge_config *cfg, const struct ks_state *st)
{
	int n = route_all_stale(nl, cfg);

	if (n > 0)
		log_info("removed %d routing rules of an edged that did not stop cleanly", n);
	else if (n < 0)
		log_warnx("cannot remove the rules a previous edged left: %s", strerror(-n));
	if (st->src_valid_mark[0] && sysctl_write(SRC_VALID_MARK, st->src_valid_mark) == 0)
		log_info("set %s back to %s", SRC_VALID_MARK, st->src_valid_mark);
}

/* The kill switch for cfg in place of any there is, in one transaction: 0
 * or -1 (said). With allow_lan, the private subnets of every interface but
 * lo and the TUN (tun_ifindex, 0: none yet) are let out too. */
static int kill_switch_load(const struct edge_config *cfg, struct nl *nl, unsigned tun_ifindex)
{
	struct ks_params kp = ks_params_of(cfg);
	struct prefix lan[64];
	char *text = NULL, err[512];
	int e;

	if (cfg->allow_lan) {
		e = ks_lan_prefixes(nl, tun_ifindex, lan, sizeof(lan) / sizeof(lan[0]));
		if (e < 0) {
			errno = -e;
			log_err("allow_lan: cannot list the interfaces' addresses");
			return -1;
		}
		kp.lan = lan;
		kp.n_lan = (size_t)e;
	}
	e = ks_render(&kp, &text);
	if (e == 0)
		e = ks_apply(text, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s", strerror(-e));
	free(text);
	if (e < 0) {
		log_errx("cannot put the kill switch in place: %s", err);
		return -1;
	}
	return 0;
}

/* The kill switch in place of any there is, the state written first: 0 or
 * -1 (said). */
static int kill_switch_up(const struct edge_config *cfg, struct nl *nl, unsigned tun_ifindex)
{
	struct ks_state st = {.pid = getpid()};
	int e;

	e = ks_state_write(cfg->state_dir, &st);
	if (e < 0) {
		errno = -e;
		log_err("cannot write %s/killswitch", cfg->state_dir);
		return -1;
	}
	if (kill_switch_load(cfg, nl, tun_ifindex) < 0) {
		ks_state_remove(cfg->state_dir);
		return -1;
	}
	log_info("kill switch on: nothing leaves but through %s (nft table inet " KS_TABLE ")",
	         cfg->ifname);
	return 0;
}

/* --down and --lockdown: 0 or 1, the exit status. */
static int kill_switch_cmd(const struct edge_config *cfg, bool down)
{
	struct ks_state st;
	struct nl *nl;
	bool stale;
	char err[512];
	int e;

	if (check_state(cfg, &st, &stale) < 0)
		return 1;
	nl = nl_open();
	if (!nl) {
		log_err("rtnetlink");
		return 1;
	}
	if (!down) {
		e = kill_switch_up(cfg, nl, 0);
		nl_close(nl);
		return e < 0 ? 1 : 0;
	}
	if (stale)
		clean_stale(nl, cfg, &st);
	nl_close(nl);
	if (dns_restore_saved(cfg->state_dir) < 0)
		return 1;
	e = ks_present();
	if (e > 0 && (e = ks_remove(err, sizeof(err))) < 0) {
		log_errx("cannot remove the kill switch: %s", err);
		return 1;
	}
	ks_state_remove(cfg->state_dir);
	if (!stale && e == 0)
		log_info("no kill switch was in place");
	else
		log_info("kill switch removed: traffic leaves as the routes say");
	return 0;
}

/* What the loop's callbacks share. */
struct edged {
	const char *config_path;
	struct edge_config *cfg;
	struct wg_device *dev;
	struct wg_peer *gw;    /* the gateway in use: the one peer with routes */
	struct wg_peer *probe; /* failback's probe of an earlier gateway, or NULL */
	size_t probe_index;
	size_t announced; /* the probed gateway last logged, FO_NONE_PROBED */
	struct fo fo;
	struct edge_status_view *view;
	struct nl *nl;
	unsigned ifindex;
	bool switched;
	bool failed; /* the loop stopped on an error */
	enum dns_how dns;
};

/* A peer for gateway i of d->cfg: with the routes (the gateway in use) or
 * without (a probe). With route_all every address may come back through the
 * tunnel; without, only the tunnel's own prefixes. NULL (said). */
static struct wg_peer *gateway_peer(const struct edged *d, size_t i, bool routes)
{
	const struct edge_config *cfg = d->cfg;
	const struct edge_gateway *g = &cfg->gws[i];
	struct prefix all[2] = {{.family = AF_INET}, {.family = AF_INET6}};
	struct prefix own[2] = {cfg->addr, cfg->addr6};
	struct wg_peer *p;
	char name[32];

	if (cfg->n_gws == 1)
		snprintf(name, sizeof(name), "gateway");
	else
		snprintf(name, sizeof(name), "gateway%zu", i + 1);
	p = wg_peer_add(d->dev,
	                &(struct wg_peer_params){
	                        .name = name,
	                        .public_key = g->pub,
	                        .psk = g->has_psk ? g->psk : NULL,
	                        .endpoint = (const struct sockaddr *)&g->endpoint,
	                        .endpoint_len = g->endpoint_len,
	                        .persistent_keepalive = routes ? cfg->persistent_keepalive : 0,
	                        .allowed = !routes          ? NULL
	                                   : cfg->route_all ? all
	                                                    : own,
	                        .n_allowed = !routes          ? 0
	                                     : cfg->has_addr6 ? 2
	                                                      : 1,
	                });
	if (!p)
		log_err("peer %s", name);
	return p;
}

static struct fo_peer fo_peer_of(const struct wg_peer *p, uint64_t now)
{
	struct wg_peer_stats st;

	wg_peer_stats(p, now, &st);
	return (struct fo_peer){.tx_packets = st.tx_packets,
	                        .last_rx_ns = st.last_rx_ns,
	                        .handshakes = st.handshakes,
	                        .unanswered = st.unanswered};
}

static void drop_probe(struct edged *d)
{
	if (!d->probe)
		return;
	if (d->fo.stage == FO_IDLE)
		d->announced = FO_NONE_PROBED; /* probing ended: say so at the next */
	wg_peer_remove(d->probe);
	d->probe = NULL;
}

/* Gateway i in use from now, in place of the one before: 0 or -1 (said). */
static int use_gateway(struct edged *d, size_t i, uint64_t now)
{
	drop_probe(d);
	if (d->gw)
		wg_peer_remove(d->gw);
	d->gw = gateway_peer(d, i, true);
	d->view->gw = d->gw;
	d->view->gw_index = i;
	if (!d->gw)
		return -1;
	wg_peer_connect(d->gw, now);
	return 0;
}

static const char *endpoint_of(const struct edge_config *cfg, size_t i, char *buf, size_t size)
{
	wg_format_endpoint(&cfg->gws[i].endpoint, buf, size);
	return buf;
}

/* Once a second: what failover.h decides (nothing with one gateway). */
static int failover_tick(void *arg)
{
	struct edged *d = arg;
	uint64_t now = wg_now();
	struct fo_peer a, p;
	size_t from = d->fo.active, to;
	char e1[WG_ENDPOINT_STRLEN], e2[WG_ENDPOINT_STRLEN];
	enum fo_action act;

	if (d->failed || !d->gw) {
		d->failed = true;
		return -1; /* no gateway peer (ENOMEM): stop, the host stays closed */
	}
	a = fo_peer_of(d->gw, now);
	if (d->probe)
		p = fo_peer_of(d->probe, now);
	act = fo_tick(&d->fo, now, &a, d->probe ? &p : NULL, &to);
	switch (act) {
	case FO_STAY:
		return 0;
	case FO_PROBE_END:
		drop_probe(d);
		return 0;
	case FO_PROBE:
		/* a new peer each round: its handshake count is this round's */
		drop_probe(d);
		d->probe = gateway_peer(d, to, false);
		d->probe_index = to;
		if (!d->probe)
			return 0; /* tried again at the next round */
		if (d->announced != to)
			log_info(
			        "failback: asking gateway %zu (%s) whether it answers again, every "
			        "%llu s",
			        to + 1, endpoint_of(d->cfg, to, e1, sizeof(e1)),
			        (unsigned long long)(FO_PROBE_WAIT_NS / 1000000000ull));
		d->announced = to;
		wg_peer_connect(d->probe, now);
		return 0;
	case FO_PROBE_AGAIN:
		if (d->probe)
			wg_peer_connect(d->probe, now);
		return 0;
	case FO_SWITCH:
		log_warnx("gateway %zu (%s) %s: failing over to gateway %zu (%s)", from + 1,
		          endpoint_of(d->cfg, from, e1, sizeof(e1)),
		          a.handshakes ? "stopped answering" : "does not answer", to + 1,
		          endpoint_of(d->cfg, to, e2, sizeof(e2)));
		break;
	case FO_FAILBACK:
		log_info("gateway %zu (%s) has answered for %llu s: back to it from gateway %zu "
		         "(failback: preempt)",
		         to + 1, endpoint_of(d->cfg, to, e1, sizeof(e1)),
		         (unsigned long long)(FO_HOLD_DOWN_NS / 1000000000ull), from + 1);
		break;
	}
	if (use_gateway(d, to, now) < 0) {
		d->failed = true;
		return -1;
	}
	return 0;
}

static struct dns_params dns_params_of(const struct edge_config *cfg)
{
	return (struct dns_params){.ifname = cfg->ifname,
	                           .resolv_conf = cfg->resolv_conf,
	                           .state_dir = cfg->state_dir,
	                           .dns = cfg->dns,
	                           .n_dns = cfg->n_dns};
}

/* The first key of edge.yaml that n changes and only a restart applies;
 * NULL when n changes none. */
static const char *fixed_key(const struct edged *d, const struct edge_config *n)
{
	const struct edge_config *o = d->cfg;

	if (strcmp(o->ifname, n->ifname))
		return "interface";
	if (!crypto_equal(wg_device_private_key(d->dev), n->priv, sizeof(n->priv)))
		return "private_key_file";
	if (prefix_cmp(&o->addr, &n->addr) || o->addr.len != n->addr.len)
		return "address";
	if (o->has_addr6 != n->has_addr6 || (o->has_addr6 && prefix_cmp(&o->addr6, &n->addr6)))
		return "address6";
	if (o->mtu != n->mtu)
		return "mtu";
	if (memcmp(&o->offload, &n->offload, sizeof(o->offload)))
		return "offload";
	if (o->persistent_keepalive != n->persistent_keepalive)
		return "persistent_keepalive";
	if (o->route_all != n->route_all)
		return "route_all";
	if (o->kill_switch != n->kill_switch)
		return "kill_switch";
	if (o->fwmark != n->fwmark)
		return "fwmark";
	if (o->table != n->table)
		return "table";
	if (strcmp(o->wg_socket_dir, n->wg_socket_dir))
		return "wg_socket_dir";
	if (strcmp(o->state_dir, n->state_dir))
		return "state_dir";
	if (strcmp(o->control_socket, n->control_socket))
		return "control_socket";
	if (strcmp(o->resolv_conf, n->resolv_conf))
		return "resolv_conf";
	return NULL;
}

/* n's resolvers in place of d's: 0 with *how, or -1 (said; d's stay). */
static int dns_apply(const struct edged *d, const struct edge_config *n, enum dns_how *how)
{
	struct dns_params op = dns_params_of(d->cfg), np = dns_params_of(n);

	*how = d->dns;
	if (!op.n_dns && !np.n_dns)
		return 0;
	if (!op.n_dns)
		return dns_up(&np, how);
	if (!np.n_dns) {
		dns_down(&op, d->dns);
		*how = DNS_NONE;
		return 0;
	}
	return dns_change(&np, &op, d->dns);
}

/* SIGUSR1. */
static void report(void *arg)
{
	wg_device_log_stats(((struct edged *)arg)->dev);
}

/* Where the gateway in use is in n's list, or n->n_gws when it is not. */
static size_t gateway_in(const struct edged *d, const struct edge_config *n)
{
	const struct edge_gateway *o = &d->cfg->gws[d->fo.active];

	for (size_t i = 0; i < n->n_gws; i++) {
		const struct edge_gateway *g = &n->gws[i];

		if (g->endpoint_len == o->endpoint_len &&
		    !memcmp(&g->endpoint, &o->endpoint, g->endpoint_len) &&
		    wg_peer_has_keys(d->gw, g->pub, g->has_psk ? g->psk : NULL))
			return i;
	}
	return n->n_gws;
}

/* SIGHUP (systemd's ExecReload): edge.yaml again, and what of it may change
 * while the tunnel runs, gateways, allow, allow_lan and dns, applied all or
 * nothing;
 * the kill switch is replaced in one transaction, never absent. */
static void reload(void *arg)
{
	struct edged *d = arg;
	struct edge_config *n = NULL;
	enum dns_how how;
	const char *key;
	char err[512];
	size_t keep;

	if (d->failed)
		return;
	if (edge_config_reload(d->config_path, d->cfg, &n, err, sizeof(err)) < 0) {
		log_errx("SIGHUP: %s: nothing changed", err);
		return;
	}
	key = fixed_key(d, n);
	if (key) {
		log_errx("SIGHUP: %s changed in %s, which takes a restart: nothing changed", key,
		         d->config_path);
		goto out;
	}
	if (d->switched && kill_switch_load(n, d->nl, d->ifindex) < 0) {
		log_errx("SIGHUP: nothing changed");
		goto out;
	}
	if (dns_apply(d, n, &how) < 0) {
		if (d->switched && kill_switch_load(d->cfg, d->nl, d->ifindex) < 0)
			log_errx("SIGHUP: the kill switch stays as %s says now", d->config_path);
		log_errx("SIGHUP: nothing changed");
		goto out;
	}
	d->dns = how;
	keep = gateway_in(d, n);
	memcpy(d->cfg->gws, n->gws, sizeof(n->gws));
	d->cfg->n_gws = n->n_gws;
	d->cfg->failover_after = n->failover_after;
	d->cfg->failback = n->failback;
	drop_probe(d);
	if (keep < n->n_gws) {
		fo_keep(&d->fo, n->n_gws, n->failover_after, n->failback == EDGE_FAILBACK_STICKY,
		        keep, wg_now());
		d->view->gw_index = keep;
	} else {
		log_info("SIGHUP: the gateway in use is no longer listed: gateway 1 from now");
		fo_init(&d->fo, n->n_gws, n->failover_after, n->failback == EDGE_FAILBACK_STICKY,
		        wg_now());
		if (use_gateway(d, 0, wg_now()) < 0) {
			log_errx("SIGHUP: no gateway peer: edged stops, the kill switch stays");
			d->failed = true;
		}
	}
	memcpy(d->cfg->allow, n->allow, sizeof(n->allow));
	d->cfg->n_allow = n->n_allow;
	d->cfg->allow_lan = n->allow_lan;
	memcpy(d->cfg->dns, n->dns, sizeof(n->dns));
	d->cfg->n_dns = n->n_dns;
	log_info("SIGHUP: %s applied: %zu gateways, %zu allow entries, allow_lan %s, %zu "
	         "resolvers",
	         d->config_path, n->n_gws, n->n_allow, n->allow_lan ? "on" : "off", n->n_dns);
out:
	edge_config_free(n);
}

int main(int argc, char **argv)
{
	const char *config_path = DEFAULT_CONFIG;
	struct edge_config *cfg = NULL;
	struct edge_routes routes = {0};
	struct wg_device *dev = NULL;
	struct wg_peer *gw;
	struct loop *loop = NULL;
	struct uapi_server *uapi = NULL;
	struct ctl_server *ctl = NULL;
	struct edge_status_view view;
	struct nl *nl = NULL;
	bool check_only = false, routed = false, switched = false, stale = false;
	const char *ks_cmd = NULL;
	struct ks_state st;
	struct dns_params dp;
	struct edged d = {.config_path = config_path, .dns = DNS_NONE};
	char err[512];
	int opt, rc = 1, tun_fd = -1, ifindex, e;
	unsigned tun_offloads = 0;

	log_set_ident("edged");
	daemon_hold_signals();
	if (argc == 2 && !strcmp(argv[1], "genkey"))
		return key_cmd_genkey(stdout);
	if (argc == 2 && !strcmp(argv[1], "genpsk"))
		return key_cmd_genpsk(stdout);
	if (argc == 2 && !strcmp(argv[1], "pubkey"))
		return key_cmd_pubkey(stdin, stdout);
	if (argc >= 2 && !strcmp(argv[1], "status"))
		return edge_status_cmd(argc - 1, argv + 1, DEFAULT_CONFIG);
	/* --down and --lockdown, taken out before the common options */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--down") && strcmp(argv[i], "--lockdown"))
			continue;
		if (ks_cmd) {
			fprintf(stderr, "edged: %s and %s: one or the other\n", ks_cmd, argv[i]);
			return 1;
		}
		ks_cmd = argv[i];
		memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
		argc--;
		i--;
	}
	opt = daemon_options(argc, argv, "edged", usage, &config_path, &check_only);
	if (opt >= 0)
		return opt;
	if (ks_cmd && check_only) {
		fprintf(stderr, "edged: %s and -n: one or the other\n", ks_cmd);
		return 1;
	}

	/* 1. The whole configuration, before anything changes. */
	if (edge_config_load(config_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "edged: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("configuration OK\n");
		rc = 0;
		goto out;
	}
	if (ks_cmd) {
		if (!cfg->kill_switch && strcmp(ks_cmd, "--down")) {
			/* edged's start would never take such a lockdown over */
			log_errx("kill_switch is off in %s: no lockdown with it", config_path);
			goto out;
		}
		rc = kill_switch_cmd(cfg, !strcmp(ks_cmd, "--down"));
		goto out;
	}
	if (cfg->kill_switch && check_state(cfg, &st, &stale) < 0)
		goto out;

	/* 2. The TUN with the edge's tunnel addresses. */
	struct prefix addrs[2] = {cfg->addr, cfg->addr6};
	nl = nl_open();
	if (!nl) {
		log_err("rtnetlink");
		goto out;
	}
	tun_fd = netdev_up(nl, cfg->ifname, cfg->mtu, addrs, cfg->has_addr6 ? 2 : 1,
	                   netdev_tun_want(&cfg->offload), &tun_offloads, &ifindex);
	if (tun_fd < 0)
		goto out;

	/* 3. The device and its peer: the first gateway. */
	dev = wg_device_new(&(struct wg_device_params){
	        .private_key = cfg->priv,
	        .tun_fd = tun_fd,
	        .mtu = cfg->mtu,
	        .fwmark = cfg->route_all ? cfg->fwmark : 0,
	        .time_divisor = daemon_time_divisor(),
	        .offload = cfg->offload,
	        .tun_offloads = tun_offloads,
	});
	if (!dev) {
		log_err("cannot open the tunnel's UDP socket");
		goto out;
	}
	d = (struct edged){.config_path = config_path,
	                   .cfg = cfg,
	                   .dev = dev,
	                   .view = &view,
	                   .announced = FO_NONE_PROBED,
	                   .nl = nl,
	                   .ifindex = (unsigned)ifindex,
	                   .dns = DNS_NONE};
	view = (struct edge_status_view){.cfg = cfg};
	gw = d.gw = gateway_peer(&d, 0, true);
	if (!gw)
		goto out;
	view.gw = gw;
	/* The device holds its own copy of the private key now. The preshared
	 * keys stay: a failover makes the next gateway's peer from them. */
	crypto_wipe(cfg->priv, sizeof(cfg->priv));

	/* 4. The kill switch, before any packet of the tunnel; then routes:
	 *    everything through the tunnel but the tunnel itself. */
	if (cfg->kill_switch) {
		if (stale) {
			log_warnx("an edged (pid %ld) did not stop cleanly, or a lockdown ran: its "
			          "kill switch is taken over",
			          (long)st.pid);
			clean_stale(nl, cfg, &st);
		}
		if (kill_switch_up(cfg, nl, (unsigned)ifindex) < 0)
			goto out;
		switched = true;
	}
	if (cfg->route_all) {
		if (route_all_up(nl, (uint32_t)ifindex, cfg, &routes) < 0)
			goto out;
		routed = true;
		log_info("default route via %s (table %u, fwmark 0x%x)", cfg->ifname, cfg->table,
		         cfg->fwmark);
		/* what a crash would leave of src_valid_mark */
		if (switched && routes.src_valid_mark.changed) {
			struct ks_state now = {.pid = getpid()};

			snprintf(now.src_valid_mark, sizeof(now.src_valid_mark), "%s",
			         routes.src_valid_mark.old);
			if (ks_state_write(cfg->state_dir, &now) < 0)
				log_warnx("cannot write %s/killswitch", cfg->state_dir);
		}
	}
	/* The resolvers of edge.yaml, reached through the tunnel. */
	dp = dns_params_of(cfg);
	if (dns_up(&dp, &d.dns) < 0)
		goto out;

	/* 5. The loop, SIGHUP's and SIGUSR1's context, and the `wg show`
	 *    socket, where wg(8) looks for it; then
	 *    a handshake. */
	d.switched = switched;
	view.kill_switch = switched;
	fo_init(&d.fo, cfg->n_gws, cfg->failover_after, cfg->failback == EDGE_FAILBACK_STICKY,
	        wg_now());
	loop = loop_new();
	if (!loop ||
	    daemon_signals(
	            loop, &(struct daemon_signals){.reload = reload, .report = report, .arg = &d}) <
	            0 ||
	    wg_device_attach(dev, loop) < 0) {
		log_err("event loop");
		goto out;
	}
	e = uapi_open(
	        &uapi, loop,
	        &(struct uapi_params){.dir = cfg->wg_socket_dir, .ifname = cfg->ifname, .dev = dev},
	        err, sizeof(err));
	if (e < 0) {
		log_errx("wg show socket: %s%s", err,
		         e == -EADDRINUSE ? " (a WireGuard interface of that name is running)"
		                          : "");
		goto out;
	}
	log_info("wg show socket %s/%s.sock", cfg->wg_socket_dir, cfg->ifname);
	e = ctl_server_open(&ctl, loop,
	                    &(struct ctl_server_params){.path = cfg->control_socket,
	                                                .handler = edge_status_handler,
	                                                .arg = &view},
	                    err, sizeof(err));
	if (e < 0) {
		log_errx("control socket: %s", err);
		goto out;
	}
	log_info("control socket %s (root only): edged status", cfg->control_socket);
	/* always: a SIGHUP may list more gateways */
	if (loop_tick(loop, 1000, failover_tick, &d) < 0) {
		log_err("event loop");
		goto out;
	}
	wg_peer_connect(gw, wg_now());
	daemon_ready(switched ? "connecting, kill switch on" : "connecting");
	if (cfg->n_gws > 1)
		log_info("connecting to gateway 1 of %zu from UDP port %u", cfg->n_gws,
		         wg_device_port(dev));
	else
		log_info("connecting to the gateway from UDP port %u", wg_device_port(dev));
	if (loop_run(loop) < 0) {
		log_err("event loop");
		goto out;
	}
	rc = d.failed ? 1 : 0;
out:
	daemon_stopping();
	if (d.dns != DNS_NONE) {
		dp = dns_params_of(cfg);
		dns_down(&dp, d.dns);
	}
	if (routed) {
		route_all_down(nl, &routes);
		log_info("routes and rules restored");
	}
	if (switched && !d.failed && (rc == 0 || !stale)) {
		/* A clean stop opens the host again; a failed start leaves it as
		 * it was: open, unless a lockdown or a dead edged had closed it. */
		if (ks_remove(err, sizeof(err)) < 0)
			log_errx("cannot remove the kill switch: %s", err);
		else if (ks_state_remove(cfg->state_dir) == 0)
			log_info("kill switch removed");
	} else if (switched && d.failed) {
		log_warnx("the kill switch stays in place, as after a crash: `edged --down -c %s` "
		          "removes it",
		          config_path);
	} else if (switched) {
		log_warnx("the kill switch stays in place, as it was before this start: `edged "
		          "--down -c %s` removes it",
		          config_path);
	}
	ctl_server_close(ctl);
	uapi_close(uapi);
	loop_free(loop);
	wg_device_free(dev);
	tun_close(tun_fd);
	nl_close(nl);
	edge_config_free(cfg);
	return rc;
}
