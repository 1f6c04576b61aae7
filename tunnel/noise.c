/* WireGuard's Noise_IKpsk2 handshake (whitepaper section 5.4):
 *
 *   <- s
 *   ******
 *   -> e, es, s, ss, {t}
 *   <- e, ee, se, psk, {}
 *
 * Every function that takes a handshake works on a copy of it and stores the
 * copy back only on success, so a forged or corrupt message never disturbs a
 * handshake under way. Temporaries holding secrets are wiped on every path. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "tunnel/noise.h"

_Static_assert(sizeof(struct noise_msg_init) == 148, "initiation is 148 bytes on the wire");
_Static_assert(sizeof(struct noise_msg_resp) == 92, "response is 92 bytes on the wire");
_Static_assert(sizeof(struct noise_msg_cookie) == 64, "cookie reply is 64 bytes on the wire");
_Static_assert(sizeof(struct noise_msg_data) == NOISE_DATA_HDR_LEN, "data header is 16 bytes");

static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
static const char label_mac1[] = "mac1----";
static const char label_cookie[] = "cookie--";

#define LABEL_LEN 8

/* Seconds a cookie secret lives (the whitepaper's "every two minutes"). */
#define COOKIE_SECRET_MAX_AGE_NS (120ULL * 1000000000ULL)

/* TAI64 labels second s of UTC as 2^62 + 10 + s: the kernel and wireguard-go
 * both add the 10 s TAI-UTC offset of 1970, and a peer compares our
 * timestamps with those it got from them before we took over its key. */
#define TAI64_BASE 0x400000000000000aULL
/* Nanoseconds are masked to multiples of 2^24 ns (~16.8 ms), as wireguard-go
 * and the kernel (rounddown_pow_of_two(NSEC_PER_SEC / 50)) do, so that the
 * timestamp does not give away a fine-grained clock; still finer than the
 * 50 initiations a second a responder takes from one peer. */
#define TAI64N_NSEC_MASK (~(uint32_t)0xffffff)

/* Both the MACs sit at the end of an initiation or a response. */
#define MACS_LEN (2 * NOISE_MAC_LEN)

/* A non-NULL source or destination for zero-length AEAD and KDF inputs, so
 * the primitives never see a NULL pointer. */
static const uint8_t empty[1];

static void hash_label(uint8_t out[CRYPTO_HASH_LEN], const char *label,
                       const uint8_t pub[CRYPTO_KEY_LEN])
{
	crypto_blake2s(out, label, LABEL_LEN, pub, CRYPTO_KEY_LEN);
}

static void mix_hash(uint8_t h[CRYPTO_HASH_LEN], const void *data, size_t len)
{
	uint8_t t[CRYPTO_HASH_LEN];

	/* Through a temporary: crypto_blake2s does not promise that out may
	 * alias its input. */
	crypto_blake2s(t, h, CRYPTO_HASH_LEN, data, len);
	memcpy(h, t, CRYPTO_HASH_LEN);
	crypto_wipe(t, sizeof(t));
}

/* ck, key = KDF2(ck, in); key may be NULL for KDF1. */
static void mix_key(uint8_t ck[CRYPTO_HASH_LEN], uint8_t *key, const void *in, size_t len)
{
	uint8_t t1[CRYPTO_HASH_LEN];

	crypto_kdf(t1, key, NULL, ck, in, len);
	memcpy(ck, t1, CRYPTO_HASH_LEN);
	crypto_wipe(t1, sizeof(t1));
}

/* ck, key = KDF2(ck, DH(priv, pub)). -EINVAL for an all-zero DH (a low-order
 * point), -EIO from the library. */
static int mix_dh(uint8_t ck[CRYPTO_HASH_LEN], uint8_t *key, const uint8_t priv[CRYPTO_KEY_LEN],
                  const uint8_t pub[CRYPTO_KEY_LEN])
{
	uint8_t dh[CRYPTO_KEY_LEN];
	int ret;

	ret = crypto_x25519(dh, priv, pub);
	if (ret)
		goto out;
	mix_key(ck, key, dh, sizeof(dh));
out:
	crypto_wipe(dh, sizeof(dh));
	return ret;
}

/* ck, tau, key = KDF3(ck, psk); h = HASH(h || tau). */
static void mix_psk(uint8_t ck[CRYPTO_HASH_LEN], uint8_t h[CRYPTO_HASH_LEN],
                    uint8_t key[CRYPTO_KEY_LEN], const uint8_t psk[CRYPTO_KEY_LEN])
{
	uint8_t t1[CRYPTO_HASH_LEN], tau[CRYPTO_HASH_LEN];

	crypto_kdf(t1, tau, key, ck, psk, CRYPTO_KEY_LEN);
	memcpy(ck, t1, CRYPTO_HASH_LEN);
	mix_hash(h, tau, sizeof(tau));
	crypto_wipe(t1, sizeof(t1));
	crypto_wipe(tau, sizeof(tau));
}

/* dst = AEAD(key, 0, src, h); h = HASH(h || dst). The nonce is always 0:
 * every handshake key encrypts exactly one field. */
static int encrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
                            const uint8_t key[CRYPTO_KEY_LEN], uint8_t h[CRYPTO_HASH_LEN])
{
	int ret;

	ret = crypto_aead_seal(dst, len ? src : empty, len, h, CRYPTO_HASH_LEN, 0, key);
	if (ret)
		return ret;
	mix_hash(h, dst, len + CRYPTO_TAG_LEN);
	return 0;
}

/* dst = AEAD-open(key, 0, src, h); h = HASH(h || src). 0 or -EBADMSG. */
static int decrypt_and_hash(uint8_t *dst, const uint8_t *src, size_t len,
                            const uint8_t key[CRYPTO_KEY_LEN], uint8_t h[CRYPTO_HASH_LEN])
{
	uint8_t none[1];

	if (crypto_aead_open(len > CRYPTO_TAG_LEN ? dst : none, src, len, h, CRYPTO_HASH_LEN, 0,
	                     key))
		return -EBADMSG;
	mix_hash(h, src, len);
	return 0;
}

/* ck = HASH(CONSTRUCTION); h = HASH(HASH(ck || IDENTIFIER) || responder's
 * static key). Cheap next to the DHs, so not cached. */
static void handshake_start(uint8_t ck[CRYPTO_HASH_LEN], uint8_t h[CRYPTO_HASH_LEN],
                            const uint8_t responder_pub[CRYPTO_KEY_LEN])
{
	crypto_blake2s(ck, construction, sizeof(construction) - 1, NULL, 0);
	crypto_blake2s(h, ck, CRYPTO_HASH_LEN, identifier, sizeof(identifier) - 1);
	mix_hash(h, responder_pub, CRYPTO_KEY_LEN);
}

/* The ephemeral key pair of priv, its public half mixed into h and ck. */
static int use_ephemeral(uint8_t e_priv[CRYPTO_KEY_LEN], uint8_t e_pub[CRYPTO_KEY_LEN],
                         uint8_t ck[CRYPTO_HASH_LEN], uint8_t h[CRYPTO_HASH_LEN],
                         const uint8_t priv[CRYPTO_KEY_LEN])
{
	memcpy(e_priv, priv, CRYPTO_KEY_LEN);
	if (crypto_x25519_pubkey(e_pub, e_priv))
		return -EIO;
	mix_hash(h, e_pub, CRYPTO_KEY_LEN);
	mix_key(ck, NULL, e_pub, CRYPTO_KEY_LEN);
	return 0;
}

int noise_local_init(struct noise_local *l, const uint8_t priv[CRYPTO_KEY_LEN])
{
	memmove(l->priv, priv, CRYPTO_KEY_LEN); /* priv may be l->priv */
	if (crypto_x25519_pubkey(l->pub, l->priv)) {
		crypto_wipe(l, sizeof(*l));
		return -EIO;
	}
	hash_label(l->mac1_key, label_mac1, l->pub);
	hash_label(l->cookie_key, label_cookie, l->pub);
	return 0;
}

/* The Curve25519 points of small order (and the non-canonical encodings of
 * two of them), bit 255 aside, which X25519 ignores: 0, 1, the two points of
 * order 8, p - 1, p and p + 1, as in libsodium's list. A clamped scalar is a
 * multiple of the cofactor 8 and smaller than the large prime order, so its
 * product with a point is zero exactly when the point is one of these;
 * test_noise checks each against libcrypto's X25519. */
static const uint8_t small_order[][CRYPTO_KEY_LEN] = {
        {0},
        {1},
        {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
         0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
         0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
        {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
         0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
         0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
        {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
        {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
        {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

static bool is_small_order(const uint8_t pub[CRYPTO_KEY_LEN])
{
	uint8_t u[CRYPTO_KEY_LEN];

	memcpy(u, pub, sizeof(u));
	u[CRYPTO_KEY_LEN - 1] &= 0x7f;
	for (size_t i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++)
		if (!memcmp(u, small_order[i], sizeof(u)))
			return true;
	return false;
}

int noise_remote_init_deferred(struct noise_remote *r, const uint8_t pub[CRYPTO_KEY_LEN],
                               const uint8_t *psk)
{
	memset(r, 0, sizeof(*r));
	if (is_small_order(pub))
		return -EINVAL;
	memcpy(r->pub, pub, CRYPTO_KEY_LEN);
	if (psk)
		memcpy(r->psk, psk, CRYPTO_KEY_LEN);
	hash_label(r->mac1_key, label_mac1, r->pub);
	hash_label(r->cookie_key, label_cookie, r->pub);
	return 0;
}

int noise_remote_ss(struct noise_remote *r, const struct noise_local *l)
{
	int ret;

	if (r->has_ss)
		return 0;
	ret = crypto_x25519(r->ss, l->priv, r->pub);
	if (ret)
		return ret;
	r->has_ss = true;
	return 0;
}

int noise_remote_init(struct noise_remote *r, const struct noise_local *l,
                      const uint8_t pub[CRYPTO_KEY_LEN], const uint8_t *psk)
{
	int ret;

	memset(r, 0, sizeof(*r));
	memcpy(r->pub, pub, CRYPTO_KEY_LEN);
	if (psk)
		memcpy(r->psk, psk, CRYPTO_KEY_LEN);
	ret = noise_remote_ss(r, l);
	if (ret) {
		crypto_wipe(r, sizeof(*r));
		return ret;
	}
	hash_label(r->mac1_key, label_mac1, r->pub);
	hash_label(r->cookie_key, label_cookie, r->pub);
	return 0;
}

int noise_init_create(struct noise_msg_init *m, struct noise_handshake *hs,
                      const struct noise_local *l, const struct noise_remote *r,
                      uint32_t local_index)
{
	uint8_t e_priv[CRYPTO_KEY_LEN];
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	int ret = -EIO;

	if (crypto_x25519_genkey(e_priv))
		goto out;
	noise_tai64n(ts);
	ret = noise_init_create_with(m, hs, l, r, local_index, e_priv, ts);
out:
	crypto_wipe(e_priv, sizeof(e_priv));
	crypto_wipe(ts, sizeof(ts));
	return ret;
}

int noise_init_create_with(struct noise_msg_init *m, struct noise_handshake *hs,
                           const struct noise_local *l, const struct noise_remote *r,
                           uint32_t local_index, const uint8_t e_priv[CRYPTO_KEY_LEN],
                           const uint8_t timestamp[NOISE_TIMESTAMP_LEN])
{
	struct noise_handshake t;
	uint8_t key[CRYPTO_KEY_LEN];
	int ret;

	memset(&t, 0, sizeof(t));
	memset(m, 0, sizeof(*m));
	m->type = NOISE_MSG_INIT;
	m->sender = htole32(local_index);

	handshake_start(t.ck, t.hash, r->pub);

	/* e */
	ret = use_ephemeral(t.e_priv, m->ephemeral, t.ck, t.hash, e_priv);
	if (ret)
		goto out;
	/* es */
	ret = mix_dh(t.ck, key, t.e_priv, r->pub);
	if (ret)
		goto out;
	/* s */
	ret = encrypt_and_hash(m->enc_static, l->pub, CRYPTO_KEY_LEN, key, t.hash);
	if (ret)
		goto out;
	/* ss, precomputed by noise_remote_init() or noise_remote_ss() */
	ret = -EINVAL;
	if (!r->has_ss)
		goto out;
	mix_key(t.ck, key, r->ss, CRYPTO_KEY_LEN);
	/* {t} */
	ret = encrypt_and_hash(m->enc_timestamp, timestamp, NOISE_TIMESTAMP_LEN, key, t.hash);
	if (ret)
		goto out;

	t.state = NOISE_HS_INIT_CREATED;
	t.local_index = local_index;
	*hs = t;
out:
	crypto_wipe(&t, sizeof(t));
	crypto_wipe(key, sizeof(key));
	return ret;
}

int noise_init_consume(const struct noise_msg_init *m, const struct noise_local *l,
                       noise_lookup_fn lookup, void *arg, struct noise_handshake *hs,
                       const struct noise_remote **remote, uint8_t timestamp[NOISE_TIMESTAMP_LEN])
{
	const struct noise_remote *r;
	struct noise_handshake t;
	uint8_t key[CRYPTO_KEY_LEN];
	uint8_t s[CRYPTO_KEY_LEN];
	uint8_t ts[NOISE_TIMESTAMP_LEN];
	int ret;

	memset(&t, 0, sizeof(t));
	handshake_start(t.ck, t.hash, l->pub);

	/* e */
	memcpy(t.remote_e, m->ephemeral, CRYPTO_KEY_LEN);
	mix_hash(t.hash, t.remote_e, CRYPTO_KEY_LEN);
	mix_key(t.ck, NULL, t.remote_e, CRYPTO_KEY_LEN);
	/* es */
	ret = mix_dh(t.ck, key, l->priv, t.remote_e);
	if (ret)
		goto out;
	/* s */
	ret = decrypt_and_hash(s, m->enc_static, sizeof(m->enc_static), key, t.hash);
	if (ret)
		goto out;
	r = lookup(arg, s);
	if (!r) {
		ret = -ENOENT;
		goto out;
	}
	/* ss */
	ret = -EINVAL;
	if (!r->has_ss)
		goto out;
	mix_key(t.ck, key, r->ss, CRYPTO_KEY_LEN);
	/* {t} */
	ret = decrypt_and_hash(ts, m->enc_timestamp, sizeof(m->enc_timestamp), key, t.hash);
	if (ret)
		goto out;

	t.state = NOISE_HS_INIT_CONSUMED;
	t.remote_index = le32toh(m->sender);
	*hs = t;
	*remote = r;
	memcpy(timestamp, ts, NOISE_TIMESTAMP_LEN);
out:
	crypto_wipe(&t, sizeof(t));
	crypto_wipe(key, sizeof(key));
	crypto_wipe(ts, sizeof(ts));
	return ret;
}

int noise_resp_create(struct noise_msg_resp *m, struct noise_handshake *hs,
                      const struct noise_remote *r, uint32_t local_index)
{
	uint8_t e_priv[CRYPTO_KEY_LEN];
	int ret;

	if (hs->state != NOISE_HS_INIT_CONSUMED)
		return -EINVAL;
	if (crypto_x25519_genkey(e_priv))
		return -EIO;
	ret = noise_resp_create_with(m, hs, r, local_index, e_priv);
	crypto_wipe(e_priv, sizeof(e_priv));
	return ret;
}

int noise_resp_create_with(struct noise_msg_resp *m, struct noise_handshake *hs,
                           const struct noise_remote *r, uint32_t local_index,
                           const uint8_t e_priv[CRYPTO_KEY_LEN])
{
	struct noise_handshake t;
	uint8_t key[CRYPTO_KEY_LEN];
	int ret;

	if (hs->state != NOISE_HS_INIT_CONSUMED)
		return -EINVAL;
	t = *hs;

	memset(m, 0, sizeof(*m));
	m->type = NOISE_MSG_RESP;
	m->sender = htole32(local_index);
	m->receiver = htole32(t.remote_index);

	/* e */
	ret = use_ephemeral(t.e_priv, m->ephemeral, t.ck, t.hash, e_priv);
	if (ret)
		goto out;
	/* ee */
	ret = mix_dh(t.ck, NULL, t.e_priv, t.remote_e);
	if (ret)
		goto out;
	/* se */
	ret = mix_dh(t.ck, NULL, t.e_priv, r->pub);
	if (ret)
		goto out;
	/* psk */
	mix_psk(t.ck, t.hash, key, r->psk);
	/* {} */
	ret = encrypt_and_hash(m->enc_empty, NULL, 0, key, t.hash);
	if (ret)
		goto out;

	t.state = NOISE_HS_RESP_CREATED;
	t.local_index = local_index;
	/* Only the chaining key is needed from here on. */
	crypto_wipe(t.e_priv, sizeof(t.e_priv));
	*hs = t;
out:
	/* -EINVAL from a DH means the initiator sent a low-order ephemeral: the
	 * header promises -EINVAL only for a wrong state, so it is -EIO here. */
	if (ret == -EINVAL)
		ret = -EIO;
	crypto_wipe(&t, sizeof(t));
	crypto_wipe(key, sizeof(key));
	return ret;
}

int noise_resp_consume(const struct noise_msg_resp *m, struct noise_handshake *hs,
                       const struct noise_local *l, const struct noise_remote *r)
{
	struct noise_handshake t;
	uint8_t key[CRYPTO_KEY_LEN];
	int ret;

	if (hs->state != NOISE_HS_INIT_CREATED || le32toh(m->receiver) != hs->local_index)
		return -EINVAL;
	t = *hs;

	/* e */
	memcpy(t.remote_e, m->ephemeral, CRYPTO_KEY_LEN);
	mix_hash(t.hash, t.remote_e, CRYPTO_KEY_LEN);
	mix_key(t.ck, NULL, t.remote_e, CRYPTO_KEY_LEN);
	/* ee */
	ret = mix_dh(t.ck, NULL, t.e_priv, t.remote_e);
	if (ret)
		goto out;
	/* se, from this side: our static key with its ephemeral */
	ret = mix_dh(t.ck, NULL, l->priv, t.remote_e);
	if (ret)
		goto out;
	/* psk */
	mix_psk(t.ck, t.hash, key, r->psk);
	/* {} */
	ret = decrypt_and_hash(NULL, m->enc_empty, sizeof(m->enc_empty), key, t.hash);
	if (ret)
		goto out;

	t.state = NOISE_HS_RESP_CONSUMED;
	t.remote_index = le32toh(m->sender);
	crypto_wipe(t.e_priv, sizeof(t.e_priv));
	*hs = t;
out:
	/* A low-order ephemeral in the response is a bad message, not a bad
	 * call: -EINVAL is kept for a wrong state or index. */
	if (ret == -EINVAL)
		ret = -EBADMSG;
	crypto_wipe(&t, sizeof(t));
	crypto_wipe(key, sizeof(key));
	return ret;
}

int noise_derive_keys(struct noise_keys *k, struct noise_handshake *hs)
{
	uint8_t t1[CRYPTO_KEY_LEN], t2[CRYPTO_KEY_LEN];
	bool initiator;

	if (hs->state != NOISE_HS_RESP_CREATED && hs->state != NOISE_HS_RESP_CONSUMED)
		return -EINVAL;
	initiator = hs->state == NOISE_HS_RESP_CONSUMED;

	/* (T1, T2) = KDF2(ck, empty): the initiator sends with T1. */
	crypto_kdf(t1, t2, NULL, hs->ck, empty, 0);
	memcpy(k->send, initiator ? t1 : t2, CRYPTO_KEY_LEN);
	memcpy(k->recv, initiator ? t2 : t1, CRYPTO_KEY_LEN);
	k->local_index = hs->local_index;
	k->remote_index = hs->remote_index;
	k->initiator = initiator;

	crypto_wipe(t1, sizeof(t1));
	crypto_wipe(t2, sizeof(t2));
	crypto_wipe(hs, sizeof(*hs));
	hs->state = NOISE_HS_ZEROED;
	return 0;
}

void noise_macs_add(void *msg, size_t len, const uint8_t mac1_key[CRYPTO_KEY_LEN],
                    const uint8_t *cookie, uint8_t *last_mac1)
{
	uint8_t *p = msg;

	if (len < MACS_LEN)
		return;
	/* mac1 covers everything before it, mac2 everything before it too
	 * (mac1 included); the keyed hashes cannot fail with these lengths. */
	crypto_blake2s_mac(p + len - MACS_LEN, NOISE_MAC_LEN, mac1_key, CRYPTO_KEY_LEN, p,
	                   len - MACS_LEN);
	if (last_mac1)
		memcpy(last_mac1, p + len - MACS_LEN, NOISE_MAC_LEN);
	if (cookie)
		crypto_blake2s_mac(p + len - NOISE_MAC_LEN, NOISE_MAC_LEN, cookie, NOISE_COOKIE_LEN,
		                   p, len - NOISE_MAC_LEN);
	else
		memset(p + len - NOISE_MAC_LEN, 0, NOISE_MAC_LEN);
}

bool noise_mac1_ok(const void *msg, size_t len, const uint8_t mac1_key[CRYPTO_KEY_LEN])
{
	const uint8_t *p = msg;
	uint8_t mac[NOISE_MAC_LEN];

	if (len < MACS_LEN)
		return false;
	if (crypto_blake2s_mac(mac, sizeof(mac), mac1_key, CRYPTO_KEY_LEN, p, len - MACS_LEN))
		return false;
	return crypto_equal(mac, p + len - MACS_LEN, NOISE_MAC_LEN);
}

void noise_cookie_checker_init(struct noise_cookie_checker *c, const struct noise_local *l)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->mac1_key, l->mac1_key, CRYPTO_KEY_LEN);
	memcpy(c->cookie_key, l->cookie_key, CRYPTO_KEY_LEN);
}

/* cookie = MAC(secret, src), the secret replaced when it is older than two
 * minutes. 0 or -EIO. */
static int make_cookie(uint8_t cookie[NOISE_COOKIE_LEN], struct noise_cookie_checker *c,
                       const void *src, size_t srclen, uint64_t now_ns)
{
	if (c->secret_born_ns == 0 || (now_ns >= c->secret_born_ns &&
	                               now_ns - c->secret_born_ns >= COOKIE_SECRET_MAX_AGE_NS)) {
		if (crypto_random(c->secret, sizeof(c->secret)))
			return -EIO;
		/* 0 means "no secret yet", so a clock reading of 0 is nudged. */
		c->secret_born_ns = now_ns ? now_ns : 1;
	}
	if (crypto_blake2s_mac(cookie, NOISE_COOKIE_LEN, c->secret, sizeof(c->secret), src, srclen))
		return -EIO;
	return 0;
}

bool noise_mac2_ok(struct noise_cookie_checker *c, const void *msg, size_t len, const void *src,
                   size_t srclen, uint64_t now_ns)
{
	const uint8_t *p = msg;
	uint8_t cookie[NOISE_COOKIE_LEN], mac[NOISE_MAC_LEN];
	bool ok = false;

	if (len < MACS_LEN)
		return false;
	if (make_cookie(cookie, c, src, srclen, now_ns))
		goto out;
	if (crypto_blake2s_mac(mac, sizeof(mac), cookie, sizeof(cookie), p, len - NOISE_MAC_LEN))
		goto out;
	ok = crypto_equal(mac, p + len - NOISE_MAC_LEN, NOISE_MAC_LEN);
out:
	crypto_wipe(cookie, sizeof(cookie));
	return ok;
}

int noise_cookie_reply_create(struct noise_msg_cookie *out, struct noise_cookie_checker *c,
                              const void *msg, size_t len, uint32_t receiver, const void *src,
                              size_t srclen, uint64_t now_ns)
{
	const uint8_t *p = msg;
	uint8_t cookie[NOISE_COOKIE_LEN];
	int ret;

	if (len < MACS_LEN)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->type = NOISE_MSG_COOKIE;
	out->receiver = receiver;
	ret = crypto_random(out->nonce, sizeof(out->nonce));
	if (ret)
		goto out;
	ret = make_cookie(cookie, c, src, srclen, now_ns);
	if (ret)
		goto out;
	/* Bound to the mac1 of the message it answers, so only its sender,
	 * who kept that mac1, can use the reply. */
	ret = crypto_xaead_seal(out->enc_cookie, cookie, sizeof(cookie), p + len - MACS_LEN,
	                        NOISE_MAC_LEN, out->nonce, c->cookie_key);
out:
	crypto_wipe(cookie, sizeof(cookie));
	return ret ? -EIO : 0;
}

int noise_cookie_reply_consume(const struct noise_msg_cookie *m,
                               const uint8_t remote_cookie_key[CRYPTO_KEY_LEN],
                               const uint8_t last_mac1[NOISE_MAC_LEN],
                               uint8_t cookie[NOISE_COOKIE_LEN])
{
	uint8_t t[NOISE_COOKIE_LEN];
	int ret = 0;

	if (crypto_xaead_open(t, m->enc_cookie, sizeof(m->enc_cookie), last_mac1, NOISE_MAC_LEN,
	                      m->nonce, remote_cookie_key))
		ret = -EBADMSG;
	else
		memcpy(cookie, t, NOISE_COOKIE_LEN);
	crypto_wipe(t, sizeof(t));
	return ret;
}

void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN])
{
	struct timespec now;
	uint64_t sec;
	uint32_t nsec;

	clock_gettime(CLOCK_REALTIME, &now);
	sec = htobe64(TAI64_BASE + (uint64_t)now.tv_sec);
	nsec = htobe32((uint32_t)now.tv_nsec & TAI64N_NSEC_MASK);
	memcpy(out, &sec, sizeof(sec));
	memcpy(out + sizeof(sec), &nsec, sizeof(nsec));
}
