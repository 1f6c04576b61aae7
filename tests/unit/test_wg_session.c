/* The device's sessions on a fake clock, through its entry points, with the
 * other peer played by the test (wgtest.h): key rotation across previous,
 * current and next on both sides, the message-count limits, receiver indexes
 * that must not be accepted, and the exact format of what the device sends.
 *
 * White-box in two places, through tunnel/wg_priv.h: a keypair's send counter
 * is moved near the limits (2^60 and 2^64 messages cannot be sent), and the
 * index map is asked whether a zeroed session's index is gone (its data would
 * be refused for its age anyway, so only the map shows the index was freed). */
#include <errno.h>

#include "tunnel/replay.h"
#include "tunnel/wg_priv.h"
#include "wgtest.h"

/* The peer starts a new handshake the device accepts: past the per-peer
 * initiation limit (fake time) and with a newer timestamp (real time). */
static bool handshake(struct wgtest_pair *f, uint32_t index, struct noise_keys *keys)
{
	wgtest_advance_ms(30);
	wgtest_tai64n_tick();
	return wgtest_handshake(f->w.d, &f->t, index, keys) == 0;
}

/* A 100-byte packet for the peer comes out of the TUN: true when the peer
 * gets it as data under k. */
static bool tun_sent_under(struct wgtest_pair *f, const struct noise_keys *k)
{
	uint8_t buf[2048];
	uint64_t counter = 0;
	ssize_t n;

	wgtest_tun_send(&f->w, WGTEST_HOST, 100);
	n = wgtest_recv(f->t.udp, buf, sizeof(buf));
	return n > 0 && wgtest_open(k, buf, (size_t)n, &counter) == 112;
}

static uint64_t invalid(struct wgtest_pair *f)
{
	return wgtest_dev_stats(&f->w).invalid;
}

/* The device initiates (it knows the peer's endpoint): the peer answers with
 * index, keys gets the session, and the keepalive that confirms it is
 * checked. */
static bool device_initiates(struct wgtest_pair *f, uint32_t index, struct noise_keys *keys)
{
	struct noise_msg_init init;
	struct noise_msg_resp resp;
	uint8_t buf[2048];
	uint64_t counter = 99;
	ssize_t n;

	wg_peer_connect(f->p, wgtest_now);
	n = wgtest_recv(f->t.udp, &init, sizeof(init));
	CHECK_INT(n, sizeof(init));
	if (n != (ssize_t)sizeof(init))
		return false;
	CHECK_INT(init.type, NOISE_MSG_INIT);
	CHECK(wgtest_reserved_zero(&init.type));
	if (wgtest_respond(&f->t, &init, index, &resp, keys) < 0)
		return false;
	wgtest_input(f->w.d, &resp, sizeof(resp), (struct sockaddr *)&f->t.from, sizeof(f->t.from));
	/* The initiator confirms with a keepalive: exactly a header and a tag. */
	n = wgtest_recv(f->t.udp, buf, sizeof(buf));
	CHECK_INT(n, NOISE_DATA_HDR_LEN + 0 + CRYPTO_TAG_LEN);
	CHECK_INT(wgtest_open(keys, buf, (size_t)n, &counter), 0);
	CHECK_INT(counter, 0);
	return n == 32;
}

static void test_rotation_responder(void)
{
	struct wgtest_pair f;
	struct noise_keys k0, k1, k2;
	uint64_t c0 = 0, c1 = 0, inv;

	wgtest_case("rotation, responder: next until the initiator's first data, then current; "
	            "the old current stays as previous until the next initiation is answered");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	CHECK(handshake(&f, 0x100, &k0));
	/* Answered but unconfirmed: nothing to send with yet. */
	CHECK(!wgtest_peer_stats(f.p).has_session);
	CHECK_INT(wgtest_peer_stats(f.p).handshakes, 0);
	CHECK(wgtest_data_arrives(&f, &k0, c0++));
	CHECK(wgtest_peer_stats(f.p).has_session);
	CHECK_INT(wgtest_peer_stats(f.p).handshakes, 1);
	CHECK(tun_sent_under(&f, &k0));

	/* A second handshake: k1 waits in next, k0 goes on in both directions. */
	CHECK(handshake(&f, 0x101, &k1));
	CHECK_INT(wgtest_peer_stats(f.p).handshakes, 1);
	CHECK(wgtest_data_arrives(&f, &k0, c0++));
	CHECK(tun_sent_under(&f, &k0));
	/* Data under k1 confirms it: k1 current, k0 previous and still heard. */
	CHECK(wgtest_data_arrives(&f, &k1, c1++));
	CHECK_INT(wgtest_peer_stats(f.p).handshakes, 2);
	CHECK(tun_sent_under(&f, &k1));
	CHECK(wgtest_data_arrives(&f, &k0, c0++));

	/* A third handshake answered: previous (k0) is dropped, current (k1)
	 * stays until k2 is confirmed. */
	CHECK(handshake(&f, 0x102, &k2));
	inv = invalid(&f);
	CHECK(!wgtest_data_arrives(&f, &k0, c0++));
	CHECK_INT(invalid(&f), inv + 1);
	CHECK(wgtest_data_arrives(&f, &k1, c1++));
	CHECK(tun_sent_under(&f, &k1));
	CHECK(wgtest_data_arrives(&f, &k2, 0));
	CHECK(tun_sent_under(&f, &k2));
	CHECK(wgtest_data_arrives(&f, &k1, c1++));
out:
	wgtest_pair_free(&f);
}

static void test_responder_drops_previous(void)
{
	struct wgtest_pair f;
	struct noise_keys k0, k1, k2;
	uint64_t inv;

	wgtest_case("responder drops previous when it answers a new initiation: current K1, "
	            "previous K0, new initiation answered, a K0 packet is dropped");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	CHECK(handshake(&f, 0x200, &k0));
	CHECK(wgtest_data_arrives(&f, &k0, 0));
	CHECK(handshake(&f, 0x201, &k1));
	CHECK(wgtest_data_arrives(&f, &k1, 0));
	/* K0 is previous: accepted. */
	CHECK(wgtest_data_arrives(&f, &k0, 1));
	CHECK(handshake(&f, 0x202, &k2));
	inv = invalid(&f);
	CHECK(!wgtest_data_arrives(&f, &k0, 2));
	CHECK_INT(invalid(&f), inv + 1);
	CHECK(wgtest_data_arrives(&f, &k1, 1));
out:
	wgtest_pair_free(&f);
}

static void test_unconfirmed_next_replaced(void)
{
	struct wgtest_pair f;
	struct noise_keys ka, kb, kc, kd;
	uint64_t inv;

	wgtest_case("an unconfirmed next is dropped when another initiation is answered: its "
	            "data is refused, with and without a current session");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	CHECK(handshake(&f, 0x300, &ka));
	CHECK(handshake(&f, 0x301, &kb));
	inv = invalid(&f);
	CHECK(!wgtest_data_arrives(&f, &ka, 0));
	CHECK_INT(invalid(&f), inv + 1);
	CHECK(!wgtest_peer_stats(f.p).has_session);
	CHECK(wgtest_data_arrives(&f, &kb, 0));
	CHECK_INT(wgtest_peer_stats(f.p).handshakes, 1);

	/* kb current; kc answered, then replaced by kd before any data. */
	CHECK(handshake(&f, 0x302, &kc));
	CHECK(handshake(&f, 0x303, &kd));
	inv = invalid(&f);
	CHECK(!wgtest_data_arrives(&f, &kc, 0));
	CHECK_INT(invalid(&f), inv + 1);
	CHECK(wgtest_data_arrives(&f, &kb, 1));
	CHECK(wgtest_data_arrives(&f, &kd, 0));
	CHECK(tun_sent_under(&f, &kd));
out:
	wgtest_pair_free(&f);
}

static void test_rotation_initiator(void)
{
	struct wgtest_pair f;
	struct noise_keys k0, k1;
	struct noise_msg_init init;
	struct noise_msg_resp resp;
	uint8_t buf[2048];
	uint64_t born, counter = 0;
	ssize_t n;

	wgtest_case("rotation, initiator: the response makes the session current at once; "
	            "sending renews it after REKEY_AFTER_TIME (120 s), the old one stays as "
	            "previous");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, true) < 0)
		goto out;
	CHECK(device_initiates(&f, 0x400, &k0));
	born = wgtest_now;
	CHECK(wgtest_peer_stats(f.p).has_session);
	CHECK_INT(wgtest_peer_stats(f.p).handshakes, 1);
	CHECK(tun_sent_under(&f, &k0));
	CHECK(wgtest_data_arrives(&f, &k0, 0));

	/* At 119 s: data, and no initiation. */
	wgtest_now = born + 119 * WGTEST_NSEC;
	CHECK(tun_sent_under(&f, &k0));
	CHECK(wgtest_nothing(f.t.udp));
	/* At 121 s: an initiation first, then the data, still under k0. */
	wgtest_now = born + 121 * WGTEST_NSEC;
	wgtest_tun_send(&f.w, WGTEST_HOST, 100);
	n = wgtest_recv(f.t.udp, &init, sizeof(init));
	CHECK_INT(n, sizeof(init));
	CHECK_INT(init.type, NOISE_MSG_INIT);
	n = wgtest_recv(f.t.udp, buf, sizeof(buf));
	CHECK(n > 0 && wgtest_open(&k0, buf, (size_t)n, &counter) == 112);

	/* The peer answers: k1 current (a keepalive under it), k0 previous. */
	CHECK(wgtest_respond(&f.t, &init, 0x401, &resp, &k1) == 0);
	wgtest_input(f.w.d, &resp, sizeof(resp), (struct sockaddr *)&f.t.from, sizeof(f.t.from));
	n = wgtest_recv(f.t.udp, buf, sizeof(buf));
	CHECK_INT(n, 32);
	CHECK(n > 0 && wgtest_open(&k1, buf, (size_t)n, &counter) == 0);
	CHECK_INT(wgtest_peer_stats(f.p).handshakes, 2);
	CHECK(tun_sent_under(&f, &k1));
	CHECK(wgtest_data_arrives(&f, &k0, 1));
	CHECK(wgtest_data_arrives(&f, &k1, 0));
out:
	wgtest_pair_free(&f);
}

static void test_message_limits(void)
{
	struct wgtest_pair f;
	struct noise_keys k0, k1;
	struct noise_msg_init init;
	struct noise_msg_resp resp;
	uint8_t buf[2048];
	uint64_t inv, counter = 0;
	ssize_t n;

	wgtest_case("a counter at or past REJECT_AFTER_MESSAGES is refused; the sender renews "
	            "past REKEY_AFTER_MESSAGES and stops before REJECT_AFTER_MESSAGES");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	CHECK(handshake(&f, 0x500, &k0));
	CHECK(wgtest_data_arrives(&f, &k0, 0));

	/* Receiving. */
	inv = invalid(&f);
	CHECK(!wgtest_data_arrives(&f, &k0, REPLAY_REJECT_AFTER_MESSAGES));
	CHECK(!wgtest_data_arrives(&f, &k0, UINT64_MAX));
	CHECK_INT(invalid(&f), inv + 2);
	CHECK(wgtest_data_arrives(&f, &k0, REPLAY_REJECT_AFTER_MESSAGES - 1));
	CHECK(!wgtest_data_arrives(&f, &k0, REPLAY_REJECT_AFTER_MESSAGES - 1));

	/* Sending, with the keypair's counter moved (white-box). Past
	 * REKEY_AFTER_MESSAGES the responder renews: an initiation, and the
	 * packet still goes under k0. */
	f.p->current->send_counter = REKEY_AFTER_MESSAGES + 1;
	wgtest_tun_send(&f.w, WGTEST_HOST, 100);
	n = wgtest_recv(f.t.udp, &init, sizeof(init));
	CHECK_INT(n, sizeof(init));
	CHECK_INT(init.type, NOISE_MSG_INIT);
	n = wgtest_recv(f.t.udp, buf, sizeof(buf));
	CHECK(n > 0 && wgtest_open(&k0, buf, (size_t)n, &counter) == 112);
	CHECK(counter == REKEY_AFTER_MESSAGES + 1);
	/* The last counter a session may use is used ... */
	f.p->current->send_counter = REPLAY_REJECT_AFTER_MESSAGES - 1;
	wgtest_tun_send(&f.w, WGTEST_HOST, 100);
	n = wgtest_recv(f.t.udp, buf, sizeof(buf));
	CHECK(n > 0 && wgtest_open(&k0, buf, (size_t)n, &counter) == 112);
	CHECK(counter == REPLAY_REJECT_AFTER_MESSAGES - 1);
	/* ... and then k0 sends nothing more: the packet waits for the new
	 * session, which it is sent under once the peer answers. */
	wgtest_tun_send(&f.w, WGTEST_HOST, 100);
	CHECK(wgtest_nothing(f.t.udp));
	CHECK(wgtest_respond(&f.t, &init, 0x501, &resp, &k1) == 0);
	wgtest_input(f.w.d, &resp, sizeof(resp), (struct sockaddr *)&f.t.from, sizeof(f.t.from));
	n = wgtest_recv(f.t.udp, buf, sizeof(buf));
	CHECK(n > 0 && wgtest_open(&k1, buf, (size_t)n, &counter) == 112);
	CHECK_INT(counter, 0);
out:
	wgtest_pair_free(&f);
}

static void test_zeroed_index(void)
{
	struct wgtest_pair f;
	struct noise_keys k0;
	uint64_t inv;

	wgtest_case("the receiver index of a session zeroed after 3 * REJECT_AFTER_TIME is freed; "
	            "data with it is refused and counted invalid");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, false) < 0)
		goto out;
	CHECK(handshake(&f, 0x600, &k0));
	CHECK(wgtest_data_arrives(&f, &k0, 0));
	CHECK(wg_index_find(f.w.d, k0.remote_index) == f.p);
	wgtest_advance_ms(3 * REJECT_AFTER_TIME * 1000 - 1);
	wg_device_tick(f.w.d, wgtest_now);
	CHECK(wg_index_find(f.w.d, k0.remote_index) == f.p);
	wgtest_advance_ms(2);
	wg_device_tick(f.w.d, wgtest_now);
	CHECK(wg_index_find(f.w.d, k0.remote_index) == NULL);
	CHECK_INT(f.w.d->indexes.n, 0); /* nothing else of the peer's is left either */
	inv = invalid(&f);
	CHECK(!wgtest_data_arrives(&f, &k0, 1));
	CHECK_INT(invalid(&f), inv + 1);
out:
	wgtest_pair_free(&f);
}

static void test_handshake_index(void)
{
	struct wgtest_pair f;
	struct noise_keys k0, forged;
	struct noise_msg_init init;
	uint64_t inv;
	ssize_t n;

	wgtest_case("an index that belongs to the device's own initiation, not to a session, is "
	            "refused, even with the live session's key");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, true) < 0)
		goto out;
	CHECK(device_initiates(&f, 0x700, &k0));
	/* A new initiation past REKEY_TIMEOUT, left unanswered. */
	wgtest_advance_ms(6000);
	wg_peer_connect(f.p, wgtest_now);
	n = wgtest_recv(f.t.udp, &init, sizeof(init));
	CHECK_INT(n, sizeof(init));
	CHECK(wg_index_find(f.w.d, le32toh(init.sender)) == f.p);
	forged = k0;
	forged.remote_index = le32toh(init.sender);
	inv = invalid(&f);
	CHECK(!wgtest_data_arrives(&f, &forged, 1));
	crypto_random(forged.send, sizeof(forged.send));
	CHECK(!wgtest_data_arrives(&f, &forged, 2));
	CHECK_INT(invalid(&f), inv + 2);
	/* The session's own index still works. */
	CHECK(wgtest_data_arrives(&f, &k0, 3));
out:
	wgtest_pair_free(&f);
}

static void test_keepalive_format(void)
{
	struct wgtest_pair f;
	struct noise_keys k0;
	uint8_t buf[2048];
	uint64_t counter = 99;
	ssize_t n;

	wgtest_case("a keepalive is exactly 32 bytes (16 header, no payload, 16 tag) with zero "
	            "reserved bytes: the initiator's confirmation and the keepalive timer's");
	if (wgtest_pair_new(&f, (struct wg_device_params){0}, true) < 0)
		goto out;
	CHECK(device_initiates(&f, 0x800, &k0)); /* checks the first one */
	/* Data heard and nothing to send back: a keepalive after 10 s. */
	CHECK(wgtest_data_arrives(&f, &k0, 0));
	wgtest_advance_ms(KEEPALIVE_TIMEOUT * 1000 - 1);
	wg_device_tick(f.w.d, wgtest_now);
	CHECK(wgtest_nothing(f.t.udp));
	wgtest_advance_ms(2);
	wg_device_tick(f.w.d, wgtest_now);
	n = wgtest_recv(f.t.udp, buf, sizeof(buf));
	CHECK_INT(n, 32);
	CHECK_INT(buf[0], NOISE_MSG_DATA);
	CHECK(wgtest_reserved_zero(buf));
	CHECK_INT(n > 0 ? wgtest_open(&k0, buf, (size_t)n, &counter) : -1, 0);
	CHECK_INT(counter, 1);
out:
	wgtest_pair_free(&f);
}

static void test_padding(void)
{
	static const size_t lens[] = {20, 28, 29, 32, 1404, 1405, 1408, 1409, 1419, 1420};
	struct wgtest_pair f;
	struct noise_keys k0;
	uint8_t buf[2048], want[2048], zeros[16] = {0};
	uint64_t counter = 0;

	wgtest_case("data is padded to a multiple of 16 but never past the MTU (1420): 1419 "
	            "and 1420 bytes are sent as 1420; reserved bytes are zero");
	if (wgtest_pair_new(&f, (struct wg_device_params){.mtu = 1420}, false) < 0)
		goto out;
	CHECK(handshake(&f, 0x900, &k0));
	CHECK(wgtest_data_arrives(&f, &k0, 0));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i], padded = (len + 15) & ~(size_t)15;
		ssize_t n;

		if (padded > 1420)
			padded = 1420;
		wgtest_tun_send(&f.w, WGTEST_HOST, len);
		n = wgtest_recv(f.t.udp, buf, sizeof(buf));
		CHECK_INT(n, NOISE_DATA_HDR_LEN + padded + CRYPTO_TAG_LEN);
		CHECK(n > 0 && wgtest_reserved_zero(buf));
		CHECK_INT(n > 0 ? wgtest_open(&k0, buf, (size_t)n, &counter) : -1, padded);
		CHECK_INT(counter, i);
		wgtest_ip_packet_len(want, len, 0xcb007150, 0x64400000u | WGTEST_HOST);
		CHECK_MEM(buf + NOISE_DATA_HDR_LEN, want, len);
		CHECK_MEM(buf + NOISE_DATA_HDR_LEN + len, zeros, padded - len);
	}
out:
	wgtest_pair_free(&f);
}

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	test_rotation_responder();
	test_responder_drops_previous();
	test_unconfirmed_next_replaced();
	test_rotation_initiator();
	test_message_limits();
	test_zeroed_index();
	test_handshake_index();
	test_keepalive_format();
	test_padding();
	return check_done("test_wg_session");
}
