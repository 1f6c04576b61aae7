#include "tunnel/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int open_flags(const char *name, char ifname_out[IFNAMSIZ], short extra)
{
	struct ifreq ifr;
	int fd = -1, ret;

	memset(&ifr, 0, sizeof(ifr));
	if (name) {
		if (strlen(name) >= IFNAMSIZ)
			return -EINVAL;
		strcpy(ifr.ifr_name, name);
	}
	/* EXCL: never attach to an existing device of that name (and then change
	 * and leave behind what we did not make); EBUSY instead. */
	ifr.ifr_flags =
	        (short)(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL | extra); /* 0x8000: the sign bit */

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto err;
	}
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		goto err;
	}
	if (ifname_out) {
		memcpy(ifname_out, ifr.ifr_name, IFNAMSIZ);
		ifname_out[IFNAMSIZ - 1] = '\0';
	}
	return fd;

err:
	if (fd >= 0)
		close(fd);
	return ret;
}

int tun_open(const char *name, char ifname_out[IFNAMSIZ])
{
	return open_flags(name, ifname_out, 0);
}

int tun_open_offload(const char *name, char ifname_out[IFNAMSIZ], unsigned want, unsigned *got)
{
	const unsigned tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	int hdr_len = (int)sizeof(struct virtio_net_hdr);
	int fd;

	*got = 0;
	if (!(want & TUN_WANT_TSO))
		return tun_open(name, ifname_out);
	fd = open_flags(name, ifname_out, IFF_VNET_HDR);
	if (fd < 0)
		return fd;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) == 0) {
		if ((want & TUN_WANT_USO) &&
		    ioctl(fd, TUNSETOFFLOAD, (unsigned long)(tso | TUN_F_USO4 | TUN_F_USO6)) == 0) {
			*got = tso | TUN_F_USO4 | TUN_F_USO6;
			return fd;
		}
		if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tso) == 0) {
			*got = tso;
			return fd;
		}
	}
	/* The interface goes with its only fd; the name is free again. */
	tun_close(fd);
	return tun_open(name, ifname_out);
}

int tun_close(int fd)
{
	if (fd < 0)
		return 0;
	/* Linux releases the fd even when close() fails; never retry. */
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}
