/* The device as a peer sees it, without root, on a fake clock: a socket pair
 * stands in for the TUN and a loopback UDP socket for the other peer, whose
 * side of the protocol the test plays with the noise API (wgtest.h). Every
 * truncated or oversized message is refused; a handshake completes; data
 * arrives on the TUN; a replayed initiation, a replayed or spoofed packet do
 * not. */
#include <errno.h>

#include "tunnel/log.h"
#include "wgtest.h"

int main(void)
{
	uint8_t gw_priv[32], gw_pub[32], buf[2048], pkt[64], got[2048];
	struct wgtest_peer edge;
	struct noise_msg_init init;
	struct noise_msg_resp resp;
	struct noise_keys keys;
	struct wg_device_stats ds;
	struct wg_peer_stats ps;
	struct wg_device *d;
	struct wg_peer *peer;
	struct sockaddr *from = (struct sockaddr *)&edge.from;
	socklen_t fromlen = sizeof(edge.from);
	int tun[2];

	log_set_level(LOG_LVL_ERR);
	crypto_x25519_genkey(gw_priv);
	crypto_x25519_pubkey(gw_pub, gw_priv);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun) == 0);
	if (wgtest_peer_init(&edge, gw_pub, NULL) < 0)
		return check_done("test_wg_device");

	/* An MTU past what every buffer holds is refused. */
	errno = 0;
	CHECK(wg_device_new(&(struct wg_device_params){
	              .private_key = gw_priv, .tun_fd = tun[0], .mtu = WG_MTU_MAX + 1}) == NULL);
	CHECK_INT(errno, EINVAL);

	/* The device under test, a gateway with the edge as its client. */
	d = wg_device_new(
	        &(struct wg_device_params){.private_key = gw_priv, .tun_fd = tun[0], .mtu = 1420});
	CHECK(d != NULL);
	if (!d)
		return check_done("test_wg_device");
	struct prefix allowed = {.family = AF_INET, .v4.s_addr = htonl(0x64400002), .len = 32};
	peer = wg_peer_add(d, &(struct wg_peer_params){.name = "edge",
	                                               .public_key = edge.pub,
	                                               .allowed = &allowed,
	                                               .n_allowed = 1});
	CHECK(peer != NULL);
	CHECK(wg_peer_add(d, &(struct wg_peer_params){.name = "self", .public_key = gw_pub}) ==
	      NULL);

	/* The edge's initiation, with a timestamp of its own choosing so that a
	 * second one can carry the very same. */
	uint8_t ts[NOISE_TIMESTAMP_LEN], e1[32], e2[32];
	noise_tai64n(ts);
	crypto_x25519_genkey(e1);
	crypto_x25519_genkey(e2);
	CHECK(noise_init_create_with(&init, &edge.hs, &edge.local, &edge.dev_as_seen, 0x1234, e1,
	                             ts) == 0);
	noise_macs_add(&init, sizeof(init), edge.dev_as_seen.mac1_key, NULL, NULL);

	/* Every length but the right one is refused before anything is read. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &init, sizeof(init));
	for (size_t len = 0; len < sizeof(init) + 64; len++) {
		if (len == sizeof(init))
			continue;
		wg_device_stats(d, wgtest_now, &ds);
		uint64_t invalid = ds.invalid, rx = ds.handshake_rx;
		wgtest_input(d, buf, len, from, fromlen);
		wg_device_stats(d, wgtest_now, &ds);
		CHECK_INT(ds.invalid, invalid + 1);
		CHECK_INT(ds.handshake_rx, rx);
	}
	/* A flipped mac1 is refused too. */
	buf[sizeof(init) - 32] ^= 1;
	wgtest_input(d, buf, sizeof(init), from, fromlen);
	wg_device_stats(d, wgtest_now, &ds);
	CHECK_INT(ds.handshake_rx, 0);
	CHECK(wgtest_recv(edge.udp, buf, sizeof(buf)) < 0);

	/* The real one is answered with a response the edge accepts. */
	wgtest_input(d, &init, sizeof(init), from, fromlen);
	CHECK_INT(wgtest_recv(edge.udp, &resp, sizeof(resp)), sizeof(resp));
	CHECK(noise_mac1_ok(&resp, sizeof(resp), edge.local.mac1_key));
	CHECK_INT(le32toh(resp.receiver), 0x1234);
	CHECK(noise_resp_consume(&resp, &edge.hs, &edge.local, &edge.dev_as_seen) == 0);
	CHECK(noise_derive_keys(&keys, &edge.hs) == 0);
	/* The same initiation again, past the per-peer flood limit (20 ms), is a
	 * replay: its timestamp is not newer, so it is refused on that alone. */
	wgtest_advance_ms(100);
	wgtest_input(d, &init, sizeof(init), from, fromlen);
	CHECK(wgtest_recv(edge.udp, buf, sizeof(buf)) < 0);
	/* So is a fresh initiation (another ephemeral key, so other bytes
	 * throughout) with the same timestamp: only a newer one is taken. */
	struct noise_handshake hs2 = {0};
	struct noise_msg_init init2;
	CHECK(noise_init_create_with(&init2, &hs2, &edge.local, &edge.dev_as_seen, 0x5678, e2,
	                             ts) == 0);
	noise_macs_add(&init2, sizeof(init2), edge.dev_as_seen.mac1_key, NULL, NULL);
	CHECK(memcmp(&init2, &init, sizeof(init)) != 0);
	wgtest_advance_ms(100);
	wgtest_input(d, &init2, sizeof(init2), from, fromlen);
	CHECK(wgtest_recv(edge.udp, buf, sizeof(buf)) < 0);
	/* Both count as failed handshakes; the bad mac1 before did not. */
	wg_device_stats(d, wgtest_now, &ds);
	CHECK_INT(ds.handshake_failures, 2);

	/* Data from the edge's address arrives on the TUN, padding removed. */
	size_t n = wgtest_ip_packet(pkt, 0x64400002);
	size_t mlen = wgtest_data_message(buf, &keys, 0, pkt, n);
	wgtest_input(d, buf, mlen, from, fromlen);
	CHECK_INT(wgtest_recv(tun[1], got, sizeof(got)), n);
	CHECK_MEM(got, pkt, n);
	wg_peer_stats(peer, wgtest_now, &ps);
	CHECK(ps.has_session);
	CHECK_INT(ps.handshakes, 1);
	CHECK_INT(ps.rx_packets, 1);

	/* The same message again is a replay: nothing arrives. */
	wgtest_input(d, buf, mlen, from, fromlen);
	CHECK(wgtest_recv(tun[1], got, sizeof(got)) < 0);
	wg_device_stats(d, wgtest_now, &ds);
	CHECK_INT(ds.replayed, 1);

	/* A source that is not the edge's: dropped and counted. */
	n = wgtest_ip_packet(pkt, 0x64400003);
	mlen = wgtest_data_message(buf, &keys, 1, pkt, n);
	wgtest_input(d, buf, mlen, from, fromlen);
	CHECK(wgtest_recv(tun[1], got, sizeof(got)) < 0);
	wg_peer_stats(peer, wgtest_now, &ps);
	CHECK_INT(ps.spoofed, 1);

	/* Every truncation of a data message fails to authenticate. */
	n = wgtest_ip_packet(pkt, 0x64400002);
	mlen = wgtest_data_message(buf, &keys, 2, pkt, n);
	for (size_t len = 0; len < mlen; len++)
		wgtest_input(d, buf, len, from, fromlen);
	CHECK(wgtest_recv(tun[1], got, sizeof(got)) < 0);
	/* ... and the intact one still arrives: failures did not burn its counter. */
	wgtest_input(d, buf, mlen, from, fromlen);
	CHECK_INT(wgtest_recv(tun[1], got, sizeof(got)), n);
	/* They were invalid, not replays. */
	wg_device_stats(d, wgtest_now, &ds);
	CHECK_INT(ds.replayed, 1);

	/* A keepalive (empty payload) authenticates and delivers nothing. */
	mlen = wgtest_data_message(buf, &keys, 3, pkt, 0);
	CHECK_INT(mlen, NOISE_DATA_MIN_LEN);
	wgtest_input(d, buf, mlen, from, fromlen);
	CHECK(wgtest_recv(tun[1], got, sizeof(got)) < 0);

	/* An inner packet over the device's MTU authenticates (the datagram
	 * buffer takes jumbo frames) but never reaches the TUN; one of exactly
	 * the MTU does. */
	static uint8_t big[1500], msg[1600];
	wg_device_stats(d, wgtest_now, &ds);
	uint64_t invalid = ds.invalid;
	wgtest_ip_packet_len(big, 1421, 0x64400002, 0xcb007150);
	mlen = wgtest_data_message(msg, &keys, 10, big, 1421);
	wgtest_input(d, msg, mlen, from, fromlen);
	CHECK(wgtest_recv(tun[1], got, sizeof(got)) < 0);
	wg_device_stats(d, wgtest_now, &ds);
	CHECK_INT(ds.invalid, invalid + 1);
	wgtest_ip_packet_len(big, 1420, 0x64400002, 0xcb007150);
	mlen = wgtest_data_message(msg, &keys, 11, big, 1420);
	wgtest_input(d, msg, mlen, from, fromlen);
	CHECK_INT(wgtest_recv(tun[1], got, sizeof(got)), 1420);

	/* Past the reject time (180 s) without a new handshake, the session is
	 * refused: the stats say so and its data no longer arrives. */
	wgtest_advance_ms(181 * 1000);
	wg_peer_stats(peer, wgtest_now, &ps);
	CHECK(!ps.has_session);
	mlen = wgtest_data_message(buf, &keys, 4, pkt, n);
	wgtest_input(d, buf, mlen, from, fromlen);
	CHECK(wgtest_recv(tun[1], got, sizeof(got)) < 0);

	wg_device_free(d);
	wgtest_peer_close(&edge);
	close(tun[0]);
	close(tun[1]);
	return check_done("test_wg_device");
}
