/* edged: the edge's tunnel client. main() is the list of steps: read the
 * configuration, bring up the TUN, connect to the gateway, route through it,
 * and on SIGTERM/SIGINT put routes and rules back exactly as they were. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/config.h"
#include "edge/route.h"
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

static const char usage[] =
        "usage: edged [-c FILE] [-n] [-v]\n"
        "       edged genkey | genpsk | pubkey\n"
        "\n"
        "The egress edge: a WireGuard tunnel to the gateway named in FILE, with the\n"
        "default route through it (route_all). Runs in the foreground and logs to\n"
        "stderr; SIGTERM or SIGINT stops it and restores routes and rules (a signal\n"
        "that arrives while it starts takes effect once it has started); SIGHUP is\n"
        "logged (nothing is re-read yet); SIGUSR1 logs its counters.\n"
        "\n"
        "  -c FILE   configuration (default " DEFAULT_CONFIG ")\n"
        "  -n        check the configuration, print \"configuration OK\" and exit\n"
        "  -v        log debug messages too\n"
        "  -h        this help\n"
        "  genkey    print a new private key (base64), like `wg genkey`\n"
        "  genpsk    print a new preshared key, like `wg genpsk`\n"
        "  pubkey    read a private key on stdin, print its public key\n";

/* SIGUSR1. */
static void report(void *arg)
{
	wg_device_log_stats(arg);
}

/* SIGHUP: systemd's ExecReload sends it, so it must not stop the tunnel.
 * Nothing in edge.yaml can change under a running edged yet. */
static void reload(void *arg)
{
	(void)arg;
	log_info("SIGHUP: edged re-reads nothing while it runs; restart it to apply a "
	         "changed configuration");
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
	struct nl *nl = NULL;
	bool check_only = false, routed = false;
	char err[512];
	int opt, rc = 1, tun_fd = -1, ifindex, e;

	log_set_ident("edged");
	daemon_hold_signals();
	if (argc == 2 && !strcmp(argv[1], "genkey"))
		return key_cmd_genkey(stdout);
	if (argc == 2 && !strcmp(argv[1], "genpsk"))
		return key_cmd_genpsk(stdout);
	if (argc == 2 && !strcmp(argv[1], "pubkey"))
		return key_cmd_pubkey(stdin, stdout);
	opt = daemon_options(argc, argv, "edged", usage, &config_path, &check_only);
	if (opt >= 0)
		return opt;

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

	/* 2. The TUN with the edge's tunnel addresses. */
	struct prefix addrs[2] = {cfg->addr, cfg->addr6};
	nl = nl_open();
	if (!nl) {
		log_err("rtnetlink");
		goto out;
	}
	tun_fd = netdev_up(nl, cfg->ifname, cfg->mtu, addrs, cfg->has_addr6 ? 2 : 1, &ifindex);
	if (tun_fd < 0)
		goto out;

	/* 3. The device and its one peer, the gateway. With route_all every
	 *    address may come back through the tunnel; without, only the
	 *    tunnel's own prefixes. */
	struct prefix all[2] = {{.family = AF_INET}, {.family = AF_INET6}};
	dev = wg_device_new(&(struct wg_device_params){
	        .private_key = cfg->priv,
	        .tun_fd = tun_fd,
	        .mtu = cfg->mtu,
	        .fwmark = cfg->route_all ? cfg->fwmark : 0,
	        .time_divisor = daemon_time_divisor(),
	});
	if (!dev) {
		log_err("cannot open the tunnel's UDP socket");
		goto out;
	}
	gw = wg_peer_add(dev, &(struct wg_peer_params){
	                              .name = "gateway",
	                              .public_key = cfg->gw_pub,
	                              .psk = cfg->has_psk ? cfg->psk : NULL,
	                              .endpoint = (const struct sockaddr *)&cfg->endpoint,
	                              .endpoint_len = cfg->endpoint_len,
	                              .persistent_keepalive = cfg->persistent_keepalive,
	                              .allowed = cfg->route_all ? all : addrs,
	                              .n_allowed = cfg->has_addr6 ? 2 : 1,
	                      });
	if (!gw) {
		log_err("gateway peer");
		goto out;
	}
	/* The device holds its own copies now: one copy of each key is enough. */
	edge_config_wipe_keys(cfg);

	/* 4. Routes: everything through the tunnel but the tunnel itself. */
	if (cfg->route_all) {
		if (route_all_up(nl, (uint32_t)ifindex, cfg, &routes) < 0)
			goto out;
		routed = true;
		log_info("default route via %s (table %u, fwmark 0x%x)", cfg->ifname, cfg->table,
		         cfg->fwmark);
	}

	/* 5. The loop and the `wg show` socket, where wg(8) looks for it; then
	 *    a handshake. */
	loop = loop_new();
	if (!loop ||
	    daemon_signals(
	            loop,
	            &(struct daemon_signals){.reload = reload, .report = report, .arg = dev}) < 0 ||
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
	wg_peer_connect(gw, wg_now());
	log_info("connecting to the gateway from UDP port %u", wg_device_port(dev));
	if (loop_run(loop) < 0) {
		log_err("event loop");
		goto out;
	}
	rc = 0;
out:
	if (routed) {
		route_all_down(nl, &routes);
		log_info("routes and rules restored");
	}
	uapi_close(uapi);
	loop_free(loop);
	wg_device_free(dev);
	tun_close(tun_fd);
	nl_close(nl);
	edge_config_free(cfg);
	return rc;
}
