#include "tunnel/netdev.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tunnel/log.h"
#include "tunnel/nl.h"
#include "tunnel/tun.h"
#include "tunnel/wg.h"

int netdev_up(struct nl *nl, const char *name, unsigned mtu, const struct wg_prefix *addrs,
              size_t n_addrs, int *ifindex)
{
	char ifname[IFNAMSIZ];
	int fd, idx, err;

	fd = tun_open(name, ifname);
	if (fd == -EBUSY) {
		log_errx("cannot create TUN device %s: an interface of that name already exists",
		         name);
		return fd;
	}
	if (fd < 0) {
		errno = -fd;
		log_err("cannot create TUN device %s", name);
		return fd;
	}
	idx = nl_link_index(ifname);
	if (idx < 0) {
		err = idx;
		goto fail;
	}
	err = nl_link_set_mtu(nl, (uint32_t)idx, mtu);
	if (err) {
		errno = -err;
		log_err("%s: cannot set MTU %u", ifname, mtu);
		goto fail;
	}
	for (size_t i = 0; i < n_addrs; i++) {
		struct nl_addr a = {
		        .family = (uint8_t)addrs[i].family,
		        .prefixlen = (uint8_t)addrs[i].len,
		        .ifindex = (uint32_t)idx,
		};
		memcpy(&a.addr, &addrs[i].addr, addrs[i].family == AF_INET ? 4 : 16);
		err = nl_addr_add(nl, &a);
		if (err) {
			errno = -err;
			log_err("%s: cannot add address", ifname);
			goto fail;
		}
	}
	err = nl_link_set_up(nl, (uint32_t)idx, true);
	if (err) {
		errno = -err;
		log_err("%s: cannot set it up", ifname);
		goto fail;
	}
	*ifindex = idx;
	return fd;
fail:
	tun_close(fd);
	return err;
}

unsigned netdev_time_divisor(void)
{
	const char *s = getenv("EGRESS_TIME_DIVISOR");
	char *end;
	unsigned long v;

	if (!s || !*s)
		return 1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > 1000)
		fatalx("EGRESS_TIME_DIVISOR: \"%s\" is not a number from 1 to 1000", s);
	if (v != 1)
		log_warnx("EGRESS_TIME_DIVISOR=%lu: protocol timers run %lu times faster; for "
		          "tests only, this peer will not interoperate reliably",
		          v, v);
	return (unsigned)v;
}

int netdev_options(int argc, char **argv, const char *ident, const char *usage, const char **config,
                   bool *check_only)
{
	int opt;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		fputs(usage, stdout);
		return 0;
	}
	while ((opt = getopt(argc, argv, "c:nvh")) != -1) {
		switch (opt) {
		case 'c':
			*config = optarg;
			break;
		case 'n':
			*check_only = true;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n%s", ident, argv[optind], usage);
		return 1;
	}
	return -1;
}

const int netdev_signals[NETDEV_N_SIGNALS] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};

void netdev_hold_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	for (int i = 0; i < NETDEV_N_SIGNALS; i++)
		sigaddset(&set, netdev_signals[i]);
	/* Neither can fail with these arguments. */
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int netdev_on_signal(void *arg, int signo)
{
	if (signo == SIGUSR1) {
		wg_device_log_stats(arg);
		return 0;
	}
	log_info("%s: shutting down", strsignal(signo));
	return -1;
}
