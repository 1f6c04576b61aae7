#include "tunnel/tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int tun_open(const char *name, char ifname_out[IFNAMSIZ])
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
	ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL); /* 0x8000: the sign bit */

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

int tun_close(int fd)
{
	if (fd < 0)
		return 0;
	/* Linux releases the fd even when close() fails; never retry. */
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}
