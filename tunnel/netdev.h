/* The steps both daemons take to bring up their tunnel interface (the rest
 * of what they share is tunnel/daemon.h). */
#ifndef EGRESS_NETDEV_H
#define EGRESS_NETDEV_H

#include <net/if.h>
#include <stddef.h>

struct nl;
struct prefix;

/* Creates the TUN name, sets its MTU, adds the addresses (a prefix's length
 * is the address's, so the kernel adds the subnet's route) and sets it up.
 * Returns the TUN fd (closing it removes the interface) or -errno, with what
 * failed logged. *ifindex gets the interface's index. */
int netdev_up(struct nl *nl, const char *name, unsigned mtu, const struct prefix *addrs,
              size_t n_addrs, int *ifindex);

#endif
