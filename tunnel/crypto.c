/* WireGuard's primitives on OpenSSL 3's libcrypto, plus HChaCha20 by hand.
 *
 * Algorithms are fetched once per process (pthread_once): a fetch walks the
 * provider tables under a lock, which is too slow for the data path. The AEAD
 * context is kept per thread, because an EVP_CIPHER_CTX holds the key schedule
 * and cannot be shared between workers, and allocating one per packet would
 * cost a malloc/free pair per packet. The per-thread pointer is a __thread
 * variable for a lock-free lookup; it is also registered under a pthread key
 * so the context is freed when a worker thread exits. */
#include "tunnel/crypto.h"
#include "tunnel/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define BLAKE2S_BLOCK_LEN 64 /* the HMAC block size */
#define AEAD_NONCE_LEN    12

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *aead_cipher;
static EVP_MD *blake2s_md;
static EVP_MAC *blake2s_mac;
static pthread_key_t aead_ctx_key;
static bool aead_ctx_key_ok;
static __thread EVP_CIPHER_CTX *aead_ctx;

static void aead_ctx_destroy(void *p)
{
	EVP_CIPHER_CTX_free(p);
}

static void fetch_algorithms(void)
{
	/* A failed fetch leaves NULL; callers turn that into -EIO or a fatal error. */
	aead_cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	blake2s_md = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	blake2s_mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	aead_ctx_key_ok = pthread_key_create(&aead_ctx_key, aead_ctx_destroy) == 0;
}

static void fetch(void)
{
	pthread_once(&fetch_once, fetch_algorithms);
}

/* The calling thread's AEAD context, bound to the cipher once so each packet
 * only re-keys it (EVP_CipherInit_ex2 with a NULL cipher reuses it). */
static EVP_CIPHER_CTX *aead_thread_ctx(void)
{
	EVP_CIPHER_CTX *ctx;

	if (aead_ctx)
		return aead_ctx;
	fetch();
	if (!aead_cipher || !aead_ctx_key_ok)
		return NULL;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return NULL;
	if (!EVP_CipherInit_ex2(ctx, aead_cipher, NULL, NULL, 1, NULL) ||
	    pthread_setspecific(aead_ctx_key, ctx) != 0) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	aead_ctx = ctx;
	return ctx;
}

int crypto_random(void *buf, size_t len)
{
	if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1)
		return -EIO;
	return 0;
}

static void x25519_clamp(uint8_t k[CRYPTO_KEY_LEN])
{
	k[0] &= 248;
	k[31] &= 127;
	k[31] |= 64;
}

int crypto_x25519_genkey(uint8_t priv[CRYPTO_KEY_LEN])
{
	int ret = crypto_random(priv, CRYPTO_KEY_LEN);

	if (ret)
		return ret;
	x25519_clamp(priv);
	return 0;
}

int crypto_x25519_pubkey(uint8_t pub[CRYPTO_KEY_LEN], const uint8_t priv[CRYPTO_KEY_LEN])
{
	EVP_PKEY *pkey;
	size_t len = CRYPTO_KEY_LEN;
	int ret = -EIO;

	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, CRYPTO_KEY_LEN);
	if (!pkey)
		goto out;
	if (EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1 || len != CRYPTO_KEY_LEN)
		goto out;
	ret = 0;
out:
	EVP_PKEY_free(pkey); /* frees (and cleanses) its copy of priv */
	return ret;
}

int crypto_x25519(uint8_t out[CRYPTO_KEY_LEN], const uint8_t priv[CRYPTO_KEY_LEN],
                  const uint8_t pub[CRYPTO_KEY_LEN])
{
	static const uint8_t zero[CRYPTO_KEY_LEN];
	EVP_PKEY *key = NULL, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = CRYPTO_KEY_LEN;
	int ret = -EIO;

	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, CRYPTO_KEY_LEN);
	peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, CRYPTO_KEY_LEN);
	if (!key || !peer)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!ctx || EVP_PKEY_derive_init(ctx) != 1)
		goto out;
	/* Every object exists by now, so a refusal here is about the peer's
	 * point: libcrypto fails the derivation when the result is all zeros. */
	ret = -EINVAL;
	if (EVP_PKEY_derive_set_peer(ctx, peer) != 1 || EVP_PKEY_derive(ctx, out, &len) != 1 ||
	    len != CRYPTO_KEY_LEN)
		goto out;
	if (CRYPTO_memcmp(out, zero, CRYPTO_KEY_LEN) == 0)
		goto out;
	ret = 0;
out:
	if (ret)
		OPENSSL_cleanse(out, CRYPTO_KEY_LEN);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(key);
	return ret;
}

struct span {
	const void *p;
	size_t len;
};

/* BLAKE2s-256 over the concatenation of parts. The callers return void (the
 * handshake has no way to go on without the hash), so a library failure,
 * which can only be an allocation failure, is fatal. */
static void blake2s_spans(uint8_t out[CRYPTO_HASH_LEN], const struct span *parts, size_t n)
{
	EVP_MD_CTX *ctx;
	unsigned int len = 0;
	bool ok;
	size_t i;

	fetch();
	ctx = EVP_MD_CTX_new();
	ok = blake2s_md && ctx && EVP_DigestInit_ex2(ctx, blake2s_md, NULL);
	for (i = 0; ok && i < n; i++)
		ok = !parts[i].len || EVP_DigestUpdate(ctx, parts[i].p, parts[i].len);
	ok = ok && EVP_DigestFinal_ex(ctx, out, &len) && len == CRYPTO_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		fatalx("crypto: BLAKE2s-256 failed in libcrypto");
}

void crypto_blake2s(uint8_t out[CRYPTO_HASH_LEN], const void *a, size_t alen, const void *b,
                    size_t blen)
{
	struct span parts[] = {{a, alen}, {b, blen}};

	blake2s_spans(out, parts, 2);
}

int crypto_blake2s_mac(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
                       const void *in, size_t inlen)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	size_t len = 0;
	int ret = -EINVAL;

	if (outlen < 1 || outlen > CRYPTO_HASH_LEN || keylen < 1 || keylen > CRYPTO_KEY_LEN)
		goto out;
	ret = -EIO;
	fetch();
	if (!blake2s_mac)
		goto out;
	ctx = EVP_MAC_CTX_new(blake2s_mac);
	if (!ctx)
		goto out;
	/* The digest length is a BLAKE2 parameter, not a truncation: it must be
	 * set before the key is mixed in, which EVP_MAC_init does in that order. */
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(ctx, key, keylen, params) || !EVP_MAC_update(ctx, in, inlen) ||
	    !EVP_MAC_final(ctx, out, &len, outlen) || len != outlen)
		goto out;
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);
	return ret;
}

void crypto_hmac_blake2s(uint8_t out[CRYPTO_HASH_LEN], const uint8_t *key, size_t keylen,
                         const void *in, size_t inlen)
{
	/* RFC 2104 by hand: shorter than driving EVP_MAC "HMAC" with a digest
	 * parameter, and WireGuard's keys never exceed the 64-byte block. */
	uint8_t pad[BLAKE2S_BLOCK_LEN] = {0}, inner[CRYPTO_HASH_LEN];
	struct span parts[2];
	size_t i;

	if (keylen > BLAKE2S_BLOCK_LEN)
		crypto_blake2s(pad, key, keylen, NULL, 0);
	else if (keylen)
		memcpy(pad, key, keylen);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36;
	parts[0] = (struct span){pad, sizeof(pad)};
	parts[1] = (struct span){in, inlen};
	blake2s_spans(inner, parts, 2);

	for (i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	parts[1] = (struct span){inner, sizeof(inner)};
	blake2s_spans(out, parts, 2);

	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
}

void crypto_kdf(uint8_t t1[CRYPTO_HASH_LEN], uint8_t *t2, uint8_t *t3,
                const uint8_t ck[CRYPTO_HASH_LEN], const void *in, size_t inlen)
{
	uint8_t t0[CRYPTO_HASH_LEN], buf[CRYPTO_HASH_LEN + 1];

	crypto_hmac_blake2s(t0, ck, CRYPTO_HASH_LEN, in, inlen);
	buf[0] = 1;
	crypto_hmac_blake2s(t1, t0, sizeof(t0), buf, 1);
	if (t2) {
		memcpy(buf, t1, CRYPTO_HASH_LEN);
		buf[CRYPTO_HASH_LEN] = 2;
		crypto_hmac_blake2s(t2, t0, sizeof(t0), buf, sizeof(buf));
	}
	if (t2 && t3) {
		memcpy(buf, t2, CRYPTO_HASH_LEN);
		buf[CRYPTO_HASH_LEN] = 3;
		crypto_hmac_blake2s(t3, t0, sizeof(t0), buf, sizeof(buf));
	}
	OPENSSL_cleanse(t0, sizeof(t0));
	OPENSSL_cleanse(buf, sizeof(buf));
}

static void aead_nonce(uint8_t iv[AEAD_NONCE_LEN], uint64_t counter)
{
	int i;

	memset(iv, 0, 4);
	for (i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(counter >> (8 * i));
}

int crypto_aead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
                     uint64_t nonce, const uint8_t key[CRYPTO_KEY_LEN])
{
	EVP_CIPHER_CTX *ctx = aead_thread_ctx();
	uint8_t iv[AEAD_NONCE_LEN];
	int outl;

	if (!ctx || len > INT_MAX - CRYPTO_TAG_LEN || adlen > INT_MAX)
		return -EIO;
	aead_nonce(iv, nonce);
	if (!EVP_CipherInit_ex2(ctx, NULL, key, iv, 1, NULL))
		return -EIO;
	if (adlen && !EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)adlen))
		return -EIO;
	if (len && !EVP_CipherUpdate(ctx, dst, &outl, src, (int)len))
		return -EIO;
	if (!EVP_CipherFinal_ex(ctx, dst + len, &outl) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN, dst + len))
		return -EIO;
	return 0;
}

int crypto_aead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
                     uint64_t nonce, const uint8_t key[CRYPTO_KEY_LEN])
{
	EVP_CIPHER_CTX *ctx;
	uint8_t iv[AEAD_NONCE_LEN], tag[CRYPTO_TAG_LEN];
	size_t plen;
	int outl;

	if (len < CRYPTO_TAG_LEN || len > INT_MAX || adlen > INT_MAX)
		return -EBADMSG;
	ctx = aead_thread_ctx();
	if (!ctx)
		return -EBADMSG;
	plen = len - CRYPTO_TAG_LEN;
	/* Copied first: with dst inside src the tag could be overwritten. */
	memcpy(tag, src + plen, CRYPTO_TAG_LEN);
	aead_nonce(iv, nonce);
	if (!EVP_CipherInit_ex2(ctx, NULL, key, iv, 0, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN, tag))
		return -EBADMSG;
	if (adlen && !EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)adlen))
		return -EBADMSG;
	if (plen && !EVP_CipherUpdate(ctx, dst, &outl, src, (int)plen))
		goto forged;
	if (EVP_CipherFinal_ex(ctx, dst + plen, &outl) != 1)
		goto forged;
	return 0;
forged:
	/* The plaintext of a forgery must not reach anyone who ignores the error. */
	OPENSSL_cleanse(dst, plen);
	return -EBADMSG;
}

/* The context itself: OpenSSL keeps the key schedule in it, and
 * EVP_CIPHER_CTX_free() cleanses it. */
struct crypto_aead_ctx {
	EVP_CIPHER_CTX *evp;
	bool seal;
};

struct crypto_aead_ctx *crypto_aead_ctx_new(const uint8_t key[CRYPTO_KEY_LEN], bool seal)
{
	struct crypto_aead_ctx *c;

	fetch();
	if (!aead_cipher)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->seal = seal;
	c->evp = EVP_CIPHER_CTX_new();
	if (!c->evp || !EVP_CipherInit_ex2(c->evp, aead_cipher, key, NULL, seal, NULL)) {
		crypto_aead_ctx_free(c);
		return NULL;
	}
	return c;
}

void crypto_aead_ctx_free(struct crypto_aead_ctx *c)
{
	if (!c)
		return;
	EVP_CIPHER_CTX_free(c->evp);
	free(c);
}

int crypto_aead_ctx_seal(struct crypto_aead_ctx *c, uint8_t *dst, const uint8_t *src, size_t len,
                         uint64_t nonce)
{
	uint8_t iv[AEAD_NONCE_LEN];
	int outl;

	if (!c->seal || len > INT_MAX - CRYPTO_TAG_LEN)
		return -EIO;
	aead_nonce(iv, nonce);
	/* NULL key: the one bound at new(); the nonce restarts Poly1305 too. */
	if (!EVP_CipherInit_ex2(c->evp, NULL, NULL, iv, 1, NULL))
		return -EIO;
	if (len && !EVP_CipherUpdate(c->evp, dst, &outl, src, (int)len))
		return -EIO;
	if (!EVP_CipherFinal_ex(c->evp, dst + len, &outl) ||
	    !EVP_CIPHER_CTX_ctrl(c->evp, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN, dst + len))
		return -EIO;
	return 0;
}

int crypto_aead_ctx_open(struct crypto_aead_ctx *c, uint8_t *dst, const uint8_t *src, size_t len,
                         uint64_t nonce)
{
	uint8_t iv[AEAD_NONCE_LEN], tag[CRYPTO_TAG_LEN];
	size_t plen;
	int outl;

	if (c->seal || len < CRYPTO_TAG_LEN || len > INT_MAX)
		return -EBADMSG;
	plen = len - CRYPTO_TAG_LEN;
	memcpy(tag, src + plen, CRYPTO_TAG_LEN);
	aead_nonce(iv, nonce);
	if (!EVP_CipherInit_ex2(c->evp, NULL, NULL, iv, 0, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(c->evp, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN, tag))
		return -EBADMSG;
	if (plen && !EVP_CipherUpdate(c->evp, dst, &outl, src, (int)plen))
		goto forged;
	if (EVP_CipherFinal_ex(c->evp, dst + plen, &outl) != 1)
		goto forged;
	return 0;
forged:
	OPENSSL_cleanse(dst, plen);
	return -EBADMSG;
}

#define ROTL32(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QUARTERROUND(a, b, c, d)       \
	do {                           \
		a += b;                \
		d = ROTL32(d ^ a, 16); \
		c += d;                \
		b = ROTL32(b ^ c, 12); \
		a += b;                \
		d = ROTL32(d ^ a, 8);  \
		c += d;                \
		b = ROTL32(b ^ c, 7);  \
	} while (0)

static uint32_t le32_load(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void le32_store(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void crypto_hchacha20(uint8_t out[CRYPTO_KEY_LEN], const uint8_t key[CRYPTO_KEY_LEN],
                      const uint8_t nonce[16])
{
	uint32_t x[16];
	int i;

	x[0] = 0x61707865; /* "expand 32-byte k" */
	x[1] = 0x3320646e;
	x[2] = 0x79622d32;
	x[3] = 0x6b206574;
	for (i = 0; i < 8; i++)
		x[4 + i] = le32_load(key + 4 * i);
	for (i = 0; i < 4; i++)
		x[12 + i] = le32_load(nonce + 4 * i);

	for (i = 0; i < 10; i++) {
		QUARTERROUND(x[0], x[4], x[8], x[12]);
		QUARTERROUND(x[1], x[5], x[9], x[13]);
		QUARTERROUND(x[2], x[6], x[10], x[14]);
		QUARTERROUND(x[3], x[7], x[11], x[15]);
		QUARTERROUND(x[0], x[5], x[10], x[15]);
		QUARTERROUND(x[1], x[6], x[11], x[12]);
		QUARTERROUND(x[2], x[7], x[8], x[13]);
		QUARTERROUND(x[3], x[4], x[9], x[14]);
	}

	/* Unlike the ChaCha20 block function, no feed-forward of the input:
	 * the first and last rows are the subkey. */
	for (i = 0; i < 4; i++) {
		le32_store(out + 4 * i, x[i]);
		le32_store(out + 16 + 4 * i, x[12 + i]);
	}
	OPENSSL_cleanse(x, sizeof(x));
}

static uint64_t le64_load(const uint8_t *p)
{
	return (uint64_t)le32_load(p) | (uint64_t)le32_load(p + 4) << 32;
}

int crypto_xaead_seal(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
                      const uint8_t nonce[CRYPTO_XNONCE_LEN], const uint8_t key[CRYPTO_KEY_LEN])
{
	uint8_t subkey[CRYPTO_KEY_LEN];
	int ret;

	crypto_hchacha20(subkey, key, nonce);
	/* The ChaCha20 nonce is 4 zero bytes || nonce[16..24], which is exactly
	 * our layout with the last 8 bytes read as a little-endian counter. */
	ret = crypto_aead_seal(dst, src, len, ad, adlen, le64_load(nonce + 16), subkey);
	OPENSSL_cleanse(subkey, sizeof(subkey));
	return ret;
}

int crypto_xaead_open(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad, size_t adlen,
                      const uint8_t nonce[CRYPTO_XNONCE_LEN], const uint8_t key[CRYPTO_KEY_LEN])
{
	uint8_t subkey[CRYPTO_KEY_LEN];
	int ret;

	crypto_hchacha20(subkey, key, nonce);
	ret = crypto_aead_open(dst, src, len, ad, adlen, le64_load(nonce + 16), subkey);
	OPENSSL_cleanse(subkey, sizeof(subkey));
	return ret;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}
