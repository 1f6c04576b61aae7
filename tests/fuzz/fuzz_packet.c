/* Every datagram a peer or an attacker can send to the listen port: fed to a
 * device with one known peer, so data, handshake and cookie paths all parse
 * it. The first input byte picks the source address, so roaming and cookie
 * bookkeeping see more than one sender. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tunnel/log.h"
#include "tunnel/wg.h"

static struct wg_device *dev;

static void setup(void)
{
	static const uint8_t priv[32] = {0x48, 1,  2,  3,  4,  5,  6,  7,  8,  9,   10,
	                                 11,   12, 13, 14, 15, 16, 17, 18, 19, 20,  21,
	                                 22,   23, 24, 25, 26, 27, 28, 29, 30, 0x70};
	static const uint8_t peer[32] = {0x8d, 0x22, 0x51, 0xe0, 0x3f, 0x6b, 0x7a, 0x31,
	                                 0x11, 0x2c, 0x45, 0x90, 0x1d, 0xaa, 0x04, 0x5b,
	                                 0x77, 0x38, 0x19, 0x02, 0x64, 0x43, 0x8e, 0xf1,
	                                 0x3c, 0x55, 0x20, 0x6d, 0x12, 0x09, 0x5e, 0x33};
	struct wg_prefix allowed = {
	        .family = AF_INET, .addr.v4.s_addr = htonl(0x64400002), .len = 32};
	int sv[2];

	log_set_level(LOG_LVL_ERR);
	/* A datagram socket pair stands in for the TUN. */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	dev = wg_device_new(
	        &(struct wg_device_params){.private_key = priv, .tun_fd = sv[0], .mtu = 1420});
	if (!dev)
		abort();
	if (!wg_peer_add(dev, &(struct wg_peer_params){.name = "fuzz",
	                                               .public_key = peer,
	                                               .allowed = &allowed,
	                                               .n_allowed = 1}))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in6 src = {.sin6_family = AF_INET6, .sin6_port = htons(40000)};

	if (!dev)
		setup();
	if (size < 1)
		return 0;
	src.sin6_addr.s6_addr[0] = 0x20;
	src.sin6_addr.s6_addr[1] = 0x01;
	src.sin6_addr.s6_addr[2] = 0x0d;
	src.sin6_addr.s6_addr[3] = 0xb8;
	src.sin6_addr.s6_addr[15] = data[0];
	wg_device_input(dev, data + 1, size - 1, (struct sockaddr *)&src, sizeof(src));
	return 0;
}
