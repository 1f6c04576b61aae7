/* The steps both daemons take to bring up their tunnel interface (the rest
 * of what they share is tunnel/daemon.h). */
#ifndef EGRESS_NETDEV_H
#define EGRESS_NETDEV_H

#include <net/if.h>
#include <stddef.h>

struct nl;
struct prefix;

/* Creates the TUN name with the offloads of want (TUN_WANT_*, tunnel/tun.h;
 * *offloads gets the TUN_F_* flags the kernel took, 0: a plain TUN), sets
 * its MTU, adds the addresses (a prefix's length is the address's, so the
 * kernel adds the subnet's route) and sets it up. Returns the TUN fd
 * (closing it removes the interface) or -errno, with what failed logged.
 * *ifindex gets the interface's index. */
int netdev_up(struct nl *nl, const char *name, unsigned mtu, const struct prefix *addrs,
              size_t n_addrs, unsigned want, unsigned *offloads, int *ifindex);
/* What netdev_up() should ask for to have the offloads o (tunnel/wg.h)
 * on the TUN: TUN_WANT_TSO, with TUN_WANT_USO. */
struct wg_offload;
unsigned netdev_tun_want(const struct wg_offload *o);

#endif
