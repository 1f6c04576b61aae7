/* Every datagram a peer or an attacker can send to the listen port, fed to a
 * device with one known peer. The first input byte picks how the rest is
 * used, so the fuzzer gets past the MACs and the AEAD and reaches the code
 * behind them:
 *   0: the rest is a raw datagram;
 *   1: the same, with a valid mac1 for the device (if it has the length of an
 *      initiation or response), so the handshake parsers see it;
 *   2: the rest is an inner packet, sealed as a data message of the session
 *      the harness holds with the device (inner IP parsing, cryptokey routing,
 *      the TUN write).
 * The second byte picks the sender's address, so roaming and the cookie and
 * rate-limit bookkeeping see several senders. */
#include <arpa/inet.h>
#include <endian.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tunnel/log.h"
#include "tunnel/noise.h"
#include "tunnel/wg.h"

/* The fake clock the device runs on. */
static uint64_t now_ns = 3600ULL * 1000000000ULL;

static void input1(struct wg_device *d, const void *buf, size_t len, const struct sockaddr *src,
                   socklen_t srclen)
{
	struct wg_datagram dg = {.buf = buf, .len = len, .src = src, .srclen = srclen};

	wg_device_input(d, &dg, 1, now_ns);
}

static struct wg_device *dev;
static struct noise_local peer;
static struct noise_remote dev_as_seen;
static struct noise_keys keys;
static uint64_t counter;
static int tun[2];

/* A session between the harness (the peer) and the device. */
static void setup(void)
{
	uint8_t dev_priv[32], dev_pub[32], peer_priv[32];
	struct sockaddr_in me = {.sin_family = AF_INET};
	struct sockaddr_in6 from = {.sin6_family = AF_INET6};
	socklen_t melen = sizeof(me);
	struct noise_handshake hs = {0};
	struct noise_msg_init init;
	struct noise_msg_resp resp;
	struct pollfd pfd;
	int udp;

	log_set_level(LOG_LVL_ERR);
	for (int i = 0; i < 32; i++) {
		dev_priv[i] = (uint8_t)(i + 1);
		peer_priv[i] = (uint8_t)(0x80 + i);
	}
	dev_priv[0] &= 248, dev_priv[31] = (dev_priv[31] & 127) | 64;
	peer_priv[0] &= 248, peer_priv[31] = (peer_priv[31] & 127) | 64;
	/* A datagram socket pair stands in for the TUN; the fuzzer drains it. */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun) < 0)
		abort();
	if (noise_local_init(&peer, peer_priv) < 0 || crypto_x25519_pubkey(dev_pub, dev_priv) < 0 ||
	    noise_remote_init(&dev_as_seen, &peer, dev_pub, NULL) < 0)
		abort();
	dev = wg_device_new(
	        &(struct wg_device_params){.private_key = dev_priv, .tun_fd = tun[0], .mtu = 1420});
	struct wg_prefix allowed = {
	        .family = AF_INET, .addr.v4.s_addr = htonl(0x64400002), .len = 32};
	if (!dev || !wg_peer_add(dev, &(struct wg_peer_params){.name = "fuzz",
	                                                       .public_key = peer.pub,
	                                                       .allowed = &allowed,
	                                                       .n_allowed = 1}))
		abort();

	udp = socket(AF_INET, SOCK_DGRAM, 0);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (udp < 0 || bind(udp, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    getsockname(udp, (struct sockaddr *)&me, &melen) < 0)
		abort();
	from.sin6_port = me.sin_port;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &from.sin6_addr);
	if (noise_init_create(&init, &hs, &peer, &dev_as_seen, 1) < 0)
		abort();
	noise_macs_add(&init, sizeof(init), dev_as_seen.mac1_key, NULL, NULL);
	input1(dev, &init, sizeof(init), (struct sockaddr *)&from, sizeof(from));
	pfd = (struct pollfd){.fd = udp, .events = POLLIN};
	if (poll(&pfd, 1, 2000) != 1 || recv(udp, &resp, sizeof(resp), 0) != sizeof(resp) ||
	    noise_resp_consume(&resp, &hs, &peer, &dev_as_seen) < 0 ||
	    noise_derive_keys(&keys, &hs) < 0)
		abort();
	close(udp);
}

static void drain_tun(void)
{
	uint8_t buf[2048];

	while (recv(tun[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[4096];
	struct sockaddr_in6 src = {.sin6_family = AF_INET6, .sin6_port = htons(40000)};
	size_t len;

	if (!dev)
		setup();
	if (size < 2 || size - 2 > sizeof(buf) - NOISE_DATA_MIN_LEN - 16)
		return 0;
	inet_pton(AF_INET6, "2001:db8::", &src.sin6_addr);
	src.sin6_addr.s6_addr[15] = data[1];
	len = size - 2;
	memcpy(buf, data + 2, len);

	switch (data[0] % 3) {
	case 1:
		if (len == sizeof(struct noise_msg_init) || len == sizeof(struct noise_msg_resp))
			noise_macs_add(buf, len, dev_as_seen.mac1_key, NULL, NULL);
		/* fall through */
	case 0:
		input1(dev, buf, len, (struct sockaddr *)&src, sizeof(src));
		break;
	case 2: {
		struct noise_msg_data *m = (void *)buf;
		size_t padded = (len + 15) & ~(size_t)15;

		memmove(m->payload, data + 2, len);
		memset(m->payload + len, 0, padded - len);
		m->type = NOISE_MSG_DATA;
		memset(m->reserved, 0, sizeof(m->reserved));
		m->receiver = htole32(keys.remote_index);
		m->counter = htole64(counter);
		crypto_aead_seal(m->payload, m->payload, padded, NULL, 0, counter, keys.send);
		counter++;
		input1(dev, buf, NOISE_DATA_HDR_LEN + padded + CRYPTO_TAG_LEN,
		       (struct sockaddr *)&src, sizeof(src));
		break;
	}
	}
	drain_tun();
	return 0;
}
