/* The handshake between two in-process peers, A initiating to B, checked
 * against each other, against a transcript rebuilt by hand from the
 * whitepaper (section 5.4) with the bare primitives, and against messages and
 * keys pinned from an independent implementation (tests/kat/wg_handshake.py);
 * then every way a message can be wrong, low-order ephemeral keys, the MACs,
 * cookie replies and TAI64N. */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "tests/unit/check.h"
#include "tunnel/noise.h"

#define A_INDEX 0x44332211u
#define B_INDEX 0x88776655u

/* The well-known constants HASH(CONSTRUCTION) and HASH(that || IDENTIFIER),
 * as the kernel and wireguard-go compute them. */
#define INITIAL_CK   "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36"
#define INITIAL_HASH "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3"

struct peers {
	uint8_t a_priv[CRYPTO_KEY_LEN], b_priv[CRYPTO_KEY_LEN], c_priv[CRYPTO_KEY_LEN];
	struct noise_local la, lb, lc;
	struct noise_remote a_b; /* A's view of B */
	struct noise_remote b_a; /* B's view of A */
	struct noise_remote c_b; /* C's view of B; B does not know C */
	uint8_t psk[CRYPTO_KEY_LEN];
	bool has_psk;
};

/* B's configuration: it knows A only. */
static const struct noise_remote *lookup(void *arg, const uint8_t pub[CRYPTO_KEY_LEN])
{
	const struct noise_remote *known = arg;

	return memcmp(known->pub, pub, CRYPTO_KEY_LEN) == 0 ? known : NULL;
}

static void setup(struct peers *p, bool with_psk)
{
	memset(p, 0, sizeof(*p));
	CHECK_INT(crypto_x25519_genkey(p->a_priv), 0);
	CHECK_INT(crypto_x25519_genkey(p->b_priv), 0);
	CHECK_INT(crypto_x25519_genkey(p->c_priv), 0);
	CHECK_INT(noise_local_init(&p->la, p->a_priv), 0);
	CHECK_INT(noise_local_init(&p->lb, p->b_priv), 0);
	CHECK_INT(noise_local_init(&p->lc, p->c_priv), 0);
	p->has_psk = with_psk;
	if (with_psk)
		CHECK_INT(crypto_random(p->psk, sizeof(p->psk)), 0);
	CHECK_INT(noise_remote_init(&p->a_b, &p->la, p->lb.pub, with_psk ? p->psk : NULL), 0);
	CHECK_INT(noise_remote_init(&p->b_a, &p->lb, p->la.pub, with_psk ? p->psk : NULL), 0);
	CHECK_INT(noise_remote_init(&p->c_b, &p->lc, p->lb.pub, NULL), 0);
}

static void mix_hash(uint8_t h[32], const void *d, size_t len)
{
	uint8_t t[32];

	crypto_blake2s(t, h, 32, d, len);
	memcpy(h, t, 32);
}

static void mix_key(uint8_t ck[32], uint8_t *k, const void *in, size_t len)
{
	uint8_t t[32];

	crypto_kdf(t, k, NULL, ck, in, len);
	memcpy(ck, t, 32);
}

/* B's side of the initiation, by hand. */
static void expect_init(const struct peers *p, const struct noise_msg_init *m, uint8_t ck[32],
                        uint8_t h[32])
{
	uint8_t want[32], k[32], dh[32], s[32], ts[NOISE_TIMESTAMP_LEN];

	crypto_blake2s(ck, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", 37, NULL, 0);
	check_unhex(want, 32, INITIAL_CK);
	CHECK_MEM(ck, want, 32);
	crypto_blake2s(h, ck, 32, "WireGuard v1 zx2c4 Jason@zx2c4.com", 34);
	check_unhex(want, 32, INITIAL_HASH);
	CHECK_MEM(h, want, 32);
	mix_hash(h, p->lb.pub, 32);

	mix_hash(h, m->ephemeral, 32);
	mix_key(ck, NULL, m->ephemeral, 32);
	CHECK_INT(crypto_x25519(dh, p->b_priv, m->ephemeral), 0);
	mix_key(ck, k, dh, 32);
	CHECK_INT(crypto_aead_open(s, m->enc_static, sizeof(m->enc_static), h, 32, 0, k), 0);
	CHECK_MEM(s, p->la.pub, 32);
	mix_hash(h, m->enc_static, sizeof(m->enc_static));
	CHECK_INT(crypto_x25519(dh, p->b_priv, p->la.pub), 0);
	mix_key(ck, k, dh, 32);
	CHECK_INT(crypto_aead_open(ts, m->enc_timestamp, sizeof(m->enc_timestamp), h, 32, 0, k), 0);
	mix_hash(h, m->enc_timestamp, sizeof(m->enc_timestamp));
}

/* A's side of the response, by hand, given A's ephemeral private key; then
 * the session keys (T1, T2). */
static void expect_resp(const struct peers *p, const struct noise_msg_resp *m,
                        const uint8_t a_e_priv[32], uint8_t ck[32], uint8_t h[32], uint8_t t1[32],
                        uint8_t t2[32])
{
	uint8_t dh[32], tau[32], k[32], t[32], none[1];
	static const uint8_t zero[32];

	mix_hash(h, m->ephemeral, 32);
	mix_key(ck, NULL, m->ephemeral, 32);
	CHECK_INT(crypto_x25519(dh, a_e_priv, m->ephemeral), 0);
	mix_key(ck, NULL, dh, 32);
	CHECK_INT(crypto_x25519(dh, p->a_priv, m->ephemeral), 0);
	mix_key(ck, NULL, dh, 32);
	crypto_kdf(t, tau, k, ck, p->has_psk ? p->psk : zero, 32);
	memcpy(ck, t, 32);
	mix_hash(h, tau, 32);
	CHECK_INT(crypto_aead_open(none, m->enc_empty, sizeof(m->enc_empty), h, 32, 0, k), 0);
	mix_hash(h, m->enc_empty, sizeof(m->enc_empty));
	crypto_kdf(t1, t2, NULL, ck, zero, 0);
}

static void full_handshake(bool with_psk)
{
	struct peers p;
	struct noise_handshake hsa = {0}, hsb = {0}, zero_hs = {0};
	struct noise_msg_init mi;
	struct noise_msg_resp mr;
	struct noise_keys ka, kb;
	const struct noise_remote *remote = NULL;
	uint8_t ts[NOISE_TIMESTAMP_LEN], ck[32], h[32], t1[32], t2[32], a_e[32];
	uint8_t pkt[5 + CRYPTO_TAG_LEN], out[5];

	setup(&p, with_psk);

	CHECK_INT(noise_init_create(&mi, &hsa, &p.la, &p.a_b, A_INDEX), 0);
	noise_macs_add(&mi, sizeof(mi), p.a_b.mac1_key, NULL, NULL);
	CHECK_INT(hsa.state, NOISE_HS_INIT_CREATED);
	CHECK_INT(hsa.local_index, A_INDEX);
	CHECK_INT(mi.type, NOISE_MSG_INIT);
	CHECK_INT(((uint8_t *)&mi)[4], 0x11); /* little-endian on the wire */
	CHECK_INT(le32toh(mi.sender), A_INDEX);
	CHECK(noise_mac1_ok(&mi, sizeof(mi), p.lb.mac1_key));
	CHECK_MEM(p.lb.mac1_key, p.a_b.mac1_key, 32);
	CHECK_MEM(p.lb.cookie_key, p.a_b.cookie_key, 32);

	CHECK_INT(noise_init_consume(&mi, &p.lb, lookup, &p.b_a, &hsb, &remote, ts), 0);
	CHECK(remote == &p.b_a);
	CHECK_INT(hsb.state, NOISE_HS_INIT_CONSUMED);
	CHECK_INT(hsb.remote_index, A_INDEX);
	CHECK_MEM(hsb.ck, hsa.ck, 32);
	CHECK_MEM(hsb.hash, hsa.hash, 32);
	CHECK_MEM(hsb.remote_e, mi.ephemeral, 32);
	expect_init(&p, &mi, ck, h);
	CHECK_MEM(hsb.ck, ck, 32);
	CHECK_MEM(hsb.hash, h, 32);
	CHECK_INT(ts[0], 0x40);

	CHECK_INT(noise_resp_create(&mr, &hsb, remote, B_INDEX), 0);
	noise_macs_add(&mr, sizeof(mr), p.b_a.mac1_key, NULL, NULL);
	CHECK_INT(hsb.state, NOISE_HS_RESP_CREATED);
	CHECK_INT(mr.type, NOISE_MSG_RESP);
	CHECK_INT(le32toh(mr.sender), B_INDEX);
	CHECK_INT(le32toh(mr.receiver), A_INDEX);
	CHECK(noise_mac1_ok(&mr, sizeof(mr), p.la.mac1_key));
	CHECK(!noise_mac1_ok(&mr, sizeof(mr), p.lb.mac1_key));

	memcpy(a_e, hsa.e_priv, 32);
	CHECK_INT(noise_resp_consume(&mr, &hsa, &p.la, &p.a_b), 0);
	CHECK_INT(hsa.state, NOISE_HS_RESP_CONSUMED);
	CHECK_INT(hsa.remote_index, B_INDEX);
	CHECK_MEM(hsa.ck, hsb.ck, 32);
	CHECK_MEM(hsa.hash, hsb.hash, 32);
	expect_resp(&p, &mr, a_e, ck, h, t1, t2);
	CHECK_MEM(hsa.ck, ck, 32);
	CHECK_MEM(hsa.hash, h, 32);

	CHECK_INT(noise_derive_keys(&ka, &hsa), 0);
	CHECK_INT(noise_derive_keys(&kb, &hsb), 0);
	CHECK_MEM(&hsa, &zero_hs, sizeof(zero_hs));
	CHECK_MEM(&hsb, &zero_hs, sizeof(zero_hs));
	CHECK_INT(noise_derive_keys(&ka, &hsa), -EINVAL); /* already used */
	CHECK_MEM(ka.send, kb.recv, 32);
	CHECK_MEM(ka.recv, kb.send, 32);
	CHECK(memcmp(ka.send, ka.recv, 32) != 0);
	CHECK_MEM(ka.send, t1, 32); /* the initiator sends with T1 */
	CHECK_MEM(ka.recv, t2, 32);
	CHECK(ka.initiator);
	CHECK(!kb.initiator);
	CHECK_INT(ka.local_index, A_INDEX);
	CHECK_INT(ka.remote_index, B_INDEX);
	CHECK_INT(kb.local_index, B_INDEX);
	CHECK_INT(kb.remote_index, A_INDEX);

	CHECK_INT(crypto_aead_seal(pkt, (const uint8_t *)"hello", 5, NULL, 0, 0, ka.send), 0);
	CHECK_INT(crypto_aead_open(out, pkt, sizeof(pkt), NULL, 0, 0, kb.recv), 0);
	CHECK_MEM(out, "hello", 5);
	CHECK_INT(crypto_aead_seal(pkt, (const uint8_t *)"world", 5, NULL, 0, 7, kb.send), 0);
	CHECK_INT(crypto_aead_open(out, pkt, sizeof(pkt), NULL, 0, 7, ka.recv), 0);
	CHECK_MEM(out, "world", 5);
	CHECK_INT(crypto_aead_open(out, pkt, sizeof(pkt), NULL, 0, 7, ka.send), -EBADMSG);
}

/* A fails at every point a message can be wrong, and the handshake it hits is
 * left exactly as it was. */
static void failures(void)
{
	struct peers p;
	struct noise_handshake hsa = {0}, hsb = {0}, saved, zero_hs = {0};
	struct noise_msg_init mi, bad;
	struct noise_msg_resp mr, badr;
	struct noise_keys k;
	const struct noise_remote *remote = NULL;
	uint8_t ts[NOISE_TIMESTAMP_LEN];

	setup(&p, true);
	CHECK_INT(noise_derive_keys(&k, &hsa), -EINVAL);
	CHECK_INT(noise_resp_create(&mr, &hsa, &p.a_b, B_INDEX), -EINVAL);
	CHECK_INT(noise_init_create(&mi, &hsa, &p.la, &p.a_b, A_INDEX), 0);
	CHECK_INT(noise_derive_keys(&k, &hsa), -EINVAL);
	CHECK_INT(noise_resp_create(&mr, &hsa, &p.a_b, B_INDEX), -EINVAL);

	/* A handshake already consumed on B must survive forged initiations. */
	CHECK_INT(noise_init_consume(&mi, &p.lb, lookup, &p.b_a, &hsb, &remote, ts), 0);
	saved = hsb;
	CHECK_INT(noise_derive_keys(&k, &hsb), -EINVAL);
	for (int field = 0; field < 3; field++) {
		bad = mi;
		if (field == 0)
			bad.ephemeral[5] ^= 0x01;
		else if (field == 1)
			bad.enc_static[40] ^= 0x80;
		else
			bad.enc_timestamp[3] ^= 0x10;
		remote = NULL;
		CHECK_INT(noise_init_consume(&bad, &p.lb, lookup, &p.b_a, &hsb, &remote, ts),
		          -EBADMSG);
		CHECK(remote == NULL);
		CHECK_MEM(&hsb, &saved, sizeof(saved));
	}

	/* An unknown initiator. */
	CHECK_INT(noise_init_create(&bad, &hsa, &p.lc, &p.c_b, 7), 0);
	CHECK_INT(noise_init_consume(&bad, &p.lb, lookup, &p.b_a, &hsb, &remote, ts), -ENOENT);
	CHECK_MEM(&hsb, &saved, sizeof(saved));
	/* The initiation of C went to hsa; start A's over. */
	CHECK_INT(noise_init_create(&mi, &hsa, &p.la, &p.a_b, A_INDEX), 0);
	CHECK_INT(noise_init_consume(&mi, &p.lb, lookup, &p.b_a, &hsb, &remote, ts), 0);
	CHECK_INT(noise_resp_create(&mr, &hsb, remote, B_INDEX), 0);

	/* A response to another initiation, or tampered, leaves A waiting. */
	saved = hsa;
	badr = mr;
	badr.receiver = htole32(A_INDEX + 1);
	CHECK_INT(noise_resp_consume(&badr, &hsa, &p.la, &p.a_b), -EINVAL);
	CHECK_MEM(&hsa, &saved, sizeof(saved));
	badr = mr;
	badr.ephemeral[0] ^= 0x04;
	CHECK_INT(noise_resp_consume(&badr, &hsa, &p.la, &p.a_b), -EBADMSG);
	CHECK_MEM(&hsa, &saved, sizeof(saved));
	badr = mr;
	badr.enc_empty[15] ^= 0x01;
	CHECK_INT(noise_resp_consume(&badr, &hsa, &p.la, &p.a_b), -EBADMSG);
	CHECK_MEM(&hsa, &saved, sizeof(saved));
	/* The right one still works after all that, and only once. */
	CHECK_INT(noise_resp_consume(&mr, &hsa, &p.la, &p.a_b), 0);
	CHECK_INT(noise_resp_consume(&mr, &hsa, &p.la, &p.a_b), -EINVAL);
	CHECK_INT(noise_derive_keys(&k, &hsa), 0);
	CHECK_MEM(&hsa, &zero_hs, sizeof(zero_hs));
}

static void wrong_psk(void)
{
	struct peers p;
	struct noise_handshake hsa = {0}, hsb = {0}, saved;
	struct noise_msg_init mi;
	struct noise_msg_resp mr;
	const struct noise_remote *remote = NULL;
	uint8_t ts[NOISE_TIMESTAMP_LEN], other[CRYPTO_KEY_LEN];

	setup(&p, true);
	/* B was given another psk for A: the initiation does not use the psk, so
	 * only A, reading the response, can notice. */
	memset(other, 0x42, sizeof(other));
	CHECK_INT(noise_remote_init(&p.b_a, &p.lb, p.la.pub, other), 0);
	CHECK_INT(noise_init_create(&mi, &hsa, &p.la, &p.a_b, A_INDEX), 0);
	CHECK_INT(noise_init_consume(&mi, &p.lb, lookup, &p.b_a, &hsb, &remote, ts), 0);
	CHECK_INT(noise_resp_create(&mr, &hsb, remote, B_INDEX), 0);
	saved = hsa;
	CHECK_INT(noise_resp_consume(&mr, &hsa, &p.la, &p.a_b), -EBADMSG);
	CHECK_MEM(&hsa, &saved, sizeof(saved));

	/* One side with a psk, the other with none, fails the same way. */
	CHECK_INT(noise_remote_init(&p.b_a, &p.lb, p.la.pub, NULL), 0);
	CHECK_INT(noise_init_consume(&mi, &p.lb, lookup, &p.b_a, &hsb, &remote, ts), 0);
	CHECK_INT(noise_resp_create(&mr, &hsb, remote, B_INDEX), 0);
	CHECK_INT(noise_resp_consume(&mr, &hsa, &p.la, &p.a_b), -EBADMSG);
	CHECK_MEM(&hsa, &saved, sizeof(saved));
}

static void keys_and_macs(void)
{
	struct peers p;
	struct noise_remote r;
	struct noise_handshake hs = {0};
	struct noise_msg_init mi;
	uint8_t low_order[CRYPTO_KEY_LEN] = {0}, nine[CRYPTO_KEY_LEN] = {9}, want[32];

	setup(&p, false);
	/* A public key of 0 is a low-order point: no peer can have it. */
	CHECK_INT(noise_remote_init(&r, &p.la, low_order, NULL), -EINVAL);
	/* HASH("mac1----" || 09 00..00), as published with another
	 * implementation's tests; the label and its length are what is tested. */
	CHECK_INT(noise_remote_init(&r, &p.la, nine, NULL), 0);
	check_unhex(want, 32, "a58c8d76d9b6b46b858c5beeb096da9a6dbae987b17cd68b373a350547873779");
	CHECK_MEM(r.mac1_key, want, 32);

	CHECK_INT(noise_init_create(&mi, &hs, &p.la, &p.a_b, A_INDEX), 0);
	noise_macs_add(&mi, sizeof(mi), p.a_b.mac1_key, NULL, NULL);
	CHECK(noise_mac1_ok(&mi, sizeof(mi), p.lb.mac1_key));
	CHECK(!noise_mac1_ok(&mi, sizeof(mi), p.lc.mac1_key)); /* the wrong key */
	for (size_t i = 0; i < offsetof(struct noise_msg_init, mac2); i++) {
		((uint8_t *)&mi)[i] ^= 0x01;
		if (noise_mac1_ok(&mi, sizeof(mi), p.lb.mac1_key))
			CHECK_INT(i, -1); /* a flipped byte went unnoticed */
		((uint8_t *)&mi)[i] ^= 0x01;
	}
	/* mac2 is not covered by mac1. */
	mi.mac2[0] ^= 0xff;
	CHECK(noise_mac1_ok(&mi, sizeof(mi), p.lb.mac1_key));
	CHECK(!noise_mac1_ok(&mi, 31, p.lb.mac1_key));
}

static void cookies(void)
{
	struct peers p;
	struct noise_handshake hsa = {0};
	struct noise_cookie_checker cc;
	struct noise_msg_init mi;
	struct noise_msg_cookie mc;
	static const uint8_t zero[NOISE_MAC_LEN];
	static const uint8_t src_x[6] = {192, 0, 2, 1, 0x30, 0x39};
	static const uint8_t src_y[6] = {192, 0, 2, 2, 0x30, 0x39};
	uint8_t last_mac1[NOISE_MAC_LEN], other_mac1[NOISE_MAC_LEN];
	uint8_t cookie[NOISE_COOKIE_LEN], cookie2[NOISE_COOKIE_LEN];
	const uint64_t now = 5000000000ULL;

	setup(&p, false);
	noise_cookie_checker_init(&cc, &p.lb);
	CHECK_INT(noise_init_create(&mi, &hsa, &p.la, &p.a_b, A_INDEX), 0);
	noise_macs_add(&mi, sizeof(mi), p.a_b.mac1_key, NULL, last_mac1);
	CHECK_MEM(last_mac1, mi.mac1, NOISE_MAC_LEN);
	CHECK_MEM(mi.mac2, zero, NOISE_MAC_LEN);
	CHECK(noise_mac1_ok(&mi, sizeof(mi), cc.mac1_key));
	CHECK(!noise_mac2_ok(&cc, &mi, sizeof(mi), src_x, sizeof(src_x), now));

	/* B under load answers with a cookie for X. */
	CHECK_INT(noise_cookie_reply_create(&mc, &cc, &mi, sizeof(mi), mi.sender, src_x,
	                                    sizeof(src_x), now),
	          0);
	CHECK_INT(mc.type, NOISE_MSG_COOKIE);
	CHECK_INT(mc.receiver, mi.sender);
	memset(cookie, 0xee, sizeof(cookie));
	memset(other_mac1, 0, sizeof(other_mac1));
	memcpy(cookie2, cookie, sizeof(cookie));
	CHECK_INT(noise_cookie_reply_consume(&mc, p.a_b.cookie_key, other_mac1, cookie), -EBADMSG);
	CHECK_MEM(cookie, cookie2, sizeof(cookie)); /* untouched */
	CHECK_INT(noise_cookie_reply_consume(&mc, p.la.cookie_key, last_mac1, cookie), -EBADMSG);
	CHECK_INT(noise_cookie_reply_consume(&mc, p.a_b.cookie_key, last_mac1, cookie), 0);

	/* A sends again with the cookie: mac1 still holds, mac2 holds for X only. */
	noise_macs_add(&mi, sizeof(mi), p.a_b.mac1_key, cookie, last_mac1);
	CHECK(noise_mac1_ok(&mi, sizeof(mi), cc.mac1_key));
	CHECK(memcmp(mi.mac2, zero, NOISE_MAC_LEN) != 0);
	CHECK(noise_mac2_ok(&cc, &mi, sizeof(mi), src_x, sizeof(src_x), now + 1000));
	CHECK(!noise_mac2_ok(&cc, &mi, sizeof(mi), src_y, sizeof(src_y), now + 1000));
	CHECK(!noise_mac2_ok(&cc, &mi, sizeof(mi), src_x, 4, now + 1000)); /* port matters */
	CHECK(noise_mac2_ok(&cc, &mi, sizeof(mi), src_x, sizeof(src_x), now + 119000000000ULL));

	/* Two minutes on, the secret is new and the old cookie worthless. */
	CHECK(!noise_mac2_ok(&cc, &mi, sizeof(mi), src_x, sizeof(src_x), now + 121000000000ULL));
	CHECK_INT(noise_cookie_reply_create(&mc, &cc, &mi, sizeof(mi), mi.sender, src_x,
	                                    sizeof(src_x), now + 122000000000ULL),
	          0);
	CHECK_INT(noise_cookie_reply_consume(&mc, p.a_b.cookie_key, last_mac1, cookie2), 0);
	CHECK(memcmp(cookie, cookie2, sizeof(cookie)) != 0);
	noise_macs_add(&mi, sizeof(mi), p.a_b.mac1_key, cookie2, last_mac1);
	CHECK(noise_mac2_ok(&cc, &mi, sizeof(mi), src_x, sizeof(src_x), now + 123000000000ULL));

	/* mac2 covers mac1: a mac1 changed after mac2 was computed fails mac2,
	 * so a valid mac2 cannot be moved onto another message's mac1. */
	mi.mac1[3] ^= 0x20;
	CHECK(!noise_mac2_ok(&cc, &mi, sizeof(mi), src_x, sizeof(src_x), now + 123000000000ULL));
	mi.mac1[3] ^= 0x20;
	CHECK(noise_mac2_ok(&cc, &mi, sizeof(mi), src_x, sizeof(src_x), now + 123000000000ULL));
	mi.ephemeral[0] ^= 0x01;
	CHECK(!noise_mac2_ok(&cc, &mi, sizeof(mi), src_x, sizeof(src_x), now + 123000000000ULL));
}

/* The initiator under load answers a 92-byte response, from an IPv6 source
 * (16 address bytes, then the port): the same cookie machinery at the other
 * message length and source length. */
static void cookies_response_ipv6(void)
{
	struct peers p;
	struct noise_handshake hsa = {0}, hsb = {0};
	struct noise_cookie_checker cc;
	struct noise_msg_init mi;
	struct noise_msg_resp mr;
	struct noise_msg_cookie mc;
	const struct noise_remote *remote = NULL;
	static const uint8_t src6[18] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x02, 0xca, 0x6c};
	uint8_t other[18], last_mac1[NOISE_MAC_LEN], cookie[NOISE_COOKIE_LEN];
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	const uint64_t now = 7000000000ULL;

	setup(&p, true);
	noise_cookie_checker_init(&cc, &p.la);
	CHECK_INT(noise_init_create(&mi, &hsa, &p.la, &p.a_b, A_INDEX), 0);
	CHECK_INT(noise_init_consume(&mi, &p.lb, lookup, &p.b_a, &hsb, &remote, ts), 0);
	CHECK_INT(noise_resp_create(&mr, &hsb, remote, B_INDEX), 0);
	noise_macs_add(&mr, sizeof(mr), p.b_a.mac1_key, NULL, last_mac1);
	CHECK_MEM(last_mac1, mr.mac1, NOISE_MAC_LEN);
	CHECK(noise_mac1_ok(&mr, sizeof(mr), cc.mac1_key));
	CHECK(!noise_mac2_ok(&cc, &mr, sizeof(mr), src6, sizeof(src6), now));

	CHECK_INT(noise_cookie_reply_create(&mc, &cc, &mr, sizeof(mr), mr.sender, src6,
	                                    sizeof(src6), now),
	          0);
	CHECK_INT(mc.receiver, mr.sender);
	/* Bound to the response's mac1, under A's cookie key. */
	CHECK_INT(noise_cookie_reply_consume(&mc, p.b_a.cookie_key, mi.mac1, cookie), -EBADMSG);
	CHECK_INT(noise_cookie_reply_consume(&mc, p.a_b.cookie_key, last_mac1, cookie), -EBADMSG);
	CHECK_INT(noise_cookie_reply_consume(&mc, p.b_a.cookie_key, last_mac1, cookie), 0);

	noise_macs_add(&mr, sizeof(mr), p.b_a.mac1_key, cookie, last_mac1);
	CHECK(noise_mac1_ok(&mr, sizeof(mr), cc.mac1_key));
	CHECK(noise_mac2_ok(&cc, &mr, sizeof(mr), src6, sizeof(src6), now + 1000));
	CHECK(!noise_mac2_ok(&cc, &mr, sizeof(mr), src6, 16, now + 1000)); /* port matters */
	memcpy(other, src6, sizeof(other));
	other[17] ^= 0x01;
	CHECK(!noise_mac2_ok(&cc, &mr, sizeof(mr), other, sizeof(other), now + 1000));
	memcpy(other, src6, sizeof(other));
	other[8] ^= 0x01; /* an address bit past the first 64 */
	CHECK(!noise_mac2_ok(&cc, &mr, sizeof(mr), other, sizeof(other), now + 1000));
	mr.mac1[0] ^= 0x01;
	CHECK(!noise_mac2_ok(&cc, &mr, sizeof(mr), src6, sizeof(src6), now + 1000));
}

/* The points of Curve25519 of order 1, 2, 4 and 8, as u-coordinates: 0, 1,
 * the two of order 8, p - 1, and the non-canonical p and p + 1; then each with
 * bit 255 set, which X25519 ignores. Their X25519 with any clamped scalar is
 * all zeros, which the kernel refuses and so must we: a peer that sent one
 * would make the DH a constant anyone can compute. */
static const char *const low_order_points[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "0100000000000000000000000000000000000000000000000000000000000080",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
};
#define N_LOW_ORDER (sizeof(low_order_points) / sizeof(low_order_points[0]))

/* A's initiation to B, built by hand with ephemeral e and es the DH that B
 * will compute with it. For a low-order e that DH is all zeros, known to
 * anyone, so the message decrypts unless the zero DH is refused. */
static void forge_init(const struct peers *p, const uint8_t e[32], const uint8_t es[32],
                       struct noise_msg_init *m)
{
	uint8_t ck[32], h[32], k[32], ts[NOISE_TIMESTAMP_LEN];

	memset(m, 0, sizeof(*m));
	m->type = NOISE_MSG_INIT;
	m->sender = htole32(A_INDEX);
	memcpy(m->ephemeral, e, 32);
	crypto_blake2s(ck, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", 37, NULL, 0);
	crypto_blake2s(h, ck, 32, "WireGuard v1 zx2c4 Jason@zx2c4.com", 34);
	mix_hash(h, p->lb.pub, 32);
	mix_hash(h, e, 32);
	mix_key(ck, NULL, e, 32);
	mix_key(ck, k, es, 32);
	CHECK_INT(crypto_aead_seal(m->enc_static, p->la.pub, 32, h, 32, 0, k), 0);
	mix_hash(h, m->enc_static, sizeof(m->enc_static));
	mix_key(ck, k, p->a_b.ss, 32);
	noise_tai64n(ts);
	CHECK_INT(crypto_aead_seal(m->enc_timestamp, ts, sizeof(ts), h, 32, 0, k), 0);
	noise_macs_add(m, sizeof(*m), p->a_b.mac1_key, NULL, NULL);
}

static void low_order_init(void)
{
	struct peers p;
	struct noise_handshake hsb = {0}, saved;
	struct noise_msg_init mi;
	const struct noise_remote *remote;
	uint8_t e_priv[32], e[32], dh[32], ts[NOISE_TIMESTAMP_LEN];
	static const uint8_t zero[32];

	setup(&p, true);
	/* The forgery is sound: with an ordinary ephemeral B takes it. */
	CHECK_INT(crypto_x25519_genkey(e_priv), 0);
	CHECK_INT(crypto_x25519_pubkey(e, e_priv), 0);
	CHECK_INT(crypto_x25519(dh, e_priv, p.lb.pub), 0);
	forge_init(&p, e, dh, &mi);
	remote = NULL;
	CHECK_INT(noise_init_consume(&mi, &p.lb, lookup, &p.b_a, &hsb, &remote, ts), 0);
	CHECK(remote == &p.b_a);

	saved = hsb;
	for (size_t i = 0; i < N_LOW_ORDER; i++) {
		CHECK_INT(check_unhex(e, 32, low_order_points[i]), 32);
		/* It is a low-order point: X25519 with it is all zeros. */
		CHECK_INT(crypto_x25519(dh, e_priv, e), -EINVAL);
		forge_init(&p, e, zero, &mi);
		remote = NULL;
		CHECK_INT(noise_init_consume(&mi, &p.lb, lookup, &p.b_a, &hsb, &remote, ts),
		          -EINVAL);
		CHECK(remote == NULL);
		CHECK_MEM(&hsb, &saved, sizeof(saved));
	}
}

/* B's response to the initiation hsb holds, built by hand with ephemeral e
 * and ee, se the DHs A will compute with it: both all zeros for a low-order
 * e, so only the chaining key of the initiation protects it. */
static void forge_resp(const struct peers *p, const struct noise_handshake *hsb,
                       const uint8_t e[32], const uint8_t ee[32], const uint8_t se[32],
                       struct noise_msg_resp *m)
{
	uint8_t ck[32], h[32], k[32], t[32], tau[32];

	memcpy(ck, hsb->ck, 32);
	memcpy(h, hsb->hash, 32);
	memset(m, 0, sizeof(*m));
	m->type = NOISE_MSG_RESP;
	m->sender = htole32(B_INDEX);
	m->receiver = htole32(A_INDEX);
	memcpy(m->ephemeral, e, 32);
	mix_hash(h, e, 32);
	mix_key(ck, NULL, e, 32);
	mix_key(ck, NULL, ee, 32);
	mix_key(ck, NULL, se, 32);
	crypto_kdf(t, tau, k, ck, p->psk, 32);
	mix_hash(h, tau, 32);
	CHECK_INT(crypto_aead_seal(m->enc_empty, (const uint8_t *)"", 0, h, 32, 0, k), 0);
	noise_macs_add(m, sizeof(*m), p->b_a.mac1_key, NULL, NULL);
}

static void low_order_resp(void)
{
	struct peers p;
	struct noise_handshake hsa = {0}, hsb = {0}, saved, spare;
	struct noise_msg_init mi;
	struct noise_msg_resp mr;
	const struct noise_remote *remote = NULL;
	uint8_t e_priv[32], e[32], ee[32], se[32], ts[NOISE_TIMESTAMP_LEN];
	static const uint8_t zero[32];

	setup(&p, true);
	CHECK_INT(noise_init_create(&mi, &hsa, &p.la, &p.a_b, A_INDEX), 0);
	CHECK_INT(noise_init_consume(&mi, &p.lb, lookup, &p.b_a, &hsb, &remote, ts), 0);
	saved = hsa;

	/* The forgery is sound: with an ordinary ephemeral A takes it. */
	CHECK_INT(crypto_x25519_genkey(e_priv), 0);
	CHECK_INT(crypto_x25519_pubkey(e, e_priv), 0);
	CHECK_INT(crypto_x25519(ee, e_priv, mi.ephemeral), 0);
	CHECK_INT(crypto_x25519(se, e_priv, p.la.pub), 0);
	forge_resp(&p, &hsb, e, ee, se, &mr);
	spare = saved;
	CHECK_INT(noise_resp_consume(&mr, &spare, &p.la, &p.a_b), 0);

	for (size_t i = 0; i < N_LOW_ORDER; i++) {
		CHECK_INT(check_unhex(e, 32, low_order_points[i]), 32);
		forge_resp(&p, &hsb, e, zero, zero, &mr);
		spare = saved;
		CHECK_INT(noise_resp_consume(&mr, &spare, &p.la, &p.a_b), -EBADMSG);
		CHECK_MEM(&spare, &saved, sizeof(saved));
	}
}

/* The inputs and outputs of tests/kat/wg_handshake.py run without options:
 * an implementation of the whitepaper (section 5.4) in Python over
 * python3-cryptography and hashlib, sharing no code with tunnel/. Run it
 * again to regenerate them; tests/unit/test_noise_py.c compares the two on
 * random inputs. The keys are raw random bytes, not clamped: both sides must
 * clamp them alike. */
#define KAT_A_STATIC    "aa8ef736ff4b2b6a014d3680efe34384dde060b5f7207fd7f3633db14d235f06"
#define KAT_B_STATIC    "7be208409fe54c195bb7d6dbd2129c1f6b6d812da4f71f8590bd0a0ed77b581c"
#define KAT_A_EPHEMERAL "643b5aec91a1510fa18c4ee5e90550bdd45bcf1d4c90f96f773ffc50c4ab9b89"
#define KAT_B_EPHEMERAL "2c906c6250a087a631b8685e3951e252a5df56c037e6f8e71a19652f39fabc22"
#define KAT_PSK         "d6aeb3694fa81808a8208a898a43689a3078b717a28f3239146f20d88ffdab1c"
#define KAT_TIMESTAMP   "400000006553f10a1b000000"
#define KAT_COOKIE      "099679cb5ab11079fafad01d724df2c4"
/* A_INDEX and B_INDEX are the sender indexes. */
#define KAT_INITIATION                                                                       \
	"01000000112233446954cfb69202d02546581229b7aca6f702cf3ed549c20f06a5987af3b0c8ad6af9" \
	"dba52e0ce1e641dad3185a989f2b5e07502ecfdaab70a9cf6bf69eada196ca9fa86af463516693a1ca" \
	"77b013804e9bad2869f3181ec9c498a48e1c82ded4fbe9c2d23cc489d60a222e37b35b470941e1545b" \
	"9a53eba0774febd13700000000000000000000000000000000"
#define KAT_INITIATION_MAC2 "8a24f8c331d69d2fcd4ed34e4ababd1a" /* with KAT_COOKIE */
#define KAT_RESPONSE                                                                         \
	"02000000556677881122334412821e247925f7c98f2a72c392714e607395f8af875dceed6c677efd58" \
	"831642abea184e776cc296cbb14a90cc19bcd80004e23bdb65d6b3fb5b815403fcd3ba000000000000" \
	"00000000000000000000"
#define KAT_INITIATOR_SEND "65dc29218677c481135365dfcd09e11aafdcbcbb0419d33abc39d00cf30ff11f"
#define KAT_INITIATOR_RECV "b73fb2e2a7cda6a29f4a8712b63cffee0e39bfe98e2efe267e584ad1adbc8a6b"

static void known_answer(void)
{
	struct noise_local la, lb;
	struct noise_remote a_b, b_a;
	struct noise_handshake hsa = {0}, hsb = {0};
	struct noise_msg_init mi, want_mi;
	struct noise_msg_resp mr, want_mr;
	struct noise_keys ka, kb;
	const struct noise_remote *remote = NULL;
	uint8_t a_s[32], b_s[32], a_e[32], b_e[32], psk[32], cookie[NOISE_COOKIE_LEN];
	uint8_t ts[NOISE_TIMESTAMP_LEN], got_ts[NOISE_TIMESTAMP_LEN], mac2[NOISE_MAC_LEN];
	uint8_t send[32], recv[32];

	CHECK_INT(check_unhex(a_s, 32, KAT_A_STATIC), 32);
	CHECK_INT(check_unhex(b_s, 32, KAT_B_STATIC), 32);
	CHECK_INT(check_unhex(a_e, 32, KAT_A_EPHEMERAL), 32);
	CHECK_INT(check_unhex(b_e, 32, KAT_B_EPHEMERAL), 32);
	CHECK_INT(check_unhex(psk, 32, KAT_PSK), 32);
	CHECK_INT(check_unhex(ts, sizeof(ts), KAT_TIMESTAMP), sizeof(ts));
	CHECK_INT(check_unhex(cookie, sizeof(cookie), KAT_COOKIE), sizeof(cookie));
	CHECK_INT(check_unhex((uint8_t *)&want_mi, sizeof(want_mi), KAT_INITIATION), 148);
	CHECK_INT(check_unhex(mac2, sizeof(mac2), KAT_INITIATION_MAC2), sizeof(mac2));
	CHECK_INT(check_unhex((uint8_t *)&want_mr, sizeof(want_mr), KAT_RESPONSE), 92);
	CHECK_INT(check_unhex(send, 32, KAT_INITIATOR_SEND), 32);
	CHECK_INT(check_unhex(recv, 32, KAT_INITIATOR_RECV), 32);

	CHECK_INT(noise_local_init(&la, a_s), 0);
	CHECK_INT(noise_local_init(&lb, b_s), 0);
	CHECK_INT(noise_remote_init(&a_b, &la, lb.pub, psk), 0);
	CHECK_INT(noise_remote_init(&b_a, &lb, la.pub, psk), 0);

	CHECK_INT(noise_init_create_with(&mi, &hsa, &la, &a_b, A_INDEX, a_e, ts), 0);
	noise_macs_add(&mi, sizeof(mi), a_b.mac1_key, NULL, NULL);
	CHECK_MEM(&mi, &want_mi, sizeof(mi));
	CHECK_INT(noise_init_consume(&mi, &lb, lookup, &b_a, &hsb, &remote, got_ts), 0);
	CHECK(remote == &b_a);
	CHECK_MEM(got_ts, ts, sizeof(ts));

	CHECK_INT(noise_resp_create_with(&mr, &hsb, remote, B_INDEX, b_e), 0);
	noise_macs_add(&mr, sizeof(mr), b_a.mac1_key, NULL, NULL);
	CHECK_MEM(&mr, &want_mr, sizeof(mr));
	CHECK_INT(noise_resp_consume(&mr, &hsa, &la, &a_b), 0);

	CHECK_INT(noise_derive_keys(&ka, &hsa), 0);
	CHECK_INT(noise_derive_keys(&kb, &hsb), 0);
	CHECK_MEM(ka.send, send, 32);
	CHECK_MEM(ka.recv, recv, 32);
	CHECK_MEM(kb.send, recv, 32);
	CHECK_MEM(kb.recv, send, 32);

	/* mac2 under a cookie, over the same initiation. */
	noise_macs_add(&mi, sizeof(mi), a_b.mac1_key, cookie, NULL);
	CHECK_MEM(mi.mac1, want_mi.mac1, NOISE_MAC_LEN);
	CHECK_MEM(mi.mac2, mac2, NOISE_MAC_LEN);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static uint32_t be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

/* CLOCK_REALTIME, the clock noise_tai64n() reads. time() may read a coarser
 * one that lags it by a tick across a second boundary. */
static long long realtime_sec(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (long long)now.tv_sec;
}

static void tai64n(void)
{
	uint8_t t1[NOISE_TIMESTAMP_LEN], t2[NOISE_TIMESTAMP_LEN];
	long long before = realtime_sec(), after, secs;

	noise_tai64n(t1);
	for (int i = 0; i < 1000; i++) {
		noise_tai64n(t2);
		CHECK(memcmp(t1, t2, sizeof(t1)) <= 0);
		memcpy(t1, t2, sizeof(t1));
	}
	after = realtime_sec();
	CHECK_INT(t1[0], 0x40);
	/* 2^62, plus the 10 s TAI-UTC offset of 1970 the kernel and wireguard-go
	 * also add, plus the Unix time. */
	secs = (long long)(be64(t1) - 0x400000000000000aULL);
	/* A second to spare on each side, should the clock be stepped. */
	CHECK(secs >= before - 1 && secs <= after + 1);
	CHECK(be32(t1 + 8) < 1000000000u);
	CHECK_INT(be32(t1 + 8) & 0xffffff, 0);
}

int main(void)
{
	CHECK_INT(sizeof(struct noise_msg_init), 148);
	CHECK_INT(sizeof(struct noise_msg_resp), 92);
	CHECK_INT(sizeof(struct noise_msg_cookie), 64);
	CHECK_INT(sizeof(struct noise_msg_data), 16);
	CHECK_INT(offsetof(struct noise_msg_init, mac1), 116);
	CHECK_INT(offsetof(struct noise_msg_resp, mac1), 60);

	full_handshake(false);
	full_handshake(true);
	failures();
	wrong_psk();
	keys_and_macs();
	cookies();
	cookies_response_ipv6();
	low_order_init();
	low_order_resp();
	known_answer();
	tai64n();
	return check_done("test_noise");
}
