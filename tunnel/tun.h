/* The TUN device: one layer-3 interface whose packets this process reads and
 * writes. Plain IP packets, no packet-info header; with offloads, each read
 * and write starts with a virtio_net_hdr (tunnel/offload.h) and may carry a
 * superpacket of up to 64 KB the kernel has not segmented or checksummed.
 *
 * Offloads (IFF_VNET_HDR + TUNSETOFFLOAD) change the framing and must be
 * chosen at TUNSETIFF time, so tun_open_offload() decides them before the
 * interface is configured. IFF_MULTI_QUEUE is not used (one loop). */
#ifndef EGRESS_TUN_H
#define EGRESS_TUN_H

#include <linux/if_tun.h>
#include <net/if.h>

/* Creates (or attaches to) the TUN interface @name, IFF_TUN | IFF_NO_PI.
 * NULL or "" lets the kernel pick a name ("tun%d"). The fd is non-blocking
 * and close-on-exec; the interface is created down and lives until the fd
 * is closed. @ifname_out (may be NULL) gets the name the kernel gave.
 * Returns the fd, or -EINVAL if @name does not fit in IFNAMSIZ, or the
 * -errno of open()/ioctl() (-EPERM without CAP_NET_ADMIN, -EBUSY if any
 * interface has that name: it never attaches to an existing one). */
int tun_open(const char *name, char ifname_out[IFNAMSIZ]);

/* What tun_open_offload() may ask the kernel for: TSO (TCP superpackets
 * both ways, with checksum offload), and with it USO (UDP). */
#define TUN_WANT_TSO 1u
#define TUN_WANT_USO 2u

/* Linux 6.2's; Debian 12's headers lack them. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/* tun_open() with offloads: IFF_VNET_HDR, a 10-byte header, and
 * TUNSETOFFLOAD with TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, plus TUN_F_USO4 |
 * TUN_F_USO6 when asked (both together, or the kernel says EINVAL). A kernel
 * that refuses USO leaves TSO; one that refuses TSO gets a plain TUN again,
 * as tun_open() makes it (the framing cannot change on an open fd, so it is
 * closed and opened anew). *got gets the TUN_F_* flags in effect: 0 means a
 * plain TUN, no header. want 0 is tun_open(). Errors as tun_open()'s. */
int tun_open_offload(const char *name, char ifname_out[IFNAMSIZ], unsigned want, unsigned *got);

/* Closes a fd from tun_open(); -1 is accepted and ignored. Returns 0 or -errno. */
int tun_close(int fd);

#endif
