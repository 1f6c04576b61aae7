/* gatewayd: the tunnel endpoint of many edges. main() is the list of steps:
 * read the configuration, bring up the TUN, turn on forwarding, install the
 * nft table, accept the clients' handshakes, and on SIGTERM/SIGINT undo each
 * step in reverse. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
#include "gateway/control.h"
#include "gateway/nft.h"
#include "tunnel/log.h"
#include "tunnel/loop.h"
#include "tunnel/daemon.h"
#include "tunnel/netdev.h"
#include "tunnel/nl.h"
#include "tunnel/sysctl.h"
#include "tunnel/tun.h"
#include "tunnel/wg.h"

#define DEFAULT_CONFIG "/etc/egress/gateway.yaml"

static const char usage[] =
        "usage: gatewayd [-c FILE] [-n] [-v]\n"
        "\n"
        "The egress gateway: terminates the WireGuard tunnels of the clients named\n"
        "in FILE, forwards their packets and MASQUERADEs them out of the uplink.\n"
        "Runs in the foreground and logs to stderr; SIGTERM or SIGINT stops it and\n"
        "removes its TUN device and nft table (a signal that arrives while it starts\n"
        "takes effect once it has started); SIGUSR1 logs each client's counters.\n"
        "\n"
        "  -c FILE   configuration (default " DEFAULT_CONFIG ")\n"
        "  -n        check the configuration, print \"configuration OK\" and exit\n"
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

static int render_table(const struct gw_config *cfg, const char *ifname, char **text)
{
	struct nft_client *clients = calloc(cfg->n_clients + 1, sizeof(*clients));
	struct nft_params p = {
	        .ifname = ifname,
	        .uplink = cfg->uplink,
	        .net = cfg->addr,
	        .prefix = cfg->prefix,
	        .has_net6 = cfg->has_addr6,
	        .net6 = cfg->addr6,
	        .prefix6 = cfg->prefix6,
	        .mtu = cfg->mtu,
	        .mark_tag = cfg->mark_tag,
	        .mark_id_mask = cfg->mark_id_mask,
	        .clients = clients,
	        .n_clients = cfg->n_clients,
	};
	int err;

	if (!clients)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_clients; i++) {
		clients[i] = (struct nft_client){
		        .name = cfg->clients[i].name,
		        .addr = cfg->clients[i].addr,
		        .has_addr6 = cfg->clients[i].has_addr6,
		        .addr6 = cfg->clients[i].addr6,
		        .id = cfg->clients[i].id,
		};
	}
	err = nft_render(&p, text);
	free(clients);
	return err;
}

/* SIGUSR1. */
static void report(void *arg)
{
	wg_device_log_stats(arg);
}

static int add_clients(struct wg_device *dev, const struct gw_config *cfg)
{
	for (size_t i = 0; i < cfg->n_clients; i++) {
		const struct gw_client *c = &cfg->clients[i];
		struct wg_prefix allowed[2] = {
		        {.family = AF_INET, .addr.v4 = c->addr, .len = 32},
		        {.family = AF_INET6, .addr.v6 = c->addr6, .len = 128},
		};
		struct wg_peer_params pp = {
		        .name = c->name,
		        .public_key = c->pub,
		        .psk = c->has_psk ? c->psk : NULL,
		        .allowed = allowed,
		        .n_allowed = c->has_addr6 ? 2 : 1,
		};

		if (!wg_peer_add(dev, &pp)) {
			log_err("client %s", c->name);
			return -errno;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = DEFAULT_CONFIG;
	struct sysctl_saved fwd4 = {.path = "net/ipv4/ip_forward"};
	struct sysctl_saved fwd6 = {.path = "net/ipv6/conf/all/forwarding"};
	struct gw_config *cfg = NULL;
	struct wg_device *dev = NULL;
	struct loop *loop = NULL;
	struct nl *nl = NULL;
	struct nft_owner *nft = NULL;
	struct control *ctl = NULL;
	uint64_t started = wg_now();
	char *table = NULL, err[512];
	bool check_only = false, table_installed = false;
	int opt, rc = 1, tun_fd = -1, ifindex, e;

	log_set_ident("gatewayd");
	daemon_hold_signals();
	opt = daemon_options(argc, argv, "gatewayd", usage, &config_path, &check_only);
	if (opt >= 0)
		return opt;

	/* 1. The whole configuration, before anything changes. */
	if (gw_config_load(config_path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "gatewayd: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("configuration OK\n");
		rc = 0;
		goto out;
	}

	/* 2. The TUN with the gateway's addresses: the kernel routes the client
	 *    subnet to it. */
	struct wg_prefix addrs[2] = {
	        {.family = AF_INET, .addr.v4 = cfg->addr, .len = cfg->prefix},
	        {.family = AF_INET6, .addr.v6 = cfg->addr6, .len = cfg->prefix6},
	};
	nl = nl_open();
	if (!nl) {
		log_err("rtnetlink");
		goto out;
	}
	tun_fd = netdev_up(nl, cfg->ifname, cfg->mtu, addrs, cfg->has_addr6 ? 2 : 1, &ifindex);
	if (tun_fd < 0)
		goto out;

	/* 3. The device and its clients; the UDP port is taken before the
	 *    kernel starts forwarding for us. */
	dev = wg_device_new(&(struct wg_device_params){
	        .private_key = cfg->priv,
	        .tun_fd = tun_fd,
	        .mtu = cfg->mtu,
	        .listen_port = cfg->listen_port,
	        .load_threshold = cfg->load_threshold,
	        .time_divisor = daemon_time_divisor(),
	});
	if (!dev) {
		log_err("cannot listen on UDP port %u", cfg->listen_port);
		goto out;
	}
	if (add_clients(dev, cfg) < 0)
		goto out;
	/* The device holds its own copies now: one copy of each key is enough. */
	gw_config_wipe_keys(cfg);

	/* 4. Forwarding and the nft table. */
	e = sysctl_set_saved(&fwd4, "1");
	if (!e && cfg->has_addr6)
		e = sysctl_set_saved(&fwd6, "1");
	if (e) {
		errno = -e;
		log_err("cannot turn on forwarding");
		goto out;
	}
	if (cfg->has_addr6)
		check_accept_ra(cfg->uplink);
	e = render_table(cfg, cfg->ifname, &table);
	if (!e)
		e = nft_open(&nft);
	if (!e)
		e = nft_apply(nft, table, err, sizeof(err));
	if (e == -EPERM || e == -EOPNOTSUPP) {
		log_errx("cannot install nft table inet %s: a table of that name exists and is not "
		         "ours (%s gatewayd in this network namespace?); not taking it over",
		         NFT_TABLE, e == -EPERM ? "another" : "made by hand, or an older");
		goto out;
	}
	if (e) {
		log_errx("cannot install nft table inet %s: %s", NFT_TABLE,
		         e == -EINVAL ? err : strerror(-e));
		goto out;
	}
	table_installed = true;
	/* The rule matches the name, so a later interface of that name works;
	 * but a typo would masquerade nothing, which deserves a word. */
	if (cfg->uplink[0] && nl_link_index(cfg->uplink) < 0)
		log_warnx("uplink %s does not exist (yet): nothing is masqueraded until it does",
		          cfg->uplink);
	log_info("installed nft table inet %s (MASQUERADE of %s/%u%s%s)", NFT_TABLE,
	         inet_ntoa(cfg->addr), cfg->prefix, cfg->uplink[0] ? " out of " : "", cfg->uplink);

	/* 5. The loop. */
	loop = loop_new();
	if (!loop ||
	    daemon_signals(loop, &(struct daemon_signals){.report = report, .arg = dev}) < 0 ||
	    wg_device_attach(dev, loop) < 0) {
		log_err("event loop");
		goto out;
	}
	if (control_open(&ctl, loop,
	                 &(struct control_view){.cfg = cfg, .dev = dev, .started = started}) < 0)
		goto out;
	log_info("listening on UDP port %u, interface %s, %zu clients", wg_device_port(dev),
	         cfg->ifname, cfg->n_clients);
	if (loop_run(loop) < 0) {
		log_err("event loop");
		goto out;
	}
	rc = 0;
out:
	/* Undo in reverse; each step is safe when its start never happened. */
	control_close(ctl);
	if (table_installed) {
		e = nft_remove(nft);
		if (e)
			log_warnx("cannot remove nft table inet %s: %s", NFT_TABLE, strerror(-e));
		else
			log_info("removed nft table inet %s", NFT_TABLE);
	}
	sysctl_restore(&fwd6);
	sysctl_restore(&fwd4);
	nft_close(nft);
	loop_free(loop);
	wg_device_free(dev);
	tun_close(tun_fd);
	nl_close(nl);
	free(table);
	gw_config_free(cfg);
	return rc;
}
