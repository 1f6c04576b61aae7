/* The device as a peer sees it, without root: a socket pair stands in for
 * the TUN and a loopback UDP socket for the other peer, whose side of the
 * protocol the test plays with the noise API. Every truncated or oversized
 * message is refused; a handshake completes; data arrives on the TUN; a
 * replayed or spoofed packet does not. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "tunnel/log.h"
#include "tunnel/noise.h"
#include "tunnel/wg.h"

/* An ICMP-less IPv4 header, 28 bytes, from src to 203.0.113.80. */
static size_t ip_packet(uint8_t *p, uint32_t src)
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

static size_t data_message(uint8_t *out, const struct noise_keys *k, uint64_t counter,
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

static ssize_t recv_wait(int fd, void *buf, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, 1000) != 1)
		return -1;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

int main(void)
{
	uint8_t gw_priv[32], edge_priv[32], gw_pub[32], edge_pub[32], buf[2048], pkt[64];
	struct noise_local edge;
	struct noise_remote gw_as_seen;
	struct noise_handshake hs = {0};
	struct noise_msg_init init;
	struct noise_msg_resp resp;
	struct noise_keys keys;
	struct wg_device_stats ds;
	struct wg_peer_stats ps;
	struct wg_device *d;
	struct wg_peer *peer;
	struct sockaddr_in me = {.sin_family = AF_INET};
	struct sockaddr_in6 from = {.sin6_family = AF_INET6};
	socklen_t melen = sizeof(me);
	int tun[2], udp;

	log_set_level(LOG_LVL_ERR);
	crypto_x25519_genkey(gw_priv);
	crypto_x25519_genkey(edge_priv);
	crypto_x25519_pubkey(gw_pub, gw_priv);
	crypto_x25519_pubkey(edge_pub, edge_priv);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun) == 0);

	/* The device under test, a gateway with the edge as its client. */
	d = wg_device_new(
	        &(struct wg_device_params){.private_key = gw_priv, .tun_fd = tun[0], .mtu = 1420});
	CHECK(d != NULL);
	if (!d)
		return check_done("test_wg_device");
	struct wg_prefix allowed = {
	        .family = AF_INET, .addr.v4.s_addr = htonl(0x64400002), .len = 32};
	peer = wg_peer_add(d, &(struct wg_peer_params){.name = "edge",
	                                               .public_key = edge_pub,
	                                               .allowed = &allowed,
	                                               .n_allowed = 1});
	CHECK(peer != NULL);
	CHECK(wg_peer_add(d, &(struct wg_peer_params){.name = "self", .public_key = gw_pub}) ==
	      NULL);

	/* The edge's socket: the device answers to it. */
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(udp, (struct sockaddr *)&me, sizeof(me)) == 0);
	CHECK(getsockname(udp, (struct sockaddr *)&me, &melen) == 0);
	from.sin6_port = me.sin_port;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &from.sin6_addr);

	/* The edge's initiation. */
	CHECK(noise_local_init(&edge, edge_priv) == 0);
	CHECK(noise_remote_init(&gw_as_seen, &edge, gw_pub, NULL) == 0);
	CHECK(noise_init_create(&init, &hs, &edge, &gw_as_seen, 0x1234) == 0);
	noise_macs_add(&init, sizeof(init), gw_as_seen.mac1_key, NULL, NULL);

	/* Every length but the right one is refused before anything is read. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &init, sizeof(init));
	for (size_t len = 0; len < sizeof(init) + 64; len++) {
		if (len == sizeof(init))
			continue;
		wg_device_stats(d, &ds);
		uint64_t invalid = ds.invalid, rx = ds.handshake_rx;
		wg_device_input(d, buf, len, (struct sockaddr *)&from, sizeof(from));
		wg_device_stats(d, &ds);
		CHECK_INT(ds.invalid, invalid + 1);
		CHECK_INT(ds.handshake_rx, rx);
	}
	/* A flipped mac1 is refused too. */
	buf[sizeof(init) - 32] ^= 1;
	wg_device_input(d, buf, sizeof(init), (struct sockaddr *)&from, sizeof(from));
	wg_device_stats(d, &ds);
	CHECK_INT(ds.handshake_rx, 0);
	CHECK(recv_wait(udp, buf, sizeof(buf)) < 0);

	/* The real one is answered with a response the edge accepts. */
	wg_device_input(d, &init, sizeof(init), (struct sockaddr *)&from, sizeof(from));
	CHECK_INT(recv_wait(udp, &resp, sizeof(resp)), sizeof(resp));
	CHECK(noise_mac1_ok(&resp, sizeof(resp), edge.mac1_key));
	CHECK_INT(le32toh(resp.receiver), 0x1234);
	CHECK(noise_resp_consume(&resp, &hs, &edge, &gw_as_seen) == 0);
	CHECK(noise_derive_keys(&keys, &hs) == 0);
	/* The same initiation again is a replay (its timestamp is not newer). */
	wg_device_input(d, &init, sizeof(init), (struct sockaddr *)&from, sizeof(from));
	CHECK(recv_wait(udp, buf, sizeof(buf)) < 0);

	/* Data from the edge's address arrives on the TUN, padding removed. */
	size_t n = ip_packet(pkt, 0x64400002);
	size_t mlen = data_message(buf, &keys, 0, pkt, n);
	wg_device_input(d, buf, mlen, (struct sockaddr *)&from, sizeof(from));
	uint8_t got[2048];
	CHECK_INT(recv_wait(tun[1], got, sizeof(got)), n);
	CHECK_MEM(got, pkt, n);
	wg_peer_stats(peer, &ps);
	CHECK(ps.has_session);
	CHECK_INT(ps.handshakes, 1);
	CHECK_INT(ps.rx_packets, 1);

	/* The same message again is a replay: nothing arrives. */
	wg_device_input(d, buf, mlen, (struct sockaddr *)&from, sizeof(from));
	CHECK(recv_wait(tun[1], got, sizeof(got)) < 0);

	/* A source that is not the edge's: dropped and counted. */
	n = ip_packet(pkt, 0x64400003);
	mlen = data_message(buf, &keys, 1, pkt, n);
	wg_device_input(d, buf, mlen, (struct sockaddr *)&from, sizeof(from));
	CHECK(recv_wait(tun[1], got, sizeof(got)) < 0);
	wg_peer_stats(peer, &ps);
	CHECK_INT(ps.spoofed, 1);

	/* Every truncation of a data message fails to authenticate. */
	n = ip_packet(pkt, 0x64400002);
	mlen = data_message(buf, &keys, 2, pkt, n);
	for (size_t len = 0; len < mlen; len++)
		wg_device_input(d, buf, len, (struct sockaddr *)&from, sizeof(from));
	CHECK(recv_wait(tun[1], got, sizeof(got)) < 0);
	/* ... and the intact one still arrives: failures did not burn its counter. */
	wg_device_input(d, buf, mlen, (struct sockaddr *)&from, sizeof(from));
	CHECK_INT(recv_wait(tun[1], got, sizeof(got)), n);

	/* A keepalive (empty payload) authenticates and delivers nothing. */
	mlen = data_message(buf, &keys, 3, pkt, 0);
	CHECK_INT(mlen, NOISE_DATA_MIN_LEN);
	wg_device_input(d, buf, mlen, (struct sockaddr *)&from, sizeof(from));
	CHECK(recv_wait(tun[1], got, sizeof(got)) < 0);

	wg_device_free(d);
	close(udp);
	close(tun[0]);
	close(tun[1]);
	return check_done("test_wg_device");
}
