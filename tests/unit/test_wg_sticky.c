/* Sticky sources without root: all of 127.0.0.0/8 is ours on loopback, so a
 * datagram the device is told reached 127.0.0.2 must be answered from
 * 127.0.0.2, not from 127.0.0.1 (the route's choice). The handshake
 * response, keepalives and cookie replies are checked at the peer's socket
 * by their source address; a local address that is not ours (192.0.2.1,
 * 2001:db8::1) makes the send fail, and the device sends again from any
 * address and forgets it until the peer's next packet; a retried initiation
 * leaves from any address. The batched data path (sendmmsg) is covered by
 * tests/netns/t_sticky_source.sh. */
#include <arpa/inet.h>
#include <errno.h>

#include "tunnel/log.h"
#include "tunnel/wg_priv.h"
#include "wgtest.h"

/* What fd has within a second, or -1; from gets its source address. */
static ssize_t recv_from(int fd, void *buf, size_t len, char from[INET6_ADDRSTRLEN])
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	strcpy(from, "?");
	if (poll(&pfd, 1, 1000) != 1)
		return -1;
	n = recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&ss, &sslen);
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, from, INET6_ADDRSTRLEN);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, from,
		          INET6_ADDRSTRLEN);
	return n;
}

static struct sockaddr_in v4(const char *a)
{
	struct sockaddr_in s = {.sin_family = AF_INET};

	inet_pton(AF_INET, a, &s.sin_addr);
	return s;
}

static void input_at(struct wg_device *d, const void *buf, size_t len, struct wgtest_peer *t,
                     const void *dst, socklen_t dstlen)
{
	struct wg_datagram dg = {.buf = buf,
	                         .len = len,
	                         .src = (const struct sockaddr *)&t->from,
	                         .srclen = sizeof(t->from),
	                         .dst = dst,
	                         .dstlen = dstlen};

	wg_device_input(d, &dg, 1, wgtest_now);
}

/* A data packet from the edge, reaching the device at dst; 10 s later the
 * device owes a keepalive, which the edge receives: its source in from. */
static void keepalive_after_data(struct wg_device *d, struct wgtest_peer *t,
                                 const struct noise_keys *k, uint64_t *counter, int tun,
                                 const struct sockaddr_in *dst, char from[INET6_ADDRSTRLEN])
{
	uint8_t pkt[64], buf[256];
	size_t n = wgtest_ip_packet(pkt, 0x64400002);
	size_t mlen = wgtest_data_message(buf, k, (*counter)++, pkt, n);

	input_at(d, buf, mlen, t, dst, dst ? sizeof(*dst) : 0);
	CHECK_INT(recv(tun, buf, sizeof(buf), MSG_DONTWAIT), n);
	wgtest_advance_ms(10 * 1000 + 1);
	wg_device_tick(d, wgtest_now);
	CHECK_INT(recv_from(t->udp, buf, sizeof(buf), from), NOISE_DATA_MIN_LEN);
	CHECK_INT(buf[0], NOISE_MSG_DATA);
	/* One keepalive, sent once even when its first send was refused. */
	CHECK(wgtest_recv_now(t->udp, buf, sizeof(buf)) < 0);
}

int main(void)
{
	uint8_t gw_priv[32], gw_pub[32], buf[256];
	char from[INET6_ADDRSTRLEN];
	struct wgtest_peer edge, edge6;
	struct noise_msg_init init;
	struct noise_msg_resp resp;
	struct noise_keys keys;
	struct wg_device *d;
	struct wg_peer *peer, *peer6;
	struct sockaddr_in at2 = v4("127.0.0.2"), at3 = v4("127.0.0.3"), gone = v4("192.0.2.1");
	uint64_t counter = 0;
	int tun[2];

	log_set_level(LOG_LVL_ERR);
	crypto_x25519_genkey(gw_priv);
	crypto_x25519_pubkey(gw_pub, gw_priv);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, tun) == 0);
	if (wgtest_peer_init(&edge, gw_pub, NULL) < 0 || wgtest_peer_init(&edge6, gw_pub, NULL) < 0)
		return check_done("test_wg_sticky");
	d = wg_device_new(
	        &(struct wg_device_params){.private_key = gw_priv, .tun_fd = tun[0], .mtu = 1420});
	CHECK(d != NULL);
	if (!d)
		return check_done("test_wg_sticky");
	struct prefix allowed = {.family = AF_INET, .v4.s_addr = htonl(0x64400002), .len = 32};
	peer = wg_peer_add(d, &(struct wg_peer_params){.name = "edge",
	                                               .public_key = edge.pub,
	                                               .allowed = &allowed,
	                                               .n_allowed = 1});
	peer6 = wg_peer_add(d, &(struct wg_peer_params){.name = "edge6", .public_key = edge6.pub});
	CHECK(peer != NULL && peer6 != NULL);
	if (!peer || !peer6)
		return check_done("test_wg_sticky");

	/* The edge's initiation reached 127.0.0.2: so does the response. */
	wgtest_initiation(&edge, 0x1234, &init, NULL, NULL);
	input_at(d, &init, sizeof(init), &edge, &at2, sizeof(at2));
	CHECK_INT(recv_from(edge.udp, &resp, sizeof(resp), from), sizeof(resp));
	CHECK_STR(from, "127.0.0.2");
	CHECK(noise_resp_consume(&resp, &edge.hs, &edge.local, &edge.dev_as_seen) == 0);
	CHECK(noise_derive_keys(&keys, &edge.hs) == 0);

	/* Data at 127.0.0.2 (confirming the session), then a keepalive from there. */
	keepalive_after_data(d, &edge, &keys, &counter, tun[1], &at2, from);
	CHECK_STR(from, "127.0.0.2");
	/* The same endpoint reaching another of our addresses moves the source. */
	keepalive_after_data(d, &edge, &keys, &counter, tun[1], &at3, from);
	CHECK_STR(from, "127.0.0.3");
	/* An address that is not ours (as one that went away): the send is
	 * refused, goes again from any address, and the source is forgotten. */
	keepalive_after_data(d, &edge, &keys, &counter, tun[1], &gone, from);
	CHECK_STR(from, "127.0.0.1");
	CHECK_INT(peer->ep_src.len, 0);
	/* The next authenticated packet sets it again. */
	keepalive_after_data(d, &edge, &keys, &counter, tun[1], &at2, from);
	CHECK_STR(from, "127.0.0.2");
	CHECK(peer->ep_src.len > 0);

	/* An initiation of ours leaves from the sticky source too; its retry,
	 * the first having gone unanswered, from the route's choice, in case
	 * the source still exists but no longer leads to the peer. */
	wg_peer_connect(peer, wgtest_now);
	CHECK_INT(recv_from(edge.udp, buf, sizeof(buf), from), sizeof(struct noise_msg_init));
	CHECK_STR(from, "127.0.0.2");
	wgtest_advance_ms(5500);
	wg_device_tick(d, wgtest_now);
	CHECK_INT(recv_from(edge.udp, buf, sizeof(buf), from), sizeof(struct noise_msg_init));
	CHECK_STR(from, "127.0.0.1");

	/* Under load (a full receive of initiations), cookie replies answer each
	 * message from the address it reached (127.0.0.3), not from the peer's
	 * sticky source (127.0.0.2). */
	struct noise_msg_init inits[WG_BATCH];
	struct wg_datagram dgs[WG_BATCH];
	for (int i = 0; i < WG_BATCH; i++) {
		wgtest_initiation(&edge, 0x2000u + (uint32_t)i, &inits[i], NULL, NULL);
		dgs[i] = (struct wg_datagram){.buf = &inits[i],
		                              .len = sizeof(inits[i]),
		                              .src = (const struct sockaddr *)&edge.from,
		                              .srclen = sizeof(edge.from),
		                              .dst = (const struct sockaddr *)&at3,
		                              .dstlen = sizeof(at3)};
	}
	wg_device_input(d, dgs, WG_BATCH, wgtest_now);
	int cookies = 0, from3 = 0;
	while (recv_from(edge.udp, buf, sizeof(buf), from) == sizeof(struct noise_msg_cookie)) {
		cookies++;
		from3 += buf[0] == NOISE_MSG_COOKIE && strcmp(from, "127.0.0.3") == 0;
	}
	CHECK_INT(cookies, WG_BATCH);
	CHECK_INT(from3, WG_BATCH);
	wgtest_advance_ms(2000); /* no longer under load */

	/* IPv6: an initiation that reached 2001:db8::1, not ours: the response
	 * is refused that source and goes from ::1 instead. */
	struct sockaddr_in6 me6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr_in6 gone6 = {.sin6_family = AF_INET6};
	socklen_t me6len = sizeof(me6);
	inet_pton(AF_INET6, "2001:db8::1", &gone6.sin6_addr);
	close(edge6.udp);
	edge6.udp = socket(AF_INET6, SOCK_DGRAM, 0);
	if (edge6.udp < 0 || bind(edge6.udp, (struct sockaddr *)&me6, sizeof(me6)) < 0) {
		fprintf(stderr, "test_wg_sticky: NO IPv6 LOOPBACK (::1): the IPv6 checks did "
		                "not run\n");
	} else {
		CHECK(getsockname(edge6.udp, (struct sockaddr *)&me6, &me6len) == 0);
		edge6.from = me6;
		wgtest_initiation(&edge6, 0x6666, &init, NULL, NULL);
		input_at(d, &init, sizeof(init), &edge6, &gone6, sizeof(gone6));
		CHECK_INT(recv_from(edge6.udp, &resp, sizeof(resp), from), sizeof(resp));
		CHECK_STR(from, "::1");
		CHECK_INT(peer6->ep_src.len, 0);
		CHECK(noise_resp_consume(&resp, &edge6.hs, &edge6.local, &edge6.dev_as_seen) == 0);
	}

	wg_device_free(d);
	wgtest_peer_close(&edge);
	wgtest_peer_close(&edge6);
	close(tun[0]);
	close(tun[1]);
	return check_done("test_wg_sticky");
}
