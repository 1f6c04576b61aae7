/* The steps both daemons take to bring up their tunnel interface. */
#ifndef EGRESS_NETDEV_H
#define EGRESS_NETDEV_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

struct nl;
struct wg_prefix;

/* Creates the TUN name, sets its MTU, adds the addresses (a prefix's length
 * is the address's, so the kernel adds the subnet's route) and sets it up.
 * Returns the TUN fd (closing it removes the interface) or -errno, with what
 * failed logged. *ifindex gets the interface's index. */
int netdev_up(struct nl *nl, const char *name, unsigned mtu, const struct wg_prefix *addrs,
              size_t n_addrs, int *ifindex);

/* The daemons' common command line: -c FILE, -n, -v, -h (and --help).
 * Returns -1 to go on, or the exit status main() should return at once
 * (0 after printing the help, 1 after a usage error on stderr). */
int netdev_options(int argc, char **argv, const char *ident, const char *usage, const char **config,
                   bool *check_only);

/* The signals the daemons handle in their loop: SIGTERM, SIGINT and SIGHUP
 * stop them cleanly, SIGUSR1 logs the device's counters. */
#define NETDEV_N_SIGNALS 4
extern const int netdev_signals[NETDEV_N_SIGNALS];

/* main()'s first step: blocks netdev_signals and ignores SIGPIPE, so that a
 * signal arriving while the daemon is still setting up waits for the loop
 * (which then undoes everything) instead of killing the daemon half-way,
 * with its routes, rules or nft table left behind. */
void netdev_hold_signals(void);

/* The loop's handler for netdev_signals; arg is the struct wg_device. */
int netdev_on_signal(void *arg, int signo);

/* The protocol timers' divisor for tests (EGRESS_TIME_DIVISOR, 1..1000),
 * logged loudly when not 1: a production daemon runs with 1. */
unsigned netdev_time_divisor(void);

#endif
