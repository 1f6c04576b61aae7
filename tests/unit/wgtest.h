/* What the device tests share: a fake clock, the other peer played with the
 * noise API, and the packets it sends. The device under test gets a socket
 * pair for its TUN and answers to the peer's loopback UDP socket. */
#ifndef EGRESS_TEST_WGTEST_H
#define EGRESS_TEST_WGTEST_H

#include <arpa/inet.h>
#include <endian.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "tunnel/noise.h"
#include "tunnel/wg.h"

#define WGTEST_NSEC 1000000000ULL

/* The fake clock every entry point is called with; starts at an hour of
 * uptime so that "0: never" timestamps are never confused with it. */
static uint64_t wgtest_now = 3600 * WGTEST_NSEC;

static inline void wgtest_advance_ms(uint64_t ms)
{
	wgtest_now += ms * 1000000ULL;
}

/* One datagram from src, as a receive of its own. */
static inline void wgtest_input(struct wg_device *d, const void *buf, size_t len,
                                const struct sockaddr *src, socklen_t srclen)
{
	struct wg_datagram dg = {.buf = buf, .len = len, .src = src, .srclen = srclen};

	wg_device_input(d, &dg, 1, wgtest_now);
}

/* An IPv4 header without payload, 28 bytes (UDP protocol number), from src to
 * 203.0.113.80. */
static inline size_t wgtest_ip_packet(uint8_t *p, uint32_t src)
{
	memset(p, 0, 28);
	p[0] = 0x45;
	p[3] = 28;
	p[8] = 64;
	p[9] = 17;
	src = htonl(src);
	memcpy(p + 12, &src, 4);
	p[16] = 203, p[17] = 0, p[18] = 113, p[19] = 80;
	return 28;
}

/* A data message under k with counter, carrying pkt (padded to 16). */
static inline size_t wgtest_data_message(uint8_t *out, const struct noise_keys *k, uint64_t counter,
                                         const uint8_t *pkt, size_t len)
{
	struct noise_msg_data *m = (void *)out;
	size_t padded = (len + 15) & ~(size_t)15;

	memset(out, 0, NOISE_DATA_HDR_LEN + padded);
	m->type = NOISE_MSG_DATA;
	m->receiver = htole32(k->remote_index);
	m->counter = htole64(counter);
	memcpy(m->payload, pkt, len);
	crypto_aead_seal(m->payload, m->payload, padded, NULL, 0, counter, k->send);
	return NOISE_DATA_HDR_LEN + padded + CRYPTO_TAG_LEN;
}

/* What fd has within a second, or -1. */
static inline ssize_t wgtest_recv(int fd, void *buf, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, 1000) != 1)
		return -1;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* What fd has right now, or -1: for checking that nothing was sent. */
static inline ssize_t wgtest_recv_now(int fd, void *buf, size_t len)
{
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* The other peer: its keys, its view of the device, its UDP socket on
 * loopback, and that socket's address as the device's dual-stack socket
 * sees it (IPv4-mapped). */
struct wgtest_peer {
	uint8_t priv[32], pub[32];
	struct noise_local local;
	struct noise_remote dev_as_seen;
	struct noise_handshake hs;
	int udp;
	struct sockaddr_in6 from;
};

/* Binds the peer's socket and initialises its noise state towards dev_pub.
 * 0, or -1 after a failed CHECK. */
static inline int wgtest_peer_init(struct wgtest_peer *t, const uint8_t dev_pub[32],
                                   const uint8_t *psk)
{
	struct sockaddr_in me = {.sin_family = AF_INET};
	socklen_t melen = sizeof(me);

	memset(t, 0, sizeof(*t));
	CHECK(crypto_x25519_genkey(t->priv) == 0);
	CHECK(crypto_x25519_pubkey(t->pub, t->priv) == 0);
	CHECK(noise_local_init(&t->local, t->priv) == 0);
	CHECK(noise_remote_init(&t->dev_as_seen, &t->local, dev_pub, psk) == 0);
	t->udp = socket(AF_INET, SOCK_DGRAM, 0);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(t->udp, (struct sockaddr *)&me, sizeof(me)) == 0);
	CHECK(getsockname(t->udp, (struct sockaddr *)&me, &melen) == 0);
	t->from = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_port = me.sin_port};
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &t->from.sin6_addr);
	return t->udp >= 0 ? 0 : -1;
}

static inline void wgtest_peer_close(struct wgtest_peer *t)
{
	if (t->udp >= 0)
		close(t->udp);
	t->udp = -1;
}

/* The peer initiates a handshake with sender index; msg gets the initiation
 * with its mac1 (and mac2 when cookie is not NULL). */
static inline void wgtest_initiation(struct wgtest_peer *t, uint32_t index,
                                     struct noise_msg_init *msg, const uint8_t *cookie,
                                     uint8_t last_mac1[NOISE_MAC_LEN])
{
	uint8_t mac1[NOISE_MAC_LEN];

	CHECK(noise_init_create(msg, &t->hs, &t->local, &t->dev_as_seen, index) == 0);
	noise_macs_add(msg, sizeof(*msg), t->dev_as_seen.mac1_key, cookie,
	               last_mac1 ? last_mac1 : mac1);
}

/* A full handshake with the peer as initiator: its initiation goes in, the
 * device's response comes out on the peer's socket and is consumed, and keys
 * gets the session. 0 on success. */
static inline int wgtest_handshake(struct wg_device *d, struct wgtest_peer *t, uint32_t index,
                                   struct noise_keys *keys)
{
	struct noise_msg_init init;
	struct noise_msg_resp resp;

	wgtest_initiation(t, index, &init, NULL, NULL);
	wgtest_input(d, &init, sizeof(init), (struct sockaddr *)&t->from, sizeof(t->from));
	if (wgtest_recv(t->udp, &resp, sizeof(resp)) != (ssize_t)sizeof(resp))
		return -1;
	if (noise_resp_consume(&resp, &t->hs, &t->local, &t->dev_as_seen) < 0)
		return -1;
	return noise_derive_keys(keys, &t->hs) < 0 ? -1 : 0;
}

#endif
