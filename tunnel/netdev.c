#include "tunnel/netdev.h"

#include <errno.h>

#include "tunnel/log.h"
#include "tunnel/nl.h"
#include "tunnel/prefix.h"
#include "tunnel/tun.h"
#include "tunnel/wg.h"

int netdev_up(struct nl *nl, const char *name, unsigned mtu, const struct prefix *addrs,
              size_t n_addrs, unsigned want, unsigned *offloads, int *ifindex)
{
	char ifname[IFNAMSIZ];
	int fd, idx, err;

	fd = tun_open_offload(name, ifname, want, offloads);
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
		struct nl_addr a = {.addr = addrs[i], .ifindex = (uint32_t)idx};

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

unsigned netdev_tun_want(const struct wg_offload *o)
{
	if (!o->tun_tso)
		return 0; /* USO comes only with TSO */
	return TUN_WANT_TSO | (o->tun_uso ? TUN_WANT_USO : 0);
}
