/* The TUN device: one layer-3 interface whose packets this process reads and
 * writes. Plain IP packets, no packet-info header and no virtio-net header:
 * the caller read()s and write()s one packet per call.
 *
 * Offloads (IFF_VNET_HDR + TUNSETOFFLOAD) and IFF_MULTI_QUEUE change the
 * framing and must be chosen at TUNSETIFF time, so they will come as a
 * separate opener taking flags; tun_open() stays the plain form. */
#ifndef EGRESS_TUN_H
#define EGRESS_TUN_H

#include <net/if.h>

/* Creates (or attaches to) the TUN interface @name, IFF_TUN | IFF_NO_PI.
 * NULL or "" lets the kernel pick a name ("tun%d"). The fd is non-blocking
 * and close-on-exec; the interface is created down and lives until the fd
 * is closed. @ifname_out (may be NULL) gets the name the kernel gave.
 * Returns the fd, or -EINVAL if @name does not fit in IFNAMSIZ, or the
 * -errno of open()/ioctl() (-EPERM without CAP_NET_ADMIN, -EBUSY if any
 * interface has that name: it never attaches to an existing one). */
int tun_open(const char *name, char ifname_out[IFNAMSIZ]);

/* Closes a fd from tun_open(); -1 is accepted and ignored. Returns 0 or -errno. */
int tun_close(int fd);

#endif
